"""The last step of the examples: batch prediction with the exported SavedModel on held-out
records (the twml-batch-predict job, its parts beside the export), the metrics of those
predictions, and ROC / PR / reliability plots as PNG files.

The metrics here are exact, computed from the sorted predictions (not the 200-threshold streaming
AUCs of ``twml.metrics`` that evaluations log); a metric the held-out labels leave undefined (a
single class) is NaN, with the reason printed and logged."""

import io
import logging
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from libtwml import _core
from tools.light_ranker.synthetic_data import roc_auc
from twml import batch_prediction_job
from twml_common.atomic_files import write_file_atomically
from twml_common.block_files import read_records

_LOG = logging.getLogger("light_ranker")
#: Beside the export: the plots and the batch-prediction job's output.
PLOTS_DIR = "plots"
PREDICTIONS_DIR = "batch_predictions"


def batch_predict(
    export_path: str, files: Sequence[str], label_id: int, batch_size: int, output_dir: Optional[str] = None
) -> Dict[str, np.ndarray]:
    """Scores every record of ``files`` with the twml-batch-predict job (the command's code path,
    :func:`twml.batch_prediction_job.run`), writing its parts, manifests and ``_SUCCESS`` to
    ``output_dir`` (default ``<export>/../batch_predictions``; a rerun redoes them for a new export).

    Returns:
      ``{"predictions": float64 [n], "labels": float64 [n]}`` (label = the label feature is set).
    """
    output_dir = output_dir or os.path.join(os.path.dirname(export_path.rstrip("/")), PREDICTIONS_DIR)
    args = batch_prediction_job.build_parser().parse_args(
        [
            "--export_dir",
            export_path,
            "--output_dir",
            output_dir,
            "--batch_size",
            str(batch_size),
            "--overwrite",
            "--input",
            *files,
        ]
    )
    batch_prediction_job.run(args)
    inputs = batch_prediction_job.expand_inputs(files)
    labels: List[float] = []
    predictions: List[float] = []
    for path, part in zip(inputs, batch_prediction_job.part_names(inputs, "datarecord")):
        labels.extend(float(label_id in _core.decode_data_record(r).get("binary", ())) for r in read_records([path]))
        predictions.extend(
            _core.decode_data_record(r)["continuous"][label_id] for r in read_records([os.path.join(output_dir, part)])
        )
    if len(labels) != len(predictions):
        raise ValueError("%s: %d predictions for %d records" % (output_dir, len(predictions), len(labels)))
    return {"predictions": np.array(predictions, np.float64), "labels": np.array(labels, np.float64)}


def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Exact average precision: the mean of the precision at each positive, ranked by score (NaN
    without positives)."""
    order = np.argsort(-scores, kind="stable")
    hits = labels[order] > 0
    if not hits.any():
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def exact_roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Exact ROC-AUC from sorted scores (Mann-Whitney U, ties counted half), NaN when the labels
    hold a single class (see :func:`undefined_metrics`). Unlike the streaming ``roc_auc`` of
    ``twml.metrics`` (200 thresholds, about 0.005 apart) it has no resolution limit."""
    positives = int(np.count_nonzero(labels > 0))
    if positives == 0 or positives == len(labels):
        return float("nan")
    return roc_auc(labels > 0, scores)


def undefined_metrics(labels: np.ndarray) -> Dict[str, str]:
    """The metrics of :func:`summarize` that ``labels`` leave undefined, with the reason (empty
    when both classes are present)."""
    positives = int(np.count_nonzero(labels > 0))
    if len(labels) == 0:
        reason = "no records"
    elif positives == 0:
        reason = "all %d records are negative" % len(labels)
    elif positives == len(labels):
        reason = "all %d records are positive" % len(labels)
    else:
        return {}
    undefined = {"roc_auc": reason}
    if positives == 0:
        undefined["pr_auc"] = reason
        undefined["rce"] = reason
    return undefined


