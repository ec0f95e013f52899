"""Exporters for ``Trainer.learn`` / ``train_and_evaluate``: after an evaluation, export the model
in several modes and keep a copy of its checkpoint beside it (reference §8.4).

``LatestExporter`` exports after every evaluation; ``BestExporter`` only when the evaluation
beats the best one so far (by ``compare_fn``, default: lower loss). Each export directory gets a
``checkpoints/`` copy of the checkpoint it was made from, so that training can resume from it.
"""

import os
from typing import Any, Callable, Dict, Optional

import tensorflow.compat.v1 as tf

from twml import util


def _loss_smaller(best_eval_result: Dict[str, Any], current_eval_result: Dict[str, Any]) -> bool:
    key = "loss"
    if key not in best_eval_result or key not in current_eval_result:
        raise ValueError("BestExporter's default compare_fn needs 'loss' in the eval results")
    return current_eval_result[key] < best_eval_result[key]


class LatestExporter(tf.estimator.Exporter):
    """Exports every mode of ``input_receiver_fn_map`` after each evaluation.

    Args:
      name: the exporter's name: exports go to ``<save_dir>/export/<name>/<timestamp>``.
      input_receiver_fn_map: ``{ModeKeys: receiver_fn}`` as ``experimental_export_all_saved_models``.
      backup_checkpoints: copy the checkpoint into ``<export>/checkpoints``.
      assets_extra, as_text: as ``experimental_export_all_saved_models``.
      exports_to_keep: keep this many newest exports (None: all).
    """

    def __init__(
        self,
        name: str,
        input_receiver_fn_map: Dict[str, Callable[[], Any]],
        backup_checkpoints: bool = True,
        assets_extra: Optional[Dict[str, str]] = None,
        as_text: bool = False,
        exports_to_keep: Optional[int] = 5,
    ) -> None:
        if not input_receiver_fn_map:
            raise ValueError("input_receiver_fn_map must name at least one mode")
        self._name = name
        self._receivers = dict(input_receiver_fn_map)
        self._backup_checkpoints = backup_checkpoints
        self._assets_extra = assets_extra
        self._as_text = as_text
        self._exports_to_keep = exports_to_keep

    @property
    def name(self) -> str:
        return self._name

    def _export(self, estimator: tf.estimator.Estimator, export_path: str, checkpoint_path: str) -> str:
        path = estimator.experimental_export_all_saved_models(
            export_path,
            self._receivers,
            assets_extra=self._assets_extra,
            as_text=self._as_text,
            checkpoint_path=checkpoint_path,
        )
        path = path.decode() if isinstance(path, bytes) else path
        if self._backup_checkpoints and checkpoint_path:
            util.backup_checkpoint(checkpoint_path, os.path.join(path, "checkpoints"))
        self._garbage_collect(export_path)
        return path

    def _garbage_collect(self, export_path: str) -> None:
        if not self._exports_to_keep or not tf.io.gfile.isdir(export_path):
            return
        exports = sorted(entry.rstrip("/") for entry in tf.io.gfile.listdir(export_path) if entry.rstrip("/").isdigit())
        for old in exports[: -self._exports_to_keep]:
            tf.io.gfile.rmtree(os.path.join(export_path, old))

    def export(
        self,
        estimator: tf.estimator.Estimator,
        export_path: str,
        checkpoint_path: str,
        eval_result: Optional[Dict[str, Any]],
        is_the_final_export: bool,
    ) -> str:
        """Exports; returns the export directory."""
        return self._export(estimator, export_path, checkpoint_path)


CompareFn = Callable[[Dict[str, Any], Dict[str, Any]], bool]


def _best_eval_result_in_events(pattern: str, compare_fn: CompareFn) -> Optional[Dict[str, Any]]:
    """The best (by ``compare_fn``) evaluation recorded in the event files matching ``pattern``: each
    event's scalar summaries form one ``{tag: value}`` result. None when there are no files or scalars."""
    best: Optional[Dict[str, Any]] = None
    for path in sorted(tf.io.gfile.glob(pattern)):
        for event in tf.train.summary_iterator(path):
            if not event.HasField("summary"):
                continue
            result = {value.tag: value.simple_value for value in event.summary.value if value.HasField("simple_value")}
            if result and (best is None or compare_fn(best, result)):
                best = result
    return best


class BestExporter(LatestExporter):
    """Exports only when ``compare_fn(best_eval_result, current_eval_result)`` says the current
    evaluation is better (default: lower ``loss``); the first evaluation exports unless an earlier run
    recorded a better one.

    Args (the original's, in its order):
      name: the exporter's name (default ``best_exporter``): exports go to
        ``<save_dir>/export/<name>/<timestamp>``.
      input_receiver_fn_map: ``{ModeKeys: receiver_fn}`` (required, despite the None default).
      backup_checkpoints: as :class:`LatestExporter`.
      event_file_pattern: glob, relative to the estimator's ``model_dir``, of the evaluation event
        files; before the first comparison the best result recorded there is loaded (so that a
        restarted job does not export a model worse than an earlier export). None: start empty.
      compare_fn: ``(best, current) -> bool`` over ``{metric name: value}`` dicts.
      assets_extra, as_text, exports_to_keep: as :class:`LatestExporter`.
    """

    def __init__(
        self,
        name: str = "best_exporter",
        input_receiver_fn_map: Optional[Dict[str, Callable[[], Any]]] = None,
        backup_checkpoints: bool = True,
        event_file_pattern: Optional[str] = "eval/*.tfevents.*",
        compare_fn: Callable[[Dict[str, Any], Dict[str, Any]], bool] = _loss_smaller,
        assets_extra: Optional[Dict[str, str]] = None,
        as_text: bool = False,
        exports_to_keep: Optional[int] = 5,
    ) -> None:
        super().__init__(name, input_receiver_fn_map or {}, backup_checkpoints, assets_extra, as_text, exports_to_keep)
        self._compare_fn = compare_fn
        self._event_file_pattern = event_file_pattern
        self._best_eval_result: Optional[Dict[str, Any]] = None
        self._events_loaded = False

    def export(
        self,
        estimator: tf.estimator.Estimator,
        export_path: str,
        checkpoint_path: str,
        eval_result: Optional[Dict[str, Any]],
        is_the_final_export: bool,
    ) -> Optional[str]:
        """Exports when better than the best evaluation so far; returns the directory or None."""
        if eval_result is None:
            raise ValueError("BestExporter needs the evaluation result")
        if not self._events_loaded:
            self._events_loaded = True
            if self._event_file_pattern and estimator.model_dir:
                pattern = os.path.join(estimator.model_dir, self._event_file_pattern)
                self._best_eval_result = _best_eval_result_in_events(pattern, self._compare_fn)
        if self._best_eval_result is None or self._compare_fn(self._best_eval_result, eval_result):
            self._best_eval_result = dict(eval_result)
            return self._export(estimator, export_path, checkpoint_path)
        return None
