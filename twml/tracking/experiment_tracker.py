"""The original's ``twml.tracking.experiment_tracker.ExperimentTracker`` over twml's local tracking.

The original recorded runs in Twitter's ML Metastore under a path ``owner:project:experiment:run``.
This class keeps that interface (constructor, attributes, ``track_experiment``, ``register_model``,
``export_feature_spec``, ``get_run_status``, ``guess_path``, ``compute_model_hash``...) and writes
into the local SQLite database of :class:`twml.experiment_tracker.ExperimentTracker` (``twml-runs
list`` shows the runs): the tracking path becomes the run's name, metrics of the evaluation hook
become metric rows, registered models become export rows. It never needs network access.

``params.experiment_tracking_path`` is read as a Metastore path when it has the form
``owner:project:experiment:run``; any other value is the local database file (as for the Trainer).
"""

import contextlib
import datetime
import getpass
import hashlib
import json
import logging
import os
import re
from typing import Any, Callable, Dict, Iterator, List, Optional

import tensorflow.compat.v1 as tf

from twml import experiment_tracker as local
from twml.hooks import MetricsUpdateHook
from twml.params import get_param

_LOG = logging.getLogger(__name__)

#: Longest accepted ``experiment_tracking_path`` (as the original).
MAX_TRACKING_PATH_LENGTH = 256

_METASTORE_PATH = re.compile(r"^[^:/\s]+:[^:/\s]*:[^:/\s]+:[^:/\s]+$")


def _is_metastore_path(path: Optional[str]) -> bool:
    return bool(path) and bool(_METASTORE_PATH.match(str(path)))


