"""SessionRunHooks used by the twml trainers (reference §14.1).

All hooks are ``tf.compat.v1.train.SessionRunHook`` subclasses for ``tf.estimator`` / MonitoredSession:

- ``StepProgressHook``: progress bar of the global step on stderr.
- ``GetMetricsHook``: fetches metric tensors at the end of a session.
- ``EarlyStopHook``: evaluation hook keeping the best checkpoint and stopping after ``patience``
  evaluations without improvement.
- ``MetricsUpdateHook``: passes metric values to a callback periodically and at the end.
- ``EarlyStopDuration``: stops a job after a total (restart-surviving) duration.
- ``StopAtStepHook``: TF's hook that also tells whether it requested the stop.
- ``StopIfExistsHook``: stops when a file appears (the evaluator's early-stop signal).
"""

import contextlib
import json
import math
import os
import sys
import time
from typing import Any, Callable, Dict, Optional

import tensorflow.compat.v1 as tf

from twml.errors import CheckpointNotFoundError, EarlyStopError
from twml.util import backup_checkpoint, set_only_checkpoint

__all__ = [
    "EarlyStopDuration",
    "EarlyStopHook",
    "GetMetricsHook",
    "MetricsUpdateHook",
    "StepProgressHook",
    "StopAtStepHook",
    "StopIfExistsHook",
]


class StepProgressHook(tf.train.SessionRunHook):
    """Keras progress bar of the global step, from its value at session creation to ``max_step``, on stderr.

    Args:
      max_step: the global step at which the bar is full.
    """

    def __init__(self, max_step: int) -> None:
        self._max_step = int(max_step)
        self._progress_bar: Any = None
        self._global_step_tensor: Optional[tf.Tensor] = None

    def begin(self) -> None:
        self._global_step_tensor = tf.train.get_or_create_global_step()
        # Keras writes to sys.stdout; its isatty check and its writes must both see stderr.
        with contextlib.redirect_stdout(sys.stderr):
            self._progress_bar = tf.keras.utils.Progbar(self._max_step, unit_name="step")

    def after_create_session(self, session: tf.Session, coord: Any) -> None:
        self._update(int(session.run(self._global_step_tensor)))

    def before_run(self, run_context: tf.train.SessionRunContext) -> tf.train.SessionRunArgs:
        return tf.train.SessionRunArgs(self._global_step_tensor)

    def after_run(self, run_context: tf.train.SessionRunContext, run_values: tf.train.SessionRunValues) -> None:
        # The fetched value precedes this step's increment.
        self._update(int(run_values.results) + 1)

    def _update(self, step: int) -> None:
        with contextlib.redirect_stdout(sys.stderr):
            self._progress_bar.update(min(step, self._max_step))


class GetMetricsHook(tf.train.SessionRunHook):
    """Fetches metric tensors when the session ends.

    Args:
      get_metrics_fn: zero-argument callable, called at ``begin`` (graph built), returning a dict
        ``name -> tensor`` (any fetch structure works).

    After ``end``, ``metric_values`` holds the fetched values (same structure).
    """

    def __init__(self, get_metrics_fn: Callable[[], Any]) -> None:
        self._get_metrics_fn = get_metrics_fn
        self._metric_tensors: Any = None
        self.metric_values: Any = None

    def begin(self) -> None:
        self._metric_tensors = self._get_metrics_fn()

    def end(self, session: tf.Session) -> None:
        self.metric_values = session.run(self._metric_tensors)


def _metric_value_tensors(get_estimator_spec_fn: Callable[[], Any]) -> Dict[str, tf.Tensor]:
    """``{name: value_op}`` of the current EstimatorSpec's ``eval_metric_ops`` (``(value_op, update_op)`` pairs)."""
    spec = get_estimator_spec_fn()
    metric_ops = getattr(spec, "eval_metric_ops", None) or {}
    return {name: ops[0] for name, ops in metric_ops.items()}


