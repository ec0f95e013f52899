"""The console of twml's commands: one logging set-up, each message once, TensorFlow's noise off, and
one progress line during training.

TensorFlow logs through its own ``tensorflow`` logger, which has a handler of its own and also
passes every record on to the root logger: once a command configures the root logger, each of
TensorFlow's messages prints twice. Its deprecation notices (dozens in a training run, about its
own v1 API that twml is built on) say nothing a twml user can act on. :func:`configure` routes
TensorFlow's messages through the one root handler and, unless ``verbose``, drops the deprecation
notices, absl's INFO lines (TF-Hub's staging paths) and TensorFlow's C++ INFO lines; twml's own INFO
lines (progress, metrics, export paths, plots) stay. TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` once,
when it loads, so a command's entry point sets it before importing TensorFlow (``import twml`` sets
it too; see the light-ranker examples' ``quiet_start``).

During training, :class:`ProgressHook` (installed by ``twml.trainers.Trainer`` on the chief) logs one
line every 30 seconds, ``step 1200/8000, 45.3 steps/s, loss 0.5123``, in place of tf.estimator's
``loss = ..., step = ...`` and ``global_step/sec`` lines (the Trainer's default RunConfig turns those
off; :class:`StepRateSummaryHook` still writes steps/s to TensorBoard), and :class:`EvaluationLogHook`
one line per evaluation with its metrics.
"""

import logging
import math
import os
import sys
import time
from typing import Any, Callable, Dict, Optional, TextIO, Union

import tensorflow.compat.v1 as tf

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DEPRECATION_MARKERS = ("is deprecated and will be removed", "Instructions for updating", "is deprecated.")
#: TensorFlow warnings about what twml does by design: ``export_all_models`` writes train and eval
#: meta graphs, which have no serving signature.
_DESIGN_WARNINGS = ("Export includes no default signature!",)
#: The loggers of the progress and evaluation lines.
TRAINING_LOGGER = "twml.training"
EVALUATION_LOGGER = "twml.evaluation"


