"""Element-wise safe math and NDCG helpers for learning-to-rank (``twml.contrib.utils.math_fns``).

Ranking context: one batch is one query; ``n`` candidates; labels and scores are float32 ``[n, 1]``
(any shape with ``n`` elements is flattened). Gains are ``2**y - 1`` and the discount of position
``i`` (1-based) is ``log2(i + 1)``; ties in scores or labels are broken by the lower index first
(``tf.nn.top_k``).
"""

from typing import Any, Optional, Tuple

import tensorflow.compat.v1 as tf

#: The floor of :func:`safe_log`.
LOG_EPSILON = 1e-8


def safe_div(numerator: Any, denominator: Any, name: Optional[str] = None) -> tf.Tensor:
    """``numerator / denominator`` where ``denominator > 0``, else 0 (element-wise, broadcasting).

    Args:
      numerator, denominator: float tensors of broadcast-compatible shapes and the same dtype.
      name: name of the result op.

    Returns:
      a tensor of the broadcast shape and the inputs' dtype.
    """
    numerator = tf.convert_to_tensor(numerator)
    denominator = tf.convert_to_tensor(denominator, dtype=numerator.dtype)
    quotient = tf.truediv(numerator, denominator)
    positive = tf.greater(denominator, tf.zeros_like(denominator))
    return tf.where_v2(positive, quotient, tf.zeros_like(quotient), name=name)


def safe_log(raw_scores: Any, name: Optional[str] = None) -> tf.Tensor:
    """``ln(max(raw_scores, 1e-8))`` element-wise (``name`` is accepted and unused, as in the original).

    Args:
      raw_scores: a float tensor of any shape.

    Returns:
      a tensor of the same shape and dtype.
    """
    del name
    raw_scores = tf.convert_to_tensor(raw_scores)
    return tf.log(tf.maximum(raw_scores, tf.cast(LOG_EPSILON, raw_scores.dtype)))


def _top_k_gains(label_scores: Any, predicted_scores: Any, top_k_int: int) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Gains of the predicted top-k (``[k, 1]``), of the ideal top-k (``[k, 1]``), and the discounts
    ``log2(i + 1)`` (``[k, 1]``), with ``k = min(top_k_int, n)``."""
    labels = tf.reshape(tf.cast(label_scores, tf.float32), [-1])
    scores = tf.reshape(tf.cast(predicted_scores, tf.float32), [-1])
    k = tf.minimum(tf.constant(int(top_k_int), tf.int32), tf.size(labels))
    _, predicted_order = tf.nn.top_k(scores, k=k)
    ideal_labels, _ = tf.nn.top_k(labels, k=k)
    predicted_labels = tf.gather(labels, predicted_order)
    positions = tf.cast(tf.range(2, k + 2), tf.float32)
    discounts = tf.reshape(tf.log(positions) / tf.log(2.0), [-1, 1])
    predicted_gains = tf.reshape(tf.pow(2.0, predicted_labels) - 1.0, [-1, 1])
    ideal_gains = tf.reshape(tf.pow(2.0, ideal_labels) - 1.0, [-1, 1])
    return predicted_gains, ideal_gains, discounts


def cal_ndcg(label_scores: Any, predicted_scores: Any, top_k_int: int = 1) -> tf.Tensor:
    """NDCG@k of one query: ``DCG(top-k by score) / DCG(top-k by label)``, 0 when the ideal DCG is 0.

    Args:
      label_scores: float32 relevance labels, ``[n, 1]`` (or any shape with n elements).
      predicted_scores: float scores, same number of elements.
      top_k_int: k (a Python int); ``k > n`` uses all n candidates.

    Returns:
      float32 scalar in [0, 1].
    """
    predicted_gains, ideal_gains, discounts = _top_k_gains(label_scores, predicted_scores, top_k_int)
    dcg = tf.reduce_sum(predicted_gains / discounts)
    idcg = tf.reduce_sum(ideal_gains / discounts)
    return safe_div(dcg, idcg)


def cal_swapped_ndcg(label_scores: Any, predicted_scores: Any, top_k_int: int) -> tf.Tensor:
    """``|ΔNDCG|`` of swapping positions ``i`` and ``j`` of the predicted top-k ranking (LambdaRank).

    With ``r_i`` the gain at predicted position ``i`` and ``d_i = log2(i + 1)``:
    ``DCG'_ij = DCG - r_i/d_i - r_j/d_j + r_i/d_j + r_j/d_i`` and
    ``out_ij = |DCG/IDCG - DCG'_ij/IDCG|`` (0 when IDCG is 0; the diagonal is 0).

    Args:
      label_scores: float32 labels ``[n, 1]``.
      predicted_scores: float scores ``[n, 1]``.
      top_k_int: k (a Python int); ``k > n`` uses all n candidates.

    Returns:
      float32 ``[k, k]``; rows and columns are positions of the predicted ranking, not candidate
      indices.
    """
    gains, ideal_gains, discounts = _top_k_gains(label_scores, predicted_scores, top_k_int)
    dcg = tf.reduce_sum(gains / discounts)
    idcg = tf.reduce_sum(ideal_gains / discounts)
    own = gains / discounts  # [k, 1]: r_i / d_i
    cross = gains / tf.transpose(discounts)  # [k, k]: r_i / d_j
    swapped_dcg = dcg - own - tf.transpose(own) + cross + tf.transpose(cross)
    return tf.abs(safe_div(dcg, idcg) - safe_div(swapped_dcg, idcg))