class ExperimentTracker:
    """Tracks one training run.

    Args:
      params: dict or HParams-like (``.values()``) with optional ``experiment_tracking_path``,
        ``disable_experiment_tracking``, ``health_port``.
      run_config: the estimator RunConfig (kept as ``run_config``; not otherwise used).
      save_dir: the run's model directory.

    Raises:
      ValueError: ``experiment_tracking_path`` is longer than 256 characters.

    Attributes: ``tracking_path`` (``owner:project:experiment:run``), ``disabled``,
    ``project_id`` (``owner:project``), ``base_run_id`` (the tracking path); properties ``path``
    and ``experiment_id``. Tracking is disabled by ``disable_experiment_tracking`` or when running
    under pytest (``PYTEST_CURRENT_TEST``) unless ``TEST_EXP_TRACKER`` is set.
    """

    def __init__(self, params: Any, run_config: Any, save_dir: str) -> None:
        if params is not None and not isinstance(params, dict) and hasattr(params, "values"):
            _LOG.warning("ExperimentTracker: HParams params are deprecated, pass a dict")
            params = {k: v for k, v in params.values().items() if v != "null"}
        self._params = params if params is not None else {}
        self.run_config = run_config
        self.save_dir = save_dir
        given = get_param(self._params, "experiment_tracking_path")
        if given is not None and len(str(given)) > MAX_TRACKING_PATH_LENGTH:
            raise ValueError(
                "experiment_tracking_path is longer than %d characters: %r" % (MAX_TRACKING_PATH_LENGTH, given)
            )
        # a Metastore path names the run, not a file: the run goes to the default database
        db_path = local.default_db_path() if _is_metastore_path(given) or not given else str(given)
        self.tracking_path = str(given) if _is_metastore_path(given) else self.guess_path(save_dir)
        testing = "PYTEST_CURRENT_TEST" in os.environ and "TEST_EXP_TRACKER" not in os.environ
        self.disabled = bool(get_param(self._params, "disable_experiment_tracking")) or testing
        owner, project = self.tracking_path.split(":")[:2]
        self.project_id = "%s:%s" % (owner, project)
        self.base_run_id = self.tracking_path
        self._db_path = db_path
        self._tracker: Optional[local.ExperimentTracker] = None
        self._run_name = self.base_run_id

    @property
    def path(self) -> Optional[Dict[str, str]]:
        """``{owner, project_name, experiment_name, run_name}`` of the tracking path; None when disabled."""
        if self.disabled:
            return None
        owner, project, experiment, run = self.tracking_path.split(":")
        return {"owner": owner, "project_name": project, "experiment_name": experiment, "run_name": run}

    @property
    def experiment_id(self) -> str:
        """``owner:project:experiment``."""
        return ":".join(self.tracking_path.split(":")[:3])

    def _local(self, name: Optional[str] = None) -> local.ExperimentTracker:
        """The local tracker of run ``base_run_id[_name]``; without ``name``, the run of the latest
        :meth:`track_experiment` (its metrics and models belong to it)."""
        if name is not None:
            self._run_name = self.base_run_id + "_" + name
        run_name = self._run_name
        if self._tracker is None or self._tracker.name != run_name:
            self._tracker = local.ExperimentTracker(
                self._params, name=run_name, save_dir=self.save_dir, db_path=self._db_path, enabled=not self.disabled
            )
        return self._tracker

    @contextlib.contextmanager
    def track_experiment(
        self, eval_hooks: Optional[List[Any]], get_estimator_spec_fn: Callable[[], Any], name: Optional[str] = None
    ) -> Iterator[Optional[MetricsUpdateHook]]:
        """Wraps a train/evaluate loop: records the run as running, then finished or failed.

        Appends the hook of :meth:`create_eval_hook` to ``eval_hooks`` and yields it; yields None
        (recording nothing) when disabled, when ``eval_hooks`` is None, or when ``eval_hooks``
        already holds a MetricsUpdateHook. Exceptions of the loop are recorded and re-raised.
        """
        if eval_hooks is not None and any(isinstance(hook, MetricsUpdateHook) for hook in eval_hooks):
            self.disabled = True
        if self.disabled or eval_hooks is None:
            yield None
            return
        self._run_name = self.base_run_id
        tracker = self._local(name)
        tracker.start()
        hook = self.create_eval_hook(get_estimator_spec_fn)
        eval_hooks.append(hook)
        try:
            yield hook
        except BaseException as error:
            tracker.finish("failed", str(error) or type(error).__name__)
            raise
        tracker.finish("finished")

    def create_eval_hook(self, get_estimator_spec_fn: Callable[[], Any]) -> MetricsUpdateHook:
        """A MetricsUpdateHook recording the evaluation's metric values (scalars; other values are
        skipped with a warning) at the current global step."""

        def add_metrics(metrics: Dict[str, Any]) -> None:
            values = {}
            for key, value in metrics.items():
                if hasattr(value, "item") and getattr(value, "size", 1) == 1:
                    values[key] = value.item()
                elif isinstance(value, (int, float)):
                    values[key] = value
                else:
                    _LOG.warning("ExperimentTracker: metric %s is not a scalar; not recorded", key)
            step = values.get("global_step")
            self._local().log_metrics(values, None if step is None else int(step))

        return MetricsUpdateHook(get_estimator_spec_fn=get_estimator_spec_fn, add_metrics_fn=add_metrics)

    def register_model(self, export_path: str) -> None:
        """Records an exported model (with :meth:`compute_model_hash`) for this run."""
        if self.disabled:
            return
        self._local().log_export(export_path)

    def export_feature_spec(self, feature_spec_dict: Dict[str, Any]) -> None:
        """Stores the ``features``, ``labels`` and ``weight`` entries of a feature spec next to the run,
        as ``<save_dir>/tracked_feature_spec.json``."""
        if self.disabled:
            return
        spec = {key: feature_spec_dict.get(key, {}) for key in ("features", "labels", "weight")}
        try:
            tf.io.gfile.makedirs(self.save_dir)
            with tf.io.gfile.GFile(os.path.join(self.save_dir, "tracked_feature_spec.json"), "w") as handle:
                handle.write(json.dumps(spec, default=str, sort_keys=True))
        except (OSError, tf.errors.OpError) as error:
            _LOG.warning("ExperimentTracker: cannot write the feature spec: %s", error)

    def get_run_status(self) -> Optional[str]:
        """The latest status of the run (``running``, ``finished``, ``failed``), None when disabled or
        not started."""
        if self.disabled or self._tracker is None or self._tracker.run_id is None:
            return None
        try:
            with contextlib.closing(local.connect(self._tracker.db_path, 5.0, create=False)) as conn:
                row = conn.execute("SELECT status FROM runs WHERE id = ?", (self._tracker.run_id,)).fetchone()
        except Exception as error:  # noqa: BLE001 - tracking never fails the job
            _LOG.warning("ExperimentTracker: cannot read the run status: %s", error)
            return None
        return None if row is None else str(row[0])

    @classmethod
    def run_name_from_environ(cls) -> Optional[str]:
        """``<TWML_JOB_NAME>_<launch time %m_%d_%Y_%I_%M_%p>`` from ``TWML_JOB_NAME`` and
        ``TWML_JOB_LAUNCH_TIME`` (``%Y-%m-%dT%H:%M:%S.%f``); None if either is missing or the time does
        not parse."""
        job, launched = os.environ.get("TWML_JOB_NAME"), os.environ.get("TWML_JOB_LAUNCH_TIME")
        if not job or not launched:
            return None
        try:
            when = datetime.datetime.strptime(launched, "%Y-%m-%dT%H:%M:%S.%f")
        except ValueError:
            return None
        return "%s_%s" % (job, when.strftime("%m_%d_%Y_%I_%M_%p"))

    @classmethod
    def guess_path(cls, save_dir: Optional[str], run_name: Optional[str] = None) -> str:
        """A tracking path for a save dir: ``<user>:default:<experiment>:<run_name>``.

        For ``hdfs://.../user/<u>/<p>...`` the owner is ``u`` and the experiment ``p``; otherwise the
        current user and ``unnamed``. The default run name is ``Unnamed_<now %m_%d_%Y_%I_%M_%p>``.
        """
        if run_name is None:
            run_name = "Unnamed_" + datetime.datetime.now().strftime("%m_%d_%Y_%I_%M_%p")
        match = re.search(r"/user/([^/]+)/([^/]+)", str(save_dir or ""))
        if str(save_dir or "").startswith("hdfs://") and match:
            return "%s:default:%s:%s" % (match.group(1), match.group(2), run_name)
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return "%s:default:unnamed:%s" % (user, run_name)

    @classmethod
    def compute_model_hash(cls, export_path: str) -> str:
        """SHA-1 hex digest of the bytes of every file under ``export_path`` (walked with
        ``tf.io.gfile.walk``), concatenated in sorted full-path order."""
        paths = []
        for root, _, files in tf.io.gfile.walk(export_path):
            paths.extend(os.path.join(root, name) for name in files)
        digest = hashlib.sha1()
        for path in sorted(paths):
            with tf.io.gfile.GFile(path, "rb") as handle:
                digest.update(handle.read())
        return digest.hexdigest()


__all__ = ["ExperimentTracker"]
