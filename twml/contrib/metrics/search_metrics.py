"""Ranking metrics where each batch is one query's candidate list (reference §10, contrib).

``ndcg`` follows the ``tf.metrics`` conventions ((value_op, update_op), zero-initialised accumulators in
LOCAL_VARIABLES + METRIC_VARIABLES); ``get_search_metric_fn`` builds an ``eval_metric_ops`` fn.
"""

import functools
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence

import tensorflow.compat.v1 as tf

from twml import metrics as twml_metrics
from twml.metrics import (
    Collections,
    MetricFn,
    MetricOps,
    MetricSpec,
    TensorLike,
    get_binary_class_metric_fn,
    metric_variable,
    register_metric_ops,
)

__all__ = ["ndcg", "SUPPORTED_SEARCH_METRICS", "DEFAULT_SEARCH_METRICS", "get_search_metric_fn"]


def _dcg(gains: tf.Tensor) -> tf.Tensor:
    """Σ_i gains[i] / log2(i + 1) with 1-based rank i (gains is a 1-D float32 tensor in rank order)."""
    ranks = tf.cast(tf.range(tf.size(gains)), tf.float32) + 2.0
    return tf.reduce_sum(gains * tf.log(2.0) / tf.log(ranks))


def ndcg(
    labels: TensorLike,
    predictions: TensorLike,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
    name: Optional[str] = None,
    top_k_int: int = 1,
) -> MetricOps:
    """Streaming mean over batches of NDCG@k, each batch being the candidates of one query.

    Args:
      labels: relevance grades, any shape with N elements (flattened), e.g. ``[N]`` or ``[N, 1]``.
      predictions: scores, same number of elements as ``labels``.
      metrics_collections, updates_collections: collections the value / update op are added to.
      name: variable scope (default ``ndcg``).
      top_k_int: k (python int; the original's last parameter, so pass it by keyword); lists shorter
        than k use all their candidates. Every query counts once (there are no weights).

    Per batch: order the candidates by descending score (ties keep input order),
    DCG@k = Σ_{i=1..k} (2^rel_i − 1) / log2(i + 1); the ideal DCG@k uses the labels sorted descending;
    NDCG = DCG / IDCG, or 0 when IDCG is 0 (no relevant candidate). The value (float32 scalar) is the mean
    NDCG over all batches seen.
    """
    with tf.variable_scope(name, "ndcg", (labels, predictions)):
        rel = tf.reshape(tf.cast(labels, tf.float32), [-1])
        scores = tf.reshape(tf.cast(predictions, tf.float32), [-1])
        k = tf.minimum(tf.size(scores), int(top_k_int))
        _, order = tf.nn.top_k(scores, k=k, sorted=True)
        gains = tf.pow(2.0, rel) - 1.0
        dcg = _dcg(tf.gather(gains, order))
        ideal = _dcg(tf.nn.top_k(gains, k=k, sorted=True).values)
        batch_ndcg = tf.div_no_nan(dcg, ideal)

        total = metric_variable("ndcg_sum", [], tf.float32)
        count = metric_variable("query_count", [], tf.float32)
        update_op = tf.div_no_nan(tf.assign_add(total, batch_ndcg), tf.assign_add(count, 1.0))
        return register_metric_ops(tf.div_no_nan(total, count), update_op, metrics_collections, updates_collections)


SUPPORTED_SEARCH_METRICS = {"ndcg": ndcg}

#: Binary metrics ``get_search_metric_fn`` can add: name -> (metric fn, needs thresholded output).
#: The AUCs use TF's default trapezoidal summation here (unlike ``twml.metrics``), as the original.
SUPPORTED_BINARY_CLASS_METRICS = {
    "rce": (twml_metrics.rce, False),
    "nrce": (functools.partial(twml_metrics.rce, normalize=True), False),
    "ctr": (twml_metrics.ctr, False),
    "predicted_ctr": (twml_metrics.predicted_ctr, False),
    "accuracy": (tf.metrics.accuracy, True),
    "precision": (tf.metrics.precision, True),
    "recall": (tf.metrics.recall, True),
    "roc_auc": (functools.partial(tf.metrics.auc, curve="ROC"), False),
    "pr_auc": (functools.partial(tf.metrics.auc, curve="PR"), False),
}
DEFAULT_SEARCH_METRICS: List[str] = ["ndcg"]


def get_search_metric_fn(
    binary_metrics: Optional[Iterable[MetricSpec]] = None,
    search_metrics: Optional[Iterable[str]] = None,
    ndcg_top_ks: Sequence[int] = (1, 3, 5, 10),
    use_binary_metrics: bool = False,
) -> MetricFn:
    """Builds ``fn(graph_output, labels, weights) -> {name: (value_op, update_op)}`` for search ranking.

    Each search metric (default ``['ndcg']``) is evaluated on ``graph_output['output']`` at every k of
    ``ndcg_top_ks`` and named ``<metric>_<k>`` (e.g. ``ndcg_5``). With ``use_binary_metrics`` the binary
    classification metrics ``binary_metrics`` (see ``twml.metrics.get_binary_class_metric_fn``; None = its
    defaults) are added too.
    """
    names = [m.lower() for m in (DEFAULT_SEARCH_METRICS if search_metrics is None else search_metrics)]
    for metric_name in names:
        if metric_name not in SUPPORTED_SEARCH_METRICS:
            raise ValueError(
                "Unsupported search metric %r; supported: %s" % (metric_name, ", ".join(SUPPORTED_SEARCH_METRICS))
            )
    binary_fn = get_binary_class_metric_fn(binary_metrics) if use_binary_metrics else None

    def get_eval_metric_ops(
        graph_output: Dict[str, Any], labels: TensorLike, weights: Optional[TensorLike]
    ) -> Dict[str, MetricOps]:
        ops: Dict[str, MetricOps] = OrderedDict()
        if binary_fn is not None:
            ops.update(binary_fn(graph_output, labels, weights))
        output = graph_output["output"]
        for metric_name in names:
            for k in ndcg_top_ks:
                full_name = "%s_%d" % (metric_name, k)
                if full_name not in ops:
                    ops[full_name] = SUPPORTED_SEARCH_METRICS[metric_name](
                        labels=labels, predictions=output, top_k_int=k, name=full_name
                    )
        return ops

    return get_eval_metric_ops