class EarlyStopHook(tf.train.SessionRunHook):
    """Evaluation hook for early stopping on a metric, keeping a copy of the best checkpoint.

    At ``begin`` (graph built) the latest checkpoint of ``checkpoint_dir`` — the one being evaluated — is
    copied to ``checkpoint_dir/eval_checkpoint``. At ``end`` the metric is read; patience decreases by one,
    and if the metric is strictly better than the best so far (``<`` when minimizing, ``>`` otherwise) it
    becomes the best, ``eval_checkpoint`` is copied to ``checkpoint_dir/best_checkpoint`` with the value
    written to ``best_checkpoint/<metric>`` as ``%.8f``, and patience is reset. When patience reaches 0,
    ``should_stop`` becomes True; with ``file_path`` the file gets ``early-stop\\n`` and, if ``exit_on_end``,
    ``EarlyStopError`` is raised (without ``file_path`` nothing is raised: the caller polls ``should_stop``).

    The best value is restored from ``best_checkpoint/<metric>`` at construction, and only that restored
    value is shifted by ``tolerance`` (``best - tolerance`` when minimizing, ``best + tolerance`` otherwise),
    so a resumed job must beat the previous best by the tolerance. Otherwise the best starts at +-inf.

    Args:
      metric: key of ``eval_metric_ops``; its value op (``[0]``) is a scalar float tensor.
      patience: evaluations without improvement before stopping (> 0).
      minimize: whether smaller is better.
      get_estimator_spec_fn: zero-argument callable returning the current EstimatorSpec (read at ``begin``).
      checkpoint_dir: the model directory.
      file_path: optional early-stop signal file; deleted at construction if present.
      exit_on_end: raise EarlyStopError after writing the signal file.
      start_epoch: epoch counter start (for logging).
      tolerance: see above.
    """

    def __init__(
        self,
        metric: str,
        patience: int,
        minimize: bool,
        get_estimator_spec_fn: Callable[[], Any],
        checkpoint_dir: str,
        file_path: Optional[str] = None,
        exit_on_end: bool = True,
        start_epoch: int = 0,
        tolerance: float = 0,
    ) -> None:
        self._metric = metric
        self._patience = int(patience)
        self._current_patience = int(patience)
        self._minimize = bool(minimize)
        self._get_estimator_spec_fn = get_estimator_spec_fn
        self._checkpoint_dir = checkpoint_dir
        if "://" not in checkpoint_dir:
            # backup_checkpoint resolves relative backup paths against the checkpoint's own directory.
            checkpoint_dir = os.path.abspath(checkpoint_dir)
        self._eval_checkpoint_dir = os.path.join(checkpoint_dir, "eval_checkpoint")
        self._best_checkpoint_dir = os.path.join(checkpoint_dir, "best_checkpoint")
        self._best_metric_path = os.path.join(self._best_checkpoint_dir, metric)
        self._file_path = file_path
        self._exit_on_end = bool(exit_on_end)
        self._epoch = int(start_epoch)
        self._should_stop = False
        self._metric_tensor: Optional[tf.Tensor] = None
        self.last_value: Optional[float] = None

        if file_path is not None and tf.io.gfile.exists(file_path):
            tf.io.gfile.remove(file_path)

        self._best_value = math.inf if self._minimize else -math.inf
        if tf.io.gfile.exists(self._best_metric_path):
            with tf.io.gfile.GFile(self._best_metric_path, "r") as f:
                restored = float(f.read().strip())
            self._best_value = restored - tolerance if self._minimize else restored + tolerance
            tf.logging.info("EarlyStopHook: restored best %s = %f (tolerance %f applied)", metric, restored, tolerance)

    @property
    def should_stop(self) -> bool:
        """Whether patience ran out."""
        return self._should_stop

    @property
    def best_value(self) -> float:
        """The best metric value so far (the restored one shifted by the tolerance until beaten)."""
        return self._best_value

    @property
    def current_patience(self) -> int:
        """Evaluations left without improvement before stopping."""
        return self._current_patience

    @property
    def best_checkpoint_dir(self) -> str:
        """``checkpoint_dir/best_checkpoint``."""
        return self._best_checkpoint_dir

    def begin(self) -> None:
        metrics = _metric_value_tensors(self._get_estimator_spec_fn)
        if self._metric not in metrics:
            raise ValueError(
                "EarlyStopHook: metric %r is not among the eval_metric_ops (%s)"
                % (self._metric, ", ".join(sorted(metrics)))
            )
        self._metric_tensor = metrics[self._metric]
        latest = tf.train.latest_checkpoint(self._checkpoint_dir)
        if latest is None:
            raise CheckpointNotFoundError("EarlyStopHook: no checkpoint in %s to evaluate" % self._checkpoint_dir)
        backup_checkpoint(latest, self._eval_checkpoint_dir)

    def _is_better(self, value: float) -> bool:
        return value < self._best_value if self._minimize else value > self._best_value

    def end(self, session: tf.Session) -> None:
        value = float(session.run(self._metric_tensor))
        self.last_value = value
        self._epoch += 1
        self._current_patience -= 1
        if self._is_better(value):
            self._best_value = value
            set_only_checkpoint(self._eval_checkpoint_dir, self._best_checkpoint_dir, remove_source=False)
            tf.io.gfile.makedirs(os.path.dirname(self._best_metric_path))
            with tf.io.gfile.GFile(self._best_metric_path, "w") as f:
                f.write("%.8f" % value)
            self._current_patience = self._patience
        tf.logging.info(
            "EarlyStopHook epoch %d: %s = %f, best = %f, patience left = %d",
            self._epoch,
            self._metric,
            value,
            self._best_value,
            self._current_patience,
        )
        if self._current_patience <= 0:
            self._should_stop = True
            if self._file_path is not None:
                tf.logging.info("EarlyStopHook: writing early-stop signal %s", self._file_path)
                with tf.io.gfile.GFile(self._file_path, "w") as f:
                    f.write("early-stop\n")
                if self._exit_on_end:
                    raise EarlyStopError(
                        "Early stopping: %s did not improve for %d evaluations (best %f)"
                        % (self._metric, self._patience, self._best_value)
                    )