class _WithoutDeprecationNotices(logging.Filter):
    """Drops TensorFlow's deprecation notices (the records of its ``tensorflow`` logger saying so)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("tensorflow"):
            return True
        message = record.getMessage()
        if record.levelno <= logging.WARNING and message in _DESIGN_WARNINGS:
            return False
        return not any(marker in message for marker in _DEPRECATION_MARKERS)


def configure(verbose: bool = False, stream: Optional[TextIO] = None, level: int = logging.INFO) -> None:
    """Installs the console of a twml command (call it once, first thing in ``main``).

    Args:
      verbose: keep TensorFlow's deprecation notices and INFO lines (C++ ones too, when TensorFlow is
        not loaded yet) and absl's INFO lines.
      stream: where messages go (default stderr).
      level: the root logger's level.
    """
    if not verbose:
        # Read by TensorFlow's C++ logging; effective for what it logs from now on.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_twml_console", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler._twml_console = True  # type: ignore[attr-defined]
    if not verbose:
        handler.addFilter(_WithoutDeprecationNotices())
    root.addHandler(handler)
    root.setLevel(level)
    # TensorFlow's messages reach the console once: through the root handler only.
    tf_logger = logging.getLogger("tensorflow")
    for tf_handler in list(tf_logger.handlers):
        tf_logger.removeHandler(tf_handler)
    tf_logger.propagate = True
    tf_logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("absl").setLevel(logging.INFO if verbose else logging.WARNING)


def _format_value(value: float) -> str:
    return "nan" if math.isnan(value) else "%.4g" % value


class ProgressHook(tf.train.SessionRunHook):
    """Logs one training progress line every ``every_n_secs`` seconds or ``every_n_steps`` steps, and
    one at the end for the steps since the last line::

        step 1200/8000, 45.3 steps/s, loss 0.5123

    the global step after the last step (``/last_step`` when given), global steps per second since
    the previous line (since the session started, for the first), and the mean loss of this process's
    steps since the previous line. Lines go to the ``twml.training`` logger at INFO.

    Args:
      loss: the loss tensor, or a zero-argument callable returning it (called at ``begin``, once the
        graph is built; a loss of another graph, or None, leaves the loss out of the line).
      every_n_secs: seconds between lines (default 30, unless ``every_n_steps`` is given).
      every_n_steps: steps of this process between lines.
      last_step: the step training stops at, shown after the step.
      clock: seconds, monotonic (tests pass their own).

    Raises:
      ValueError: both or a non-positive cadence.
    """

    def __init__(
        self,
        loss: Union[tf.Tensor, Callable[[], Optional[tf.Tensor]], None] = None,
        every_n_secs: Optional[float] = None,
        every_n_steps: Optional[int] = None,
        last_step: Optional[int] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every_n_secs is not None and every_n_steps is not None:
            raise ValueError("ProgressHook: give at most one of every_n_secs and every_n_steps")
        if every_n_secs is None and every_n_steps is None:
            every_n_secs = 30.0
        if (every_n_secs is not None and every_n_secs <= 0) or (every_n_steps is not None and every_n_steps <= 0):
            raise ValueError(
                "ProgressHook: the cadence must be positive, got every_n_secs=%r, every_n_steps=%r"
                % (every_n_secs, every_n_steps)
            )
        self._loss_source = loss
        self._every_n_secs = every_n_secs
        self._every_n_steps = every_n_steps
        self._last_step = int(last_step) if last_step else None
        self._clock = clock
        self._log = logging.getLogger(TRAINING_LOGGER)
        self._fetches: Dict[str, tf.Tensor] = {}
        self._global_step: Optional[tf.Tensor] = None

    def begin(self) -> None:
        self._global_step = tf.train.get_global_step()
        if self._global_step is None:
            raise RuntimeError("ProgressHook: the graph has no global step")
        loss = self._loss_source() if callable(self._loss_source) else self._loss_source
        self._fetches = {"loss": loss} if loss is not None and loss.graph is tf.get_default_graph() else {}

    def after_create_session(self, session: tf.Session, coord: Any) -> None:
        self._mark(int(session.run(self._global_step)))

    def _mark(self, step: int) -> None:
        self._line_step, self._line_time = step, self._clock()
        self._runs, self._loss_sum, self._loss_count = 0, 0.0, 0

    def before_run(self, run_context: tf.train.SessionRunContext) -> tf.train.SessionRunArgs:
        return tf.train.SessionRunArgs(self._fetches)

    def after_run(self, run_context: tf.train.SessionRunContext, run_values: tf.train.SessionRunValues) -> None:
        self._runs += 1
        if "loss" in run_values.results:
            self._loss_sum += float(run_values.results["loss"])
            self._loss_count += 1
        if self._every_n_steps is not None:
            due = self._runs >= self._every_n_steps
        else:
            due = self._clock() - self._line_time >= self._every_n_secs
        if due:
            self._write(int(run_context.session.run(self._global_step)))

    def end(self, session: tf.Session) -> None:
        if self._runs:
            self._write(int(session.run(self._global_step)))

    def _write(self, step: int) -> None:
        elapsed = self._clock() - self._line_time
        parts = ["step %d" % step + ("/%d" % self._last_step if self._last_step else "")]
        if elapsed > 0:
            parts.append("%.1f steps/s" % ((step - self._line_step) / elapsed))
        if self._loss_count:
            parts.append("loss " + _format_value(self._loss_sum / self._loss_count))
        self._log.info(", ".join(parts))
        self._mark(step)


class EvaluationLogHook(tf.train.SessionRunHook):
    """Logs one line per evaluation, at its end, to the ``twml.evaluation`` logger::

        evaluation at step 500: pr_auc 0.6412, roc_auc 0.7811

    the checkpoint's global step and every scalar metric of the EstimatorSpec's ``eval_metric_ops``,
    by name.

    Args:
      get_estimator_spec_fn: zero-argument callable returning the evaluation's EstimatorSpec (read at
        ``begin``, once the graph is built).
      name: the evaluation's name, shown after ``evaluation`` when given.
    """

    def __init__(self, get_estimator_spec_fn: Callable[[], Any], name: Optional[str] = None) -> None:
        self._get_estimator_spec_fn = get_estimator_spec_fn
        self._name = name
        self._log = logging.getLogger(EVALUATION_LOGGER)
        self._values: Dict[str, tf.Tensor] = {}
        self._global_step: Optional[tf.Tensor] = None

    def begin(self) -> None:
        spec = self._get_estimator_spec_fn()
        graph = tf.get_default_graph()
        self._values = {}
        for name, metric in ((spec.eval_metric_ops or {}) if spec is not None else {}).items():
            value = metric[0] if isinstance(metric, (tuple, list)) else metric
            if isinstance(value, tf.Tensor) and value.graph is graph and value.shape.ndims == 0:
                self._values[name] = value
        self._global_step = tf.train.get_global_step()

    def end(self, session: tf.Session) -> None:
        fetches: Dict[str, Any] = dict(self._values)
        if self._global_step is not None:
            fetches["global_step"] = self._global_step
        values = session.run(fetches)
        step = values.pop("global_step", None)
        where = "evaluation" + (" %s" % self._name if self._name else "")
        if step is not None:
            where += " at step %d" % int(step)
        metrics = ", ".join("%s %s" % (name, _format_value(float(values[name]))) for name in sorted(values))
        self._log.info("%s: %s", where, metrics or "no metrics")


class StepRateSummaryHook(tf.train.StepCounterHook):
    """A ``tf.train.StepCounterHook`` that writes ``global_step/sec`` to the summaries and logs nothing
    (:class:`ProgressHook`'s line has the rate)."""

    def _log_and_record(self, elapsed_steps: int, elapsed_time: float, global_step: int) -> None:
        if self._summary_writer is not None:
            summary = tf.Summary(
                value=[tf.Summary.Value(tag=self._summary_tag, simple_value=elapsed_steps / elapsed_time)]
            )
            self._summary_writer.add_summary(summary, global_step)
