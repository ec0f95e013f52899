"""Multi-phase training flows: calibrate a discretizer or a calibrator, then train or export
(reference §7.4).

Phase 1 of a typical twml model fits a discretizer (e.g. ``HashingDiscretizerCalibrator``) to a
sample of the training data and saves it as a TF-Hub module; the model graph of phase 2 loads it
with ``hub.Module(discretizer_save_dir)`` and applies the signature named after the calibrator.
After training, an optional final phase fits an ``IsotonicCalibrator`` to the model's
predictions and exports ``clip(isotonic(model(x)), 0, 1)``.

The argument helpers of these phases live in :mod:`calibrator_arguments` and are re-exported here,
where the original had them.
"""

import contextlib
import copy
import logging
import os
import time
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np
import tensorflow.compat.v1 as tf

from twml import parsers, util
from twml.contrib.calibrators.calibrator_arguments import (  # noqa: F401 - re-exported
    add_discretizer_arguments,
    add_isotonic_calibrator_arguments,
    calibrator_arguments,
    discretizer_arguments,
)
from twml.contrib.calibrators.discretize import discretize  # noqa: F401 - re-exported (the v2 path)
from twml.params import get_param
from twml.trainers import DataRecordTrainer, cluster

_LOG = logging.getLogger(__name__)

#: How often non-chief workers look for the chief's discretizer module.
MODULE_POLL_SECS = 60
HUB_MODULE_FILE = "tfhub_module.pb"


def _set(params: Any, name: str, value: Any) -> None:
    setattr(params, name, value)


