"""twml.metrics: streaming evaluation metrics for binary classifiers (reference §10).

Every metric follows the ``tf.metrics`` conventions: it is called as
``metric(labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None)``,
keeps its running state in zero-initialised local variables (collections ``LOCAL_VARIABLES`` and
``METRIC_VARIABLES``, so ``tf.local_variables_initializer()`` resets them) and returns
``(value_op, update_op)``: ``update_op`` folds one batch into the state and evaluates to the metric after that
batch, ``value_op`` reads the metric from the current state.

``labels`` and ``predictions`` are numeric tensors of the same shape (typically ``[batch]`` or ``[batch, 1]``);
labels are 0/1, predictions probabilities in [0, 1]. ``weights`` is ``None`` (every sample weighs 1), a scalar,
or a tensor of the labels' shape or of the labels' shape without trailing unit dimensions (``[batch]`` weights
with ``[batch, 1]`` labels are accepted).

The metric-fn builders (``get_binary_class_metric_fn`` and friends) return
``fn(graph_output, labels, weights) -> {name: (value_op, update_op)}``, ready for ``eval_metric_ops``.
"""

from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow.compat.v1 as tf

CLAMP_EPSILON = 1e-5

TensorLike = Any  # tf.Tensor or anything tf.convert_to_tensor accepts
Collections = Optional[List[str]]
MetricOps = Tuple[tf.Tensor, tf.Tensor]
MetricFn = Callable[[Dict[str, tf.Tensor], tf.Tensor, Optional[tf.Tensor]], Dict[str, MetricOps]]

__all__ = [
    "CLAMP_EPSILON",
    "DEFAULT_BINARY_CLASS_METRICS",
    "SUPPORTED_BINARY_CLASS_METRICS",
    "total_weight",
    "num_samples",
    "total_weight_metric",
    "num_samples_metric",
    "ce",
    "PERCENTILES",
    "ctr",
    "predicted_ctr",
    "prediction_std_dev",
    "rce",
    "nrce",
    "arce",
    "arce_original",
    "deprecated_nrce",
    "deprecated_arce",
    "deprecated_arce_original",
    "lolly_nrce",
    "metric_std_err",
    "rce_transform",
    "rce_metric",
    "rce_std_err",
    "accuracy",
    "precision",
    "recall",
    "false_positives",
    "false_negatives",
    "true_positives",
    "true_negatives",
    "precision_at_percentiles",
    "recall_at_percentiles",
    "false_positives_at_percentiles",
    "false_negatives_at_percentiles",
    "true_positives_at_percentiles",
    "true_negatives_at_percentiles",
    "roc_auc",
    "pr_auc",
    "pr_curve",
    "AUC_THRESHOLDS",
    "get_binary_class_metric_fn",
    "get_multi_binary_class_metric_fn",
    "get_multi_binary_class_uncalibrated_metric_fn",
    "combine_metric_fns",
]


# ---------------------------------------------------------------------------------------------------------------
# helpers


def metric_variable(name: str, shape: Sequence[int], dtype: tf.DType) -> tf.Variable:
    """A zero-initialised, non-trainable accumulator in LOCAL_VARIABLES + METRIC_VARIABLES."""
    return tf.Variable(
        lambda: tf.zeros(shape, dtype),
        trainable=False,
        name=name,
        dtype=dtype,
        collections=[tf.GraphKeys.LOCAL_VARIABLES, tf.GraphKeys.METRIC_VARIABLES],
    )


def _align_weights(weights: Optional[tf.Tensor], labels: tf.Tensor) -> Optional[tf.Tensor]:
    """Broadcasts ``weights`` to the shape of ``labels`` (keeps the weights' dtype; None stays None).

    Weights of lower static rank get trailing unit dimensions first, so ``[batch]`` weights broadcast over
    ``[batch, 1]`` (or ``[batch, n]``) labels rather than being aligned on the last axis.
    """
    if weights is None:
        return None
    weights = tf.convert_to_tensor(weights)
    labels = tf.convert_to_tensor(labels)
    w_rank, l_rank = weights.shape.ndims, labels.shape.ndims
    if w_rank is not None and l_rank is not None:
        if 0 < w_rank < l_rank:
            weights = tf.reshape(weights, tf.concat([tf.shape(weights), tf.ones([l_rank - w_rank], tf.int32)], 0))
        elif w_rank > l_rank and w_rank > 0:
            # e.g. [batch, 1] weights with [batch] labels
            weights = tf.reshape(weights, tf.shape(labels))
    return weights * tf.ones_like(labels, dtype=weights.dtype)


def _flat_inputs(
    labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike], dtype: tf.DType
) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Returns (labels, predictions, weights) as flat 1-D ``dtype`` tensors; weights default to ones."""
    labels = tf.convert_to_tensor(labels)
    weights = _align_weights(weights, labels)
    labels = tf.reshape(tf.cast(labels, dtype), [-1])
    predictions = tf.reshape(tf.cast(predictions, dtype), [-1])
    weights = tf.ones_like(labels) if weights is None else tf.reshape(tf.cast(weights, dtype), [-1])
    return labels, predictions, weights


def register_metric_ops(
    value_op: tf.Tensor, update_op: tf.Tensor, metrics_collections: Collections, updates_collections: Collections
) -> MetricOps:
    """Adds a metric's value and update ops to the given collections; returns ``(value_op, update_op)``."""
    if metrics_collections:
        tf.add_to_collections(metrics_collections, value_op)
    if updates_collections:
        tf.add_to_collections(updates_collections, update_op)
    return value_op, update_op


