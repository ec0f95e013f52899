"""twml.trainers.Trainer: a model's graph function on tf.estimator (reference §8.1).

A twml model is a ``build_graph_fn(features, label, mode, params, config)`` that returns a dict
with ``output`` (the predictions), ``loss`` (train and eval) and optionally ``train_op``. The
Trainer wraps it into an Estimator ``model_fn`` under the variable scope ``<name>/model`` (so the
checkpoint names are ``<name>/model/...``), adds the optimizer (``<name>/optim``), the metrics and
the export outputs, and drives training, evaluation, early stopping, calibration and export.
"""

import datetime
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import tensorflow.compat.v1 as tf

from twml import export_output_fns, run_state, util
from twml.argument_parser import OPTIMIZER_CHOICES, check_unsupported_params, get_trainer_parser
from twml.console import EvaluationLogHook, ProgressHook, StepRateSummaryHook
from twml.constants import TWML_INIT_FEED_KEY
from twml.errors import EarlyStopError
from twml.experiment_tracker import ExperimentTracker
from twml.hooks import EarlyStopDuration, EarlyStopHook, StopAtStepHook, StopIfExistsHook
from twml.learning_rate_decay import get_learning_rate_decay_fn
from twml.optimizers import (
    OPTIMIZER_SUMMARIES,
    DeepGradientCompressionOptimizer,
    LazyAdamOptimizer,
    optimize_loss,
)
from twml.params import Params, get_param, params_to_dict
from twml.trainers import cluster

_LOG = logging.getLogger(__name__)

BuildGraphFn = Callable[..., Dict[str, Any]]
EARLY_STOP_FILE = "earlystop_now.txt"
BEST_CHECKPOINT_DIR = "best_checkpoint"


def _params_to_hparams(params: Params) -> util.HParams:
    """An HParams of a Namespace, dict or HParams, with ``hdfs://`` paths sanitized."""
    values = params_to_dict(params)
    for key, value in values.items():
        if isinstance(value, str) and value.startswith("hdfs://"):
            values[key] = util.sanitize_hdfs_path(value)
    return util.HParams(**values)


def _positive_or_none(steps: Optional[int]) -> Optional[int]:
    return int(steps) if steps is not None and int(steps) > 0 else None


