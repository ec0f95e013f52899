"""Local experiment tracking: run metadata of twml trainers in a SQLite database.

The original twml recorded runs in Twitter's internal ML Metastore. This module keeps the same idea
(one record per training run with its hyper-parameters, metrics, checkpoints and exported models) in a
local SQLite file so that runs can be listed and compared with ``twml-runs`` (:mod:`twml.runs_cli`).

Where the database lives (:func:`default_db_path`): ``$TWML_EXPERIMENT_DB`` if set, else
``~/.twml/experiments.sqlite``; trainers override it with ``--experiment_tracking_path`` and switch
tracking off with ``--disable_experiment_tracking``.

Tracking must never break training: any database error (locked file, unwritable path, corrupt file)
logs one warning and turns the tracker into a no-op. Several processes may write to the same file at
once (WAL journal plus a busy timeout).

Schema (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`), times are seconds since the epoch:

- ``runs(id, name, save_dir, params, command, code_version, host, pid, start_time, end_time, status, error,
  process_start)``; ``params`` is a JSON object, ``command`` a JSON list (``sys.argv``), ``status`` one of
  ``running``, ``finished``, ``failed`` (or whatever :meth:`ExperimentTracker.finish` was given), or
  ``killed``: set by :func:`mark_dead_runs` when the process of a ``running`` run is gone (SIGKILL, OOM,
  machine reboot); ``process_start`` identifies the process beyond its pid
  (:func:`twml_common.processes.process_start_id`), so that a reused pid is not taken for the run.
- ``metrics(id, run_id, global_step, eval_name, name, value, time)``; ``value`` is NULL for NaN.
- ``checkpoints(id, run_id, path, global_step, time)``.
- ``exports(id, run_id, path, model_hash, time)``; ``model_hash`` is the SHA-1 of :func:`hash_export`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import numbers
import os
import socket
import sqlite3
import subprocess
import sys
import time
from typing import Any, Callable, Iterator, Mapping

from twml.params import get_param, params_to_dict
from twml_common.processes import process_alive, process_start_id

DEFAULT_DB_ENV = "TWML_EXPERIMENT_DB"
SCHEMA_VERSION = 2

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    save_dir TEXT,
    params TEXT NOT NULL,
    command TEXT NOT NULL,
    code_version TEXT,
    host TEXT,
    pid INTEGER,
    start_time REAL NOT NULL,
    end_time REAL,
    status TEXT NOT NULL,
    error TEXT,
    process_start TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    global_step INTEGER,
    eval_name TEXT,
    name TEXT NOT NULL,
    value REAL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    path TEXT NOT NULL,
    global_step INTEGER,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_run ON checkpoints(run_id);
CREATE TABLE IF NOT EXISTS exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    path TEXT NOT NULL,
    model_hash TEXT,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS exports_run ON exports(run_id);
"""


def default_db_path() -> str:
    """Returns the tracking database path: ``$TWML_EXPERIMENT_DB`` if set and non-empty, else
    ``~/.twml/experiments.sqlite`` (``~`` expanded)."""
    path = os.environ.get(DEFAULT_DB_ENV)
    if path:
        return os.path.expanduser(path)
    return os.path.join(os.path.expanduser("~"), ".twml", "experiments.sqlite")


class SchemaError(sqlite3.DatabaseError):
    """The file is a SQLite database written by a newer, incompatible twml schema."""


