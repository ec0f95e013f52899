"""Extra metric fns (reference §10, contrib; the original's signatures and semantics): numeric-label top-K
means and column-selecting binary metrics for multi-task models.

* ``mean_numeric_label_topK``: the K samples of a batch with the highest ranking score are selected and their
  numeric labels (e.g. an engagement count) enter a streaming mean (``tf.metrics.mean``, weights ignored).
* ``mean_gated_numeric_label_topK``: the same, of the indicator ``label > bar``: the fraction of the top-K
  samples whose numeric label clears the bar.
* ``get_metric_topK_fn_helper`` / ``get_numeric_metric_fn``: those metrics for K in a ``(min, max, step)``
  range, named ``<metric>__k_<K>``.
* ``get_partial_multi_binary_class_metric_fn``: ``twml.metrics.get_multi_binary_class_metric_fn`` on a subset
  of the output (and label) columns.
* ``get_single_binary_task_metric_fn`` / ``get_dual_binary_tasks_metric_fn``: binary metrics of output column 0
  (columns 0 and 1) weighted and unweighted, plus the numeric top-K metrics on request.
"""

from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import tensorflow.compat.v1 as tf

from twml.metrics import (
    Collections,
    MetricFn,
    MetricOps,
    MetricSpec,
    TensorLike,
    get_multi_binary_class_metric_fn,
)

__all__ = [
    "mean_numeric_label_topK",
    "mean_gated_numeric_label_topK",
    "SUPPORTED_NUMERIC_METRICS",
    "DEFAULT_NUMERIC_METRICS",
    "get_numeric_metric_fn",
    "get_partial_multi_binary_class_metric_fn",
    "get_single_binary_task_metric_fn",
    "get_dual_binary_tasks_metric_fn",
    "get_metric_topK_fn_helper",
]


def _top_k_ids(predictions: tf.Tensor, k: int) -> tf.Tensor:
    """Indices (int32 ``[min(k, N)]``) of the k highest of the flattened predictions, ties in input order."""
    scores = tf.reshape(tf.cast(predictions, tf.float32), [-1])
    return tf.nn.top_k(scores, k=tf.minimum(tf.size(scores), int(k)), sorted=True).indices


def _top_k_labels(
    labels: TensorLike, predictions: TensorLike, k: Optional[int], topK_id: Optional[TensorLike]
) -> tf.Tensor:
    """float32 ``[min(k, N)]``: the labels (flattened, N elements) of the selected rows."""
    flat_labels = tf.reshape(tf.cast(tf.convert_to_tensor(labels), tf.float32), [-1])
    if topK_id is None:
        if k is None:
            raise ValueError("give either topK_id or k")
        topK_id = _top_k_ids(predictions, k)
    return tf.gather(flat_labels, topK_id)


def mean_numeric_label_topK(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike],
    name: Optional[str],
    topK_id: Optional[TensorLike],
    *,
    k: Optional[int] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
) -> MetricOps:
    """Streaming mean (float32 scalar) of the numeric labels of each batch's top-K rows.

    Args:
      labels: numeric labels, N elements (flattened). predictions: scores, N elements.
      weights: ignored, as in the original.
      topK_id: int indices of the selected rows (e.g. ``tf.nn.top_k(scores, K).indices``); if None,
        the ``k`` (keyword-only) highest predictions are taken (all of them when the batch has fewer).
    """
    del weights
    return tf.metrics.mean(
        _top_k_labels(labels, predictions, k, topK_id),
        None,
        metrics_collections,
        updates_collections,
        name or "mean_numeric_label_topk",
    )


def mean_gated_numeric_label_topK(
    labels: TensorLike,
    predictions: TensorLike,
    weights: Optional[TensorLike],
    name: Optional[str],
    topK_id: Optional[TensorLike],
    bar: float = 2.0,
    *,
    k: Optional[int] = None,
    metrics_collections: Collections = None,
    updates_collections: Collections = None,
) -> MetricOps:
    """Streaming fraction (float32 scalar) of each batch's top-K rows whose numeric label is > ``bar``
    (an int or float; weights ignored). Arguments as ``mean_numeric_label_topK``."""
    del weights
    if isinstance(bar, bool) or not isinstance(bar, (int, float)):
        raise TypeError("bar must be an int or a float, got %r" % (bar,))
    gated = tf.cast(_top_k_labels(labels, predictions, k, topK_id) > float(bar), tf.float32)
    return tf.metrics.mean(
        gated, None, metrics_collections, updates_collections, name or "mean_gated_numeric_label_topk"
    )


SUPPORTED_NUMERIC_METRICS = {
    "mean_numeric_label_topk": mean_numeric_label_topK,
    "mean_gated_numeric_label_topk": mean_gated_numeric_label_topK,
}
DEFAULT_NUMERIC_METRICS: List[str] = ["mean_numeric_label_topk", "mean_gated_numeric_label_topk"]


