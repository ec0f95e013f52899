"""twml.experiment_tracker records runs in SQLite; twml.runs_cli reads them back."""

import argparse
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from twml import experiment_tracker, runs_cli
from twml.experiment_tracker import ExperimentTracker, default_db_path, hash_export


def _rows(db_path, query, args=()):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


class _Opaque:
    def __repr__(self):
        return "<opaque 7>"


class _HParamsLike:
    def __init__(self, **values):
        self._values = values

    def values(self):
        return dict(self._values)


def _make_export(directory, files):
    for relative, content in files.items():
        path = os.path.join(directory, *relative.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)
    return directory


def test_lifecycle_is_recorded_and_read_back(tmp_path):
    db = str(tmp_path / "nested" / "dir" / "runs.sqlite")  # parent dirs do not exist yet
    params = argparse.Namespace(
        learning_rate=0.01,
        batch_size=32,
        opaque=_Opaque(),
        experiment_tracking_path=db,
        disable_experiment_tracking=False,
    )
    export_dir = _make_export(str(tmp_path / "export"), {"saved_model.pb": b"graph", "variables/v.data": b"\x00\x01"})
    tracker = ExperimentTracker(params, "my_trainer", "/save/dir")
    assert tracker.db_path == db and tracker.enabled and tracker.run_id is None
    tracker.start()
    run_id = tracker.run_id
    assert run_id == 1
    tracker.log_metrics(
        {
            "loss": np.float32(0.5),
            "auc": 0.75,
            "steps": np.int64(7),
            "flag": np.bool_(True),
            "name": "text",
            "vector": np.zeros(3),
            "zero_d": np.array(2.5),
        },
        global_step=100,
    )
    tracker.log_metrics({"loss": 0.25}, global_step=np.int64(200), eval_name="test")
    tracker.log_checkpoint("/save/dir/model.ckpt-200", global_step=200)
    tracker.log_export(export_dir)
    tracker.finish()

    (run,) = _rows(
        db,
        "SELECT name, save_dir, params, command, code_version, host, pid, status, error, "
        "start_time <= end_time FROM runs",
    )
    assert run[:2] == ("my_trainer", "/save/dir")
    assert json.loads(run[2]) == {
        "learning_rate": 0.01,
        "batch_size": 32,
        "opaque": "<opaque 7>",
        "experiment_tracking_path": db,
        "disable_experiment_tracking": False,
    }
    assert json.loads(run[3]) == sys.argv
    assert run[4] == experiment_tracker.code_version() and run[4]
    assert run[6] == os.getpid()
    assert run[7:] == ("finished", None, 1)
    metrics = _rows(db, "SELECT run_id, global_step, eval_name, name, value FROM metrics ORDER BY id")
    assert metrics == [
        (1, 100, None, "loss", 0.5),
        (1, 100, None, "auc", 0.75),
        (1, 100, None, "steps", 7.0),
        (1, 100, None, "flag", 1.0),
        (1, 100, None, "zero_d", 2.5),
        (1, 200, "test", "loss", 0.25),
    ]
    assert _rows(db, "SELECT run_id, path, global_step FROM checkpoints") == [(1, "/save/dir/model.ckpt-200", 200)]
    expected_hash = hashlib.sha1(b"graph" + b"\x00\x01").hexdigest()
    assert _rows(db, "SELECT run_id, path, model_hash FROM exports") == [(1, export_dir, expected_hash)]
    assert _rows(db, "PRAGMA user_version") == [(experiment_tracker.SCHEMA_VERSION,)]
    assert _rows(db, "PRAGMA journal_mode") == [("wal",)]


def test_context_manager_records_failure_and_reraises(tmp_path):
    db = str(tmp_path / "runs.sqlite")
    with pytest.raises(ValueError, match="diverged"):
        with ExperimentTracker({"lr": 1e9}, "bad", "/save", db_path=db) as tracker:
            tracker.log_metrics({"loss": float("nan")}, 3)
            raise ValueError("loss diverged")
    assert _rows(db, "SELECT name, status, error, end_time IS NOT NULL FROM runs") == [
        ("bad", "failed", "loss diverged", 1)
    ]
    assert _rows(db, "SELECT name, value FROM metrics") == [("loss", None)]  # SQLite stores NaN as NULL

    with ExperimentTracker({"lr": 1.0}, "good", "/save", db_path=db) as tracker:
        tracker.finish("stopped_early")  # an explicit finish is not overwritten on exit
    assert _rows(db, "SELECT id, status FROM runs ORDER BY id") == [(1, "failed"), (2, "stopped_early")]


