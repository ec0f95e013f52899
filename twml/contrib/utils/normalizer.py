"""In-batch normalisation of dense features (``twml.contrib.utils.normalizer``).

The public names keep the original's spelling (``normalizaiton``).
"""

from typing import Any

import tensorflow.compat.v1 as tf

from twml.contrib.utils.math_fns import safe_div

#: Added to the variance by :func:`standard_normalizaiton`.
VARIANCE_EPSILON = 1e-7


def mean_max_normalizaiton(dense_tensor: Any) -> tf.Tensor:
    """``(x - mean(x)) / |max(x)|`` per column (statistics over the batch, axis 0); 0 where the
    column maximum is 0.

    Args:
      dense_tensor: float ``[batch, d]``.

    Returns:
      float ``[batch, d]``.
    """
    x = tf.convert_to_tensor(dense_tensor)
    centred = x - tf.reduce_mean(x, axis=0, keepdims=True)
    return safe_div(centred, tf.abs(tf.reduce_max(x, axis=0, keepdims=True)))


def standard_normalizaiton(dense_tensor: Any) -> tf.Tensor:
    """``(x - mean(x)) / (variance(x) + 1e-7)`` per column (axis 0).

    Divides by the **variance**, not the standard deviation, as the original does (kept so that
    models trained with it behave the same).

    Args:
      dense_tensor: float ``[batch, d]``.

    Returns:
      float ``[batch, d]``.
    """
    x = tf.convert_to_tensor(dense_tensor)
    mean, variance = tf.nn.moments(x, axes=[0], keep_dims=True)
    return (x - mean) / (variance + VARIANCE_EPSILON)