def get_metric_topK_fn_helper(
    targetMetrics: Optional[Iterable[str]],
    supportedMetrics_op: Optional[Dict[str, Any]],
    metrics: Optional[Iterable[str]] = None,
    topK: Sequence[int] = (5, 5, 5),
    predcol: Optional[int] = None,
    labelcol: Optional[int] = None,
) -> MetricFn:
    """A metric fn computing target metrics, those named with ``topk`` once per K.

    Args:
      targetMetrics: the metric names this fn may compute (lower-cased).
      supportedMetrics_op: name -> metric factory ``(labels, predictions, weights, name[, topK_id])``.
      metrics: the requested names (lower-cased; names not in ``targetMetrics`` are dropped); None: all
        target metrics.
      topK: ``(k_min, k_max, k_step)``: K runs over ``k_min, k_min + k_step, ... <= k_max``, with 1 added
        when absent (default: 1 and 5).
      predcol, labelcol: a prediction column (``0 <= predcol < output.shape[1]``, static) and the label
        column to use (both ``[-1, 1]``); None: the whole output and labels.

    Returns:
      ``fn(graph_output, labels, weights) -> OrderedDict`` name -> ``(value, update)``: ``<metric>`` for
      names without "topk", ``<metric>__k_<K>`` for the others. The ranking score (top-K) is the last
      column of ``graph_output['output']``.

    Raises:
      ValueError: ``targetMetrics`` or ``supportedMetrics_op`` is None, or a requested metric is not supported.
    """
    if targetMetrics is None or supportedMetrics_op is None:
        raise ValueError("get_metric_topK_fn_helper needs targetMetrics and supportedMetrics_op")
    targets = [m.lower() for m in targetMetrics]
    names = targets if metrics is None else [m.lower() for m in metrics if m.lower() in targets]
    k_min, k_max, k_step = topK
    ks = [int(k_min + d * k_step) for d in range(int((k_max - k_min) / k_step + 1))] if k_step else [int(k_min)]
    if 1 not in ks:
        ks = [1] + ks

    def get_eval_metric_ops(
        graph_output: Dict[str, Any], labels: TensorLike, weights: Optional[TensorLike]
    ) -> Dict[str, MetricOps]:
        output = graph_output["output"]
        predictions = output
        if predcol is not None:
            width = output.shape[1]
            assert width is not None and 0 <= predcol < int(width), "predcol must be in [0, output.shape[1])"
            assert labelcol is not None, "predcol needs labelcol"
            predictions = tf.reshape(output[:, predcol], [-1, 1])
            labels = tf.reshape(labels[:, labelcol], [-1, 1])
        scores = tf.reshape(output[:, -1], [-1]) if output.shape.ndims == 2 else tf.reshape(output, [-1])
        ops: Dict[str, MetricOps] = OrderedDict()
        for name in names:
            if name not in supportedMetrics_op:
                raise ValueError("unsupported metric %r" % name)
            factory = supportedMetrics_op[name]
            if "topk" not in name:
                ops[name] = factory(labels=labels, predictions=predictions, weights=weights, name=name)
                continue
            for k in ks:
                k_rows = tf.minimum(k, tf.shape(scores)[0])
                _, top_ids = tf.nn.top_k(scores, k=k_rows)
                full_name = "%s__k_%d" % (name, k)
                ops[full_name] = factory(
                    labels=labels, predictions=predictions, weights=weights, name=full_name, topK_id=top_ids
                )
        return ops

    return get_eval_metric_ops


def get_numeric_metric_fn(
    metrics: Optional[Iterable[str]] = None,
    topK: Sequence[int] = (5, 5, 5),
    predcol: Optional[int] = None,
    labelcol: Optional[int] = None,
) -> MetricFn:
    """Metric fn for numeric labels ranked by the last column of ``graph_output['output']``: the metrics of
    ``SUPPORTED_NUMERIC_METRICS`` (all of ``DEFAULT_NUMERIC_METRICS`` when ``metrics`` is None) for each K of
    ``topK = (k_min, k_max, k_step)`` (and K = 1), named ``<metric>__k_<K>``; see ``get_metric_topK_fn_helper``.
    """
    return get_metric_topK_fn_helper(
        targetMetrics=list(DEFAULT_NUMERIC_METRICS),
        supportedMetrics_op=SUPPORTED_NUMERIC_METRICS,
        metrics=metrics,
        topK=topK,
        predcol=predcol,
        labelcol=labelcol,
    )


