"""Pair masks for pairwise ranking losses (``twml.contrib.utils.masks``)."""

from typing import Any, Tuple

import tensorflow.compat.v1 as tf


def diag_mask(n_data: Any, pairwise_label_scores: Any) -> Tuple[tf.Tensor, tf.Tensor]:
    """Every ordered pair except the self pairs.

    Args:
      n_data: int scalar (Python or tensor): the number of candidates n.
      pairwise_label_scores: ``[n, n]`` pair labels; not used (kept for the common signature).

    Returns:
      ``(mask, pair_count)``: float32 ``[n, n]`` = ``1 - I_n`` and float32 scalar ``n * (n - 1)``.
    """
    del pairwise_label_scores
    n = tf.cast(n_data, tf.int32)
    mask = tf.ones(tf.stack([n, n]), tf.float32) - tf.eye(n, dtype=tf.float32)
    count = tf.cast(n, tf.float32) * tf.cast(n - 1, tf.float32)
    return mask, count


def full_mask(n_data: Any, pairwise_label_scores: Any) -> Tuple[tf.Tensor, tf.Tensor]:
    """The pairs whose labels differ: 0 where ``pairwise_label_scores == 0.5`` (self pairs and equal
    labels, see ``scores.get_pairwise_label_scores``), 1 elsewhere.

    Args:
      n_data: the number of candidates n (not used: the shape comes from the pair labels).
      pairwise_label_scores: float32 ``[n, n]``.

    Returns:
      ``(mask, pair_count)``: float32 ``[n, n]`` and its sum (float32 scalar).
    """
    del n_data
    labels = tf.cast(pairwise_label_scores, tf.float32)
    mask = tf.where(tf.equal(labels, 0.5), tf.zeros_like(labels), tf.ones_like(labels))
    return mask, tf.reduce_sum(mask)
