"""Extra metric fns (reference §10, contrib): numeric-label top-K means and column-selecting binary metrics.

Semantics chosen here (the reference only names these functions):

* ``mean_numeric_label_topK``: per batch, the K samples with the highest prediction are selected and their
  numeric labels (e.g. an engagement count) enter a streaming mean (``tf.metrics.mean``, optionally weighted).
* ``mean_gated_numeric_label_topK``: the same, but of the indicator ``label > bar``: the fraction of the
  top-K samples whose numeric label clears the bar.
* ``get_numeric_metric_fn``: both of the above for several K, named ``<metric>_<K>``.
* ``get_partial_multi_binary_class_metric_fn``: per-class binary metrics for a subset of output columns.
* ``get_single_binary_task_metric_fn`` / ``get_dual_binary_tasks_metric_fn``: binary metrics of one (two)
  label/prediction column(s) of multi-task outputs, optionally with the second task evaluated only where the
  first task's label is positive.
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
    _align_weights,
    _hard_output,
    _multi_class_ops,
    _resolve_metrics,
    get_binary_class_metric_fn,
)

__all__ = [
    "mean_numeric_label_topK", "mean_gated_numeric_label_topK", "SUPPORTED_NUMERIC_METRICS",
    "DEFAULT_NUMERIC_METRICS", "get_numeric_metric_fn", "get_partial_multi_binary_class_metric_fn",
    "get_single_binary_task_metric_fn", "get_dual_binary_tasks_metric_fn", "get_metric_topK_fn_helper",
]


def _top_k_ids(predictions: tf.Tensor, k: int) -> tf.Tensor:
    """Indices (int32 ``[min(k, N)]``) of the k highest of the flattened predictions, ties in input order."""
    scores = tf.reshape(tf.cast(predictions, tf.float32), [-1])
    return tf.nn.top_k(scores, k=tf.minimum(tf.size(scores), int(k)), sorted=True).indices


def _top_k_values(labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike], k: Optional[int],
                  topK_id: Optional[TensorLike]) -> tuple:
    labels = tf.convert_to_tensor(labels)
    weights = _align_weights(weights, labels)
    flat_labels = tf.reshape(tf.cast(labels, tf.float32), [-1])
    if topK_id is None:
        if k is None:
            raise ValueError("give either topK_id or k")
        topK_id = _top_k_ids(predictions, k)
    top_labels = tf.gather(flat_labels, topK_id)
    top_weights = None if weights is None else tf.gather(tf.reshape(tf.cast(weights, tf.float32), [-1]), topK_id)
    return top_labels, top_weights


def mean_numeric_label_topK(labels: TensorLike, predictions: TensorLike, weights: Optional[TensorLike] = None,
                            name: Optional[str] = None, topK_id: Optional[TensorLike] = None, k: Optional[int] = None,
                            metrics_collections: Collections = None,
                            updates_collections: Collections = None) -> MetricOps:
    """Streaming (weighted) mean of the numeric labels of each batch's top-K predictions (float32 scalar).

    Args:
      labels: numeric labels, N elements (flattened). predictions: scores, N elements.
      topK_id: optional precomputed int indices of the selected samples; otherwise the ``k`` highest
        predictions are taken (all of them when the batch has fewer than k).
    """
    top_labels, top_weights = _top_k_values(labels, predictions, weights, k, topK_id)
    return tf.metrics.mean(top_labels, top_weights, metrics_collections, updates_collections,
                           name or "mean_numeric_label_topk")


def mean_gated_numeric_label_topK(labels: TensorLike, predictions: TensorLike,
                                  weights: Optional[TensorLike] = None, name: Optional[str] = None,
                                  topK_id: Optional[TensorLike] = None, k: Optional[int] = None, bar: float = 2.0,
                                  metrics_collections: Collections = None,
                                  updates_collections: Collections = None) -> MetricOps:
    """Streaming (weighted) fraction of each batch's top-K predictions whose numeric label is > ``bar``."""
    top_labels, top_weights = _top_k_values(labels, predictions, weights, k, topK_id)
    gated = tf.cast(top_labels > float(bar), tf.float32)
    return tf.metrics.mean(gated, top_weights, metrics_collections, updates_collections,
                           name or "mean_gated_numeric_label_topk")