@contextlib.contextmanager
def _single_process() -> Iterator[None]:
    """Hides TF_CONFIG: a calibration phase is one process on the chief, not a cluster job."""
    saved = os.environ.pop("TF_CONFIG", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["TF_CONFIG"] = saved


def build_percentile_discretizer_graph(features: Dict[str, tf.Tensor], label: Any, mode: str,
                                       params: Any, config: Any = None) -> Dict[str, Any]:
    """The graph of a discretizer calibration phase.

    Args:
      features: a continuous parse function's output (``ids``, ``keys``, ``values``,
        ``batch_size``, ``weights`` float32 ``[batch, 1]``).
      params: ``input_size_bits`` (column bits of :func:`twml.util.convert_to_sparse`).

    Returns:
      in 'train' mode a dummy step (``train_op`` increments the global step, loss 1); otherwise
      ``feature_ids`` int64 ``[n]`` (column of each entry), ``feature_values`` float32 ``[n]`` and
      ``weights`` float32 ``[n]`` (the sample weight of each entry's record) — what
      ``Calibrator.accumulate_feature`` consumes.
    """
    sparse = util.convert_to_sparse(features, int(get_param(params, "input_size_bits", 63)))
    if mode == tf.estimator.ModeKeys.TRAIN:
        loss = tf.constant(1.0)
        train_op = tf.assign_add(tf.train.get_or_create_global_step(), 1)
        return {"output": loss, "loss": loss, "train_op": train_op}
    weights = tf.reshape(features["weights"], [-1])
    entry_weights = tf.gather(weights, sparse.indices[:, 0])
    return {
        "output": sparse.values,
        "feature_ids": sparse.indices[:, 1],
        "feature_values": sparse.values,
        "weights": entry_weights,
    }


def _calibration_params(params: Any, prefix: str, save_dir: str) -> Any:
    """A copy of params for a single-process calibration pass over the training data."""
    calibration = copy.deepcopy(params)
    for name, value in (("data_threads", 1), ("num_threads", 1), ("train_steps", -1), ("train_max_steps", None),
                        ("eval_steps", -1), ("num_workers", 1), ("disable_tensorboard", True),
                        ("tensorboard_port", None), ("stats_port", None), ("distributed", False),
                        ("overwrite_save_dir", False), ("save_dir", save_dir)):
        _set(calibration, name, value)
    _set(calibration, "train_batch_size", int(get_param(params, prefix + "_batch_size", 128)))
    _set(calibration, "eval_batch_size", int(get_param(params, prefix + "_batch_size", 128)))
    _set(calibration, "train_keep_rate", get_param(params, prefix + "_keep_rate"))
    _set(calibration, "train_parts_downsampling_rate", get_param(params, prefix + "_parts_downsampling_rate"))
    return calibration


def calibrate_discretizer_and_export(name: str, calibrator: Any, build_graph_fn: Callable, params: Any,
                                     feature_config: Any) -> None:
    """Phase 1: fits ``calibrator`` on a sample of the training files and saves it to
    ``params.discretizer_save_dir`` (a TF-Hub module plus ``<name>_bin.json``).

    On the chief (or a local run) a single-process DataRecordTrainer reads the training files with
    the ``discretizer_*`` params (batch size, keep rate, parts downsampling rate, max steps) and
    ``twml.parsers.get_continuous_parse_fn(feature_config)`` (or ``feature_config`` itself when it
    is a parse function), then calls :meth:`Trainer.calibrate`. Other workers wait (polling every
    60 s) for ``<discretizer_save_dir>/tfhub_module.pb``.

    Raises:
      ValueError: ``discretizer_save_dir`` is not set.
    """
    save_dir = get_param(params, "discretizer_save_dir")
    if not save_dir:
        raise ValueError("calibrate_discretizer_and_export needs params.discretizer_save_dir (--discretizer.save_dir)")
    if not cluster.is_chief():
        module = os.path.join(save_dir, HUB_MODULE_FILE)
        while not tf.io.gfile.exists(module):
            _LOG.info("waiting for the chief's discretizer module %s", module)
            time.sleep(MODULE_POLL_SECS)
        return
    calibration = _calibration_params(params, "discretizer", save_dir)
    parse_fn = feature_config if callable(feature_config) else parsers.get_continuous_parse_fn(feature_config)
    with _single_process():
        trainer = DataRecordTrainer(name=name, params=calibration, build_graph_fn=build_graph_fn,
                                    feature_config=None if callable(feature_config) else feature_config)
        input_fn = trainer.get_train_input_fn(parse_fn=parse_fn, repeat=False)
        trainer.calibrate(calibrator, steps=get_param(params, "discretizer_max_steps"), input_fn=input_fn)
        trainer.write_state_to_disk(save_dir)


# --------------------------------------------------------------------------- isotonic phase


def _restore_model_variables(model_scope: str, checkpoint_dir: str) -> None:
    """Initialise the variables under ``model_scope`` from the trained model's latest checkpoint."""
    checkpoint = tf.train.latest_checkpoint(checkpoint_dir)
    if checkpoint is None:
        raise ValueError("no checkpoint of the model to calibrate in %s" % checkpoint_dir)
    in_checkpoint = {name for name, _ in tf.train.list_variables(checkpoint)}
    variables = {v.op.name: v for v in tf.global_variables() if v.op.name.startswith(model_scope + "/")}
    missing = sorted(set(variables) - in_checkpoint)
    if missing:
        raise ValueError("the checkpoint %s lacks the model variables %s" % (checkpoint, missing[:5]))
    tf.train.init_from_checkpoint(checkpoint, variables)


def calibrate(trainer: Any, params: Any, build_graph: Callable, input_fn: Callable,
              model_dir: Optional[str] = None, calibrator: Any = None, steps: Optional[int] = None) -> Any:
    """Feeds a trained model's predictions to an isotonic calibrator in a plain session (an
    Estimator's predict drops the labels the calibrator needs).

    Args:
      trainer: the trainer whose name scopes the model (``<trainer name>/model``).
      params: passed to ``build_graph``.
      build_graph: the model's graph function; its ``output`` float ``[batch, n]`` (or ``[batch]``).
      input_fn: ``() -> (features, labels)``; features must contain ``weights``.
      model_dir: the trained model's checkpoints (default ``trainer.save_dir``).
      calibrator: an :class:`IsotonicCalibrator` (default one with ``params.calibrator_num_bins``).
      steps: batches to read at most (None: the whole input).

    Returns:
      the calibrated calibrator.
    """
    from twml.contrib.calibrators.isotonic import IsotonicCalibrator

    calibrator = calibrator or IsotonicCalibrator(int(get_param(params, "calibrator_num_bins", 25000)))
    model_dir = model_dir or trainer.save_dir
    scope = trainer._name + "/model"
    with tf.Graph().as_default():
        features, labels = input_fn()
        if "weights" not in features:
            raise ValueError("isotonic calibration needs 'weights' in the features")
        with tf.variable_scope(scope):
            output = build_graph(features, labels, tf.estimator.ModeKeys.PREDICT, params, None)["output"]
        _restore_model_variables(scope, model_dir)
        fetches = {"predictions": output, "targets": labels, "weights": features["weights"]}
        batches = 0
        with tf.Session() as session:
            session.run([tf.global_variables_initializer(), tf.local_variables_initializer(),
                         tf.tables_initializer()])
            while steps is None or steps <= 0 or batches < steps:
                try:
                    batch = session.run(fetches)
                except tf.errors.OutOfRangeError:
                    break
                predictions = np.asarray(batch["predictions"]).reshape(len(batch["weights"]), -1)
                targets = np.asarray(batch["targets"]).reshape(predictions.shape[0], -1)[:, : predictions.shape[1]]
                calibrator.accumulate(predictions, targets, batch["weights"])
                batches += 1
    if batches == 0:
        raise ValueError("isotonic calibration: the input gave no batch (check the data and the sampling "
                         "rates: --calibrator.parts_downsampling_rate %s, --calibrator_keep_rate %s)"
                         % (get_param(params, "calibrator_parts_downsampling_rate"),
                            get_param(params, "calibrator_keep_rate")))
    _LOG.info("isotonic calibration: %d batches", batches)
    calibrator.calibrate()
    return calibrator


def build_isotonic_graph_from_inputs(output: tf.Tensor, calibrator: Any) -> tf.Tensor:
    """``clip(isotonic(output), 0, 1)``: the calibrated predictions, float32 of ``output``'s shape."""
    shape = tf.shape(output)
    output_2d = tf.reshape(output, [-1, calibrator.n_class])
    calibrated = calibrator.to_layer(name="isotonic")(output_2d)
    return tf.reshape(tf.clip_by_value(calibrated, 0.0, 1.0), shape)


def build_isotonic_graph(build_graph_fn: Callable, calibrator: Any, model_scope: str,
                         model_dir: str) -> Callable:
    """A graph function whose output is ``clip(isotonic(build_graph_fn(...)['output']), 0, 1)``,
    with the model's variables initialised from ``model_dir`` and frozen (the training step of the
    calibrated graph only writes a checkpoint: it increments the global step)."""

    def isotonic_graph(features: Any, label: Any, mode: str, params: Any, config: Any = None) -> Dict[str, Any]:
        graph_output = dict(build_graph_fn(features, label, mode, params, config))
        graph_output.pop("train_op", None)
        _restore_model_variables(model_scope, model_dir)
        calibrated = build_isotonic_graph_from_inputs(graph_output["output"], calibrator)
        graph_output["uncalibrated_output"] = graph_output["output"]
        graph_output["output"] = calibrated
        if label is not None and mode != tf.estimator.ModeKeys.PREDICT:
            labels = tf.reshape(tf.cast(label, tf.float32), tf.shape(calibrated))
            clipped = tf.clip_by_value(calibrated, 1e-7, 1 - 1e-7)
            graph_output["loss"] = tf.losses.log_loss(labels, clipped)
        if mode == tf.estimator.ModeKeys.TRAIN:
            graph_output["train_op"] = tf.assign_add(tf.train.get_or_create_global_step(), 1)
        return graph_output

    return isotonic_graph


def calibrate_calibrator_and_export(name: str, calibrator: Any, build_graph_fn: Callable, params: Any,
                                    feature_config: Any, run_eval: bool = True,
                                    input_fn: Optional[Callable] = None, metric_fn: Optional[Callable] = None,
                                    export_task_type_overrider: Optional[str] = None) -> Optional[str]:
    """The isotonic phase: fit ``calibrator`` to the trained model's predictions, then export the
    calibrated model.

    The model trained by a trainer called ``name`` with ``build_graph_fn`` has its checkpoints in
    ``params.calibrator_load_tensorflow_module`` or, by default, ``params.save_dir``. Its
    predictions on the training files (``calibrator_*`` params: batch size, keep rate, parts
    downsampling, max steps) are accumulated in a plain session; then a DataRecordTrainer with
    save_dir ``params.calibrator_save_dir`` (default ``<save_dir>/calibrator``) builds
    ``clip(isotonic(model), 0, 1)``, writes one checkpoint, evaluates it (``name='test'``) when
    ``run_eval``, and exports it as a SavedModel with the default serving contract.

    This rebuild loads the trained model from its checkpoints rather than from an exported TF-Hub
    module, so the ``--calibrator.load_tensorflow_module`` flag names a checkpoint directory.

    Returns:
      the export path (None on tasks that do not export).
    """
    model_dir = get_param(params, "calibrator_load_tensorflow_module") or params.save_dir
    save_dir = get_param(params, "calibrator_save_dir") or os.path.join(params.save_dir, "calibrator")
    model_scope = name + "/model"
    calibration = _calibration_params(params, "calibrator", save_dir)
    _set(calibration, "is_calibrating", True)
    with _single_process():
        trainer = DataRecordTrainer(name=name, params=calibration,
                                    build_graph_fn=lambda *a: {"output": tf.constant(0.0)},
                                    feature_config=feature_config, metric_fn=metric_fn)
        calibrate_input_fn = input_fn or trainer.get_train_input_fn(repeat=False, shuffle=False)
        calibrate(trainer, calibration, build_graph_fn, calibrate_input_fn, model_dir=model_dir,
                  calibrator=calibrator,
                  steps=get_param(params, "calibrator_max_steps") or get_param(params, "calibrator_train_steps"))
        final = DataRecordTrainer(name=name, params=calibration,
                                  build_graph_fn=build_isotonic_graph(build_graph_fn, calibrator, model_scope,
                                                                      model_dir),
                                  feature_config=feature_config, metric_fn=metric_fn)
        final.train(calibrate_input_fn, steps=1)
        if run_eval:
            metrics = final.evaluate(steps=get_param(params, "calibrator_final_evaluation_steps"), name="test")
            _LOG.info("calibrated model: %s", metrics)
        exporting = (cluster.is_task_type(export_task_type_overrider) if export_task_type_overrider
                     else cluster.is_chief())
        if not exporting:
            return None
        export_dir = os.path.join(save_dir, get_param(params, "calibrator_export_module_name", "tf_hub_isotonic"))
        return final.export_model(export_dir=export_dir)


def _listed_files(params: Any) -> Any:
    return util.list_files_by_datetime(
        base_path=util.sanitize_hdfs_path(params.train_data_dir), start_datetime=params.train_start_datetime,
        end_datetime=params.train_end_datetime, datetime_prefix_format=params.datetime_format, extension="lzo",
        parallelism=1, hour_resolution=params.hour_resolution, sort=True)


def _sample_input_fn(parse_fn: Callable, params: Any, prefix: str) -> Callable[[], Any]:
    from twml.input_fns import data_record_input_fn

    def input_fn() -> Any:
        return data_record_input_fn(
            files=_listed_files(params), batch_size=getattr(params, prefix + "_batch_size"), parse_fn=parse_fn,
            num_threads=1, repeat=False, keep_rate=getattr(params, prefix + "_keep_rate"),
            parts_downsampling_rate=getattr(params, prefix + "_parts_downsampling_rate"), shards=None,
            shard_index=None, shuffle=True, shuffle_files=True, interleave=True)

    return input_fn


def get_calibrate_input_fn(parse_fn: Callable, params: Any) -> Callable[[], Any]:
    """An input fn over a sample of the training files for calibration: the files of
    ``params.train_data_dir`` between ``train_start_datetime`` and ``train_end_datetime`` (listed when
    called), ``calibrator_batch_size``, ``calibrator_keep_rate``, ``calibrator_parts_downsampling_rate``,
    one pass, shuffled."""
    return _sample_input_fn(parse_fn, params, "calibrator")


def get_discretize_input_fn(parse_fn: Callable, params: Any) -> Callable[[], Any]:
    """:func:`get_calibrate_input_fn` with the ``discretizer_*`` batch size and rates."""
    return _sample_input_fn(parse_fn, params, "discretizer")


def isotonic_module(mode: Any, params: Any) -> None:
    """A TF-Hub module function (for ``hub.create_module_spec`` / ``util.create_module_spec``): a float32
    sparse placeholder ``sparse_input`` goes through ``hub.Module(params.calibrator_load_tensorflow_module)``
    (signature ``params.export_mlp_module_name``) then ``hub.Module(params.save_dir)`` (signature
    ``isotonic_calibrator``); the module's signature ``params.calibrator_export_module_name`` maps
    ``{"sparse_input": ...}`` to ``{"default": calibrated output}``."""
    import tensorflow_hub as hub

    del mode
    sparse_input = tf.sparse_placeholder(tf.float32, name="sparse_input")
    mlp = hub.Module(params.calibrator_load_tensorflow_module)
    logits = mlp(sparse_input, signature=params.export_mlp_module_name)
    isotonic = hub.Module(params.save_dir)
    output = isotonic(logits, signature="isotonic_calibrator")
    hub.add_signature(inputs={"sparse_input": sparse_input}, outputs={"default": output},
                      name=params.calibrator_export_module_name)
