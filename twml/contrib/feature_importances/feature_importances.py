"""Permutation feature importances: how much an evaluation metric drops when the values of a feature
(or of a group of features) are replaced by those of randomly chosen other records.

Two algorithms (:func:`compute_feature_importances`):

* ``SERIAL``: every feature permuted on its own;
* ``TREE``: features grouped by their name prefixes (``a.b.c`` is under ``a.b.`` and ``a.``); a
  group is permuted as a whole, and split into its sub-groups only when its relative metric drop
  exceeds ``sensitivity`` — unimportant groups cost one evaluation.

Results are ``{INDIVIDUAL: {feature: metrics}, GROUP: {prefix: metrics}}`` with the un-permuted
baseline under ``INDIVIDUAL["None"]``. :func:`write_feature_importances_to_hdfs` writes them as a
sorted TSV next to the model (any TF file system).
"""

import json
import logging
import os
import re
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

import tensorflow.compat.v1 as tf

from twml import util
from twml.contrib.feature_importances.feature_permutation import PermutedInputFnFactory
from twml.contrib.feature_importances.helpers import (
    decode_str_or_unicode,
    longest_common_prefix,
    write_list_to_hdfs_gfile,
)
from twml.params import get_param

_LOG = logging.getLogger(__name__)

SERIAL = "serial"
TREE = "tree"
INDIVIDUAL = "Individual"
GROUP = "Group"
ROC_AUC = "roc_auc"
RCE = "rce"
LOSS = "loss"

#: The Thrift fields of a DataRecord that hold features.
_FEATURE_FIELDS = (
    "binaryFeatures",
    "continuousFeatures",
    "discreteFeatures",
    "stringFeatures",
    "sparseBinaryFeatures",
    "sparseContinuousFeatures",
    "blobFeatures",
    "tensors",
    "sparseTensors",
)

Metrics = Dict[str, Any]
Evaluate = Callable[[Sequence[Tuple[str, str]]], Metrics]


def _typed_features(names: Sequence[str], records: Sequence[Any]) -> List[Tuple[str, str]]:
    """``(name, thrift field)`` of the features occurring in the records (last field found wins);
    features never occurring are left out."""
    field_of: Dict[int, str] = {}
    for record in records:
        for field in _FEATURE_FIELDS:
            container = getattr(record, field, None)
            if container:
                for fid in container:
                    field_of[int(fid)] = field
    typed = []
    for name in names:
        fid = int(util.feature_id(name)[0])
        if fid in field_of:
            typed.append((name, field_of[fid]))
    return typed


def _serial(evaluate: Evaluate, typed: Sequence[Tuple[str, str]]) -> Dict[str, Dict[str, Metrics]]:
    individual: Dict[str, Metrics] = {"None": evaluate([])}
    for name_type in typed:
        individual[name_type[0]] = evaluate([name_type])
    return {INDIVIDUAL: individual, GROUP: {}}


def _partition(group: Sequence[Tuple[str, str]], split: Optional[str]) -> List[Tuple[str, List[Tuple[str, str]]]]:
    """Splits a group of >= 2 features by the next name segment after their common prefix."""
    assert len(group) >= 2, "a partition needs at least two features"
    prefix = longest_common_prefix([name for name, _ in group], split)
    by_extended: Dict[str, List[Tuple[str, str]]] = {}
    for name, field in group:
        if name == prefix:
            extended = name
        elif split is None:
            extended = name[: len(prefix) + 1]
        else:
            end = name.find(split, len(prefix))
            extended = name if end < 0 else name[: end + 1]
        by_extended.setdefault(extended, []).append((name, field))
    return [(longest_common_prefix([n for n, _ in members], split), members) for members in by_extended.values()]