def _binary_ce(p: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Elementwise binary cross entropy ``-(y ln p + (1-y) ln(1-p))``; p must already be clipped."""
    return -(y * tf.log(p) + (1.0 - y) * tf.log(1.0 - p))


def _clip(p: tf.Tensor) -> tf.Tensor:
    return tf.clip_by_value(p, CLAMP_EPSILON, 1.0 - CLAMP_EPSILON)


def _rce_from_totals(ce_sum: tf.Tensor, label_sum: tf.Tensor, weight_sum: tf.Tensor) -> tf.Tensor:
    """RCE (%) from aggregate weighted CE, weighted positives and total weight (any float dtype)."""
    ctr = label_sum / weight_sum
    baseline = _binary_ce(ctr, ctr)
    return 100.0 * (1.0 - (ce_sum / weight_sum) / baseline)


# ---------------------------------------------------------------------------------------------------------------
# simple weighted statistics


def total_weight(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Streaming sum of sample weights (float64 scalar).

    With ``weights=None`` each label element counts 1 (the metric equals ``num_samples``); otherwise the weights,
    broadcast to the labels' shape, are summed. ``predictions`` is unused.
    """
    with tf.variable_scope(name, "total_weight", (labels, predictions, weights)):
        total = metric_variable("total", [], tf.float64)
        if weights is None:
            batch = tf.cast(tf.size(labels), tf.float64)
        else:
            batch = tf.reduce_sum(tf.cast(_align_weights(weights, labels), tf.float64))
        update_op = tf.assign_add(total, batch)
        return register_metric_ops(tf.identity(total), update_op, metrics_collections, updates_collections)


def num_samples(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Streaming count of label elements (float64 scalar); ``predictions`` and ``weights`` are ignored."""
    with tf.variable_scope(name, "num_samples", (labels, predictions, weights)):
        total = metric_variable("total", [], tf.float64)
        update_op = tf.assign_add(total, tf.cast(tf.size(labels), tf.float64))
        return register_metric_ops(tf.identity(total), update_op, metrics_collections, updates_collections)


#: The original's names of :func:`total_weight` and :func:`num_samples`.
total_weight_metric = total_weight
num_samples_metric = num_samples


def ce(p_true: TensorLike, p_est: Optional[TensorLike] = None) -> tf.Tensor:
    """Element-wise binary cross entropy ``-(p_true·ln p_est + (1 - p_true)·ln(1 - p_est))``, natural log,
    no clipping; ``p_est`` defaults to ``p_true`` (the entropy of a Bernoulli(p_true)). Same shape and
    dtype as the inputs."""
    p_true = tf.convert_to_tensor(p_true)
    p_est = p_true if p_est is None else tf.convert_to_tensor(p_est, dtype=p_true.dtype)
    return _binary_ce(p_est, p_true)


def ctr(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Weighted mean of the labels (``tf.metrics.mean``; float32 scalar)."""
    labels = tf.cast(labels, tf.float32)
    return tf.metrics.mean(
        labels, _align_weights(weights, labels), metrics_collections, updates_collections, name or "ctr"
    )


def predicted_ctr(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Weighted mean of the predictions (``tf.metrics.mean``; float32 scalar)."""
    predictions = tf.cast(predictions, tf.float32)
    return tf.metrics.mean(
        predictions,
        _align_weights(weights, predictions),
        metrics_collections,
        updates_collections,
        name or "predicted_ctr",
    )


def prediction_std_dev(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Weighted standard deviation of the predictions, ``sqrt(Σw p²/Σw − (Σw p/Σw)²)`` (float64 scalar)."""
    with tf.variable_scope(name, "pred_std_dev", (labels, predictions, weights)):
        _, p, w = _flat_inputs(labels, predictions, weights, tf.float64)
        sum_w = metric_variable("weight_sum", [], tf.float64)
        sum_wp = metric_variable("weighted_pred_sum", [], tf.float64)
        sum_wp2 = metric_variable("weighted_pred_sq_sum", [], tf.float64)

        def value(s_w: tf.Tensor, s_wp: tf.Tensor, s_wp2: tf.Tensor) -> tf.Tensor:
            mean = s_wp / s_w
            # max(0, .) guards the rounding of a near-zero variance
            return tf.sqrt(tf.maximum(s_wp2 / s_w - mean * mean, 0.0))

        updates = [
            tf.assign_add(sum_w, tf.reduce_sum(w)),
            tf.assign_add(sum_wp, tf.reduce_sum(w * p)),
            tf.assign_add(sum_wp2, tf.reduce_sum(w * p * p)),
        ]
        return register_metric_ops(
            value(sum_w, sum_wp, sum_wp2), value(*updates), metrics_collections, updates_collections
        )


# ---------------------------------------------------------------------------------------------------------------
# relative cross entropy family


def rce(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    normalize: bool = False,
    arce: bool = False,
    up_weight: bool = True,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
    deprecated_rce: bool = False,
) -> MetricOps:
    """Relative cross entropy in percent (float32 scalar), optionally with normalised predictions.

    ``deprecated_rce=True`` computes the normaliser from the current batch only (the original's
    deprecated variants, as ``deprecated_nrce`` / ``deprecated_arce``) instead of the running totals.

    Accumulators (float32): P = Σ w·y, L = Σ w·CE(clip(p'), y), W = Σ w (and Q = Σ w·p when normalising);
    value = ``100·(1 − (L/W) / CE(P/W, P/W))`` where clip clamps to [CLAMP_EPSILON, 1 − CLAMP_EPSILON].

    * ``normalize=False``: p' = p (plain RCE).
    * ``normalize=True, arce=False`` (NRCE): p' = a·p with the *running* normaliser a = P/Q, totals including
      the current batch (so the result depends on the batch order).
    * ``normalize=True, arce=True, up_weight=True`` (ARCE): p' = a·p / (a·p + b·(1−p)) with running a = P/Q
      and b = (Σ_b w − Σ_b w·y) / (Σ_b w − Σ_b w·p) over the current batch only.
    * ``up_weight=False`` (ARCE original): a = (running Σ y) / (running Σ w·y) and
      b = (batch count − Σ_b y) / (Σ_b w − Σ_b w·y); afterwards weights are replaced by 1, so P counts
      positives and W samples.

    Normaliser divisions are ``divide_no_nan`` (a degenerate batch gives a = 0 or b = 0 instead of NaN).
    """
    return _rce_impl(
        labels,
        predictions,
        weights,
        normalize,
        arce,
        up_weight,
        running=not deprecated_rce,
        metrics_collections=metrics_collections,
        updates_collections=updates_collections,
        name=name,
        default_name="rce",
    )


def _rce_impl(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike],
    normalize: bool,
    arce: bool,
    up_weight: bool,
    running: bool,
    metrics_collections: Collections,
    updates_collections: Collections,
    name: Optional[str],
    default_name: str,
) -> MetricOps:
    with tf.variable_scope(name, default_name, (labels, predictions, weights)):
        y, p, w = _flat_inputs(labels, predictions, weights, tf.float32)
        label_sum = metric_variable("label_sum", [], tf.float32)
        ce_sum = metric_variable("ce_sum", [], tf.float32)
        weight_sum = metric_variable("weight_sum", [], tf.float32)

        batch_w, batch_wy, batch_wp = tf.reduce_sum(w), tf.reduce_sum(w * y), tf.reduce_sum(w * p)
        pre_updates = []
        if not normalize:
            p_adj, w_eff, y_sum = p, w, batch_wy
        elif arce and not up_weight:
            # ARCE original: a corrects the weighted positives back to unweighted counts
            batch_y = tf.reduce_sum(y)
            if running:
                wy_sum = metric_variable("weighted_label_sum", [], tf.float32)
                new_label_sum = tf.assign_add(label_sum, batch_y)
                new_wy_sum = tf.assign_add(wy_sum, batch_wy)
                pre_updates = [new_label_sum]
                a = tf.div_no_nan(new_label_sum, new_wy_sum)
            else:
                a = tf.div_no_nan(batch_y, batch_wy)
            b = tf.div_no_nan(tf.cast(tf.size(y), tf.float32) - batch_y, batch_w - batch_wy)
            p_adj = a * p / (a * p + b * (1.0 - p))
            w_eff, y_sum = tf.ones_like(w), batch_y
        else:
            if running:
                pred_sum = metric_variable("pred_sum", [], tf.float32)
                new_label_sum = tf.assign_add(label_sum, batch_wy)
                new_pred_sum = tf.assign_add(pred_sum, batch_wp)
                pre_updates = [new_label_sum]
                a = tf.div_no_nan(new_label_sum, new_pred_sum)
            else:
                a = tf.div_no_nan(batch_wy, batch_wp)
            if arce:
                b = tf.div_no_nan(batch_w - batch_wy, batch_w - batch_wp)
                p_adj = a * p / (a * p + b * (1.0 - p))
            else:
                p_adj = a * p
            w_eff, y_sum = w, batch_wy

        batch_ce = tf.reduce_sum(w_eff * _binary_ce(_clip(p_adj), y))
        with tf.control_dependencies(pre_updates):
            new_ce = tf.assign_add(ce_sum, batch_ce)
            new_w = tf.assign_add(weight_sum, tf.reduce_sum(w_eff))
            new_label = pre_updates[0] if pre_updates else tf.assign_add(label_sum, y_sum)
        with tf.control_dependencies([new_ce, new_w, new_label]):
            update_op = _rce_from_totals(tf.identity(new_ce), tf.identity(new_label), tf.identity(new_w))
        value_op = _rce_from_totals(ce_sum, label_sum, weight_sum)
        return register_metric_ops(value_op, update_op, metrics_collections, updates_collections)


def nrce(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Normalised RCE: ``rce(normalize=True)`` (running normaliser; batch-order dependent)."""
    return _rce_impl(
        labels, predictions, weights, True, False, True, True, metrics_collections, updates_collections, name, "nrce"
    )


def arce(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Adjusted RCE: ``rce(normalize=True, arce=True, up_weight=True)``."""
    return _rce_impl(
        labels, predictions, weights, True, True, True, True, metrics_collections, updates_collections, name, "arce"
    )


def arce_original(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Original adjusted RCE: ``rce(normalize=True, arce=True, up_weight=False)``."""
    return _rce_impl(
        labels,
        predictions,
        weights,
        True,
        True,
        False,
        True,
        metrics_collections,
        updates_collections,
        name,
        "arce_original",
    )


def deprecated_nrce(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """NRCE with the normaliser a = Σ_b w·y / Σ_b w·p taken from the current batch only."""
    return _rce_impl(
        labels,
        predictions,
        weights,
        True,
        False,
        True,
        False,
        metrics_collections,
        updates_collections,
        name,
        "deprecated_nrce",
    )


def deprecated_arce(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """ARCE with a and b both taken from the current batch only."""
    return _rce_impl(
        labels,
        predictions,
        weights,
        True,
        True,
        True,
        False,
        metrics_collections,
        updates_collections,
        name,
        "deprecated_arce",
    )


def deprecated_arce_original(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """ARCE original with a = Σ_b y / Σ_b w·y taken from the current batch only."""
    return _rce_impl(
        labels,
        predictions,
        weights,
        True,
        True,
        False,
        False,
        metrics_collections,
        updates_collections,
        name,
        "deprecated_arce_original",
    )


def lolly_nrce(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """NRCE with a dataset-level normaliser a = P/Q, via a 5-term Taylor expansion (float32 scalar).

    Accumulates P = Σ w·y, W = Σ w, Q = Σ w·p, L = Σ w·CE(clip(p), y) and S_j = Σ w·((1−y)·p)^j for
    j = 1..5 (unclipped p). The loss of the predictions a·p is approximated as
    ``L − P·ln a + Σ_j S_j·(a^j − 1)/j`` and the value is ``100·(1 − (loss/W) / CE(P/W, P/W))``.
    """
    with tf.variable_scope(name, "lolly_nrce", (labels, predictions, weights)):
        y, p, w = _flat_inputs(labels, predictions, weights, tf.float32)
        label_sum = metric_variable("label_sum", [], tf.float32)
        weight_sum = metric_variable("weight_sum", [], tf.float32)
        pred_sum = metric_variable("pred_sum", [], tf.float32)
        ce_sum = metric_variable("ce_sum", [], tf.float32)
        powers = metric_variable("neg_pred_power_sums", [5], tf.float32)

        neg_p = (1.0 - y) * p
        batch_powers = tf.stack([tf.reduce_sum(w * neg_p**j) for j in range(1, 6)])

        def value(l_sum: tf.Tensor, w_sum: tf.Tensor, q_sum: tf.Tensor, c_sum: tf.Tensor, s: tf.Tensor) -> tf.Tensor:
            a = l_sum / q_sum
            orders = tf.range(1, 6, dtype=tf.float32)
            loss = c_sum - l_sum * tf.log(a) + tf.reduce_sum(s * (tf.pow(a, orders) - 1.0) / orders)
            ctr_ = l_sum / w_sum
            return 100.0 * (1.0 - (loss / w_sum) / _binary_ce(ctr_, ctr_))

        updates = [
            tf.assign_add(label_sum, tf.reduce_sum(w * y)),
            tf.assign_add(weight_sum, tf.reduce_sum(w)),
            tf.assign_add(pred_sum, tf.reduce_sum(w * p)),
            tf.assign_add(ce_sum, tf.reduce_sum(w * _binary_ce(_clip(p), y))),
            tf.assign_add(powers, batch_powers),
        ]
        return register_metric_ops(
            value(label_sum, weight_sum, pred_sum, ce_sum, powers),
            value(*updates),
            metrics_collections,
            updates_collections,
        )


# ---------------------------------------------------------------------------------------------------------------
# standard error by the delta method


def rce_transform(outputs: TensorLike, labels: TensorLike, weights: Optional[TensorLike]) -> tf.Tensor:
    """Per-sample statistics for RCE: ``[N, 3]`` float64 rows (w·CE(clip(p), y), w·y, w); inputs flattened.

    The predictions (``outputs``) come first, as in the original (``metric_std_err`` calls
    ``transform(predictions, labels, weights)``).
    """
    y, p, w = _flat_inputs(labels, outputs, weights, tf.float64)
    return tf.stack([w * _binary_ce(_clip(p), y), w * y, w], axis=1)


def rce_metric(aggregates: tf.Tensor) -> tf.Tensor:
    """RCE (%) from the column sums of ``rce_transform`` (a float64 ``[3]`` tensor)."""
    return _rce_from_totals(aggregates[0], aggregates[1], aggregates[2])


def metric_std_err(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    transform: Callable = rce_transform,
    metric: Callable = rce_metric,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Delta-method standard error of a metric that is a function of per-sample sums (float64 scalar).

    ``transform(predictions, labels, weights)`` (predictions first, as the original) must return
    ``[N, k]`` float64 per-sample vectors f with a
    static k; ``metric(F)`` maps the sum F = Σ f (shape ``[k]``) to the metric. The state is n (sample count),
    F and F2 = Σ f fᵀ; the value is ``sqrt(∇Mᵀ (F2 − F Fᵀ/n) ∇M)`` with ∇M = ∂metric/∂F from ``tf.gradients``.
    """
    with tf.variable_scope(name, "metric_std_err", (labels, predictions, weights)):
        stats = tf.cast(transform(predictions, labels, weights), tf.float64)
        k = stats.shape[-1].value if hasattr(stats.shape[-1], "value") else stats.shape[-1]
        if k is None:
            raise ValueError("metric_std_err: transform must return a static last dimension")
        count = metric_variable("count", [], tf.float64)
        sums = metric_variable("sums", [k], tf.float64)
        outer = metric_variable("outer_sums", [k, k], tf.float64)

        def std_err(n: tf.Tensor, f: tf.Tensor, f2: tf.Tensor) -> tf.Tensor:
            f = tf.identity(f)
            grad = tf.gradients(metric(f), f)[0]
            cov = f2 - tf.einsum("i,j->ij", f, f) / n
            var = tf.reduce_sum(grad[:, None] * cov * grad[None, :])
            return tf.sqrt(tf.maximum(var, 0.0))

        updates = [
            tf.assign_add(count, tf.cast(tf.shape(stats)[0], tf.float64)),
            tf.assign_add(sums, tf.reduce_sum(stats, axis=0)),
            tf.assign_add(outer, tf.matmul(stats, stats, transpose_a=True)),
        ]
        value_op = std_err(count.read_value(), sums.read_value(), outer.read_value())
        return register_metric_ops(value_op, std_err(*updates), metrics_collections, updates_collections)


def rce_std_err(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
) -> MetricOps:
    """Standard error of RCE: ``metric_std_err(transform=rce_transform, metric=rce_metric)``."""
    return metric_std_err(
        labels,
        predictions,
        weights,
        rce_transform,
        rce_metric,
        metrics_collections,
        updates_collections,
        name or "rce_std_err",
    )


# ---------------------------------------------------------------------------------------------------------------
# thin wrappers around tf.metrics (weights are aligned to the labels' shape first)

PERCENTILE_THRESHOLDS = [float(t) for t in np.linspace(0.0, 1.0, 101)]
#: The 101 thresholds of the ``*_at_percentiles`` metrics, as the original's float32 array.
PERCENTILES = np.linspace(0, 1, 101, dtype=np.float32)


def _tf_metric(tf_fn: Callable, default_name: str, **extra: Any) -> Callable[..., MetricOps]:
    def metric(
        labels: TensorLike,
        predictions: TensorLike,
        weights: Optional[TensorLike] = None,
        metrics_collections: Collections = None,
        updates_collections: Collections = None,
        name: Optional[str] = None,
    ) -> MetricOps:
        return tf_fn(
            labels=labels,
            predictions=predictions,
            weights=_align_weights(weights, labels),
            metrics_collections=metrics_collections,
            updates_collections=updates_collections,
            name=name or default_name,
            **extra,
        )

    metric.__name__ = default_name
    return metric


accuracy = _tf_metric(tf.metrics.accuracy, "accuracy")
accuracy.__doc__ = "Weighted fraction of hard predictions equal to the labels (``tf.metrics.accuracy``)."
precision = _tf_metric(tf.metrics.precision, "precision")
precision.__doc__ = "TP / (TP + FP) of hard (0/1 or bool) predictions (``tf.metrics.precision``)."
recall = _tf_metric(tf.metrics.recall, "recall")
recall.__doc__ = "TP / (TP + FN) of hard predictions (``tf.metrics.recall``)."
false_positives = _tf_metric(tf.metrics.false_positives, "false_positives")
false_positives.__doc__ = "Weighted count of false positives of hard predictions (float32 scalar)."
false_negatives = _tf_metric(tf.metrics.false_negatives, "false_negatives")
false_negatives.__doc__ = "Weighted count of false negatives of hard predictions (float32 scalar)."
true_positives = _tf_metric(tf.metrics.true_positives, "true_positives")
true_positives.__doc__ = "Weighted count of true positives of hard predictions (float32 scalar)."
true_negatives = _tf_metric(tf.metrics.true_negatives, "true_negatives")
true_negatives.__doc__ = "Weighted count of true negatives of hard predictions (float32 scalar)."

_AT = {"thresholds": PERCENTILE_THRESHOLDS}
precision_at_percentiles = _tf_metric(tf.metrics.precision_at_thresholds, "precision_at_percentiles", **_AT)
precision_at_percentiles.__doc__ = "Precision of ``predictions > t`` for t in linspace(0, 1, 101) (float32 [101])."
recall_at_percentiles = _tf_metric(tf.metrics.recall_at_thresholds, "recall_at_percentiles", **_AT)
recall_at_percentiles.__doc__ = "Recall of ``predictions > t`` for t in linspace(0, 1, 101) (float32 [101])."
false_positives_at_percentiles = _tf_metric(
    tf.metrics.false_positives_at_thresholds, "false_positives_at_percentiles", **_AT
)
false_positives_at_percentiles.__doc__ = "Weighted FP of ``predictions > t``, t in linspace(0, 1, 101) ([101])."
false_negatives_at_percentiles = _tf_metric(
    tf.metrics.false_negatives_at_thresholds, "false_negatives_at_percentiles", **_AT
)
false_negatives_at_percentiles.__doc__ = "Weighted FN of ``predictions > t``, t in linspace(0, 1, 101) ([101])."
true_positives_at_percentiles = _tf_metric(
    tf.metrics.true_positives_at_thresholds, "true_positives_at_percentiles", **_AT
)
true_positives_at_percentiles.__doc__ = "Weighted TP of ``predictions > t``, t in linspace(0, 1, 101) ([101])."
true_negatives_at_percentiles = _tf_metric(
    tf.metrics.true_negatives_at_thresholds, "true_negatives_at_percentiles", **_AT
)
true_negatives_at_percentiles.__doc__ = "Weighted TN of ``predictions > t``, t in linspace(0, 1, 101) ([101])."

#: Thresholds of the streaming ``roc_auc`` and ``pr_auc`` (the original's ``tf.metrics.auc`` default).
AUC_THRESHOLDS = 200


def _single_class_warning(name: str, value: tf.Tensor, positives: tf.Tensor, negatives: tf.Tensor) -> tf.Tensor:
    """``value``, evaluated after logging a warning (TensorFlow's log, WARNING) when the weighted
    positives or negatives seen are 0: an AUC of one class is undefined, the streaming value is
    then an artefact of the thresholds (0.0 or 1.0)."""

    def warn() -> tf.Tensor:
        printed = tf.print(
            "twml.metrics.%s: the evaluation data holds a single class (weighted positives" % name,
            positives,
            ", negatives",
            negatives,
            "): the AUC is undefined; the streaming value",
            value,
            "is meaningless",
            output_stream=tf.logging.warning,
        )
        with tf.control_dependencies([printed]):
            return tf.constant(True)

    single = tf.logical_or(positives <= 0, negatives <= 0)
    checked = tf.cond(single, warn, lambda: tf.constant(False))
    with tf.control_dependencies([checked]):
        return tf.identity(value)


def _streaming_auc(curve: str, default_name: str) -> Callable[..., MetricOps]:
    def metric(
        labels: TensorLike,
        predictions: TensorLike,
        weights: Optional[TensorLike] = None,
        metrics_collections: Collections = None,
        updates_collections: Collections = None,
        name: Optional[str] = None,
    ) -> MetricOps:
        name = name or default_name
        aligned = _align_weights(weights, labels)
        value, update = tf.metrics.auc(
            labels=labels,
            predictions=predictions,
            weights=aligned,
            num_thresholds=AUC_THRESHOLDS,
            curve=curve,
            summation_method="careful_interpolation",
            name=name,
        )
        with tf.variable_scope(name + "_classes"):
            flat_labels, _, flat_weights = _flat_inputs(labels, predictions, weights, tf.float64)
            positive = tf.cast(flat_labels > 0, tf.float64)
            positives = metric_variable("positives", [], tf.float64)
            negatives = metric_variable("negatives", [], tf.float64)
            count = tf.group(
                tf.assign_add(positives, tf.reduce_sum(flat_weights * positive)),
                tf.assign_add(negatives, tf.reduce_sum(flat_weights * (1.0 - positive))),
            )
        with tf.control_dependencies([count]):
            update = tf.identity(update)
        value = _single_class_warning(name, value, tf.identity(positives), tf.identity(negatives))
        return register_metric_ops(value, update, metrics_collections, updates_collections)

    metric.__name__ = default_name
    return metric


_AUC_RESOLUTION = """
Resolution: the thresholds are ``i/199`` (and just below 0 and above 1), so predictions closer than
about 0.005 fall in the same bucket and count as tied; every prediction below 1/199 ≈ 0.005 shares
the lowest bucket (a model whose scores are all that small gets 0.5). For an exact AUC of stored
predictions sort them instead (the light-ranker report does: ``tools/light_ranker/report.py``).

An evaluation that saw a single class (no weighted positive, or no negative) logs a warning when the
value is read: the AUC is undefined there, and the streaming value (0.0 or 1.0) is kept only for
compatibility with the original.
"""

roc_auc = _streaming_auc("ROC", "roc_auc")
roc_auc.__doc__ = (
    """Streaming ROC AUC (``tf.metrics.auc``, 200 thresholds, float32 scalar).

Confusion counts are taken at thresholds [−1e−7, 1/199, …, 198/199, 1 + 1e−7] with ``predictions > t``;
the area is the trapezoidal sum over the (FPR, TPR) points (``careful_interpolation`` equals trapezoidal
for ROC). Predictions must lie in [0, 1].
"""
    + _AUC_RESOLUTION
)
pr_auc = _streaming_auc("PR", "pr_auc")
pr_auc.__doc__ = (
    """Streaming PR AUC (``tf.metrics.auc(curve='PR', summation_method='careful_interpolation')``).

Summation rule (Davis & Goadrich interpolation): weighted TP/FP/FN are counted at the 200 thresholds
[−1e−7, 1/199, …, 198/199, 1 + 1e−7] with ``predictions > t``. Between consecutive thresholds A (lower) and
B, with P = TP + FP, dTP = TP_A − TP_B, slope = dTP / max(P_A − P_B, 0) and intercept = TP_B − slope·P_B,
the area increment is ``slope·(dTP + intercept·ln(P_A/P_B)) / (TP_B + FN_B)`` (the log ratio is taken as 1
unless both P are positive; every division is divide-no-nan). The value is the sum of the increments
(float32 scalar). Predictions must lie in [0, 1].
"""
    + _AUC_RESOLUTION
)


def pr_curve(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
    num_thresholds: int = 201,
) -> MetricOps:
    """Streaming precision-recall curve summary (TensorBoard's ``pr_curve.summary.streaming_op``).

    ``value_op`` is a string scalar: a serialized ``Summary`` holding a float32 ``[6, num_thresholds]`` tensor
    (TP, FP, TN, FN, precision, recall at thresholds i/(num_thresholds−1)) tagged ``name`` for the PR-curve
    plugin; ``tf.estimator`` writes such byte values straight into the eval summaries. Labels are cast to bool.
    """
    from tensorboard.plugins.pr_curve import summary as pr_summary

    labels = tf.cast(labels, tf.bool)
    predictions = tf.cast(predictions, tf.float32)
    weights = _align_weights(weights, predictions)
    return pr_summary.streaming_op(
        name or "pr_curve",
        labels=labels,
        predictions=predictions,
        num_thresholds=num_thresholds,
        weights=weights,
        metrics_collections=metrics_collections,
        updates_collections=updates_collections,
    )


# ---------------------------------------------------------------------------------------------------------------
# metric-fn builders

# name -> (factory, requires_threshold)
SUPPORTED_BINARY_CLASS_METRICS: Dict[str, Tuple[Callable[..., MetricOps], bool]] = OrderedDict(
    [
        ("total_weight", (total_weight, False)),
        ("num_samples", (num_samples, False)),
        ("rce", (rce, False)),
        ("rce_std_err", (rce_std_err, False)),
        ("nrce", (nrce, False)),
        ("lolly_nrce", (lolly_nrce, False)),
        ("arce", (arce, False)),
        ("arce_original", (arce_original, False)),
        ("ctr", (ctr, False)),
        ("predicted_ctr", (predicted_ctr, False)),
        ("pred_std_dev", (prediction_std_dev, False)),
        ("accuracy", (accuracy, True)),
        ("precision", (precision, True)),
        ("recall", (recall, True)),
        ("false_positives", (false_positives, True)),
        ("false_negatives", (false_negatives, True)),
        ("true_positives", (true_positives, True)),
        ("true_negatives", (true_negatives, True)),
        ("precision_at_percentiles", (precision_at_percentiles, False)),
        ("recall_at_percentiles", (recall_at_percentiles, False)),
        ("false_positives_at_percentiles", (false_positives_at_percentiles, False)),
        ("false_negatives_at_percentiles", (false_negatives_at_percentiles, False)),
        ("true_positives_at_percentiles", (true_positives_at_percentiles, False)),
        ("true_negatives_at_percentiles", (true_negatives_at_percentiles, False)),
        ("roc_auc", (roc_auc, False)),
        ("pr_auc", (pr_auc, False)),
        ("pr_curve", (pr_curve, False)),
        ("deprecated_nrce", (deprecated_nrce, False)),
        ("deprecated_arce", (deprecated_arce, False)),
        ("deprecated_arce_original", (deprecated_arce_original, False)),
    ]
)

DEFAULT_BINARY_CLASS_METRICS: List[str] = [
    "total_weight",
    "num_samples",
    "rce",
    "rce_std_err",
    "nrce",
    "arce",
    "ctr",
    "predicted_ctr",
    "pred_std_dev",
    "accuracy",
    "precision",
    "recall",
    "roc_auc",
    "pr_auc",
]

MetricSpec = Union[str, Tuple[str, Callable[..., MetricOps], bool]]


def _resolve_metrics(metrics: Optional[Iterable[MetricSpec]]) -> List[Tuple[str, Callable[..., MetricOps], bool]]:
    """Turns names / (name, factory, requires_threshold) tuples into unique lower-cased triples."""
    if metrics is None:
        metrics = DEFAULT_BINARY_CLASS_METRICS
    elif isinstance(metrics, str):
        metrics = [metrics]
    resolved, seen = [], set()
    for spec in metrics:
        if isinstance(spec, str):
            metric_name = spec.lower()
            if metric_name not in SUPPORTED_BINARY_CLASS_METRICS:
                raise ValueError(
                    "Unsupported binary class metric %r; supported: %s"
                    % (spec, ", ".join(SUPPORTED_BINARY_CLASS_METRICS))
                )
            factory, requires_threshold = SUPPORTED_BINARY_CLASS_METRICS[metric_name]
        else:
            metric_name, factory, requires_threshold = spec
            metric_name = metric_name.lower()
        if metric_name in seen:
            continue
        seen.add(metric_name)
        resolved.append((metric_name, factory, bool(requires_threshold)))
    return resolved


def _hard_output(graph_output: Dict[str, Any], output: tf.Tensor, use_hard_output: bool = True) -> tf.Tensor:
    """``graph_output['hard_output']`` if present, else ``output >= graph_output.get('threshold', 0.5)``."""
    if use_hard_output and graph_output.get("hard_output") is not None:
        return graph_output["hard_output"]
    threshold = graph_output.get("threshold")
    threshold = 0.5 if threshold is None else threshold
    return tf.greater_equal(output, tf.cast(threshold, output.dtype))


def get_binary_class_metric_fn(metrics: Optional[Iterable[MetricSpec]] = None) -> MetricFn:
    """Builds ``fn(graph_output, labels, weights) -> {name: (value_op, update_op)}`` for a binary classifier.

    Args:
      metrics: metric names from ``SUPPORTED_BINARY_CLASS_METRICS`` (case-insensitive) and/or
        ``(name, factory, requires_threshold)`` tuples, where ``factory`` follows the tf.metrics signature.
        ``None`` means ``DEFAULT_BINARY_CLASS_METRICS``. Duplicate names are evaluated once.

    The returned fn reads ``graph_output['output']`` (probabilities, same shape as ``labels``). Metrics with
    ``requires_threshold`` receive ``graph_output['hard_output']`` when present, else
    ``output >= graph_output.get('threshold', 0.5)``. Keys of the result are the lower-cased metric names.
    """
    resolved = _resolve_metrics(metrics)

    def get_eval_metric_ops(
        graph_output: Dict[str, Any], labels: tf.Tensor, weights: Optional[tf.Tensor]
    ) -> Dict[str, MetricOps]:
        output = graph_output["output"]
        hard = _hard_output(graph_output, output)
        weights = _align_weights(weights, labels)
        ops = OrderedDict()
        for metric_name, factory, requires_threshold in resolved:
            ops[metric_name] = factory(
                labels=labels, predictions=hard if requires_threshold else output, weights=weights, name=metric_name
            )
        return ops

    return get_eval_metric_ops


def _class_weights(weights: Optional[TensorLike], index: int, num_classes: int, class_dim: int) -> Optional[tf.Tensor]:
    """Weights of one class: column ``index`` of ``[batch, n]`` weights, else the shared ``[batch]`` weights."""
    if weights is None:
        return None
    weights = tf.convert_to_tensor(weights)
    rank = weights.shape.ndims
    if (
        rank is not None
        and rank > class_dim
        and weights.shape[class_dim] is not None
        and int(weights.shape[class_dim]) == num_classes
        and num_classes > 1
    ):
        return tf.gather(weights, index, axis=class_dim)
    if rank is not None and rank > 1:
        return tf.reshape(weights, [-1])
    return weights


def _multi_class_ops(
    resolved: List[Tuple[str, Callable[..., MetricOps], bool]],
    output: TensorLike,
    hard: TensorLike,
    labels: TensorLike,
    weights: Optional[TensorLike],
    classes: Optional[Sequence[Any]],
    class_dim: int,
    prefix: str = "",
    columns: Optional[Sequence[int]] = None,
    label_columns: Optional[Sequence[int]] = None,
) -> Dict[str, MetricOps]:
    output = tf.convert_to_tensor(output)
    num_classes = output.shape[class_dim]
    num_classes = getattr(num_classes, "value", num_classes)
    if num_classes is None:
        raise ValueError("The class dimension of graph_output['output'] must be statically known")
    columns = list(range(num_classes)) if columns is None else list(columns)
    label_columns = columns if label_columns is None else list(label_columns)
    ops = OrderedDict()
    for position, (col, label_col) in enumerate(zip(columns, label_columns)):
        suffix = classes[position] if classes else col
        class_labels = tf.gather(labels, label_col, axis=class_dim)
        class_preds = tf.gather(output, col, axis=class_dim)
        class_hard = tf.gather(hard, col, axis=class_dim)
        class_weights = _class_weights(weights, label_col, num_classes, class_dim)
        for metric_name, factory, requires_threshold in resolved:
            full_name = "%s%s_%s" % (prefix, metric_name, suffix)
            if full_name in ops:
                continue
            ops[full_name] = factory(
                labels=class_labels,
                predictions=class_hard if requires_threshold else class_preds,
                weights=class_weights,
                name=full_name,
            )
    return ops


def get_multi_binary_class_metric_fn(
    metrics: Optional[Iterable[MetricSpec]] = None, classes: Optional[Sequence[str]] = None, class_dim: int = 1
) -> MetricFn:
    """Per-class binary metrics for a multi-label output ``[batch, n]`` (n must be static).

    Metric ``m`` of class column i is named ``<m>_<classes[i]>`` (``<m>_<i>`` without ``classes``). Labels are
    ``[batch, n]``; weights are ``None``, ``[batch]``/``[batch, 1]`` (shared by all classes) or ``[batch, n]``
    (one column per class). Thresholding as in ``get_binary_class_metric_fn`` (a ``threshold`` may be a scalar
    or broadcastable to the output).
    """
    resolved = _resolve_metrics(metrics)

    def get_eval_metric_ops(
        graph_output: Dict[str, Any], labels: TensorLike, weights: Optional[TensorLike]
    ) -> Dict[str, MetricOps]:
        output = graph_output["output"]
        return _multi_class_ops(
            resolved, output, _hard_output(graph_output, output), labels, weights, classes, class_dim
        )

    return get_eval_metric_ops


def get_multi_binary_class_uncalibrated_metric_fn(
    metrics: Optional[Iterable[MetricSpec]] = None,
    classes: Optional[Sequence[str]] = None,
    class_dim: int = 1,
    keep_weight: bool = True,
) -> MetricFn:
    """Like ``get_multi_binary_class_metric_fn`` on ``graph_output['uncalibrated_output']``.

    Names are prefixed ``uncalibrated_``; with ``keep_weight=False`` the weights are replaced by ones and the
    prefix is ``unweighted_``. Thresholded metrics use ``uncalibrated_output >= threshold`` (``hard_output``
    belongs to the calibrated output and is ignored).
    """
    resolved = _resolve_metrics(metrics)
    prefix = "uncalibrated_" if keep_weight else "unweighted_"

    def get_eval_metric_ops(
        graph_output: Dict[str, Any], labels: TensorLike, weights: Optional[TensorLike]
    ) -> Dict[str, MetricOps]:
        output = graph_output["uncalibrated_output"]
        hard = _hard_output(graph_output, output, use_hard_output=False)
        if not keep_weight:
            weights = None
        return _multi_class_ops(resolved, output, hard, labels, weights, classes, class_dim, prefix=prefix)

    return get_eval_metric_ops


def combine_metric_fns(*fns: MetricFn) -> MetricFn:
    """Merges the dicts of several metric fns (called in order; a later fn wins on a repeated name)."""

    def combined(
        graph_output: Dict[str, Any], labels: TensorLike, weights: Optional[TensorLike]
    ) -> Dict[str, MetricOps]:
        ops = OrderedDict()
        for fn in fns:
            ops.update(fn(graph_output, labels, weights))
        return ops

    return combined
