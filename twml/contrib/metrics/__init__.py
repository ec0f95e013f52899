"""twml.contrib.metrics: search (NDCG) metrics and extra multi-task / numeric metric fns (reference §10)."""

from twml.contrib.metrics import metrics, search_metrics
from twml.contrib.metrics.metrics import (
    DEFAULT_NUMERIC_METRICS,
    SUPPORTED_NUMERIC_METRICS,
    get_dual_binary_tasks_metric_fn,
    get_metric_topK_fn_helper,
    get_numeric_metric_fn,
    get_partial_multi_binary_class_metric_fn,
    get_single_binary_task_metric_fn,
    mean_gated_numeric_label_topK,
    mean_numeric_label_topK,
)
from twml.contrib.metrics.search_metrics import get_search_metric_fn, ndcg

__all__ = [
    "metrics",
    "search_metrics",
    "ndcg",
    "get_search_metric_fn",
    "mean_numeric_label_topK",
    "mean_gated_numeric_label_topK",
    "get_numeric_metric_fn",
    "get_partial_multi_binary_class_metric_fn",
    "get_single_binary_task_metric_fn",
    "get_dual_binary_tasks_metric_fn",
    "DEFAULT_NUMERIC_METRICS",
    "SUPPORTED_NUMERIC_METRICS",
    "get_metric_topK_fn_helper",
]