def log_loss(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Mean binary cross entropy (predictions clipped to [1e-7, 1 - 1e-7])."""
    p = np.clip(predictions, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def summarize(labels: np.ndarray, predictions: np.ndarray) -> Dict[str, float]:
    """Exact ROC-AUC (:func:`exact_roc_auc`), PR-AUC (average precision), log loss, RCE (%), mean
    label and mean prediction. Metrics the labels leave undefined (:func:`undefined_metrics`: a
    single class) are NaN and logged as a warning with the reason."""
    ctr = float(labels.mean())
    baseline = log_loss(labels, np.full_like(predictions, ctr))
    loss = log_loss(labels, predictions)
    undefined = undefined_metrics(labels)
    for name, reason in undefined.items():
        _LOG.warning("%s is undefined (NaN): %s", name, reason)
    return {
        "roc_auc": exact_roc_auc(labels, predictions),
        "pr_auc": pr_auc(labels, predictions),
        "log_loss": loss,
        "rce": float("nan") if "rce" in undefined else 100.0 * (1.0 - loss / baseline),
        "ctr": ctr,
        "predicted_ctr": float(predictions.mean()),
        "records": float(len(labels)),
    }


def _curves(labels: np.ndarray, predictions: np.ndarray) -> Dict[str, np.ndarray]:
    order = np.argsort(-predictions, kind="stable")
    hits = labels[order]
    tp = np.cumsum(hits)
    fp = np.cumsum(1 - hits)
    return {
        "tpr": np.concatenate([[0.0], tp / max(tp[-1], 1)]),
        "fpr": np.concatenate([[0.0], fp / max(fp[-1], 1)]),
        "precision": tp / np.arange(1, len(hits) + 1),
        "recall": tp / max(tp[-1], 1),
    }


def _save_png(figure: object, path: str) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    write_file_atomically(path, buffer.getvalue())


def write_plots(labels: np.ndarray, predictions: np.ndarray, out_dir: str, title: str) -> List[str]:
    """``roc_curve.png``, ``pr_curve.png`` and ``reliability.png`` in ``out_dir`` (each written
    atomically). The reliability plot bins the predictions in 10 quantile bins and plots the mean
    label against the mean prediction of each."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    os.makedirs(out_dir, exist_ok=True)
    curves = _curves(labels, predictions)
    metrics = summarize(labels, predictions)
    paths = []

    figure, axes = pyplot.subplots(figsize=(5, 5))
    axes.plot(curves["fpr"], curves["tpr"], label="model (AUC %.4f)" % metrics["roc_auc"])
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC: " + title)
    axes.legend(loc="lower right")
    paths.append(os.path.join(out_dir, "roc_curve.png"))
    _save_png(figure, paths[-1])
    pyplot.close(figure)

    figure, axes = pyplot.subplots(figsize=(5, 5))
    axes.plot(curves["recall"], curves["precision"], label="model (AP %.4f)" % metrics["pr_auc"])
    axes.axhline(metrics["ctr"], linestyle="--", color="grey", label="base rate %.3f" % metrics["ctr"])
    axes.set(xlabel="recall", ylabel="precision", ylim=(0, 1), title="Precision-recall: " + title)
    axes.legend(loc="upper right")
    paths.append(os.path.join(out_dir, "pr_curve.png"))
    _save_png(figure, paths[-1])
    pyplot.close(figure)

    edges = np.quantile(predictions, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, predictions, side="right") - 1, 0, 9)
    mean_prediction = np.array([predictions[bins == b].mean() for b in range(10) if np.any(bins == b)])
    mean_label = np.array([labels[bins == b].mean() for b in range(10) if np.any(bins == b)])
    figure, axes = pyplot.subplots(figsize=(5, 5))
    top = max(mean_prediction.max(), mean_label.max()) * 1.05
    axes.plot([0, top], [0, top], linestyle="--", color="grey", label="perfectly calibrated")
    axes.plot(mean_prediction, mean_label, marker="o", label="model (10 quantile bins)")
    axes.set(xlabel="mean prediction", ylabel="observed rate", title="Reliability: " + title)
    axes.legend(loc="upper left")
    paths.append(os.path.join(out_dir, "reliability.png"))
    _save_png(figure, paths[-1])
    pyplot.close(figure)
    return paths


def report(export_path: str, files: Sequence[str], label_id: int, batch_size: int, title: str) -> Dict[str, float]:
    """Batch prediction on ``files``, its metrics (printed) and the plots beside the export
    (``<export>/../plots``; :func:`tools.light_ranker.common.print_outputs` names the directory)."""
    result = batch_predict(export_path, files, label_id, batch_size)
    metrics = summarize(result["labels"], result["predictions"])
    plot_dir = os.path.join(os.path.dirname(export_path.rstrip("/")), PLOTS_DIR)
    write_plots(result["labels"], result["predictions"], plot_dir, title)
    print("batch prediction on %d held-out records:" % len(result["labels"]))
    undefined = undefined_metrics(result["labels"])
    for name, value in metrics.items():
        print("  %-14s %.5f%s" % (name, value, "  (undefined: %s)" % undefined[name] if name in undefined else ""))
    return metrics