def _tree(
    evaluate: Evaluate,
    typed: Sequence[Tuple[str, str]],
    stopping_metric: str,
    split_feature_group_on_period: bool = True,
    is_metric_larger_the_better: Optional[bool] = None,
    sensitivity: float = 0.025,
    extra_groups: Optional[Dict[str, List[str]]] = None,
    dont_build_tree: bool = False,
) -> Dict[str, Dict[str, Metrics]]:
    baseline = evaluate([])
    if stopping_metric not in baseline:
        raise ValueError("stopping_metric %r is not an evaluation metric (%s)" % (stopping_metric, ", ".join(baseline)))
    larger_is_better = (
        not stopping_metric.startswith("loss")
        if is_metric_larger_the_better is None
        else bool(is_metric_larger_the_better)
    )
    individual: Dict[str, Metrics] = {"None": baseline}
    groups: Dict[str, Metrics] = {}
    base = float(baseline[stopping_metric])
    if not dont_build_tree and typed:
        split = "." if split_feature_group_on_period else None
        queue: Deque[Tuple[str, List[Tuple[str, str]]]] = deque(
            _partition(typed, split) if len(typed) >= 2 else [(typed[0][0], list(typed))]
        )
        while queue:
            prefix, members = queue.popleft()
            performance = evaluate(members)
            if len(members) == 1:
                individual[members[0][0]] = performance
                continue
            groups[prefix] = performance
            drop = (base - float(performance[stopping_metric])) / base if base else 0.0
            if not larger_is_better:
                drop = -drop
            if drop > sensitivity:
                queue.extend(_partition(members, split))
    for group_name, regexes in (extra_groups or {}).items():
        members = [(name, field) for name, field in typed if any(re.match(regex, name) for regex in regexes)]
        if members:
            groups[group_name] = evaluate(members)
    return {INDIVIDUAL: individual, GROUP: groups}


def compute_feature_importances(
    trainer: Any,
    data_dir: Optional[str] = None,
    feature_config: Any = None,
    algorithm: str = TREE,
    parse_fn: Optional[Callable[..., Any]] = None,
    datarecord_filter_fn: Optional[Callable[[Any], bool]] = None,
    **kwargs: Any,
) -> Optional[Dict[str, Dict[str, Metrics]]]:
    """Permutation importances of the features of a trained DataRecordTrainer.

    Each evaluation runs ``trainer.estimator.evaluate`` on the best (or latest) checkpoint over the
    loaded records with some features permuted (:class:`PermutedInputFnFactory`).

    Args:
      trainer: a trained ``twml.trainers.DataRecordTrainer``.
      data_dir: the records' directory; None for the trainer's eval files.
      feature_config: default ``trainer.feature_config``; None there too: warns and returns None.
      algorithm: ``SERIAL`` or ``TREE``.
      parse_fn: default ``feature_config.get_parse_fn()``.
      datarecord_filter_fn: keeps the records for which it is True.
      kwargs: ``record_count`` (99999) for both; for TREE ``stopping_metric`` (required),
        ``split_feature_group_on_period`` (True), ``is_metric_larger_the_better`` (None: True unless
        the metric starts with "loss"), ``sensitivity`` (0.025), ``extra_groups`` (group name -> list of
        name regexes) and ``dont_build_tree`` (False).

    Returns:
      ``{INDIVIDUAL: {name: metrics, "None": baseline}, GROUP: {prefix: metrics}}``.

    Raises:
      KeyError: an unknown algorithm.
    """
    algorithms = {SERIAL: _serial, TREE: _tree}
    run = algorithms[algorithm]
    feature_config = feature_config if feature_config is not None else getattr(trainer, "feature_config", None)
    if feature_config is None:
        _LOG.warning("feature importances need a feature config; none given and the trainer has none")
        return None
    parse_fn = parse_fn or feature_config.get_parse_fn()
    record_count = int(kwargs.pop("record_count", 99999))
    if data_dir is None:
        factory = PermutedInputFnFactory(
            None, record_count, file_list=list(trainer.eval_files), datarecord_filter_fn=datarecord_filter_fn
        )
    else:
        factory = PermutedInputFnFactory(data_dir, record_count, datarecord_filter_fn=datarecord_filter_fn)
    names = [
        decode_str_or_unicode(entry["featureName"]) for entry in feature_config.get_feature_spec()["features"].values()
    ]
    typed = _typed_features(names, factory.records)
    batch_size = int(get_param(getattr(trainer, "params", None), "eval_batch_size", 32) or 32)
    steps = (len(factory.records) + batch_size) // batch_size
    checkpoint = trainer.best_or_latest_checkpoint

    def evaluate(fname_ftypes: Sequence[Tuple[str, str]]) -> Metrics:
        input_fn = factory.get_permuted_input_fn(batch_size, parse_fn, fname_ftypes)
        metrics = trainer.estimator.evaluate(
            input_fn=input_fn, steps=steps, checkpoint_path=checkpoint, name="feature_importance"
        )
        return {key: value.item() if hasattr(value, "item") else value for key, value in metrics.items()}

    return run(evaluate, typed, **kwargs)


