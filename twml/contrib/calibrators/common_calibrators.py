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
import json
import logging
import os
import time
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np
import tensorflow.compat.v1 as tf

from twml import parsers, run_state, util
from twml.contrib.calibrators.calibrator_arguments import (  # noqa: F401 - re-exported
    add_discretizer_arguments,
    add_isotonic_calibrator_arguments,
    calibrator_arguments,
    discretizer_arguments,
)
from twml.contrib.calibrators.discretize import discretize  # noqa: F401 - re-exported (the v2 path)
from twml.contrib.calibrators.isotonic import IsotonicCalibrator
from twml.input_fns import data_record_input_fn
from twml.params import get_param
from twml.trainers import DataRecordTrainer, cluster

_LOG = logging.getLogger(__name__)

#: How often non-chief workers look for the chief's discretizer module.
MODULE_POLL_SECS = 60
HUB_MODULE_FILE = "tfhub_module.pb"
#: Written last into a calibrated module's directory: ``{"fingerprint": module_fingerprint(dir)}``.
MODULE_FINGERPRINT_FILE = "module_fingerprint.json"
#: Written last into the isotonic phase's save_dir: the calibration and the model checkpoint it fits.
ISOTONIC_STATE_FILE = "isotonic_calibration.json"


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


def build_percentile_discretizer_graph(
    features: Dict[str, tf.Tensor], label: Any, mode: str, params: Any, config: Any = None
) -> Dict[str, Any]:
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
    for name, value in (
        ("data_threads", 1),
        ("num_threads", 1),
        ("train_steps", -1),
        ("train_max_steps", None),
        ("eval_steps", -1),
        ("num_workers", 1),
        ("disable_tensorboard", True),
        ("tensorboard_port", None),
        ("stats_port", None),
        ("distributed", False),
        ("overwrite_save_dir", False),
        ("save_dir", save_dir),
    ):
        _set(calibration, name, value)
    _set(calibration, "train_batch_size", int(get_param(params, prefix + "_batch_size", 128)))
    _set(calibration, "eval_batch_size", int(get_param(params, prefix + "_batch_size", 128)))
    _set(calibration, "train_keep_rate", get_param(params, prefix + "_keep_rate"))
    _set(calibration, "train_parts_downsampling_rate", get_param(params, prefix + "_parts_downsampling_rate"))
    return calibration


def module_fingerprint(module_dir: str) -> str:
    """SHA-1 of a calibrated module's files (summaries, ``_SUCCESS`` and the fingerprint file
    itself left out): what a model trained on the module's output depends on."""
    return run_state.directory_fingerprint(module_dir, exclude=("events.", "_SUCCESS", MODULE_FINGERPRINT_FILE))


def complete_module_fingerprint(module_dir: str) -> Optional[str]:
    """The fingerprint of a complete calibrated module in ``module_dir`` (one written by
    :func:`calibrate_discretizer_and_export`, which records it in ``module_fingerprint.json`` as
    the last step), or None when there is none.

    Raises:
      ValueError: the module's files no longer match the recorded fingerprint.
    """
    record = run_state.read_json(os.path.join(module_dir, MODULE_FINGERPRINT_FILE))
    if record is None or not tf.io.gfile.exists(os.path.join(module_dir, HUB_MODULE_FILE)):
        return None
    if "://" not in module_dir and module_fingerprint(module_dir) != record.get("fingerprint"):
        raise ValueError(
            "%s: the module's files changed after calibration (fingerprint %s recorded in %s); "
            "delete the directory to calibrate again" % (module_dir, record.get("fingerprint"), MODULE_FINGERPRINT_FILE)
        )
    return str(record.get("fingerprint"))


def _overwrite_before_calibration(params: Any, *dirs: str) -> None:
    """``overwrite_save_dir`` done by the flow itself (chief): the model's save_dir and the module's
    directory are deleted now, before calibrating, and the flag is cleared so that the model's
    Trainer does not delete the new module (it usually lives under the save_dir)."""
    for directory in dirs:
        if directory and tf.io.gfile.exists(directory):
            _LOG.info("overwrite_save_dir: deleting %s", directory)
            tf.io.gfile.rmtree(directory)
    if isinstance(params, dict):
        params["overwrite_save_dir"] = False
    else:
        _set(params, "overwrite_save_dir", False)