class Trainer:
    """Trains, evaluates, calibrates and exports one model defined by a graph function.

    Args:
      name: the model's name: the variable scope ``<name>/model`` and the checkpoint prefix.
      params: an argparse Namespace (usually from :meth:`add_parser_arguments`), dict or HParams;
        needs ``train_batch_size``; see the flags of reference §9 for the rest.
      build_graph_fn: ``(features, label, mode, params, config) -> dict`` with ``output``
        (required), ``loss`` (required in 'train' and 'eval' modes) and optional ``train_op``;
        ``mode`` is 'train', 'eval' or 'infer' (tf.estimator.ModeKeys). Other keys become
        predictions.
      metric_fn: ``(graph_output, labels, weights) -> {name: (value_op, update_op)}`` for
        evaluation, e.g. :func:`twml.metrics.get_binary_class_metric_fn`.
      optimize_loss_fn: ``(params, loss) -> train_op``; default :meth:`get_train_op`.
      run_config: a tf.estimator.RunConfig; default built from params (see ``get_run_config``).
      save_dir: checkpoints and exports; default ``params.save_dir`` or the run_config's model_dir.
      init_from_dir: a checkpoint directory to initialise variables from, with ``init_map``
        (checkpoint name -> variable name, :func:`twml.util.get_init_map`).
      warm_start_from: passed to the Estimator.
      profiler_steps: save a profile every this many steps (ProfilerHook).

    Raises:
      ValueError: invalid params (``train_batch_size`` missing or not positive, ...).
    """

    def __init__(
        self,
        name: str,
        params: Params,
        build_graph_fn: BuildGraphFn,
        metric_fn: Optional[Callable[..., Dict[str, Any]]] = None,
        optimize_loss_fn: Optional[Callable[[Any, tf.Tensor], Any]] = None,
        run_config: Optional[tf.estimator.RunConfig] = None,
        save_dir: Optional[str] = None,
        init_from_dir: Optional[str] = None,
        init_map: Optional[Dict[str, str]] = None,
        warm_start_from: Any = None,
        profiler_steps: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        self._name = name
        self._params = _params_to_hparams(params)
        self.check_params()
        check_unsupported_params(self._params)
        self._using_hogwild = cluster.setup_hogwild(self._params)
        self._build_graph_fn = build_graph_fn
        self._metric_fn = metric_fn
        self._optimize_loss_fn = optimize_loss_fn or Trainer.get_train_op
        self._profiler_steps = profiler_steps
        self._export_output_fn: Optional[Callable] = None
        self._current_estimator_spec: Optional[tf.estimator.EstimatorSpec] = None
        self._tensorboard: Optional[subprocess.Popen] = None
        self._early_stopping = False

        if init_from_dir is not None and init_map is None:
            raise ValueError("init_from_dir needs an init_map (see twml.util.get_init_map)")
        self._init_from_dir = init_from_dir
        self._init_map = init_map

        save_dir = save_dir or get_param(self._params, "save_dir")
        if run_config is not None and run_config.model_dir:
            if save_dir and os.path.normpath(save_dir) != os.path.normpath(run_config.model_dir):
                raise ValueError("save_dir %r and run_config.model_dir %r differ" % (save_dir, run_config.model_dir))
            save_dir = run_config.model_dir
        if not save_dir:
            raise ValueError("give a save_dir (or params.save_dir, or a run_config with model_dir)")
        self._save_dir = save_dir
        self._params.save_dir = save_dir

        if get_param(self._params, "overwrite_save_dir", False):
            self._overwrite_save_dir()
        tf.io.gfile.makedirs(save_dir)

        self._run_config = run_config or self.get_run_config()
        if run_config is not None and not run_config.model_dir:
            self._run_config = run_config.replace(model_dir=save_dir)
        self._estimator = tf.estimator.Estimator(
            model_fn=self._model_fn,
            params=self._params,
            config=self._run_config,
            warm_start_from=warm_start_from,
            model_dir=None if self._run_config.model_dir else save_dir,
        )
        self._tracker = ExperimentTracker(self._params, name=name, save_dir=save_dir, enabled=self.is_chief())
        self._tracker.start()

        port = get_param(self._params, "tensorboard_port")
        if port and not get_param(self._params, "disable_tensorboard", False) and self.is_chief():
            self.start_tensorboard(port)

    # ------------------------------------------------------------------ parameters and config

    def check_params(self) -> None:
        """Validates the params: ``train_batch_size`` a positive int (``eval_batch_size`` defaults
        to it), ``distributed_training_cleanup`` only with ``distributed``, an ``optimizer`` name
        one of ``twml.argument_parser.OPTIMIZER_CHOICES``.

        Raises:
          ValueError: naming the offending parameter.
        """
        params = self._params
        batch = getattr(params, "train_batch_size", None)
        if not isinstance(batch, int) or isinstance(batch, bool) or batch <= 0:
            raise ValueError("params.train_batch_size must be a positive int, got %r" % (batch,))
        if getattr(params, "eval_batch_size", None) is None:
            params.eval_batch_size = batch
        if get_param(params, "distributed_training_cleanup", False) and not get_param(params, "distributed", False):
            raise ValueError("distributed_training_cleanup requires distributed")
        optimizer = getattr(params, "optimizer", None)
        if isinstance(optimizer, str) and optimizer not in OPTIMIZER_CHOICES:
            raise ValueError("params.optimizer %r is not one of %s" % (optimizer, ", ".join(OPTIMIZER_CHOICES)))

    def get_run_config(self) -> tf.estimator.RunConfig:
        """The default RunConfig of the params: GPU memory growth; threads from ``TWML_NUM_CPUS`` /
        ``num_mkl_threads``; checkpoint frequency and retention; random seed (hogwild workers
        get ``seed + 1 + task index`` so that they sample differently)."""
        params = self._params
        session_config = tf.ConfigProto()
        session_config.gpu_options.allow_growth = True
        mkl_threads = int(get_param(params, "num_mkl_threads", 1))
        if os.environ.get("TWML_NUM_CPUS") and mkl_threads > 1:
            os.environ["OMP_NUM_THREADS"] = str(mkl_threads)
            os.environ["MKL_NUM_THREADS"] = str(mkl_threads)
            session_config.inter_op_parallelism_threads = int(os.environ.get("TWML_MESOS_CPU", 8)) // mkl_threads
            session_config.intra_op_parallelism_threads = mkl_threads
        seed = get_param(params, "tf_random_seed")
        if seed is not None and self._using_hogwild and not cluster.is_chief():
            seed = int(seed) + 1 + cluster.task_index()
        checkpoint_steps = get_param(params, "save_checkpoints_steps")
        # None unless the params ask for tf.estimator's own "loss = ..., step = ..." and global_step/sec
        # lines: the train hooks' twml.console.ProgressHook line says both.
        log_steps = get_param(params, "log_step_count_steps")
        return tf.estimator.RunConfig(
            model_dir=self._save_dir,
            session_config=session_config,
            keep_checkpoint_max=int(get_param(params, "keep_checkpoint_max", 20)),
            save_checkpoints_secs=None if checkpoint_steps else int(get_param(params, "save_checkpoints_secs", 600)),
            save_checkpoints_steps=checkpoint_steps,
            log_step_count_steps=int(log_steps) if log_steps else None,
            tf_random_seed=seed,
        )

    def _overwrite_save_dir(self) -> None:
        distributed = get_param(self._params, "distributed", False) or bool(cluster.tf_config())
        if distributed:
            time.sleep(30)  # let every task read the directory before the chief deletes it
        if self.is_chief() and tf.io.gfile.exists(self._save_dir):
            _LOG.info("overwrite_save_dir: deleting %s", self._save_dir)
            tf.io.gfile.rmtree(self._save_dir)
        if distributed:
            time.sleep(30)

    @staticmethod
    def add_parser_arguments() -> Any:
        """The twml trainer argument parser (reference §9): ``parser.parse_args()`` gives the params."""
        return get_trainer_parser()

    # ------------------------------------------------------------------ properties and roles

    @property
    def estimator(self) -> tf.estimator.Estimator:
        """The underlying tf.estimator.Estimator."""
        return self._estimator

    @property
    def name(self) -> str:
        """The trainer's name: the top variable scope of its model (``<name>/model/...``)."""
        return self._name

    @property
    def export_output_fn(self) -> Optional[Callable]:
        """Builds the PREDICT-mode export outputs from the graph output (None: the default)."""
        return self._export_output_fn

    @export_output_fn.setter
    def export_output_fn(self, export_output_fn: Optional[Callable]) -> None:
        self._export_output_fn = export_output_fn

    @property
    def params(self) -> util.HParams:
        """The trainer's params (HParams)."""
        return self._params

    @property
    def save_dir(self) -> str:
        """Checkpoints, summaries and exports go here."""
        return self._save_dir

    @property
    def current_estimator_spec(self) -> Optional[tf.estimator.EstimatorSpec]:
        """The EstimatorSpec the model_fn built last (hooks read metrics from it)."""
        return self._current_estimator_spec

    @property
    def experiment_tracker(self) -> ExperimentTracker:
        """The run's record in the local experiment database (see twml.experiment_tracker)."""
        return self._tracker

    @property
    def num_workers(self) -> int:
        """Training tasks in the cluster (1 when local)."""
        return cluster.num_workers()

    @property
    def worker_index(self) -> int:
        """This task's index among the training tasks (chief = 0)."""
        return cluster.worker_index()

    @property
    def using_hogwild(self) -> bool:
        """Whether this is a single-machine multi-process (hogwild) run."""
        return self._using_hogwild

    @property
    def latest_checkpoint(self) -> Optional[str]:
        """The newest checkpoint prefix in save_dir, or None."""
        return tf.train.latest_checkpoint(self._save_dir)

    @property
    def best_or_latest_checkpoint(self) -> Optional[str]:
        """``save_dir/best_checkpoint``'s checkpoint when early stopping kept one, else the latest."""
        best_dir = os.path.join(self._save_dir, BEST_CHECKPOINT_DIR)
        if tf.io.gfile.isdir(best_dir):
            best = tf.train.latest_checkpoint(best_dir)
            if best:
                return best
        return self.latest_checkpoint

    def is_chief(self) -> bool:
        """The chief task, or a local run."""
        return cluster.is_chief()

    def is_evaluator(self) -> bool:
        """The evaluator task of a distributed run."""
        return cluster.is_evaluator()

    def is_ps(self) -> bool:
        """A parameter-server task."""
        return cluster.is_ps()

    def is_task_type(self, name: str) -> bool:
        """Whether TF_CONFIG gives this task the type ``name``."""
        return cluster.is_task_type(name)

    # ------------------------------------------------------------------ the model function

    def _model_fn(self, features: Any, labels: Any, mode: str, params: Any, config: Any) -> tf.estimator.EstimatorSpec:
        weights = features.get("weights") if isinstance(features, dict) else None
        with tf.variable_scope(self._name + "/model"):
            graph_output = self._build_graph_fn(features, labels, mode, params, config)
        if not isinstance(graph_output, dict) or "output" not in graph_output:
            raise ValueError("build_graph_fn must return a dict with an 'output' key, got %r" % (graph_output,))
        graph_output = dict(graph_output)
        loss = graph_output.get("loss")
        train_op = graph_output.pop("train_op", None)
        if mode != tf.estimator.ModeKeys.PREDICT and loss is None:
            raise ValueError("build_graph_fn must return a 'loss' in mode %r" % mode)

        if self._init_from_dir:
            tf.train.init_from_checkpoint(self._init_from_dir, self._init_map)

        eval_metric_ops = None
        export_outputs = None
        if mode == tf.estimator.ModeKeys.TRAIN:
            if train_op is None:
                with tf.variable_scope(self._name + "/optim"):
                    train_op = self._optimize_loss_fn(params, loss)
            if get_param(params, "train_log_metrics", False) and self._metric_fn is not None:
                metrics = self._metric_fn(graph_output=graph_output, labels=labels, weights=weights)
                updates = []
                for metric_name, (value_op, update_op) in metrics.items():
                    if value_op.shape.ndims == 0:
                        tf.summary.scalar("training_metric_" + metric_name, value_op)
                    updates.append(update_op)
                train_op = tf.group(train_op, *updates)
        elif mode == tf.estimator.ModeKeys.EVAL:
            if self._metric_fn is not None:
                eval_metric_ops = self._metric_fn(graph_output=graph_output, labels=labels, weights=weights)
        elif self._export_output_fn is not None:
            export_outputs = self._export_output_fn(self._graph_output_for_export(graph_output))

        predictions = {key: value for key, value in graph_output.items() if value is not None and key != "loss"}
        # Values of PlaceholderInitializers (twml.contrib.initializers), fed once at initialisation.
        init_feed_dict = dict(tf.get_collection(TWML_INIT_FEED_KEY))
        scaffold = None
        if init_feed_dict:
            scaffold = tf.train.Scaffold(init_feed_dict=init_feed_dict)
            tf.get_default_graph().clear_collection(TWML_INIT_FEED_KEY)
        spec = tf.estimator.EstimatorSpec(
            mode=mode,
            predictions=predictions,
            loss=loss,
            train_op=train_op,
            eval_metric_ops=eval_metric_ops,
            export_outputs=export_outputs,
            scaffold=scaffold,
        )
        self._current_estimator_spec = spec
        return spec

    def _graph_output_for_export(self, graph_output: Dict[str, Any]) -> Dict[str, Any]:
        """What the export output function sees (DataRecordTrainer adds the label keys)."""
        return graph_output

    @staticmethod
    def get_train_op(params: Params, loss: tf.Tensor) -> tf.Operation:
        """The default optimize_loss_fn: :func:`twml.optimizers.optimize_loss` with the optimizer
        named by ``params.optimizer`` (default 'SGD'; 'LazyAdam'; 'DGC' with the ``dgc_*`` params),
        ``learning_rate``, ``gradient_noise_scale``, ``clip_gradients`` and the learning-rate decay
        of :func:`twml.learning_rate_decay.get_learning_rate_decay_fn`."""
        optimizer: Any = get_param(params, "optimizer", "SGD")
        learning_rate = float(get_param(params, "learning_rate", 0.002))
        if optimizer == "LazyAdam":
            optimizer = LazyAdamOptimizer
        elif optimizer == "DGC":
            optimizer = DeepGradientCompressionOptimizer(
                learning_rate=learning_rate,
                density=float(get_param(params, "dgc_density", 0.1)),
                density_decay=bool(get_param(params, "dgc_density_decay", True)),
                density_decay_steps=int(get_param(params, "dgc_density_decay_steps", 10000)),
                density_decay_rate=float(get_param(params, "dgc_density_decay_rate", 0.5)),
                min_density=float(get_param(params, "dgc_min_density", 0.1)),
                accumulation=bool(get_param(params, "dgc_accumulation", False)),
            )
        summaries = OPTIMIZER_SUMMARIES if get_param(params, "show_optimizer_summaries", False) else ["loss"]
        return optimize_loss(
            loss=loss,
            global_step=tf.train.get_global_step(),
            optimizer=optimizer,
            learning_rate=learning_rate,
            summaries=summaries,
            colocate_gradients_with_ops=True,
            gradient_noise_scale=get_param(params, "gradient_noise_scale"),
            clip_gradients=get_param(params, "clip_gradients"),
            learning_rate_decay_fn=get_learning_rate_decay_fn(params),
        )

    # ------------------------------------------------------------------ hooks

    def get_train_hooks(self) -> List[tf.train.SessionRunHook]:
        """A StepCounterHook (every ``204800 // train_batch_size`` steps; it writes the steps/s summary
        and logs nothing: ``twml.console.StepRateSummaryHook``), on the chief a ``twml.console.ProgressHook``
        (one line of step, steps/s and loss every 30 seconds) and, with ``profiler_steps``, a ProfilerHook
        (chief only when distributed)."""
        every = max(1, 204800 // int(self._params.train_batch_size))
        hooks: List[tf.train.SessionRunHook] = [StepRateSummaryHook(every_n_steps=every, output_dir=self._save_dir)]
        if self.is_chief():
            hooks.append(ProgressHook(loss=self._current_loss, last_step=get_param(self._params, "train_max_steps")))
        if self._profiler_steps and self.is_chief():
            hooks.append(tf.train.ProfilerHook(save_steps=self._profiler_steps, output_dir=self._save_dir))
        return hooks

    def _current_loss(self) -> Optional[tf.Tensor]:
        return self._current_estimator_spec.loss if self._current_estimator_spec is not None else None

    def _evaluation_log_hook(self) -> tf.train.SessionRunHook:
        """One console line per evaluation of learn / train_and_evaluate (twml.console.EvaluationLogHook)."""
        return EvaluationLogHook(lambda: self._current_estimator_spec, name=get_param(self._params, "eval_name"))

    def get_eval_hooks(self) -> Optional[List[tf.train.SessionRunHook]]:
        """None: evaluation adds no hooks by default."""
        return None

    def get_predict_hooks(self) -> Optional[List[tf.train.SessionRunHook]]:
        """A ProfilerHook when ``profiler_steps`` is set."""
        if self._profiler_steps:
            return [tf.train.ProfilerHook(save_steps=self._profiler_steps, output_dir=self._save_dir)]
        return None

    def _early_stop_hook(
        self,
        metric: str,
        patience: int,
        minimize: bool,
        tolerance: float,
        start_epoch: int,
        file_path: Optional[str],
        exit_on_end: bool,
    ) -> tf.train.SessionRunHook:
        self._early_stopping = True
        return EarlyStopHook(
            metric=metric,
            patience=patience,
            minimize=minimize,
            get_estimator_spec_fn=lambda: self._current_estimator_spec,
            checkpoint_dir=self._save_dir,
            file_path=file_path,
            exit_on_end=exit_on_end,
            start_epoch=start_epoch,
            tolerance=tolerance,
        )

    # ------------------------------------------------------------------ train / evaluate

    def train(
        self,
        input_fn: Optional[Callable] = None,
        steps: Optional[int] = None,
        hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
    ) -> "Trainer":
        """Trains ``steps`` steps (None: until ``input_fn`` is exhausted) with the train hooks.

        Raises:
          ValueError: called under TF_CONFIG (use train_and_evaluate), unless the params say
            ``is_calibrating``.
        """
        if cluster.tf_config() and not get_param(self._params, "is_calibrating", False) and not self._using_hogwild:
            raise ValueError("train() is not supported with TF_CONFIG set: use train_and_evaluate()")
        all_hooks = list(self.get_train_hooks()) + list(hooks or [])
        self._estimator.train(input_fn=input_fn, steps=_positive_or_none(steps), hooks=all_hooks)
        self._tracker.log_checkpoint(self.latest_checkpoint, self._global_step())
        return self

    def evaluate(
        self,
        input_fn: Optional[Callable] = None,
        steps: Optional[int] = None,
        hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
        name: Optional[str] = None,
        checkpoint_path: Optional[str] = None,
    ) -> Optional[Dict[str, Any]]:
        """Evaluates the best (early stopping) or latest checkpoint; returns the metrics dict.

        In a distributed run only the evaluator (or, without one, the chief) evaluates; other
        tasks return None.
        """
        config = cluster.tf_config()
        if config and not (self.is_evaluator() or (self.is_chief() and "evaluator" not in config.get("cluster", {}))):
            return None
        all_hooks = list(self.get_eval_hooks() or []) + list(hooks or [])
        metrics = self._estimator.evaluate(
            input_fn=input_fn,
            steps=_positive_or_none(steps),
            hooks=all_hooks,
            name=name,
            checkpoint_path=checkpoint_path or self.best_or_latest_checkpoint,
        )
        self._tracker.log_metrics(metrics, metrics.get("global_step"), eval_name=name)
        return metrics

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """``estimator.predict`` with the predict hooks added."""
        hooks = list(kwargs.pop("hooks", None) or []) + list(self.get_predict_hooks() or [])
        return self._estimator.predict(*args, hooks=hooks, **kwargs)

    def learn(
        self,
        train_input_fn: Optional[Callable] = None,
        eval_input_fn: Optional[Callable] = None,
        train_max_steps: Optional[int] = None,
        train_steps: Optional[int] = None,
        eval_steps: Optional[int] = None,
        train_hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
        eval_hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
        early_stop_metric: Optional[str] = None,
        early_stop_patience: int = -1,
        early_stop_minimize: bool = True,
        early_stop_tolerance: float = 0,
        start_epoch: int = 0,
        exporters: Optional[Sequence[Any]] = None,
        export_output_fn: Optional[Callable] = None,
        max_duration: Optional[float] = None,
    ) -> str:
        """Alternates ``train(train_steps)`` and ``evaluate(eval_steps)`` until ``train_max_steps``
        (None: one epoch), an early stop or ``max_duration`` seconds; runs ``exporters`` into
        ``save_dir/export/<exporter.name>`` after each evaluation; writes ``_SUCCESS``.

        Early stopping (``early_stop_patience > 0``, needs ``train_max_steps``) keeps the best
        checkpoint in ``save_dir/best_checkpoint``.

        Returns:
          save_dir.

        Raises:
          ValueError: with TF_CONFIG set (use train_and_evaluate), or early stopping without
            ``train_max_steps`` or ``early_stop_metric``.
        """
        if cluster.tf_config():
            raise ValueError("learn() does not support TF_CONFIG: use train_and_evaluate()")
        train_max_steps = self._steps_param(train_max_steps, "train_max_steps")
        train_steps = self._steps_param(train_steps, "train_steps")
        eval_steps = self._steps_param(eval_steps, "eval_steps")
        max_duration = max_duration if max_duration is not None else get_param(self._params, "max_duration")
        if export_output_fn is not None:
            self._export_output_fn = export_output_fn
        train_hooks = list(train_hooks or [])
        eval_hooks = list(eval_hooks or []) + [self._evaluation_log_hook()]

        early_stop = None
        if early_stop_patience and early_stop_patience > 0:
            if train_max_steps is None:
                raise ValueError("early stopping needs train_max_steps (else training stops after one epoch)")
            if not early_stop_metric:
                raise ValueError("early stopping needs early_stop_metric")
            early_stop = self._early_stop_hook(
                early_stop_metric,
                early_stop_patience,
                early_stop_minimize,
                early_stop_tolerance,
                start_epoch,
                file_path=None,
                exit_on_end=False,
            )
            eval_hooks.append(early_stop)
        duration = None
        if max_duration:
            duration = EarlyStopDuration(
                max_duration=max_duration, exit_on_end=False, save_dir=self._save_dir, overwrite=self.is_chief()
            )
            train_hooks.append(duration)
            eval_hooks.append(duration)
        stop_at_step = None
        if train_max_steps is not None:
            stop_at_step = StopAtStepHook(last_step=train_max_steps)
            train_hooks.append(stop_at_step)

        while True:
            self.train(train_input_fn, steps=train_steps, hooks=train_hooks)
            eval_result = self.evaluate(
                eval_input_fn, steps=eval_steps, hooks=eval_hooks, checkpoint_path=self.latest_checkpoint
            )
            for exporter in exporters or []:
                export_path = os.path.join(self._save_dir, "export", exporter.name)
                exporter.export(self._estimator, export_path, self.latest_checkpoint, eval_result, False)
            if train_max_steps is None:
                break
            if stop_at_step is not None and (stop_at_step.stop_requested or self._global_step() >= train_max_steps):
                break
            if early_stop is not None and early_stop.should_stop:
                _LOG.info(
                    "early stopping: %s did not improve for %d evaluations", early_stop_metric, early_stop_patience
                )
                break
            if duration is not None and duration.should_stop:
                break
        self.write_state_to_disk(self._save_dir)
        return self._save_dir

    def train_and_evaluate(
        self,
        train_input_fn: Optional[Callable] = None,
        eval_input_fn: Optional[Callable] = None,
        train_max_steps: Optional[int] = None,
        eval_steps: Optional[int] = None,
        eval_delay: Optional[int] = None,
        eval_period: Optional[int] = None,
        train_hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
        eval_hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
        early_stop_metric: Optional[str] = None,
        early_stop_patience: int = -1,
        early_stop_minimize: bool = True,
        early_stop_tolerance: float = 0,
        exporters: Optional[Sequence[Any]] = None,
        export_output_fn: Optional[Callable] = None,
        max_duration: Optional[float] = None,
    ) -> None:
        """``tf.estimator.train_and_evaluate`` (local or distributed by TF_CONFIG).

        Evaluations run every ``eval_period`` seconds (after ``eval_delay``) on new checkpoints.
        Early stopping: the evaluator's EarlyStopHook writes ``save_dir/earlystop_now.txt`` and the
        training tasks' StopIfExistsHook stops them; when that file is already there (a rerun of
        an early-stopped run) nothing is trained. The chief writes ``_SUCCESS`` at the end.
        """
        params = self._params
        train_max_steps = self._steps_param(train_max_steps, "train_max_steps")
        eval_steps = self._steps_param(eval_steps, "eval_steps")
        eval_delay = int(eval_delay if eval_delay is not None else get_param(params, "eval_delay", 120))
        eval_period = int(eval_period if eval_period is not None else get_param(params, "eval_period", 600))
        max_duration = max_duration if max_duration is not None else get_param(params, "max_duration")
        if export_output_fn is not None:
            self._export_output_fn = export_output_fn
        distributed = bool(cluster.tf_config())
        train_hooks = list(self.get_train_hooks()) + list(train_hooks or [])
        eval_hooks = list(self.get_eval_hooks() or []) + list(eval_hooks or []) + [self._evaluation_log_hook()]

        early_stop = None
        if early_stop_patience and early_stop_patience > 0:
            if not early_stop_metric:
                raise ValueError("early stopping needs early_stop_metric")
            stop_file = os.path.join(self._save_dir, EARLY_STOP_FILE)
            if tf.io.gfile.exists(stop_file):
                # A rerun of an early-stopped run: another step would move the latest checkpoint
                # (and possibly the best one) away from what the run already exported.
                _LOG.info(
                    "%s exists: early stopping ended this run's training before; not training further "
                    "(delete the file to resume training)",
                    stop_file,
                )
                if self.is_chief():
                    self.write_state_to_disk(self._save_dir)
                return
            early_stop = self._early_stop_hook(
                early_stop_metric,
                early_stop_patience,
                early_stop_minimize,
                early_stop_tolerance,
                0,
                file_path=stop_file,
                exit_on_end=distributed,
            )
            eval_hooks.append(early_stop)
            train_hooks.append(StopIfExistsHook(stop_file))
        if max_duration:
            duration = EarlyStopDuration(
                max_duration=max_duration, exit_on_end=distributed, save_dir=self._save_dir, overwrite=self.is_chief()
            )
            train_hooks.append(duration)
            eval_hooks.append(duration)

        train_spec = tf.estimator.TrainSpec(input_fn=train_input_fn, max_steps=train_max_steps, hooks=train_hooks)
        eval_spec = tf.estimator.EvalSpec(
            input_fn=eval_input_fn,
            steps=eval_steps,
            name=get_param(params, "eval_name"),
            start_delay_secs=eval_delay,
            throttle_secs=eval_period,
            hooks=eval_hooks,
            exporters=exporters,
        )
        if self.is_ps() and not get_param(params, "disable_auto_ps_shutdown", False) and not self._using_hogwild:
            self._start_ps_shutdown_thread()
        try:
            tf.estimator.train_and_evaluate(self._estimator, train_spec, eval_spec)
        except EarlyStopError:
            if not self.is_evaluator():
                raise
            _LOG.info("evaluator: early stop")
        if early_stop is not None and self.is_chief() and tf.io.gfile.exists(stop_file):
            best = " (best %g)" % early_stop.best_value if math.isfinite(early_stop.best_value) else ""
            _LOG.info(
                "early stopping: %s did not improve for %d evaluations%s", early_stop_metric, early_stop_patience, best
            )
        self._log_latest_eval()
        if self.is_chief():
            self.write_state_to_disk(self._save_dir)

    def _log_latest_eval(self) -> None:
        """Records the evaluations tf.estimator wrote as summaries (train_and_evaluate returns
        nothing) into the experiment tracker."""
        if not self._tracker.enabled:
            return
        eval_dir = os.path.join(
            self._save_dir,
            "eval" if not get_param(self._params, "eval_name") else "eval_" + get_param(self._params, "eval_name"),
        )
        if not tf.io.gfile.isdir(eval_dir):
            return
        by_step: Dict[int, Dict[str, float]] = {}
        for path in sorted(tf.io.gfile.glob(os.path.join(eval_dir, "events.out.tfevents.*"))):
            for event in tf.train.summary_iterator(path):
                for value in event.summary.value:
                    if value.HasField("simple_value"):
                        by_step.setdefault(event.step, {})[value.tag] = value.simple_value
        for step in sorted(by_step):
            self._tracker.log_metrics(by_step[step], step, eval_name=get_param(self._params, "eval_name"))

    def _start_ps_shutdown_thread(self) -> None:
        """A parameter server never returns from its server loop: exit the process once the chief
        has written ``_SUCCESS``."""

        def poll() -> None:
            while not tf.io.gfile.exists(os.path.join(self._save_dir, "_SUCCESS")):
                time.sleep(10)
            _LOG.info("ps: training finished, exiting")
            os._exit(0)

        threading.Thread(target=poll, daemon=True, name="twml-ps-shutdown").start()

    def _steps_param(self, value: Optional[int], name: str) -> Optional[int]:
        """A step count argument, defaulting to ``params.<name>``; None when not positive."""
        return _positive_or_none(value if value is not None else get_param(self._params, name))

    def _global_step(self) -> int:
        checkpoint = self.latest_checkpoint
        if not checkpoint:
            return 0
        return int(tf.train.load_variable(checkpoint, tf.GraphKeys.GLOBAL_STEP))

    # ------------------------------------------------------------------ calibration

    def calibrate(
        self,
        calibrator: Any,
        steps: Optional[int] = None,
        input_fn: Optional[Callable] = None,
        save_calibrator: bool = True,
        hooks: Optional[Sequence[tf.train.SessionRunHook]] = None,
    ) -> None:
        """Feeds the model's predictions to a calibrator (or a dict of them), calibrates and saves it.

        Runs one training step (the calibration graph's dummy train_op writes a checkpoint), then
        ``predict(input_fn, yield_single_examples=False)`` and ``calibrator.accumulate_feature``
        on each batch, ``steps`` batches at most (all if None or <= 0); then ``calibrate()``;
        then empties save_dir but for event files and saves each calibrator to
        ``params.save_dir`` (a dict's calibrators under ``name + key``).
        """
        calibrators = calibrator if isinstance(calibrator, dict) else {"": calibrator}
        self._estimator.train(input_fn=input_fn, steps=1, hooks=list(hooks or []))
        limit = _positive_or_none(steps)
        batches = 0
        for batch in self.predict(input_fn=input_fn, yield_single_examples=False):
            for item in calibrators.values():
                item.accumulate_feature(batch)
            batches += 1
            if limit is not None and batches >= limit:
                break
        if batches == 0:
            raise ValueError("calibrate: the input_fn gave no batch")
        _LOG.info("calibrate: accumulated %d batches", batches)
        for item in calibrators.values():
            item.calibrate()
        for entry in tf.io.gfile.listdir(self._save_dir):
            if not entry.startswith("events"):
                util.delete_file_or_dir(os.path.join(self._save_dir, entry))
        if save_calibrator:
            for key, item in calibrators.items():
                item.save(self._params.save_dir, name=item.name + key)

    # ------------------------------------------------------------------ export

    def export_model(
        self,
        serving_input_receiver_fn: Callable,
        export_output_fn: Optional[Callable] = None,
        export_dir: Optional[str] = None,
        checkpoint_path: Optional[str] = None,
        feature_spec: Optional[Dict[str, Any]] = None,
        log_features: bool = True,
    ) -> Optional[str]:
        """Exports a SavedModel (chief only) and writes ``feature_spec.yaml`` beside it.

        Args:
          serving_input_receiver_fn: builds the serving inputs.
          export_output_fn: ``graph_output -> {signature: ExportOutput}``; default
            :func:`twml.export_output_fns.default_output_fn`.
          export_dir: default ``params.export_dir`` or ``save_dir/exported_models``; each export
            is a timestamped sub-directory.
          checkpoint_path: default the best (early stopping) or latest checkpoint.
          feature_spec: written as ``feature_spec.yaml`` into the export (before it is renamed
            into place).
          log_features: log the exported feature spec.

        The export goes through :func:`twml.run_state.publish_export`: written in a staging
        directory, completed there and renamed into place; debris of killed exports removed first;
        an export of the same checkpoint with the same signatures and feature spec already in
        ``export_dir`` (a rerun of a finished run) is returned instead of a second one.

        Returns:
          the export path (bytes decoded), or None on non-chief tasks.
        """
        if not self.is_chief():
            return None
        self._export_output_fn = export_output_fn or export_output_fns.default_output_fn
        export_dir = (
            export_dir or get_param(self._params, "export_dir") or os.path.join(self._save_dir, "exported_models")
        )
        checkpoint_path = checkpoint_path or self.best_or_latest_checkpoint
        if checkpoint_path is None:
            raise ValueError("export_model: no checkpoint in %s; train first" % self._save_dir)
        export_path = run_state.publish_export(
            export_dir,
            lambda staging: self._estimator.export_saved_model(
                staging, serving_input_receiver_fn, checkpoint_path=checkpoint_path
            ),
            checkpoint_path,
            feature_spec=feature_spec,
            log_features=log_features,
        )
        self._tracker.log_export(export_path)
        return export_path

    def hub_export(
        self,
        name: str,
        serving_input_receiver_fn: Callable,
        export_dir: Optional[str] = None,
        checkpoint_path: Optional[str] = None,
        export_task_type_overrider: Optional[str] = None,
    ) -> Optional[str]:
        """Exports the TF-Hub modules the graph registered (``hub.register_module_for_export(m,
        name)``) from a checkpoint into ``export_dir/<module name>`` (default export_dir =
        save_dir), moving an existing module to ``export_dir/backups/<timestamp>/``.

        Returns:
          ``export_dir``, or None when this task does not export (only the chief, or the task
          type ``export_task_type_overrider``, does).
        """
        import tensorflow_hub as hub

        exporting = self.is_task_type(export_task_type_overrider) if export_task_type_overrider else self.is_chief()
        if not exporting:
            return None
        export_dir = export_dir or self._save_dir
        checkpoint_path = checkpoint_path or self.best_or_latest_checkpoint
        run_state.remove_stale_staging_dirs(self._save_dir, "hub_export_")  # left by killed exports
        staging = run_state.staging_dir(self._save_dir, "hub_export_")
        try:
            exporter = hub.LatestModuleExporter(name, serving_input_receiver_fn)
            timestamped = exporter.export(self._estimator, staging, checkpoint_path)
            if timestamped is None:
                raise ValueError("hub_export: the graph registered no module (hub.register_module_for_export)")
            timestamped = timestamped.decode() if isinstance(timestamped, bytes) else timestamped
            tf.io.gfile.makedirs(export_dir)
            stamp = datetime.datetime.now().strftime("%Y%m%d%H%M%S")
            for module in tf.io.gfile.listdir(timestamped):
                module = module.rstrip("/")
                target = os.path.join(export_dir, module)
                if tf.io.gfile.exists(target):
                    backup = os.path.join(export_dir, "backups", stamp)
                    tf.io.gfile.makedirs(backup)
                    tf.io.gfile.rename(target, os.path.join(backup, module))
                tf.io.gfile.rename(os.path.join(timestamped, module), target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._tracker.log_export(export_dir)
        return export_dir

    def write_state_to_disk(self, save_dir: str, filename: str = "_SUCCESS") -> None:
        """Touches ``save_dir/filename`` (``_SUCCESS`` marks a finished run) and closes the run's
        tracking record."""
        util.touch_file_in_dir(save_dir, filename)
        if filename == "_SUCCESS":
            self._tracker.finish("finished")

    # ------------------------------------------------------------------ TensorBoard

    def start_tensorboard(self, port: Optional[int] = None) -> None:
        """Serves save_dir with TensorBoard on ``port`` in a child process (stopped with the trainer)."""
        if port is None:
            port = get_param(self._params, "tensorboard_port")
        self.stop_tensorboard()
        command = [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            self._save_dir,
            "--port",
            str(port),
            "--bind_all",
        ]
        self._tensorboard = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _LOG.info("TensorBoard on port %s (pid %d)", port, self._tensorboard.pid)

    def stop_tensorboard(self) -> None:
        """Stops the TensorBoard child process, if any."""
        if self._tensorboard is not None and self._tensorboard.poll() is None:
            self._tensorboard.terminate()
            try:
                self._tensorboard.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._tensorboard.kill()
        self._tensorboard = None

    def __del__(self) -> None:
        try:
            self.stop_tensorboard()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def init_from_checkpoint(init_dir: Optional[str], init_map: Dict[str, str]) -> None:
    """Makes the mapped variables initialise from the checkpoint in ``init_dir``
    (``tf.train.init_from_checkpoint`` on the sanitized path); a falsy ``init_dir`` does nothing.

    Args:
      init_dir: a checkpoint directory or prefix, or None.
      init_map: checkpoint name (or scope) -> variable name (or scope) of the current graph.
    """
    if init_dir:
        tf.train.init_from_checkpoint(util.sanitize_hdfs_path(init_dir), init_map)