class MetricsUpdateHook(tf.train.SessionRunHook):
    """Calls ``add_metrics_fn({name: value})`` with the eval metric values periodically and at the end.

    Args:
      get_estimator_spec_fn: zero-argument callable returning the current EstimatorSpec (read at ``begin``);
        the value ops of its ``eval_metric_ops`` are fetched.
      add_metrics_fn: callback receiving a dict ``name -> numpy value``.
      every_n_iter: report every this many session runs (local count).
      every_n_secs: report at most every this many seconds. With neither, only at the end.
    """

    def __init__(
        self,
        get_estimator_spec_fn: Callable[[], Any],
        add_metrics_fn: Callable[[Dict[str, Any]], Any],
        every_n_iter: Optional[int] = None,
        every_n_secs: Optional[float] = None,
    ) -> None:
        if every_n_iter is not None and every_n_secs is not None:
            raise ValueError("MetricsUpdateHook: give at most one of every_n_iter and every_n_secs")
        if every_n_iter is not None and every_n_iter <= 0:
            raise ValueError("MetricsUpdateHook: every_n_iter must be positive, got %r" % (every_n_iter,))
        self._get_estimator_spec_fn = get_estimator_spec_fn
        self._add_metrics_fn = add_metrics_fn
        self._periodic = every_n_iter is not None or every_n_secs is not None
        self._timer = (
            tf.train.SecondOrStepTimer(every_secs=every_n_secs, every_steps=every_n_iter) if self._periodic else None
        )
        self._metrics: Dict[str, tf.Tensor] = {}
        self._iter_count = 0
        self._should_trigger = False

    def begin(self) -> None:
        self._metrics = _metric_value_tensors(self._get_estimator_spec_fn)
        if self._timer is not None:
            self._timer.reset()
        self._iter_count = 0

    def before_run(self, run_context: tf.train.SessionRunContext) -> Optional[tf.train.SessionRunArgs]:
        self._should_trigger = self._timer is not None and self._timer.should_trigger_for_step(self._iter_count)
        if self._should_trigger and self._metrics:
            return tf.train.SessionRunArgs(self._metrics)
        return None

    def after_run(self, run_context: tf.train.SessionRunContext, run_values: tf.train.SessionRunValues) -> None:
        if self._should_trigger and self._metrics and self._timer is not None:
            self._timer.update_last_triggered_step(self._iter_count)
            self._add_metrics_fn(run_values.results)
        self._iter_count += 1

    def end(self, session: tf.Session) -> None:
        if self._metrics:
            self._add_metrics_fn(session.run(self._metrics))