def calibrate_discretizer_and_export(
    name: str, calibrator: Any, build_graph_fn: Callable, params: Any, feature_config: Any
) -> None:
    """Phase 1: fits ``calibrator`` on a sample of the training files and saves it to
    ``params.discretizer_save_dir`` (a TF-Hub module plus ``<name>_bin.json``).

    On the chief (or a local run) a single-process DataRecordTrainer reads the training files with
    the ``discretizer_*`` params (batch size, keep rate, parts downsampling rate, max steps) and
    ``twml.parsers.get_continuous_parse_fn(feature_config)`` (or ``feature_config`` itself when it
    is a parse function), then calls :meth:`Trainer.calibrate`. Other workers wait (polling every
    60 s) for the module.

    The module is part of the run's state: a model checkpoint in ``params.save_dir`` was trained
    on its output. So the module is written in a staging directory beside
    ``discretizer_save_dir``, its fingerprint (:func:`module_fingerprint`) recorded in it, and
    then renamed into place; a rerun finding a complete module reuses it instead of calibrating
    on a new sample; and the fingerprint is recorded beside the model's checkpoints
    (:func:`twml.run_state.check_calibration_record`, under ``name``). With
    ``overwrite_save_dir`` both directories are deleted first (and the flag cleared, see
    :func:`_overwrite_before_calibration`).

    Raises:
      ValueError: ``discretizer_save_dir`` is not set, is (or holds) ``params.save_dir``, or the
        module was changed by hand.
      twml.run_state.CalibrationMismatchError: the checkpoints in ``params.save_dir`` were trained
        with another module than the one in (or missing from) ``discretizer_save_dir``.
    """
    save_dir = get_param(params, "discretizer_save_dir")
    if not save_dir:
        raise ValueError("calibrate_discretizer_and_export needs params.discretizer_save_dir (--discretizer.save_dir)")
    save_dir = save_dir.rstrip("/")
    if not cluster.is_chief():
        marker = os.path.join(save_dir, MODULE_FINGERPRINT_FILE)
        while not tf.io.gfile.exists(marker):
            _LOG.info("waiting for the chief's discretizer module %s", save_dir)
            time.sleep(MODULE_POLL_SECS)
        return
    model_dir = get_param(params, "save_dir")
    if model_dir and (os.path.normpath(model_dir) + "/").startswith(os.path.normpath(save_dir) + "/"):
        raise ValueError(
            "--discretizer.save_dir %s holds the model's --save_dir %s; give the module its own directory "
            "(the default is <save_dir>/discretizer)" % (save_dir, model_dir)
        )
    if get_param(params, "overwrite_save_dir", False):
        _overwrite_before_calibration(params, model_dir, save_dir)
    fingerprint = complete_module_fingerprint(save_dir)
    if fingerprint is not None:
        _LOG.info("reusing the calibrated module in %s (fingerprint %s)", save_dir, fingerprint)
    else:
        if model_dir and tf.train.latest_checkpoint(model_dir):
            record = run_state.read_json(os.path.join(model_dir, run_state.CALIBRATION_RECORD_FILE)) or {}
            if name in record:
                raise run_state.CalibrationMismatchError(
                    "%s: the model in %s was trained with the %s calibration %s (fingerprint %s), which is missing "
                    "or incomplete now; restore it, or start afresh with --overwrite_save_dir or another --save_dir"
                    % (
                        os.path.join(model_dir, run_state.CALIBRATION_RECORD_FILE),
                        model_dir,
                        name,
                        record[name].get("path"),
                        record[name].get("fingerprint"),
                    )
                )
        fingerprint = _calibrate_module(name, calibrator, build_graph_fn, params, feature_config, save_dir)
    if model_dir:
        run_state.check_calibration_record(model_dir, name, save_dir, fingerprint)