def get_partial_multi_binary_class_metric_fn(
    metrics: Optional[Iterable[MetricSpec]],
    classes: Optional[Sequence[Any]] = None,
    class_dim: int = 1,
    predcols: Optional[Union[int, Sequence[int]]] = None,
) -> MetricFn:
    """``twml.metrics.get_multi_binary_class_metric_fn(metrics, classes, class_dim)`` on the columns
    ``predcols`` (an int or a list; None: all) of both ``graph_output['output']`` and the labels.

    The returned ``fn(graph_output, labels, weights)`` gathers the columns along ``class_dim`` (output and
    labels ``[batch, n]`` → ``[batch, len(predcols)]``; each column must be in ``[0, output.shape[class_dim])``,
    checked statically, ``AssertionError`` otherwise) and names metric m of the i-th selected column
    ``<m>_<classes[i]>`` (``<m>_<i>`` without ``classes``). ``threshold`` is passed through; a ``hard_output``
    is gathered like the output. Weights as in ``get_multi_binary_class_metric_fn``.
    """
    multi_fn = get_multi_binary_class_metric_fn(metrics, classes, class_dim)

    def get_eval_metric_ops(
        graph_output: Dict[str, Any], labels: TensorLike, weights: Optional[TensorLike]
    ) -> Dict[str, MetricOps]:
        output = tf.convert_to_tensor(graph_output["output"])
        labels = tf.convert_to_tensor(labels)
        hard = graph_output.get("hard_output")
        if predcols is not None:
            cols = [predcols] if isinstance(predcols, int) else list(predcols)
            width = output.shape[class_dim]
            for col in cols:
                assert width is not None and 0 <= col < int(width), "Invalid Prediction Column Index %r" % (col,)
            output = tf.gather(output, cols, axis=class_dim)
            labels = tf.gather(labels, cols, axis=class_dim)
            if hard is not None:
                hard = tf.gather(hard, cols, axis=class_dim)
        selected: Dict[str, Any] = {"output": output}
        if graph_output.get("threshold") is not None:
            selected["threshold"] = graph_output["threshold"]
        if hard is not None:
            selected["hard_output"] = hard
        return multi_fn(selected, labels, weights)

    return get_eval_metric_ops


def _task_metric_fn(
    metrics: Optional[Iterable[MetricSpec]],
    classnames: Sequence[str],
    predcols: List[int],
    topK: Sequence[int],
    use_topK: bool,
    numeric_col: int,
) -> MetricFn:
    weighted = get_partial_multi_binary_class_metric_fn(metrics, predcols=predcols, classes=list(classnames))
    unweighted = get_partial_multi_binary_class_metric_fn(
        metrics, predcols=predcols, classes=["unweighted_" + str(name) for name in classnames]
    )
    numeric = (
        get_numeric_metric_fn(topK=topK, predcol=numeric_col, labelcol=numeric_col + (1 if len(predcols) == 1 else 0))
        if use_topK
        else None
    )

    def get_eval_metric_ops(
        graph_output: Dict[str, Any], labels: TensorLike, weights: Optional[TensorLike]
    ) -> Dict[str, MetricOps]:
        ops: Dict[str, MetricOps] = OrderedDict(weighted(graph_output, labels, weights))
        ops.update(unweighted(graph_output, labels, None))
        if numeric is not None:
            ops.update(numeric(graph_output, labels, weights))
        return ops

    return get_eval_metric_ops


def get_single_binary_task_metric_fn(
    metrics: Optional[Iterable[MetricSpec]],
    classnames: Sequence[str],
    topK: Sequence[int] = (5, 5, 5),
    use_topK: bool = False,
) -> MetricFn:
    """Metrics of a single binary task with an optional numeric label.

    ``graph_output['output']`` is ``[batch, 1]`` (the task's probability; its last column also ranks for
    top-K) and labels ``[batch, 2]`` (the binary label, then a numeric label used only with ``use_topK``).
    The result holds the binary metrics of output column 0 against label column 0, weighted (named
    ``<metric>_<classnames[0]>``) and unweighted (``<metric>_unweighted_<classnames[0]>``), plus, when
    ``use_topK``, ``get_numeric_metric_fn(topK=topK, predcol=0, labelcol=1)``.
    """
    return _task_metric_fn(metrics, classnames, [0], topK, use_topK, numeric_col=0)


def get_dual_binary_tasks_metric_fn(
    metrics: Optional[Iterable[MetricSpec]],
    classnames: Sequence[str],
    topK: Sequence[int] = (5, 5, 5),
    use_topK: bool = False,
) -> MetricFn:
    """Metrics of two binary tasks with an optional numeric label.

    ``graph_output['output']`` is ``[batch, 3]`` (task 1 and task 2 probabilities, then a ranking score) and
    labels ``[batch, 3]`` (task 1, task 2, a numeric label). The result holds the binary metrics of output
    columns 0 and 1 against label columns 0 and 1, weighted (``<metric>_<classnames[i]>``) and unweighted
    (``<metric>_unweighted_<classnames[i]>``), plus, when ``use_topK``,
    ``get_numeric_metric_fn(topK=topK, predcol=2, labelcol=2)``.
    """
    return _task_metric_fn(metrics, classnames, [0, 1], topK, use_topK, numeric_col=2)
