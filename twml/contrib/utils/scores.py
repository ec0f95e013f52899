"""Pairwise score matrices for ranking losses (``twml.contrib.utils.scores``)."""

from typing import Any

import tensorflow.compat.v1 as tf


def get_pairwise_scores(tensor_input: Any) -> tf.Tensor:
    """Pairwise score differences.

    Args:
      tensor_input: float ``[n, 1]`` scores (any shape with n elements is flattened).

    Returns:
      ``[n, n]`` with ``out[i, j] = x_i - x_j``, the dtype of the input.
    """
    x = tf.reshape(tensor_input, [-1, 1])
    return x - tf.transpose(x)


def get_pairwise_label_scores(labels: Any) -> tf.Tensor:
    """Pair labels in [0, 1]: ``out[i, j] = (1 + clip(y_i - y_j, -1, 1)) / 2``.

    0.5 for equal labels, 1 when candidate i is more relevant by at least 1, 0 when less.

    Args:
      labels: float ``[n, 1]`` relevance labels.

    Returns:
      float ``[n, n]`` of the labels' dtype.
    """
    differences = get_pairwise_scores(labels)
    return 0.5 * (1.0 + tf.clip_by_value(differences, -1.0, 1.0))