def _calibrate_module(
    name: str, calibrator: Any, build_graph_fn: Callable, params: Any, feature_config: Any, save_dir: str
) -> str:
    """Calibrates into a staging directory, records the fingerprint there, renames it to
    ``save_dir`` (replacing an incomplete one). Returns the fingerprint."""
    parent, base = os.path.split(save_dir)
    prefix = ".%s.tmp-" % base
    run_state.remove_stale_staging_dirs(parent, prefix)
    staging = run_state.staging_dir(parent, prefix)
    try:
        calibration = _calibration_params(params, "discretizer", staging)
        parse_fn = feature_config if callable(feature_config) else parsers.get_continuous_parse_fn(feature_config)
        with _single_process():
            trainer = DataRecordTrainer(
                name=name,
                params=calibration,
                build_graph_fn=build_graph_fn,
                feature_config=None if callable(feature_config) else feature_config,
            )
            input_fn = trainer.get_train_input_fn(parse_fn=parse_fn, repeat=False)
            trainer.calibrate(calibrator, steps=get_param(params, "discretizer_max_steps"), input_fn=input_fn)
            trainer.write_state_to_disk(staging)
        fingerprint = module_fingerprint(staging)
        util.write_file(os.path.join(staging, MODULE_FINGERPRINT_FILE), json.dumps({"fingerprint": fingerprint}))
        if tf.io.gfile.exists(save_dir):
            _LOG.info("replacing the incomplete module in %s", save_dir)
            tf.io.gfile.rmtree(save_dir)
        tf.io.gfile.rename(staging, save_dir)
    finally:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
    _LOG.info("calibrated module in %s (fingerprint %s)", save_dir, fingerprint)
    return fingerprint


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


def calibrate(
    trainer: Any,
    params: Any,
    build_graph: Callable,
    input_fn: Callable,
    debug: bool = False,
    *,
    model_dir: Optional[str] = None,
    calibrator: Any = None,
    steps: Optional[int] = None,
) -> Any:
    """Feeds a trained model's predictions to an isotonic calibrator in a plain session (an
    Estimator's predict drops the labels the calibrator needs).

    Args (the original's four, then ``debug``):
      trainer: the trainer whose name scopes the model (``<trainer name>/model``).
      params: passed to ``build_graph``.
      build_graph: the model's graph function; its ``output`` float ``[batch, n]`` (or ``[batch]``).
      input_fn: ``() -> (features, labels)``; features must contain ``weights``.
      debug: log the size and the mean prediction / label of every accumulated batch.

    Keyword-only extras of this rebuild:
      model_dir: the trained model's checkpoints (default ``trainer.save_dir``).
      calibrator: an :class:`IsotonicCalibrator` (default one with ``params.calibrator_num_bins``).
      steps: batches to read at most (None: the whole input).

    Returns:
      the calibrated calibrator.
    """
    calibrator = calibrator or IsotonicCalibrator(int(get_param(params, "calibrator_num_bins", 25000)))
    model_dir = model_dir or trainer.save_dir
    scope = trainer.name + "/model"
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
            session.run([tf.global_variables_initializer(), tf.local_variables_initializer(), tf.tables_initializer()])
            while steps is None or steps <= 0 or batches < steps:
                try:
                    batch = session.run(fetches)
                except tf.errors.OutOfRangeError:
                    break
                predictions = np.asarray(batch["predictions"]).reshape(len(batch["weights"]), -1)
                targets = np.asarray(batch["targets"]).reshape(predictions.shape[0], -1)[:, : predictions.shape[1]]
                calibrator.accumulate(predictions, targets, batch["weights"])
                batches += 1
                if debug:
                    _LOG.info(
                        "isotonic calibration batch %d: %d rows, mean prediction %s, mean label %s",
                        batches,
                        predictions.shape[0],
                        predictions.mean(0),
                        targets.mean(0),
                    )
    if batches == 0:
        raise ValueError(
            "isotonic calibration: the input gave no batch (check the data and the sampling "
            "rates: --calibrator.parts_downsampling_rate %s, --calibrator_keep_rate %s)"
            % (get_param(params, "calibrator_parts_downsampling_rate"), get_param(params, "calibrator_keep_rate"))
        )
    _LOG.info("isotonic calibration: %d batches", batches)
    calibrator.calibrate()
    return calibrator


