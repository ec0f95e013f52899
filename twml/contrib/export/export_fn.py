"""twml.contrib.export.export_fn: export a trained model in several modes, and its feature spec
as ``feature_spec.yaml`` (reference §8.4).

``export_all_models`` writes one SavedModel with a MetaGraph per mode: 'predict' (the serving
contract) and 'train'/'eval' (graphs with the loss, fed serialized DataRecords), so that a model
can be trained or evaluated further from its export.
"""

from typing import Any, Callable, Dict, Optional, Sequence

import tensorflow.compat.v1 as tf
from tensorflow_estimator.python.estimator.export.export import SupervisedInputReceiver

from twml import export_output_fns, parsers, readers, util
from twml.contrib.readers import HashedBatchPredictionRequest
from twml.feature_spec import FEATURE_SPEC_FILE, write_feature_spec  # noqa: F401 - re-exported
from twml.run_state import publish_export

#: ``export_feature_spec`` is twml's feature-spec writer (the Trainer's exports use it too).
export_feature_spec = write_feature_spec


_MODES = {
    "train": tf.estimator.ModeKeys.TRAIN,
    "eval": tf.estimator.ModeKeys.EVAL,
    "predict": tf.estimator.ModeKeys.PREDICT,
    "infer": tf.estimator.ModeKeys.PREDICT,
}


def _export_modes(
    trainer: Any,
    export_dir: str,
    receivers: Dict[str, Callable[[], Any]],
    export_output_fn: Optional[Callable],
    feature_spec: Optional[Dict[str, Any]],
    checkpoint: Optional[str],
    log_features: bool,
    as_text: bool = False,
) -> Optional[str]:
    if not trainer.is_chief():
        return None
    trainer.export_output_fn = export_output_fn or export_output_fns.default_output_fn
    checkpoint = checkpoint or trainer.best_or_latest_checkpoint
    if checkpoint is None:
        raise ValueError("export: no checkpoint in %s; train first" % trainer.save_dir)
    path = publish_export(
        export_dir,
        lambda staging: trainer.estimator.experimental_export_all_saved_models(
            staging, receivers, as_text=as_text, checkpoint_path=checkpoint
        ),
        checkpoint,
        feature_spec=feature_spec,
        log_features=log_features,
    )
    trainer.experiment_tracker.log_export(path)
    return path


def export_all_models(
    trainer: Any,
    export_dir: str,
    parse_fn: Callable,
    serving_input_receiver_fn: Callable[[], Any],
    export_output_fn: Optional[Callable] = None,
    export_modes: Sequence[str] = ("train", "eval", "predict"),
    feature_spec: Optional[Dict[str, Any]] = None,
    checkpoint: Optional[str] = None,
    log_features: bool = True,
) -> Optional[str]:
    """Exports one SavedModel with a MetaGraph per mode (chief only).

    Args:
      trainer: a twml Trainer.
      export_dir: the base directory; the export is a timestamped sub-directory.
      parse_fn: ``serialized -> (features, labels)``: the 'train' and 'eval' graphs take a string
        ``[batch]`` placeholder ``serialized`` of DataRecords through it
        (:func:`twml.parsers.convert_to_supervised_input_receiver_fn`).
      serving_input_receiver_fn: the 'predict' graph's inputs.
      export_output_fn: the 'predict' graph's outputs (default
        :func:`twml.export_output_fns.default_output_fn`).
      export_modes: among 'train', 'eval', 'predict'.
      feature_spec: written as ``feature_spec.yaml`` into the export.
      checkpoint: default the trainer's best or latest checkpoint.

    Returns:
      the export path, or None on non-chief tasks.

    Raises:
      ValueError: an unknown mode, or no checkpoint.
    """
    unknown = [mode for mode in export_modes if mode not in _MODES]
    if unknown:
        raise ValueError("unknown export modes %s (expected train, eval, predict)" % unknown)
    supervised = parsers.convert_to_supervised_input_receiver_fn(parse_fn)
    receivers = {
        _MODES[mode]: serving_input_receiver_fn if _MODES[mode] == tf.estimator.ModeKeys.PREDICT else supervised
        for mode in export_modes
    }
    return _export_modes(trainer, export_dir, receivers, export_output_fn, feature_spec, checkpoint, log_features)


