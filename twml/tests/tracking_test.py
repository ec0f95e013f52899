"""twml.tracking.ExperimentTracker (the original's ML-Metastore interface) over the local SQLite
tracking: the path attributes, the run recorded by track_experiment with the metrics a real
MetricsUpdateHook fetched in a session, failures, registered models with a SHA-1 computed here,
and the class methods against hand-computed strings."""

import datetime
import getpass
import hashlib
import json
import os
import re
import sqlite3

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from twml.hooks import MetricsUpdateHook
from twml.tracking import ExperimentTracker

PATH = "alice:ranking:lr_sweep:run7"


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = str(tmp_path / "runs.sqlite")
    monkeypatch.setenv("TWML_EXPERIMENT_DB", path)
    monkeypatch.setenv("TEST_EXP_TRACKER", "1")  # tracking is off under pytest otherwise, as the original
    return path


def rows(db_path, query, args=()):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


CURRENT = {}


def current_spec():
    """The get_estimator_spec_fn given to track_experiment: the spec :func:`evaluate` built."""
    return CURRENT["spec"]


def evaluate(hook, batches, global_step):
    """Runs ``hook`` over a streaming mean of ``batches`` in a real session; the hook reports at end."""
    values = tf.placeholder(tf.float32, [None])
    mean, update = tf.metrics.mean(values)
    step = tf.train.get_or_create_global_step()
    spec = tf.estimator.EstimatorSpec(
        mode=tf.estimator.ModeKeys.EVAL,
        loss=tf.constant(0.0),
        eval_metric_ops={"mean": (mean, update), "global_step": (tf.identity(step), tf.no_op())},
    )
    set_step = tf.assign(step, global_step)
    CURRENT["spec"] = spec
    with tf.train.MonitoredSession(hooks=[hook]) as session:
        session.run(set_step)
        for batch in batches:
            session.run(update, {values: batch})


def test_path_attributes_of_a_metastore_path(db):
    tracker = ExperimentTracker({"experiment_tracking_path": PATH}, None, "/models/x")
    assert not tracker.disabled
    assert tracker.tracking_path == tracker.base_run_id == PATH
    assert tracker.project_id == "alice:ranking"
    assert tracker.experiment_id == "alice:ranking:lr_sweep"
    assert tracker.path == {
        "owner": "alice",
        "project_name": "ranking",
        "experiment_name": "lr_sweep",
        "run_name": "run7",
    }
    with pytest.raises(ValueError, match="longer than 256"):
        ExperimentTracker(
            {"experiment_tracking_path": "a:b:c:" + "r" * 254, "disable_experiment_tracking": True}, None, "/m"
        )


def test_disabled_by_params_or_under_pytest(db, monkeypatch):
    off = ExperimentTracker({"experiment_tracking_path": PATH, "disable_experiment_tracking": True}, None, "/m")
    assert off.disabled and off.path is None
    hooks = []
    with off.track_experiment(hooks, lambda: None) as hook:
        assert hook is None
    off.register_model("/nowhere")
    assert hooks == [] and off.get_run_status() is None and not os.path.exists(db)
    monkeypatch.delenv("TEST_EXP_TRACKER")
    assert "PYTEST_CURRENT_TEST" in os.environ
    assert ExperimentTracker({"experiment_tracking_path": PATH}, None, "/m").disabled


def test_hparams_params_drop_null_values(db):
    class HParams:
        def values(self):
            return {"experiment_tracking_path": PATH, "learning_rate": 0.5, "unset": "null"}

    tracker = ExperimentTracker(HParams(), None, "/m")
    with tracker.track_experiment([], lambda: None):
        pass
    (params,) = rows(db, "SELECT params FROM runs")[0]
    assert json.loads(params) == {"experiment_tracking_path": PATH, "learning_rate": 0.5}


def test_track_experiment_records_the_run_and_the_evaluated_metrics(db, tmp_path):
    tracker = ExperimentTracker({"experiment_tracking_path": PATH}, None, str(tmp_path))
    assert tracker.get_run_status() is None
    hooks = [tf.train.StepCounterHook(every_n_steps=100)]
    with tf.Graph().as_default():
        with tracker.track_experiment(hooks, current_spec) as hook:
            assert isinstance(hook, MetricsUpdateHook) and hooks[-1] is hook
            assert tracker.get_run_status() == "running"
            evaluate(hook, [[1.0, 2.0, 3.0], [5.0], [0.5, 0.5]], global_step=7)
    assert tracker.get_run_status() == "finished"
    ((run_id, name, status, save_dir),) = rows(db, "SELECT id, name, status, save_dir FROM runs")
    assert (name, status, save_dir) == (PATH, "finished", str(tmp_path))
    metrics = dict(
        ((n, s), v) for n, s, v in rows(db, "SELECT name, global_step, value FROM metrics WHERE run_id = ?", (run_id,))
    )
    expected_mean = np.mean([1.0, 2.0, 3.0, 5.0, 0.5, 0.5])
    assert metrics.keys() == {("mean", 7), ("global_step", 7)}
    assert metrics[("mean", 7)] == pytest.approx(expected_mean, rel=1e-6)