def build_isotonic_graph_from_inputs(
    inputs: tf.Tensor,
    features: Dict[str, Any],
    label: Any,
    mode: str,
    params: Any,
    config: Any = None,
    isotonic_fn: Optional[Callable[[tf.Tensor], tf.Tensor]] = None,
) -> Dict[str, Any]:
    """The calibrated graph over the model's output ``inputs`` (float ``[batch, n_class]``): a
    build-graph result with ``output = clip(isotonic_fn(inputs), 0, 1)`` (float32, ``inputs``'
    shape) and ``uncalibrated_output = inputs``; when ``label`` is given and mode is not PREDICT,
    ``loss`` = the (unweighted) log loss of the output (clipped to ``[1e-7, 1 - 1e-7]``) against
    ``label``; in TRAIN mode ``train_op`` only increments the
    global step (one step writes the checkpoint of the calibrated graph).

    Args:
      isotonic_fn: ``[batch, n_class]`` tensor -> calibrated tensor of that shape; None (the
        original's default): the TF-Hub module saved by ``IsotonicCalibrator.save(params.save_dir)``,
        signature ``isotonic_calibrator``.
      features, config: unused (the build-graph signature).
    """
    del features, config
    if isotonic_fn is None:
        import tensorflow_hub as hub

        module = hub.Module(params.save_dir)
        isotonic_fn = lambda values: module(values, signature="isotonic_calibrator")  # noqa: E731
    calibrated = tf.clip_by_value(tf.cast(isotonic_fn(inputs), tf.float32), 0.0, 1.0)
    graph_output: Dict[str, Any] = {"output": calibrated, "uncalibrated_output": inputs}
    if label is not None and mode != tf.estimator.ModeKeys.PREDICT:
        labels = tf.reshape(tf.cast(label, tf.float32), tf.shape(calibrated))
        clipped = tf.clip_by_value(calibrated, 1e-7, 1 - 1e-7)
        graph_output["loss"] = tf.losses.log_loss(labels, clipped)
    if mode == tf.estimator.ModeKeys.TRAIN:
        graph_output["train_op"] = tf.assign_add(tf.train.get_or_create_global_step(), 1)
    return graph_output


def build_isotonic_graph(
    features: Dict[str, Any], label: Any, mode: str, params: Any, config: Any = None, export_discretizer: bool = True
) -> Dict[str, Any]:
    """The original's build-graph function of the isotonic phase over TF-Hub modules: the sparse
    features (``util.convert_to_sparse(features, params.input_size_bits)``) go through, when
    ``export_discretizer``, the discretizer module ``params.discretizer_save_dir`` (signature
    ``hashing_discretizer_calibrator``), then the MLP module ``params.calibrator_load_tensorflow_module``
    (signature ``params.export_mlp_module_name``) and the isotonic module ``params.save_dir``; see
    :func:`build_isotonic_graph_from_inputs`. With ``export_discretizer=False`` the MLP module gets
    the sparse features directly (an MLP module that contains its discretizer).
    """
    import tensorflow_hub as hub

    inputs = util.convert_to_sparse(features, params.input_size_bits)
    if export_discretizer:
        inputs = hub.Module(params.discretizer_save_dir)(inputs, signature="hashing_discretizer_calibrator")
    mlp = hub.Module(params.calibrator_load_tensorflow_module)
    logits = mlp(inputs, signature=params.export_mlp_module_name)
    return build_isotonic_graph_from_inputs(logits, features, label, mode, params, config)