def export_model_for_train_and_infer(
    trainer: Any,
    feature_config: Any,
    keep_fields: Sequence[str],
    export_dir: str,
    as_text: bool = False,
) -> Optional[str]:
    """Exports 'train' and 'predict' graphs that both take one serialized BatchPredictionRequest
    (uint8 ``[bytes]`` placeholder ``request``), so a serving system can also train the model.

    The 'train' graph decodes the request with ``HashedBatchPredictionRequest`` into the
    ``keep_fields`` features, ``weights`` and the labels (filters applied); the 'predict' graph is
    :func:`twml.parsers.get_sparse_serving_input_receiver_fn` with the
    :func:`twml.export_output_fns.batch_prediction_continuous_output_fn` outputs.

    Returns:
      the export path, or None on non-chief tasks.
    """

    def train_receiver_fn() -> Any:
        request = tf.placeholder(tf.uint8, shape=[None], name="request")
        record = readers.HashedBatchPredictionRequest(request, feature_config)
        features, labels = record.apply_filter(record.get_features(keep_fields), record.labels)
        return SupervisedInputReceiver(features, labels, {"request": request})

    receivers = {
        tf.estimator.ModeKeys.TRAIN: train_receiver_fn,
        tf.estimator.ModeKeys.PREDICT: parsers.get_sparse_serving_input_receiver_fn(feature_config, keep_fields),
    }
    return _export_modes(
        trainer,
        export_dir,
        receivers,
        export_output_fns.batch_prediction_continuous_output_fn,
        feature_config.get_feature_spec(),
        None,
        True,
        as_text=as_text,
    )


def get_sparse_batch_supervised_input_receiver_fn(
    feature_config: Any, keep_fields: Optional[Sequence[str]] = None
) -> Callable[[], Any]:
    """A supervised receiver (for exporting a v2 model's **train** graph) over one serialized
    BatchPredictionRequest: uint8 placeholder ``request``, decoded by
    ``twml.contrib.readers.HashedBatchPredictionRequest``; features = ``get_sparse_features()`` (or
    ``get_features(keep_fields)``) plus ``weights``; labels = the reader's labels; filters applied."""

    def receiver_fn() -> Any:
        request = tf.placeholder(tf.uint8, shape=[None], name="request")
        reader = HashedBatchPredictionRequest(request, feature_config)
        features = reader.get_sparse_features() if keep_fields is None else reader.get_features(keep_fields)
        features["weights"] = reader.weights
        features, labels = reader.apply_filter(features, reader.labels)
        return SupervisedInputReceiver(features, labels, {"request": request})

    return receiver_fn


def update_build_graph_fn_for_train(build_graph_fn: Callable[..., Dict[str, Any]]) -> Callable[..., Dict[str, Any]]:
    """Wraps a build_graph_fn so that its TRAIN-mode output also holds the ``serving_default`` outputs of
    ``twml.export_output_fns.batch_prediction_continuous_output_fn`` (``prediction``: the serialized
    BatchPredictionResponse), for train graphs exported for serving systems; other modes unchanged."""

    def new_build_graph_fn(features: Any, label: Any, mode: str, params: Any, config: Any = None) -> Dict[str, Any]:
        output = build_graph_fn(features, label, mode, params, config)
        if mode == tf.estimator.ModeKeys.TRAIN:
            serving = export_output_fns.batch_prediction_continuous_output_fn(output)
            signature = serving[tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
            output = dict(output)
            output.update(signature.outputs)
        return output

    return new_build_graph_fn


def export_all_models_with_receivers(
    estimator: Any,
    export_dir: str,
    train_input_receiver_fn: Callable[[], Any],
    eval_input_receiver_fn: Callable[[], Any],
    predict_input_receiver_fn: Callable[[], Any],
    export_output_fn: Any,
    export_modes: Sequence[str] = ("train", "eval", "predict"),
    register_model_fn: Optional[Callable[..., Any]] = None,
    feature_spec: Optional[Dict[str, Any]] = None,
    checkpoint_path: Optional[str] = None,
    log_features: bool = True,
) -> Any:
    """One SavedModel with a meta graph per mode of ``export_modes`` (tags train / eval / serve) from the
    given receivers (``estimator.experimental_export_all_saved_models``).

    ``export_output_fn`` is accepted and unused, as in the original (the estimator's model_fn decides the
    outputs). ``register_model_fn(export_dir, feature_spec, log_features)`` is called afterwards if given.

    Returns:
      the timestamped export directory (str).

    Raises:
      ValueError: ``export_dir`` is None.
    """
    del export_output_fn
    if export_dir is None:
        raise ValueError("export_dir must be given")
    export_dir = util.sanitize_hdfs_path(export_dir)
    receivers = {
        "train": (tf.estimator.ModeKeys.TRAIN, train_input_receiver_fn),
        "eval": (tf.estimator.ModeKeys.EVAL, eval_input_receiver_fn),
        "predict": (tf.estimator.ModeKeys.PREDICT, predict_input_receiver_fn),
    }
    receiver_map = {receivers[mode][0]: receivers[mode][1] for mode in export_modes}
    path = estimator.experimental_export_all_saved_models(export_dir, receiver_map, checkpoint_path=checkpoint_path)
    path = path.decode() if isinstance(path, bytes) else path
    if feature_spec:
        write_feature_spec(path, feature_spec)
    if register_model_fn is not None:
        register_model_fn(export_dir, feature_spec, log_features)
    return path


from twml.parsers import (  # noqa: E402 - the original's alias, bound last
    convert_to_supervised_input_receiver_fn as get_supervised_input_receiver_fn,  # noqa: F401
)