class EarlyStopDuration(tf.train.SessionRunHook):
    """Stops a job once its total running time exceeds ``max_duration`` seconds, across restarts.

    The elapsed time is kept in ``save_dir/early_stop_duration.txt`` as JSON ``{"elapsed_time": s,
    "max_duration": s}``: read at construction if present, and (only when ``overwrite``, i.e. in the one
    process that owns the file, such as the chief) rewritten at most every ``write_every_secs`` and at the
    end of each session. The time counted is the time spent inside sessions using the hook. Once the total
    exceeds ``max_duration``, ``before_run`` requests a stop (``should_stop`` becomes True) and raises
    ``EarlyStopError`` if ``exit_on_end``.

    Args:
      max_duration: seconds.
      exit_on_end: raise EarlyStopError when stopping.
      save_dir: directory of the elapsed-time file.
      overwrite: whether this process writes the file.
      write_every_secs: minimum seconds between two writes during a session.
    """

    FILE_NAME = "early_stop_duration.txt"

    def __init__(
        self, max_duration: float, exit_on_end: bool, save_dir: str, overwrite: bool, write_every_secs: float = 10.0
    ) -> None:
        self._max_duration = float(max_duration)
        self._exit_on_end = bool(exit_on_end)
        self._save_dir = save_dir
        self._overwrite = bool(overwrite)
        self._write_every_secs = float(write_every_secs)
        self._file_path = os.path.join(save_dir, self.FILE_NAME)
        self._should_stop = False
        self._previous_elapsed = 0.0
        self._session_start: Optional[float] = None
        self._last_write = 0.0
        if tf.io.gfile.exists(self._file_path):
            with tf.io.gfile.GFile(self._file_path, "r") as f:
                self._previous_elapsed = float(json.loads(f.read())["elapsed_time"])

    @property
    def should_stop(self) -> bool:
        """Whether the duration ran out."""
        return self._should_stop

    @property
    def elapsed_time(self) -> float:
        """Seconds counted so far, including previous runs and the current session."""
        running = time.time() - self._session_start if self._session_start is not None else 0.0
        return self._previous_elapsed + running

    def _write(self) -> None:
        if not self._overwrite:
            return
        tf.io.gfile.makedirs(self._save_dir)
        with tf.io.gfile.GFile(self._file_path, "w") as f:
            f.write(json.dumps({"elapsed_time": self.elapsed_time, "max_duration": self._max_duration}))
        self._last_write = time.time()

    def begin(self) -> None:
        self._session_start = time.time()
        self._last_write = 0.0

    def before_run(self, run_context: tf.train.SessionRunContext) -> None:
        if self.elapsed_time > self._max_duration:
            self._should_stop = True
            self._write()
            run_context.request_stop()
            if self._exit_on_end:
                raise EarlyStopError(
                    "Job ran for %.1f s, more than max_duration = %.1f s" % (self.elapsed_time, self._max_duration)
                )

    def after_run(self, run_context: tf.train.SessionRunContext, run_values: tf.train.SessionRunValues) -> None:
        if time.time() - self._last_write >= self._write_every_secs:
            self._write()

    def end(self, session: tf.Session) -> None:
        self._write()
        self._previous_elapsed = self.elapsed_time
        self._session_start = None


class _StopRecordingContext:
    """A SessionRunContext proxy recording whether its hook requested the stop."""

    def __init__(self, run_context: tf.train.SessionRunContext, hook: "StopAtStepHook") -> None:
        self._run_context = run_context
        self._hook = hook

    def request_stop(self) -> None:
        self._hook._stop_requested = True
        self._run_context.request_stop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run_context, name)


class StopAtStepHook(tf.train.StopAtStepHook):
    """``tf.train.StopAtStepHook`` (``num_steps`` or ``last_step``) exposing ``stop_requested``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stop_requested = False

    @property
    def stop_requested(self) -> bool:
        """Whether this hook (not another one) requested the stop."""
        return self._stop_requested

    def after_run(self, run_context: tf.train.SessionRunContext, run_values: tf.train.SessionRunValues) -> None:
        super().after_run(_StopRecordingContext(run_context, self), run_values)


class StopIfExistsHook(tf.train.SessionRunHook):
    """Requests a stop after any session run once ``file_path`` exists (checked through tf.io.gfile).

    Args:
      file_path: the signal file (e.g. written by the evaluator's EarlyStopHook).
    """

    def __init__(self, file_path: str) -> None:
        self._file_path = file_path
        self._stop_requested = False

    @property
    def stop_requested(self) -> bool:
        """Whether the file was seen."""
        return self._stop_requested

    def after_run(self, run_context: tf.train.SessionRunContext, run_values: tf.train.SessionRunValues) -> None:
        if tf.io.gfile.exists(self._file_path):
            tf.logging.info("StopIfExistsHook: %s exists, stopping", self._file_path)
            self._stop_requested = True
            run_context.request_stop()