SUPPORTED_NUMERIC_METRICS = {
    "mean_numeric_label_topk": mean_numeric_label_topK,
    "mean_gated_numeric_label_topk": mean_gated_numeric_label_topK,
}
DEFAULT_NUMERIC_METRICS: List[str] = ["mean_numeric_label_topk", "mean_gated_numeric_label_topk"]


def get_metric_topK_fn_helper(targetMetrics: Optional[Iterable[str]], supportedMetrics_op: Optional[Dict[str, Any]],
                              metrics: Optional[Iterable[str]] = None, topK: Sequence[int] = (5, 5, 5),
                              predcol: Optional[int] = None, labelcol: Optional[int] = None) -> MetricFn:
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

    def get_eval_metric_ops(graph_output: Dict[str, Any], labels: TensorLike,
                            weights: Optional[TensorLike]) -> Dict[str, MetricOps]:
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
                ops[full_name] = factory(labels=labels, predictions=predictions, weights=weights, name=full_name,
                                         topK_id=top_ids)
        return ops

    return get_eval_metric_ops


def get_numeric_metric_fn(metrics: Optional[Iterable[str]] = None, topK: Sequence[int] = (50, 100, 200),
                          predcol: Optional[int] = None, labelcol: Optional[int] = None) -> MetricFn:
    """Metric fn for numeric labels ranked by ``graph_output['output']``: ``<metric>_<K>`` for each K in topK.

    ``predcol``/``labelcol`` pick one column of a ``[batch, n]`` output/labels (default: use them flattened).
    The top-K ids are computed once per K and shared by the metrics.
    """
    names = [m.lower() for m in (DEFAULT_NUMERIC_METRICS if metrics is None else metrics)]
    for metric_name in names:
        if metric_name not in SUPPORTED_NUMERIC_METRICS:
            raise ValueError("Unsupported numeric metric %r" % metric_name)

    def get_eval_metric_ops(graph_output: Dict[str, Any], labels: TensorLike,
                            weights: Optional[TensorLike]) -> Dict[str, MetricOps]:
        preds = graph_output["output"]
        if predcol is not None:
            preds = tf.gather(preds, predcol, axis=1)
        if labelcol is not None:
            labels = tf.gather(labels, labelcol, axis=1)
        if weights is not None:
            weights = tf.reshape(_align_weights(weights, tf.reshape(labels, [-1])), [-1])
        ops: Dict[str, MetricOps] = OrderedDict()
        for k in topK:
            ids = _top_k_ids(preds, k)
            for metric_name in names:
                full_name = "%s_%d" % (metric_name, k)
                ops[full_name] = SUPPORTED_NUMERIC_METRICS[metric_name](
                    labels=labels, predictions=preds, weights=weights, name=full_name, topK_id=ids)
        return ops

    return get_eval_metric_ops


def get_partial_multi_binary_class_metric_fn(metrics: Optional[Iterable[MetricSpec]],
                                             predcols: Union[int, Sequence[int]],
                                             classes: Optional[Sequence[Any]] = None,
                                             class_dim: int = 1) -> MetricFn:
    """Per-class binary metrics for the output columns ``predcols`` only.

    Column ``predcols[i]`` of ``graph_output['output']`` is compared with label column ``predcols[i]`` when the
    labels have as many columns as the output, else with label column i (labels holding only the selected
    classes). Names are ``<metric>_<classes[i]>`` (``<metric>_<predcols[i]>`` without ``classes``); weights as
    in ``twml.metrics.get_multi_binary_class_metric_fn``.
    """
    resolved = _resolve_metrics(metrics)
    cols = [predcols] if isinstance(predcols, int) else list(predcols)

    def get_eval_metric_ops(graph_output: Dict[str, Any], labels: TensorLike,
                            weights: Optional[TensorLike]) -> Dict[str, MetricOps]:
        output = tf.convert_to_tensor(graph_output["output"])
        labels = tf.convert_to_tensor(labels)
        label_width, output_width = labels.shape[class_dim], output.shape[class_dim]
        label_cols = cols if label_width == output_width else list(range(len(cols)))
        return _multi_class_ops(resolved, output, _hard_output(graph_output, output), labels, weights, classes,
                                class_dim, columns=cols, label_columns=label_cols)

    return get_eval_metric_ops


