"""twml.contrib.parsers: parse functions and input receivers of the v2 feature config
(:class:`twml.contrib.feature_config.FeatureConfig`); each takes the config first.

The v2 feature dict is described at ``FeatureConfig.get_parse_fn``: hashed sparse outputs
(``tf.SparseTensor [batch, 2**bits]``), dense groups ``[batch, n]``, dense features, tensors,
images, and ``weights`` float32 ``[batch, 1]``.
"""

from typing import Any, Callable, Dict, Optional, Tuple

import tensorflow.compat.v1 as tf

import libtwml
from twml.contrib.readers import DataRecord
from twml.util import fixed_length_tensor

Features = Dict[str, Any]


def get_features_as_tensor_dict(feature_config: Any, serialized: tf.Tensor) -> Features:
    """The v2 feature dict of a batch, with ``labels`` (float32 ``[batch, n_labels]``) added.

    Args:
      feature_config: a v2 FeatureConfig.
      serialized: string ``[batch]`` of serialized DataRecords.
    """
    record = DataRecord(serialized, feature_config)
    features = record.get_v2_features()
    features["labels"] = record.labels
    return features


def get_keras_parse_fn(feature_config: Any) -> Callable[[tf.Tensor], Tuple[Features, tf.Tensor]]:
    """``fn(serialized) -> (features, labels)`` for Keras models (``twml.contrib.trainers.trainer_utils``):
    the v2 feature dict and the float32 ``[batch, n_labels]`` labels; ``features['weights']`` holds the
    sample weights ``[batch, 1]``."""
    return feature_config.get_parse_fn()


def get_serving_input_receiver_fn_feature_dict(feature_config: Any) -> Callable[[], Any]:
    """A serving input receiver over serialized DataRecords: receiver tensor ``serialized`` (string
    ``[None]``), features the v2 feature dict (``weights`` included)."""

    def receiver_fn() -> Any:
        serialized = tf.placeholder(tf.string, shape=[None], name="serialized")
        features = DataRecord(serialized, feature_config).get_v2_features()
        return tf.estimator.export.ServingInputReceiver(features, {"serialized": serialized})

    return receiver_fn


def get_supervised_input_receiver_fn_feature_dict(feature_config: Any) -> Callable[[], Any]:
    """A supervised input receiver (for train / eval exports) over serialized DataRecords: receiver
    tensor ``serialized`` (string ``[None]``), features the v2 dict, labels ``[batch, n_labels]``."""
    from tensorflow_estimator.python.estimator.export.export import SupervisedInputReceiver

    def receiver_fn() -> Any:
        serialized = tf.placeholder(tf.string, shape=[None], name="serialized")
        record = DataRecord(serialized, feature_config)
        return SupervisedInputReceiver(record.get_v2_features(), record.labels, {"serialized": serialized})

    return receiver_fn


def parse_string_tensor(
    record: Any, feature_name: str, feature_config: Any, default_value: str = "", max_length: int = -1
) -> tf.Tensor:
    """The StringTensor feature ``feature_name`` of a decoded batch as a dense string ``[batch, L]``.

    Args:
      record: a decoded reader (``twml.readers.DataRecord`` or ``contrib.readers.DataRecord``).
      feature_name: the feature (a StringTensor in the records).
      feature_config: the config whose data spec names the feature.
      default_value: pads short rows and fills records lacking the feature.
      max_length: ``L``; negative for the longest row of the batch.

    Returns:
      string ``[batch, L]``.
    """
    feature_id = feature_config.feature_id_of(feature_name)
    ids, strings = libtwml.ops.get_string_tensors_from_data_record(record.handle, feature_id=feature_id)
    return fixed_length_tensor(ids, strings, default_value, max_length=max_length, batch_size=record.batch_size)


def get_string_tensor_parse_fn(
    feature_config: Any, string_tensor_names: Optional[Any] = None, default_value: str = "", max_length: int = -1
) -> Callable[[tf.Tensor], Tuple[Features, tf.Tensor]]:
    """The v2 parse fn, plus each StringTensor feature of ``string_tensor_names`` as a dense string
    ``[batch, L]`` (:func:`parse_string_tensor`).

    Returns:
      ``fn(serialized: string [batch]) -> (features, labels)``.
    """
    names = list(string_tensor_names or [])

    def parse(serialized: tf.Tensor) -> Tuple[Features, tf.Tensor]:
        record = DataRecord(serialized, feature_config)
        features = record.get_v2_features()
        for name in names:
            features[name] = parse_string_tensor(record, name, feature_config, default_value, max_length)
        return features, record.labels

    return parse


def get_string_tensor_serving_input_receiver_fn(
    feature_config: Any, string_tensor_names: Optional[Any] = None, default_value: str = "", max_length: int = -1
) -> Callable[[], Any]:
    """A serving receiver over serialized DataRecords (``serialized``, string ``[None]``) whose
    features are those of :func:`get_string_tensor_parse_fn`."""
    parse = get_string_tensor_parse_fn(feature_config, string_tensor_names, default_value, max_length)

    def receiver_fn() -> Any:
        serialized = tf.placeholder(tf.string, shape=[None], name="serialized")
        features, _ = parse(serialized)
        return tf.estimator.export.ServingInputReceiver(features, {"serialized": serialized})

    return receiver_fn


__all__ = [
    "get_features_as_tensor_dict",
    "get_keras_parse_fn",
    "get_serving_input_receiver_fn_feature_dict",
    "get_string_tensor_parse_fn",
    "get_string_tensor_serving_input_receiver_fn",
    "get_supervised_input_receiver_fn_feature_dict",
    "parse_string_tensor",
]
