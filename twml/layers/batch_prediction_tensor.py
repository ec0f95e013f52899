"""BatchPredictionTensorWriter: a BatchPredictionResponse of tensors (reference §6)."""

from typing import Any, Sequence

import tensorflow.compat.v1 as tf

import libtwml
from twml.layers.layer import Layer


class BatchPredictionTensorWriter(Layer):
    """Serialises a list of tensors (string/int32/int64/float/double, each ``[batch, ...]``), one
    per key, into a BatchPredictionResponse of tensor features.

    Args:
      keys: the int64 feature ids, one per tensor.

    ``call(values)`` returns the serialized response, a uint8 tensor ``[1, n_bytes]``.
    """

    def __init__(self, keys: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys = keys

    def call(self, values: Sequence[tf.Tensor], **kwargs: Any) -> tf.Tensor:
        return libtwml.ops.batch_prediction_tensor_response_writer(tf.constant(self.keys, tf.int64), list(values))