def _isotonic_graph_fn(build_graph_fn: Callable, calibrator: Any, model_scope: str, model_dir: str) -> Callable:
    """The isotonic phase's graph function over checkpoints: ``build_graph_fn``'s model, its variables
    initialised from ``model_dir`` and frozen, calibrated with ``calibrator``'s layer by
    :func:`build_isotonic_graph_from_inputs` (the other entries of the model's output are kept)."""

    def isotonic_fn(output: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(output)
        calibrated = calibrator.to_layer(name="isotonic")(tf.reshape(output, [-1, calibrator.n_class]))
        return tf.reshape(calibrated, shape)

    def isotonic_graph(features: Any, label: Any, mode: str, params: Any, config: Any = None) -> Dict[str, Any]:
        graph_output = dict(build_graph_fn(features, label, mode, params, config))
        graph_output.pop("train_op", None)
        graph_output.pop("loss", None)
        _restore_model_variables(model_scope, model_dir)
        graph_output.update(
            build_isotonic_graph_from_inputs(
                graph_output["output"], features, label, mode, params, config, isotonic_fn=isotonic_fn
            )
        )
        return graph_output

    return isotonic_graph


def _isotonic_state(calibrator: Any, model_dir: str, save_dir: str) -> Dict[str, Any]:
    """The isotonic phase's run state in ``save_dir`` (see :func:`calibrate_calibrator_and_export`).

    Returns:
      ``{"checkpoint", "fingerprint"}`` of the model's latest checkpoint and ``reused``: the state
      file's content when a complete earlier calibration of that checkpoint was loaded into
      ``calibrator``, else None (an incomplete ``save_dir`` is then emptied).

    Raises:
      ValueError: ``save_dir`` is ``model_dir``, or no model checkpoint in ``model_dir``.
      twml.run_state.CalibrationMismatchError: ``save_dir`` holds a calibration of another checkpoint.
    """
    if os.path.normpath(save_dir) == os.path.normpath(model_dir):
        raise ValueError(
            "--calibrator.save_dir %s is the model's checkpoint directory; give the isotonic phase "
            "its own directory" % save_dir
        )
    checkpoint = tf.train.latest_checkpoint(model_dir)
    if checkpoint is None:
        raise ValueError("no checkpoint of the model to calibrate in %s" % model_dir)
    fingerprint = run_state.checkpoint_fingerprint(checkpoint)
    state_path = os.path.join(save_dir, ISOTONIC_STATE_FILE)
    reused = run_state.read_json(state_path) if hasattr(calibrator, "load_calibration_state") else None
    if reused is not None:
        if reused.get("model_fingerprint") != fingerprint:
            raise run_state.CalibrationMismatchError(
                "%s: the isotonic calibration in %s was fitted to the model checkpoint %s (fingerprint %s), but the "
                "latest checkpoint in %s is now %s (fingerprint %s); delete %s to calibrate again"
                % (
                    state_path,
                    save_dir,
                    reused.get("model_checkpoint"),
                    reused.get("model_fingerprint"),
                    model_dir,
                    checkpoint,
                    fingerprint,
                    save_dir,
                )
            )
        calibrator.load_calibration_state(reused["calibration"])
        _LOG.info("reusing the isotonic calibration in %s (model checkpoint %s)", save_dir, checkpoint)
    elif cluster.is_chief() and tf.io.gfile.exists(save_dir) and tf.train.latest_checkpoint(save_dir):
        # A calibration killed before it recorded its state: its checkpoint may hold another
        # model's weights, so it starts again from nothing.
        _LOG.info("removing the incomplete isotonic calibration in %s", save_dir)
        tf.io.gfile.rmtree(save_dir)
    return {"checkpoint": checkpoint, "fingerprint": fingerprint, "reused": reused}


def calibrate_calibrator_and_export(
    name: str,
    calibrator: Any,
    build_graph_fn: Callable,
    params: Any,
    feature_config: Any,
    run_eval: bool = True,
    input_fn: Optional[Callable] = None,
    metric_fn: Optional[Callable] = None,
    export_task_type_overrider: Optional[str] = None,
) -> Optional[str]:
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

    The calibration is run state: once its checkpoint is written, ``<calibrator save_dir>/
    isotonic_calibration.json`` records it with the fingerprint of the model checkpoint it was fitted
    to. A rerun reuses it (no new sample, no new checkpoint, the same export — see
    :func:`twml.run_state.publish_export`); a save_dir without that file is emptied and
    calibrated again; a record of another model checkpoint is refused
    (:class:`twml.run_state.CalibrationMismatchError`).

    Returns:
      the export path (None on tasks that do not export).
    """
    model_dir = get_param(params, "calibrator_load_tensorflow_module") or params.save_dir
    save_dir = get_param(params, "calibrator_save_dir") or os.path.join(params.save_dir, "calibrator")
    model_scope = name + "/model"
    state = _isotonic_state(calibrator, model_dir, save_dir)
    calibration = _calibration_params(params, "calibrator", save_dir)
    _set(calibration, "is_calibrating", True)
    with _single_process():
        trainer = DataRecordTrainer(
            name=name,
            params=calibration,
            build_graph_fn=lambda *a: {"output": tf.constant(0.0)},
            feature_config=feature_config,
            metric_fn=metric_fn,
        )
        calibrate_input_fn = input_fn or trainer.get_train_input_fn(repeat=False, shuffle=False)
        if state["reused"] is None:
            calibrate(
                trainer,
                calibration,
                build_graph_fn,
                calibrate_input_fn,
                model_dir=model_dir,
                calibrator=calibrator,
                steps=get_param(params, "calibrator_max_steps") or get_param(params, "calibrator_train_steps"),
            )
        final = DataRecordTrainer(
            name=name,
            params=calibration,
            build_graph_fn=_isotonic_graph_fn(build_graph_fn, calibrator, model_scope, model_dir),
            feature_config=feature_config,
            metric_fn=metric_fn,
        )
        if state["reused"] is None:
            final.train(calibrate_input_fn, steps=1)
            if cluster.is_chief() and hasattr(calibrator, "calibration_state"):
                util.write_file(
                    os.path.join(save_dir, ISOTONIC_STATE_FILE),
                    json.dumps(
                        {
                            "model_checkpoint": state["checkpoint"],
                            "model_fingerprint": state["fingerprint"],
                            "calibration": calibrator.calibration_state(),
                        }
                    ),
                )
        if run_eval:
            metrics = final.evaluate(steps=get_param(params, "calibrator_final_evaluation_steps"), name="test")
            _LOG.info("calibrated model: %s", metrics)
        exporting = (
            cluster.is_task_type(export_task_type_overrider) if export_task_type_overrider else cluster.is_chief()
        )
        if not exporting:
            return None
        export_dir = os.path.join(save_dir, get_param(params, "calibrator_export_module_name", "tf_hub_isotonic"))
        return final.export_model(export_dir=export_dir)


def _listed_files(params: Any) -> Any:
    return util.list_files_by_datetime(
        base_path=util.sanitize_hdfs_path(params.train_data_dir),
        start_datetime=params.train_start_datetime,
        end_datetime=params.train_end_datetime,
        datetime_prefix_format=params.datetime_format,
        extension="lzo",
        parallelism=1,
        hour_resolution=params.hour_resolution,
        sort=True,
    )


def _sample_input_fn(parse_fn: Callable, params: Any, prefix: str) -> Callable[[], Any]:
    def input_fn() -> Any:
        return data_record_input_fn(
            files=_listed_files(params),
            batch_size=getattr(params, prefix + "_batch_size"),
            parse_fn=parse_fn,
            num_threads=1,
            repeat=False,
            keep_rate=getattr(params, prefix + "_keep_rate"),
            parts_downsampling_rate=getattr(params, prefix + "_parts_downsampling_rate"),
            shards=None,
            shard_index=None,
            shuffle=True,
            shuffle_files=True,
            interleave=True,
        )

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
    hub.add_signature(
        inputs={"sparse_input": sparse_input}, outputs={"default": output}, name=params.calibrator_export_module_name
    )
