"""Learning-to-rank losses (``twml.contrib.utils.loss_fns``).

One batch is one query of ``n`` candidates; labels and scores are float32 ``[n, 1]``. Notation:
``σCE(z, x)`` is ``tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)`` and
``slog(x) = ln(max(x, 1e-8))`` (:func:`twml.contrib.utils.math_fns.safe_log`). Pairwise losses take
``params.mask``: ``"full_mask"`` (pairs of different labels) or anything else (every pair except
self pairs), see :mod:`twml.contrib.utils.masks`.
"""

from typing import Any, Optional, Tuple

import tensorflow.compat.v1 as tf

from twml.contrib.utils.masks import diag_mask, full_mask
from twml.contrib.utils.math_fns import safe_div, safe_log


def _pair_mask(pairwise_label_scores: tf.Tensor, params: Any) -> Tuple[tf.Tensor, tf.Tensor]:
    n = tf.shape(pairwise_label_scores)[0]
    if getattr(params, "mask", None) == "full_mask":
        return full_mask(n, pairwise_label_scores)
    return diag_mask(n, pairwise_label_scores)


def _masked_pair_loss(
    pairwise_label_scores: Any, pairwise_predicted_scores: Any, params: Any, pair_weights: Optional[Any]
) -> tf.Tensor:
    labels = tf.cast(pairwise_label_scores, tf.float32)
    logits = tf.cast(pairwise_predicted_scores, tf.float32)
    mask, pair_count = _pair_mask(labels, params)
    terms = mask * tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    if pair_weights is not None:
        terms = terms * tf.cast(pair_weights, tf.float32)
    return tf.cond(tf.equal(pair_count, 0.0), lambda: tf.constant(0.0), lambda: tf.reduce_sum(terms) / pair_count)


def get_pair_loss(pairwise_label_scores: Any, pairwise_predicted_scores: Any, params: Any) -> tf.Tensor:
    """RankNet: mean of ``σCE(L_ij, S_ij)`` over the masked pairs.

    Args:
      pairwise_label_scores: float32 ``[n, n]`` pair labels in [0, 1]
        (``scores.get_pairwise_label_scores``).
      pairwise_predicted_scores: float ``[n, n]`` score differences (``scores.get_pairwise_scores``).
      params: object with a ``mask`` attribute (``"full_mask"`` or e.g. ``"diag_mask"``).

    Returns:
      float32 scalar ``Σ M_ij σCE(L_ij, S_ij) / Σ M_ij`` (0 when no pair is kept).
    """
    return _masked_pair_loss(pairwise_label_scores, pairwise_predicted_scores, params, None)


def get_lambda_pair_loss(
    pairwise_label_scores: Any, pairwise_predicted_scores: Any, params: Any, swapped_ndcg: Any
) -> tf.Tensor:
    """LambdaRank: :func:`get_pair_loss` with each pair term weighted by ``swapped_ndcg[i, j]``.

    Args:
      pairwise_label_scores, pairwise_predicted_scores, params: as :func:`get_pair_loss`.
      swapped_ndcg: float32 ``[n, n]`` |ΔNDCG| per pair (``math_fns.cal_swapped_ndcg``).

    Returns:
      float32 scalar ``Σ M_ij ΔNDCG_ij σCE(L_ij, S_ij) / Σ M_ij``.
    """
    return _masked_pair_loss(pairwise_label_scores, pairwise_predicted_scores, params, swapped_ndcg)


def _weighted_mean(values: tf.Tensor, weights: Optional[Any]) -> tf.Tensor:
    if weights is None:
        return tf.reduce_mean(values)
    weights = tf.cast(weights, values.dtype)
    return tf.reduce_mean(values * weights) / tf.reduce_mean(weights)