def connect(db_path: str, timeout: float, create: bool = True) -> sqlite3.Connection:
    """Opens ``db_path`` in autocommit mode with a busy timeout of ``timeout`` seconds.

    With ``create`` the parent directory, WAL journal and tables are created if missing (safe to race
    with other processes doing the same). Raises ``sqlite3.Error``/``OSError`` on failure and
    :class:`SchemaError` for a database of a newer schema version.
    """
    if create:
        parent = os.path.dirname(os.path.abspath(db_path))
        os.makedirs(parent, exist_ok=True)
    conn = sqlite3.connect(db_path, timeout=timeout, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=NORMAL")
        if create:
            _ensure_schema(conn)
        return conn
    except BaseException:
        conn.close()
        raise


def _ensure_schema(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"tracking database has schema version {version}; this twml knows up to {SCHEMA_VERSION}")
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        # WAL lets readers and the many writers of a distributed run proceed without blocking each other.
        conn.execute("PRAGMA journal_mode=WAL")
    if version == SCHEMA_VERSION:
        return
    # IMMEDIATE takes the write lock up front so that two processes creating the schema serialise here.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if "process_start" not in _run_columns(conn):  # a version 1 database
                conn.execute("ALTER TABLE runs ADD COLUMN process_start TEXT")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _run_columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(runs)").fetchall()}


def mark_dead_runs(conn: sqlite3.Connection, host: str | None = None) -> list[int]:
    """Marks the ``running`` runs of ``host`` (default this machine) whose process is gone as ``killed``.

    A run's process is gone when its pid does not run (or is a zombie), or runs with another
    :func:`twml_common.processes.process_start_id` than the one recorded at start (the pid was
    reused). The end time becomes the run's last recorded activity (metric, checkpoint or export),
    and the error says how it was found. Runs of other hosts are left alone (their processes cannot
    be checked from here).

    Returns:
      the ids of the runs marked.
    """
    host = socket.gethostname() if host is None else host
    has_start = "process_start" in _run_columns(conn)
    rows = conn.execute(
        "SELECT id, pid, start_time%s FROM runs WHERE status = 'running' AND host = ?"
        % (", process_start" if has_start else ""),
        (host,),
    ).fetchall()
    marked = []
    for row in rows:
        pid = row["pid"]
        recorded = row["process_start"] if has_start else None
        current = process_start_id(pid) if pid else None
        if pid and process_alive(pid) and (recorded is None or current is None or current == recorded):
            continue
        last = conn.execute(
            "SELECT MAX(t) FROM (SELECT MAX(time) AS t FROM metrics WHERE run_id = ? UNION ALL "
            "SELECT MAX(time) FROM checkpoints WHERE run_id = ? UNION ALL "
            "SELECT MAX(time) FROM exports WHERE run_id = ?)",
            (row["id"], row["id"], row["id"]),
        ).fetchone()[0]
        error = f"process {pid} on {host} ended without recording an end (killed?); found at {time.ctime()}"
        cursor = conn.execute(
            "UPDATE runs SET status = 'killed', end_time = ?, error = ? WHERE id = ? AND status = 'running'",
            (last if last is not None else row["start_time"], error, row["id"]),
        )
        if cursor.rowcount:
            marked.append(int(row["id"]))
    return marked


def params_to_json(params: Any) -> str:
    """Serialises :func:`params_to_dict` of ``params`` as a JSON object with sorted keys; values that
    JSON cannot hold are stored as their ``repr``."""
    as_dict = {str(key): value for key, value in params_to_dict(params).items()}
    return json.dumps(as_dict, sort_keys=True, default=repr)


def hash_export(path: str) -> str:
    """SHA-1 (hex) over the contents of every file under ``path``, read in the order of their sorted
    relative paths (``/``-separated), like the original's "model hash"; a file ``path`` hashes itself.

    Only the bytes are hashed, so identical exports in different directories hash the same.
    """
    digest = hashlib.sha1()
    if os.path.isfile(path):
        files = [path]
    else:
        relative = []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in names:
                relative.append(os.path.relpath(os.path.join(root, name), path).replace(os.sep, "/"))
        files = [os.path.join(path, rel) for rel in sorted(relative)]
    for file_path in files:
        with open(file_path, "rb") as handle:
            for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _run_git(args: list[str], cwd: str, deadline: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=max(0.1, deadline - time.monotonic()),
        check=False,
    )


def code_version(probe_file: str | None = None, git_timeout: float = 5.0) -> str:
    """Version of the code that runs: ``git rev-parse HEAD`` (plus ``-dirty`` when ``git status
    --porcelain`` is non-empty) if ``probe_file`` (default: twml's ``__init__.py``, symlinks resolved)
    is tracked in a git checkout, else the installed ``twml`` distribution version, else ``"unknown"``.

    Git gets ``git_timeout`` seconds in all; any git failure falls back silently.
    """
    if probe_file is None:
        return _default_code_version()
    probe_file = os.path.realpath(probe_file)
    directory = os.path.dirname(probe_file)
    deadline = time.monotonic() + git_timeout
    try:
        head = _run_git(["rev-parse", "HEAD"], directory, deadline)
        # The probe must be tracked: twml installed into a venv inside some other checkout is not that checkout.
        tracked = (
            head.returncode == 0
            and _run_git(["ls-files", "--error-unmatch", os.path.basename(probe_file)], directory, deadline).returncode
            == 0
        )
        if tracked:
            status = _run_git(["status", "--porcelain"], directory, deadline)
            if status.returncode == 0:
                sha = head.stdout.strip()
                return sha + "-dirty" if status.stdout.strip() else sha
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib import metadata

        return metadata.version("twml")
    except Exception:  # noqa: BLE001 - any metadata problem just means "unknown"
        return "unknown"


@functools.lru_cache(maxsize=1)
def _default_code_version() -> str:
    return code_version(os.path.join(os.path.dirname(os.path.realpath(__file__)), "__init__.py"))


def _scalar(value: Any) -> float | None:
    """Returns ``value`` as a float if it is a real scalar (Python or numpy, 0-d arrays too), else None."""
    if getattr(value, "shape", None) == () and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def _guarded(method: Callable) -> Callable:
    """Makes a tracker method a no-op when disabled and turns any failure into one warning + disable."""

    @functools.wraps(method)
    def wrapper(self: ExperimentTracker, *args: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return None
        try:
            return method(self, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - tracking must never kill training
            self._disable(error)
            return None

    return wrapper


class ExperimentTracker:
    """Records one training run in the local tracking database (see the module docstring for the schema).

    Args:
      params: the trainer's hyper-parameters (``argparse.Namespace``, dict, or ``HParams``-like object with
        ``.values()``), stored as JSON. ``params.experiment_tracking_path`` picks the database when
        ``db_path`` is None; ``params.disable_experiment_tracking`` switches tracking off.
      name: run name (usually the trainer's name).
      save_dir: the run's checkpoint directory.
      db_path: database file; None means ``params.experiment_tracking_path`` or :func:`default_db_path`.
      enabled: False makes every method a no-op that touches no file.

    Use as a context manager (start on enter; finish ``finished``, or ``failed`` with the exception text)
    or call :meth:`start`/:meth:`finish` explicitly. Logging before :meth:`start` starts the run.
    """

    # Seconds a write waits for another process's lock before giving up (and disabling tracking).
    BUSY_TIMEOUT_S = 30.0

    def __init__(self, params: Any, name: str, save_dir: str, db_path: str | None = None, enabled: bool = True) -> None:
        self.params = params
        self.name = name
        self.save_dir = save_dir
        if db_path is None:
            db_path = get_param(params, "experiment_tracking_path") or default_db_path()
        self.db_path = os.path.expanduser(str(db_path))
        self.enabled = bool(enabled) and not get_param(params, "disable_experiment_tracking")
        self.run_id: int | None = None
        self._finished = False

    def _disable(self, error: BaseException) -> None:
        _LOGGER.warning(
            "Experiment tracking disabled: cannot write %s (%s: %s)", self.db_path, type(error).__name__, error
        )
        self.enabled = False

    @staticmethod
    def _now() -> float:
        return time.time()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # A connection per call keeps the tracker fork-safe and holds no file handle between (rare) writes.
        conn = connect(self.db_path, self.BUSY_TIMEOUT_S)
        try:
            yield conn
        finally:
            conn.close()

    def _execute_many(self, statement: str, rows: list[tuple]) -> None:
        if not rows:
            return
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(statement, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _ensure_started(self) -> None:
        if self.run_id is None:
            self.start()
        if self.run_id is None:  # start failed and disabled the tracker
            raise RuntimeError("run could not be started")

    @_guarded
    def start(self) -> None:
        """Inserts the run (name, save_dir, params JSON, ``sys.argv``, code version, host, pid and process
        start id, start time, status ``running``) and sets :attr:`run_id`. A second call does nothing."""
        if self.run_id is not None:
            return
        row = (
            self.name,
            self.save_dir,
            params_to_json(self.params),
            json.dumps(list(sys.argv)),
            code_version(),
            socket.gethostname(),
            os.getpid(),
            process_start_id(os.getpid()),
            self._now(),
            "running",
        )
        with self._connection() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (name, save_dir, params, command, code_version, host, pid, process_start, "
                "start_time, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            self.run_id = int(cursor.lastrowid)

    @_guarded
    def log_metrics(self, metrics: Mapping[str, Any], global_step: int | None, eval_name: str | None = None) -> None:
        """Stores the real scalar values of ``metrics`` (Python/numpy numbers, 0-d arrays) at ``global_step``
        for evaluation ``eval_name``; other values (strings, non-scalar arrays, ...) are skipped silently."""
        self._ensure_started()
        step = None if global_step is None else int(global_step)
        now = self._now()
        rows = []
        for key, value in metrics.items():
            number = _scalar(value)
            if number is not None:
                rows.append((self.run_id, step, eval_name, str(key), number, now))
        self._execute_many(
            "INSERT INTO metrics (run_id, global_step, eval_name, name, value, time) VALUES (?, ?, ?, ?, ?, ?)", rows
        )

    @_guarded
    def log_checkpoint(self, path: str, global_step: int | None = None) -> None:
        """Records a checkpoint ``path`` written at ``global_step``."""
        self._ensure_started()
        step = None if global_step is None else int(global_step)
        self._execute_many(
            "INSERT INTO checkpoints (run_id, path, global_step, time) VALUES (?, ?, ?, ?)",
            [(self.run_id, str(path), step, self._now())],
        )

    @_guarded
    def log_export(self, path: str) -> None:
        """Records an exported model directory ``path`` with its :func:`hash_export` SHA-1 (NULL when the
        files cannot be read locally, e.g. a remote filesystem path)."""
        self._ensure_started()
        path = str(path)
        try:
            model_hash = hash_export(path) if os.path.exists(path) else None
        except OSError as error:
            _LOGGER.warning("Experiment tracking: cannot hash export %s: %s", path, error)
            model_hash = None
        self._execute_many(
            "INSERT INTO exports (run_id, path, model_hash, time) VALUES (?, ?, ?, ?)",
            [(self.run_id, path, model_hash, self._now())],
        )

    @_guarded
    def finish(self, status: str = "finished", error: str | None = None) -> None:
        """Sets the run's end time, ``status`` and ``error`` text. Only the first call after :meth:`start`
        counts, so an explicit ``finish`` inside a ``with`` block is not overwritten on exit."""
        if self.run_id is None or self._finished:
            return
        self._finished = True
        self._execute_many(
            "UPDATE runs SET end_time = ?, status = ?, error = ? WHERE id = ?",
            [(self._now(), str(status), error, self.run_id)],
        )

    def __enter__(self) -> ExperimentTracker:
        self.start()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> bool:
        if exc is None:
            self.finish("finished")
        else:
            self.finish("failed", str(exc) or exc_type.__name__)
        return False