def test_disabled_tracker_writes_nothing(tmp_path):
    db = tmp_path / "off" / "runs.sqlite"
    trackers = [
        ExperimentTracker(argparse.Namespace(disable_experiment_tracking=True), "a", "/s", db_path=str(db)),
        ExperimentTracker({"disable_experiment_tracking": True, "experiment_tracking_path": str(db)}, "a", "/s"),
        ExperimentTracker({}, "a", "/s", db_path=str(db), enabled=False),
    ]
    for tracker in trackers:
        assert not tracker.enabled
        with tracker:
            tracker.log_metrics({"loss": 1.0}, 1)
            tracker.log_checkpoint("/s/ckpt", 1)
            tracker.log_export(str(tmp_path))
        assert tracker.run_id is None
    assert not (tmp_path / "off").exists()


def test_db_path_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv(experiment_tracker.DEFAULT_DB_ENV, str(tmp_path / "env.sqlite"))
    assert default_db_path() == str(tmp_path / "env.sqlite")
    assert ExperimentTracker(_HParamsLike(a=1), "n", "/s").db_path == str(tmp_path / "env.sqlite")
    from_params = ExperimentTracker({"experiment_tracking_path": str(tmp_path / "p.sqlite")}, "n", "/s")
    assert from_params.db_path == str(tmp_path / "p.sqlite")
    explicit = ExperimentTracker({"experiment_tracking_path": "ignored"}, "n", "/s", db_path=str(tmp_path / "x"))
    assert explicit.db_path == str(tmp_path / "x")
    monkeypatch.delenv(experiment_tracker.DEFAULT_DB_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == str(tmp_path / "home" / ".twml" / "experiments.sqlite")

    with ExperimentTracker(_HParamsLike(a=1, b=[1, 2]), "hp", "/s", db_path=str(tmp_path / "hp.sqlite")):
        pass
    assert json.loads(_rows(str(tmp_path / "hp.sqlite"), "SELECT params FROM runs")[0][0]) == {"a": 1, "b": [1, 2]}


def test_unwritable_path_warns_once_and_disables(tmp_path, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    tracker = ExperimentTracker({}, "n", "/s", db_path=str(blocker / "sub" / "runs.sqlite"))
    with caplog.at_level(logging.WARNING, logger=experiment_tracker.__name__):
        with tracker:
            tracker.log_metrics({"loss": 1.0}, 1)
            tracker.log_checkpoint("/s/c", 1)
    warnings = [r for r in caplog.records if r.name == experiment_tracker.__name__]
    assert len(warnings) == 1 and "disabled" in warnings[0].getMessage()
    assert not tracker.enabled and tracker.run_id is None


def test_locked_database_disables_instead_of_raising(tmp_path, monkeypatch, caplog):
    db = str(tmp_path / "runs.sqlite")
    with ExperimentTracker({}, "first", "/s", db_path=db):
        pass
    monkeypatch.setattr(ExperimentTracker, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        tracker = ExperimentTracker({}, "second", "/s", db_path=db)
        with caplog.at_level(logging.WARNING, logger=experiment_tracker.__name__):
            tracker.start()
            tracker.log_metrics({"loss": 1.0}, 1)
        assert not tracker.enabled and tracker.run_id is None
        assert len([r for r in caplog.records if r.name == experiment_tracker.__name__]) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _rows(db, "SELECT name FROM runs") == [("first",)]


def test_newer_schema_is_not_touched(tmp_path):
    db = str(tmp_path / "future.sqlite")
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={experiment_tracker.SCHEMA_VERSION + 1}")
    conn.close()
    tracker = ExperimentTracker({}, "n", "/s", db_path=db)
    tracker.start()
    assert not tracker.enabled
    assert _rows(db, "SELECT name FROM sqlite_master") == []


def _worker(db, name, barrier, steps):
    barrier.wait()  # both processes create the schema and write at the same time
    with ExperimentTracker({"worker": name}, name, "/s", db_path=db) as tracker:
        for step in range(steps):
            tracker.log_metrics({"loss": float(step), "auc": step / steps}, step)
            if step % 10 == 0:
                tracker.log_checkpoint(f"/s/{name}-{step}", step)
        if not tracker.enabled:
            raise SystemExit(3)


def test_two_processes_write_concurrently(tmp_path):
    db = str(tmp_path / "shared.sqlite")
    steps = 60
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_worker, args=(db, name, barrier, steps)) for name in ("w0", "w1")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    runs = _rows(db, "SELECT id, name, status, pid FROM runs ORDER BY name")
    assert [r[1:3] for r in runs] == [("w0", "finished"), ("w1", "finished")]
    assert sorted(r[3] for r in runs) == sorted(w.pid for w in workers)
    for run_id, _, _, _ in runs:
        values = _rows(
            db, "SELECT global_step, value FROM metrics WHERE run_id = ? AND name = 'loss' ORDER BY id", (run_id,)
        )
        assert values == [(step, float(step)) for step in range(steps)]
        assert _rows(db, "SELECT count(*) FROM checkpoints WHERE run_id = ?", (run_id,)) == [(steps // 10,)]


def test_export_hash_is_stable_and_content_sensitive(tmp_path):
    files = {"b.txt": b"bbb", "a/x": b"xx", "a.txt": b"A", "variables/variables.index": b"\x01\x02\x03"}
    first = _make_export(str(tmp_path / "one"), files)
    # Sorted relative paths: "a.txt" < "a/x" ('.' < '/') < "b.txt" < "variables/...".
    expected = hashlib.sha1(b"A" + b"xx" + b"bbb" + b"\x01\x02\x03").hexdigest()
    assert hash_export(first) == expected
    assert hash_export(first) == expected
    copy = shutil.copytree(first, str(tmp_path / "two"))
    assert hash_export(copy) == expected
    with open(os.path.join(copy, "a", "x"), "wb") as handle:
        handle.write(b"xy")
    assert hash_export(copy) != expected
    swapped = _make_export(str(tmp_path / "three"), dict(files, **{"a.txt": b"xx", "a/x": b"A"}))
    assert hash_export(swapped) != expected
    assert hash_export(os.path.join(first, "b.txt")) == hashlib.sha1(b"bbb").hexdigest()

    db = str(tmp_path / "runs.sqlite")
    with ExperimentTracker({}, "n", "/s", db_path=db) as tracker:
        tracker.log_export(str(tmp_path / "missing_or_remote"))
    assert _rows(db, "SELECT path, model_hash FROM exports") == [(str(tmp_path / "missing_or_remote"), None)]


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_code_version_from_git_checkout(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    probe = repo / "probe.py"
    probe.write_text("x = 1\n")

    def git(*args):
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    git("add", "probe.py")
    git("commit", "-q", "-m", "init")
    head = git("rev-parse", "HEAD")
    assert len(head) == 40
    assert experiment_tracker.code_version(str(probe)) == head
    (repo / "new_file").write_text("untracked")
    assert experiment_tracker.code_version(str(probe)) == head + "-dirty"
    # An untracked probe (e.g. twml installed into a venv inside another checkout) does not use that checkout.
    untracked = repo / "venv" / "twml.py"
    untracked.parent.mkdir()
    untracked.write_text("")
    outside = tmp_path / "plain" / "twml.py"
    outside.parent.mkdir()
    outside.write_text("")
    fallback = experiment_tracker.code_version(str(outside))
    assert fallback != head and not fallback.endswith("-dirty") and fallback
    assert experiment_tracker.code_version(str(untracked)) == fallback


# -------------------------------------------------------------------------------------------------- runs_cli


@pytest.fixture
def cli_db(tmp_path):
    db = str(tmp_path / "cli.sqlite")
    export_dir = _make_export(str(tmp_path / "export"), {"saved_model.pb": b"model"})
    with ExperimentTracker({"lr": 0.1, "batch_size": 32, "only_a": True}, "alpha", "/save/a", db_path=db) as t:
        t.log_metrics({"loss": 0.5, "auc": 0.6}, 10)
        t.log_metrics({"loss": 0.25, "auc": 0.8}, 20)
        t.log_checkpoint("/save/a/model.ckpt-20", 20)
        t.log_export(export_dir)
    with pytest.raises(RuntimeError):
        with ExperimentTracker({"lr": 0.2, "batch_size": 32}, "beta", "/save/b", db_path=db) as t:
            t.log_metrics({"loss": 2.0}, 5)
            raise RuntimeError("out of memory")
    return db, export_dir


def _cli(capsys, *argv):
    code = runs_cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_list(cli_db, capsys):
    db, _ = cli_db
    code, out, _ = _cli(capsys, "--db", db, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["ID", "NAME", "STATUS", "START", "DURATION"]
    assert lines[1].split()[:3] == ["2", "beta", "failed"] and lines[1].endswith("@5 loss=2")
    assert lines[2].split()[:3] == ["1", "alpha", "finished"] and lines[2].endswith("@20 loss=0.25 auc=0.8")
    assert len(lines) == 3

    code, out, _ = _cli(capsys, "list", "--json", "--db", db)
    runs = json.loads(out)
    assert code == 0 and [(r["id"], r["name"], r["status"]) for r in runs] == [
        (2, "beta", "failed"),
        (1, "alpha", "finished"),
    ]
    assert runs[1]["last_metrics"] == {"eval_name": None, "global_step": 20, "metrics": {"loss": 0.25, "auc": 0.8}}
    assert runs[1]["duration_s"] == pytest.approx(runs[1]["end_time"] - runs[1]["start_time"])

    _, out, _ = _cli(capsys, "--db", db, "--json", "list", "--name", "alp")
    assert [r["name"] for r in json.loads(out)] == ["alpha"]
    _, out, _ = _cli(capsys, "--db", db, "--json", "list", "--limit", "1")
    assert [r["id"] for r in json.loads(out)] == [2]


def test_cli_show(cli_db, capsys):
    db, export_dir = cli_db
    code, out, _ = _cli(capsys, "--db", db, "--json", "show", "1")
    run = json.loads(out)
    assert code == 0
    assert (run["id"], run["name"], run["status"], run["save_dir"], run["error"]) == (
        1,
        "alpha",
        "finished",
        "/save/a",
        None,
    )
    assert run["params"] == {"lr": 0.1, "batch_size": 32, "only_a": True}
    assert run["command"] == sys.argv and run["pid"] == os.getpid()
    assert run["metrics"] == [
        {"eval_name": None, "global_step": 10, "metrics": {"loss": 0.5, "auc": 0.6}},
        {"eval_name": None, "global_step": 20, "metrics": {"loss": 0.25, "auc": 0.8}},
    ]
    assert [(c["path"], c["global_step"]) for c in run["checkpoints"]] == [("/save/a/model.ckpt-20", 20)]
    assert [(e["path"], e["model_hash"]) for e in run["exports"]] == [(export_dir, hashlib.sha1(b"model").hexdigest())]

    code, out, _ = _cli(capsys, "--db", db, "show", "2")
    assert code == 0
    assert "status        failed" in out and "error         out of memory" in out
    assert "  lr = 0.2" in out and "  batch_size = 32" in out
    assert ["5", "2"] in [line.split() for line in out.splitlines()]  # step 5, loss 2
    code, out, _ = _cli(capsys, "--db", db, "show", "1")
    assert "  step 20  /save/a/model.ckpt-20" in out
    assert f"  {export_dir}  sha1={hashlib.sha1(b'model').hexdigest()}" in out
    assert ["step", "loss", "auc"] in [line.split() for line in out.splitlines()]
    assert ["20", "0.25", "0.8"] in [line.split() for line in out.splitlines()]


def test_cli_compare(cli_db, capsys):
    db, _ = cli_db
    code, out, _ = _cli(capsys, "--db", db, "--json", "compare", "1", "2")
    result = json.loads(out)
    assert code == 0
    assert [r["id"] for r in result["runs"]] == [1, 2]
    # batch_size is equal in both runs and is left out; only_a is missing from run 2.
    assert result["params"] == {"lr": {"1": 0.1, "2": 0.2}, "only_a": {"1": True}}
    assert result["metrics"] == {"auc": {"1": 0.8}, "loss": {"1": 0.25, "2": 2.0}}

    code, out, _ = _cli(capsys, "--db", db, "compare", "2", "1")
    rows = [line.split() for line in out.splitlines()]
    assert code == 0
    assert ["param", "#2", "beta", "#1", "alpha"] in rows
    assert ["lr", "0.2", "0.1"] in rows and ["only_a", "-", "true"] in rows
    assert ["loss", "2", "0.25"] in rows and ["auc", "-", "0.8"] in rows
    assert not any(row and row[0] == "batch_size" for row in rows)


def test_cli_errors(cli_db, tmp_path, capsys):
    db, _ = cli_db
    missing = str(tmp_path / "nope.sqlite")
    code, out, err = _cli(capsys, "--db", missing, "list")
    assert code == 2 and out == "" and "no tracking database" in err and missing in err
    assert not os.path.exists(missing)
    code, out, err = _cli(capsys, "--db", db, "show", "99")
    assert code == 2 and out == "" and "unknown run id 99" in err
    code, out, err = _cli(capsys, "--db", db, "--json", "compare", "1", "42")
    assert code == 2 and out == "" and "unknown run id 42" in err
    code, _, err = _cli(capsys, "--db", db, "compare", "1")
    assert code == 2 and "at least two" in err
    not_ours = str(tmp_path / "other.sqlite")
    sqlite3.connect(not_ours).execute("CREATE TABLE t (x)").connection.close()
    code, _, err = _cli(capsys, "--db", not_ours, "list")
    assert code == 2 and "not a twml tracking database" in err
    code, _, _ = _cli(capsys, "--db", db, "bogus")
    assert code == 2