def get_pointwise_loss(labels: Any, predicted_scores: Any, weights: Optional[Any] = None) -> tf.Tensor:
    """Pointwise logistic loss: ``mean(σCE(labels, scores))``, or with weights
    ``mean(σCE · weights) / mean(weights)`` (element-wise, broadcasting).

    Args:
      labels: float32 ``[n, 1]`` in [0, 1].
      predicted_scores: float32 logits ``[n, 1]``.
      weights: None or float32 broadcastable to ``[n, 1]``.

    Returns:
      float32 scalar.
    """
    labels = tf.cast(labels, tf.float32)
    scores = tf.cast(predicted_scores, tf.float32)
    return _weighted_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=scores), weights)


def _plain_softmax(x: tf.Tensor) -> tf.Tensor:
    """``exp(x) / Σ exp(x)`` over all elements (no max shift, as the original)."""
    exp = tf.exp(x)
    return exp / tf.reduce_sum(exp)


def get_listnet_loss(labels: Any, predicted_scores: Any, weights: Optional[Any] = None) -> tf.Tensor:
    """ListNet (top-1): cross entropy between the softmax of the labels and of the scores.

    ``P_y = softmax(labels)``, ``P_s = softmax(scores)``, both over all n elements; the loss is
    ``mean(-P_y · slog(P_s))``, or with weights ``mean(-P_y · slog(P_s) · weights) / mean(weights)``.

    Args:
      labels: float32 ``[n, 1]``.
      predicted_scores: float32 ``[n, 1]``.
      weights: None or float32 broadcastable to ``[n, 1]``.

    Returns:
      float32 scalar.
    """
    target = _plain_softmax(tf.cast(labels, tf.float32))
    predicted = _plain_softmax(tf.cast(predicted_scores, tf.float32))
    return _weighted_mean(-target * safe_log(predicted), weights)


def get_listmle_loss(labels: Any, predicted_scores: Any) -> tf.Tensor:
    """ListMLE: negative log-likelihood of the label order under the Plackett-Luce model of the scores.

    The scores are put in order of descending label (ties: lower index first), ``s_1 .. s_n``; the
    loss is ``(Σ_{t=1}^{n-1} [slog(Σ_{i=t}^{n} e^{s_i}) - s_t]) / n``. A query of one candidate has
    loss 0 (the original returned ``s_1`` there; see README, "Migrating from the original twml").

    Args:
      labels: float32 ``[n, 1]``.
      predicted_scores: float32 ``[n, 1]``.

    Returns:
      float32 scalar.
    """
    labels = tf.reshape(tf.cast(labels, tf.float32), [-1])
    scores = tf.reshape(tf.cast(predicted_scores, tf.float32), [-1])
    n = tf.size(labels)
    _, order = tf.nn.top_k(labels, k=n)
    ordered = tf.gather(scores, order)
    # suffix sums Σ_{i>=t} e^{s_i}
    suffix = tf.cumsum(tf.exp(ordered), reverse=True)
    terms = safe_log(suffix) - ordered
    return tf.reduce_sum(terms[:-1]) / tf.cast(n, tf.float32)


def get_attrank_loss(labels: Any, predicted_scores: Any, weights: Optional[Any] = None) -> tf.Tensor:
    """Modified AttRank: binary cross entropy between target and predicted attention.

    Target attention ``a_i = 1[y_i > 0] e^{y_i} / Σ_j 1[y_j > 0] e^{y_j}`` (all 0 when no label is
    positive), predicted attention ``p = softmax(scores)``; the loss is
    ``mean_i -(a_i slog(p_i) + (1 - a_i) slog(1 - p_i))``.

    Args:
      labels: float32 ``[n, 1]``.
      predicted_scores: float32 ``[n, 1]``.
      weights: accepted and ignored (as in the original).

    Returns:
      float32 scalar.
    """
    del weights
    labels = tf.reshape(tf.cast(labels, tf.float32), [1, -1])
    scores = tf.reshape(tf.cast(predicted_scores, tf.float32), [1, -1])
    positive = tf.cast(tf.greater(labels, 0.0), tf.float32) * tf.exp(labels)
    target = safe_div(positive, tf.reduce_sum(positive))
    predicted = tf.nn.softmax(scores)
    return tf.reduce_mean(-(target * safe_log(predicted) + (1.0 - target) * safe_log(1.0 - predicted)))