def test_named_runs_keep_metrics_and_models_on_their_own_run(db, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "saved_model.pb").write_bytes(b"graph")
    tracker = ExperimentTracker({"experiment_tracking_path": PATH}, None, str(tmp_path))
    with tf.Graph().as_default():
        with tracker.track_experiment([], current_spec, name="phase2") as hook:
            evaluate(hook, [[4.0, 6.0]], global_step=3)
            tracker.register_model(str(export))
    runs = rows(db, "SELECT id, name, status FROM runs")
    assert [(n, s) for _, n, s in runs] == [(PATH + "_phase2", "finished")]
    run_id = runs[0][0]
    assert rows(db, "SELECT value FROM metrics WHERE run_id = ? AND name = 'mean'", (run_id,)) == [(5.0,)]
    assert rows(db, "SELECT path, model_hash FROM exports WHERE run_id = ?", (run_id,)) == [
        (str(export), hashlib.sha1(b"graph").hexdigest())
    ]


def test_a_failing_loop_is_recorded_and_re_raised(db):
    tracker = ExperimentTracker({"experiment_tracking_path": PATH}, None, "/m")
    with pytest.raises(RuntimeError, match="diverged"):
        with tracker.track_experiment([], lambda: None):
            raise RuntimeError("loss diverged")
    assert rows(db, "SELECT status, error FROM runs") == [("failed", "loss diverged")]
    assert tracker.get_run_status() == "failed"


def test_an_existing_metrics_update_hook_disables_tracking(db):
    tracker = ExperimentTracker({"experiment_tracking_path": PATH}, None, "/m")
    existing = MetricsUpdateHook(lambda: None, lambda metrics: None)
    with tracker.track_experiment([existing], lambda: None) as hook:
        assert hook is None
    assert tracker.disabled and not os.path.exists(db)
    with ExperimentTracker({"experiment_tracking_path": PATH}, None, "/m").track_experiment(None, lambda: None) as h:
        assert h is None


def test_a_local_path_is_the_database_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_EXP_TRACKER", "1")
    monkeypatch.delenv("TWML_EXPERIMENT_DB", raising=False)
    local = str(tmp_path / "mine.sqlite")
    tracker = ExperimentTracker({"experiment_tracking_path": local}, None, "/data/models/m")
    assert re.fullmatch(r"[^:]+:default:unnamed:Unnamed_\d\d_\d\d_\d{4}_\d\d_\d\d_(AM|PM)", tracker.tracking_path)
    with tracker.track_experiment([], lambda: None):
        pass
    assert rows(local, "SELECT name, status FROM runs") == [(tracker.tracking_path, "finished")]


def test_compute_model_hash_is_sha1_of_files_in_sorted_path_order(db, tmp_path):
    export = tmp_path / "export"
    (export / "variables").mkdir(parents=True)
    contents = {
        "saved_model.pb": b"pb",
        "variables/variables.index": b"idx",
        "variables/variables.data-00000-of-00001": b"data",
        "assets.txt": b"a",
    }
    for name, data in contents.items():
        (export / name).write_bytes(data)
    # full paths sorted: assets.txt, saved_model.pb, variables/variables.data..., variables/variables.index
    expected = hashlib.sha1(b"a" + b"pb" + b"data" + b"idx").hexdigest()
    assert ExperimentTracker.compute_model_hash(str(export)) == expected
    tracker = ExperimentTracker({"experiment_tracking_path": PATH}, None, "/m")
    tracker.register_model(str(export))
    assert rows(db, "SELECT model_hash FROM exports") == [(expected,)]


def test_export_feature_spec_writes_features_labels_weight(db, tmp_path):
    tracker = ExperimentTracker({"experiment_tracking_path": PATH}, None, str(tmp_path / "save"))
    spec = {
        "features": {"1": {"featureName": "a.b", "featureType": "BINARY"}},
        "labels": {"2": {"featureName": "l"}},
        "weight": {},
        "other": {"x": 1},
    }
    tracker.export_feature_spec(spec)
    with open(tmp_path / "save" / "tracked_feature_spec.json") as handle:
        assert json.load(handle) == {"features": spec["features"], "labels": spec["labels"], "weight": {}}


def test_run_name_from_environ(monkeypatch):
    monkeypatch.delenv("TWML_JOB_NAME", raising=False)
    monkeypatch.setenv("TWML_JOB_LAUNCH_TIME", "2021-03-04T15:06:07.123456")
    assert ExperimentTracker.run_name_from_environ() is None
    monkeypatch.setenv("TWML_JOB_NAME", "ranker")
    assert ExperimentTracker.run_name_from_environ() == "ranker_03_04_2021_03_06_PM"
    monkeypatch.setenv("TWML_JOB_LAUNCH_TIME", "yesterday")
    assert ExperimentTracker.run_name_from_environ() is None


def test_guess_path():
    assert ExperimentTracker.guess_path("hdfs://nn/user/bob/homepage/models/v1", "r1") == "bob:default:homepage:r1"
    assert ExperimentTracker.guess_path("/tmp/model", "r2") == "%s:default:unnamed:r2" % getpass.getuser()
    before = datetime.datetime.now().strftime("%m_%d_%Y")
    guessed = ExperimentTracker.guess_path(None)
    assert guessed.startswith("%s:default:unnamed:Unnamed_" % getpass.getuser())
    assert before in guessed or datetime.datetime.now().strftime("%m_%d_%Y") in guessed
    assert twml.tracking.experiment_tracker.ExperimentTracker is ExperimentTracker