def _column(tensor: TensorLike, col: int) -> tf.Tensor:
    tensor = tf.convert_to_tensor(tensor)
    if tensor.shape.ndims is not None and tensor.shape.ndims >= 2:
        return tf.gather(tensor, col, axis=1)
    return tensor


def _suffixed(ops: Dict[str, MetricOps], suffix: str) -> Dict[str, MetricOps]:
    return OrderedDict(("%s_%s" % (key, suffix), value) for key, value in ops.items())


def get_single_binary_task_metric_fn(metrics: Optional[Iterable[MetricSpec]], classnames: Sequence[str],
                                     labelcol: int = 0, predcol: int = 0) -> MetricFn:
    """Binary metrics of one task of a multi-task model: label column ``labelcol`` vs output column ``predcol``.

    Names are ``<metric>_<classnames[labelcol]>`` (``classnames`` may also be a single string). ``[batch]`` or
    ``[batch, 1]`` weights are shared; ``[batch, n]`` weights use column ``labelcol``. Thresholded metrics use
    column ``predcol`` of ``hard_output`` if present, else ``output >= threshold`` (0.5).
    """
    suffix = classnames if isinstance(classnames, str) else classnames[labelcol]
    binary_fn = get_binary_class_metric_fn(metrics)

    def get_eval_metric_ops(graph_output: Dict[str, Any], labels: TensorLike,
                            weights: Optional[TensorLike]) -> Dict[str, MetricOps]:
        task_output = {"output": _column(graph_output["output"], predcol)}
        if graph_output.get("hard_output") is not None:
            task_output["hard_output"] = _column(graph_output["hard_output"], predcol)
        if graph_output.get("threshold") is not None:
            task_output["threshold"] = graph_output["threshold"]
        task_weights = None
        if weights is not None:
            weights = tf.convert_to_tensor(weights)
            wide = weights.shape.ndims == 2 and weights.shape[1] is not None and weights.shape[1] > 1
            task_weights = _column(weights, labelcol) if wide else tf.reshape(weights, [-1])
        return _suffixed(binary_fn(task_output, _column(labels, labelcol), task_weights), suffix)

    return get_eval_metric_ops


def get_dual_binary_tasks_metric_fn(metrics: Optional[Iterable[MetricSpec]], classnames: Sequence[str],
                                    labelcols: Sequence[int] = (0, 1), predcols: Sequence[int] = (0, 1),
                                    conditional: bool = False) -> MetricFn:
    """Binary metrics of two tasks (e.g. click and a follow-up engagement) of a multi-task model.

    Task j uses label column ``labelcols[j]`` and output column ``predcols[j]``, metrics named
    ``<metric>_<classnames[labelcols[j]]>``. With ``conditional=True`` the second task is evaluated only on
    samples whose first-task label is positive (its weights are multiplied by that 0/1 label), matching a
    cascade where the second event can only follow the first.
    """
    first = get_single_binary_task_metric_fn(metrics, classnames, labelcols[0], predcols[0])
    second = get_single_binary_task_metric_fn(metrics, classnames, labelcols[1], predcols[1])

    def get_eval_metric_ops(graph_output: Dict[str, Any], labels: TensorLike,
                            weights: Optional[TensorLike]) -> Dict[str, MetricOps]:
        ops = first(graph_output, labels, weights)
        second_weights = weights
        if conditional:
            gate = tf.cast(_column(labels, labelcols[0]) > 0, tf.float32)
            if weights is None:
                second_weights = gate
            else:
                weights = tf.convert_to_tensor(weights)
                wide = weights.shape.ndims == 2 and weights.shape[1] is not None and weights.shape[1] > 1
                shared = tf.reshape(tf.cast(weights, tf.float32), [-1]) if not wide else None
                second_weights = (tf.cast(_column(weights, labelcols[1]), tf.float32) if wide else shared) * gate
        ops.update(second(graph_output, labels, second_weights))
        return ops

    return get_eval_metric_ops