def write_feature_importances_to_hdfs(
    trainer: Any,
    feature_importances: Dict[str, Dict[str, Metrics]],
    output_path: Optional[str] = None,
    metric: str = ROC_AUC,
) -> str:
    """Writes the importances as TSV to ``<save_dir>/feature_importances-<output_path or time>``.

    Lines: a header ``Name, Performance Drop, Percent Performance Drop, Performance`` then one line
    per feature / group (``"<name> (Individual|Group)"``, the baseline as ``None``), by ascending drop
    of ``metric`` (``drop = baseline - performance``).

    Returns:
      the path written.
    """
    perfs: Dict[str, float] = {}
    for kind, entries in feature_importances.items():
        for key, metrics in entries.items():
            label = key if key == "None" else "%s (%s)" % (key, kind)
            perfs[label] = metrics[metric]
    path = "%s/feature_importances-%s" % (str(trainer.save_dir).rstrip("/"), output_path or str(time.time()))
    if perfs:
        base = perfs["None"]
        rows = sorted(
            ((name, base - perf, 100 * (base - perf) / (base + 1e-8), perf) for name, perf in perfs.items()),
            key=lambda row: row[1],
        )
        lines = ["Name\tPerformance Drop\tPercent Performance Drop\tPerformance"]
        lines += ["{}\t{}\t{}%\t{}".format(*row) for row in rows]
        _LOG.info("feature importances:\n%s", "\n".join(lines))
        write_list_to_hdfs_gfile(lines, path)
    return path


def write_feature_importances_to_ml_dash(
    trainer: Any, feature_importances: Dict[str, Dict[str, Metrics]], feature_config: Any = None
) -> str:
    """The original uploaded the importances to Twitter's internal ML Metastore dashboard. Here they
    are written as JSON to ``<save_dir>/feature_importances.json`` (``{"run": tracking name,
    "importances": ..., "features": [...]}``, written whole at once) and the path is returned;
    failures are logged, never raised.
    """
    path = os.path.join(str(trainer.save_dir), "feature_importances.json")
    features = sorted(getattr(feature_config, "features", None) or []) if feature_config is not None else []
    tracker = getattr(trainer, "experiment_tracker", None)
    payload = {
        "run": getattr(tracker, "name", None),
        "features": [str(f) for f in features],
        "importances": feature_importances,
    }
    try:
        util.write_file(path, json.dumps(payload, default=float, sort_keys=True, indent=1))
    except (OSError, tf.errors.OpError, TypeError, ValueError) as error:
        _LOG.warning("cannot write feature importances to %s: %s", path, error)
    return path


__all__ = [
    "GROUP",
    "INDIVIDUAL",
    "LOSS",
    "RCE",
    "ROC_AUC",
    "SERIAL",
    "TREE",
    "compute_feature_importances",
    "write_feature_importances_to_hdfs",
    "write_feature_importances_to_ml_dash",
]
