"""Similarity functions (``twml.contrib.utils.similarities``)."""

from typing import Any

import tensorflow.compat.v1 as tf


def cosine_similarity(x1: Any, x2: Any, axis: int) -> tf.Tensor:
    """Cosine similarity along ``axis``: ``sum(x1 / |x1| * x2 / |x2|)`` with L2 norms along ``axis``
    (``tf.nn.l2_normalize``, epsilon 1e-12, so a zero vector has similarity 0).

    Args:
      x1, x2: float tensors of the same shape.
      axis: the axis of the vectors.

    Returns:
      the inputs' shape without ``axis``.
    """
    return tf.reduce_sum(tf.nn.l2_normalize(x1, axis=axis) * tf.nn.l2_normalize(x2, axis=axis), axis=axis)
