"""BatchPredictionWriter: a BatchPredictionResponse of float predictions (reference §6)."""

from typing import Any, Sequence

import tensorflow.compat.v1 as tf

import libtwml
from twml.layers.layer import Layer


class BatchPredictionWriter(Layer):
    """Serialises ``values`` (float32/float64 ``[batch, len(keys)]``) into a BatchPredictionResponse.

    Args:
      keys: the int64 feature ids of the columns.

    ``call(values)`` returns the serialized response, a uint8 tensor ``[1, n_bytes]``.
    """

    def __init__(self, keys: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys = keys

    def call(self, values: tf.Tensor, **kwargs: Any) -> tf.Tensor:
        return libtwml.ops.batch_prediction_response_writer(tf.constant(self.keys, tf.int64), values)
