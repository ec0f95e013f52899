"""``twml-runs``: list, show and compare the training runs recorded by :mod:`twml.experiment_tracker`.

Usage::

  twml-runs [--db PATH] [--json] list [--name SUBSTRING] [--limit N]
  twml-runs [--db PATH] [--json] show RUN_ID
  twml-runs [--db PATH] [--json] compare RUN_ID RUN_ID [RUN_ID ...]

``--db`` defaults to :func:`twml.experiment_tracker.default_db_path` (``$TWML_EXPERIMENT_DB`` or
``~/.twml/experiments.sqlite``); ``--db`` and ``--json`` may also follow the sub-command. Runs of this host
still ``running`` whose process is gone (e.g. SIGKILLed) are marked ``killed`` first
(:func:`twml.experiment_tracker.mark_dead_runs`). Exit status 0 on
success, 2 for a usage error, a missing database or an unknown run id (message on stderr).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import sqlite3
import sys
import time
from typing import Any, Sequence, TextIO

from twml.experiment_tracker import DEFAULT_DB_ENV, connect, default_db_path, mark_dead_runs

_MISSING = "-"


class CliError(Exception):
    """A user-facing error: printed on stderr, exit status 2."""


def _open(db_path: str) -> sqlite3.Connection:
    if not os.path.isfile(db_path):
        raise CliError(f"no tracking database at {db_path} (set --db or ${DEFAULT_DB_ENV})")
    try:
        conn = connect(db_path, timeout=10.0, create=False)
        found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()
    except sqlite3.Error as error:
        raise CliError(f"cannot read tracking database {db_path}: {error}") from error
    if found is None:
        conn.close()
        raise CliError(f"{db_path} is not a twml tracking database (no runs table)")
    try:
        mark_dead_runs(conn)
    except sqlite3.OperationalError as error:  # a read-only database: list as recorded
        if "readonly" not in str(error):
            raise
    return conn


def _metric_key(eval_name: str | None, name: str) -> str:
    return f"{eval_name}/{name}" if eval_name else name


def _duration(row: sqlite3.Row) -> float:
    end = row["end_time"] if row["end_time"] is not None else time.time()
    return max(0.0, end - row["start_time"])


def _last_metrics(conn: sqlite3.Connection, run_id: int) -> dict[str, float | None]:
    """Latest value (by logging order) of each metric key of a run."""
    rows = conn.execute("SELECT eval_name, name, value FROM metrics WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
    return {_metric_key(row["eval_name"], row["name"]): row["value"] for row in rows}


def _latest_eval(conn: sqlite3.Connection, run_id: int) -> dict[str, Any] | None:
    """The metrics of the most recent ``log_metrics`` step (same eval name and global step as the last row)."""
    last = conn.execute(
        "SELECT eval_name, global_step FROM metrics WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,)
    ).fetchone()
    if last is None:
        return None
    rows = conn.execute(
        "SELECT name, value FROM metrics WHERE run_id = ? AND eval_name IS ? AND global_step IS ? ORDER BY id",
        (run_id, last["eval_name"], last["global_step"]),
    ).fetchall()
    return {
        "eval_name": last["eval_name"],
        "global_step": last["global_step"],
        "metrics": {row["name"]: row["value"] for row in rows},
    }


def _run_row(conn: sqlite3.Connection, run_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise CliError(f"unknown run id {run_id}")
    return row


def _run_summary(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "status": row["status"],
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "duration_s": _duration(row),
    }


def list_runs(conn: sqlite3.Connection, name: str | None = None, limit: int | None = 20) -> list[dict[str, Any]]:
    """Runs newest first, optionally only those whose name contains ``name``, at most ``limit`` (None: all)."""
    query = "SELECT * FROM runs"
    args: list[Any] = []
    if name:
        query += " WHERE instr(name, ?) > 0"
        args.append(name)
    query += " ORDER BY id DESC"
    if limit is not None and limit >= 0:
        query += " LIMIT ?"
        args.append(limit)
    result = []
    for row in conn.execute(query, args).fetchall():
        summary = _run_summary(row)
        summary["last_metrics"] = _latest_eval(conn, row["id"])
        result.append(summary)
    return result


def show_run(conn: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """Everything recorded for one run; metrics grouped per (eval name, global step) in logging order."""
    row = _run_row(conn, run_id)
    run = _run_summary(row)
    for key in ("save_dir", "code_version", "host", "pid", "error"):
        run[key] = row[key]
    run["command"] = json.loads(row["command"])
    run["params"] = json.loads(row["params"])
    groups: dict[tuple, dict[str, Any]] = {}
    for metric in conn.execute(
        "SELECT eval_name, global_step, name, value FROM metrics WHERE run_id = ? ORDER BY id", (run_id,)
    ):
        key = (metric["eval_name"], metric["global_step"])
        if key not in groups:
            groups[key] = {"eval_name": metric["eval_name"], "global_step": metric["global_step"], "metrics": {}}
        groups[key]["metrics"][metric["name"]] = metric["value"]
    run["metrics"] = list(groups.values())
    run["checkpoints"] = [
        dict(r)
        for r in conn.execute("SELECT path, global_step, time FROM checkpoints WHERE run_id = ? ORDER BY id", (run_id,))
    ]
    run["exports"] = [
        dict(r)
        for r in conn.execute("SELECT path, model_hash, time FROM exports WHERE run_id = ? ORDER BY id", (run_id,))
    ]
    return run


def compare_runs(conn: sqlite3.Connection, run_ids: Sequence[int]) -> dict[str, Any]:
    """Params whose values differ between the runs and the last value of every metric.

    ``params``/``metrics`` map a name to ``{str(run_id): value}``; a run that lacks the param or metric is
    absent from the inner dict (a metric value of None is NaN).
    """
    rows = [_run_row(conn, run_id) for run_id in run_ids]
    params = {str(row["id"]): json.loads(row["params"]) for row in rows}
    differing = {}
    for key in sorted(set().union(*params.values())):
        values = {run: p[key] for run, p in params.items() if key in p}
        canonical = {json.dumps(v, sort_keys=True, default=repr) for v in values.values()}
        if len(values) < len(params) or len(canonical) > 1:
            differing[key] = values
    last = {str(row["id"]): _last_metrics(conn, row["id"]) for row in rows}
    metrics = {key: {run: m[key] for run, m in last.items() if key in m} for key in sorted(set().union(*last.values()))}
    return {"runs": [_run_summary(row) for row in rows], "params": differing, "metrics": metrics}


# ---------------------------------------------------------------------------------------------------- text


def _time(seconds: float | None) -> str:
    if seconds is None:
        return _MISSING
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def _hms(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _value(value: Any) -> str:
    if value is None:
        return "nan"  # the database stores NaN as NULL
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=repr)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for line in [list(headers)] + [list(r) for r in rows]:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n")


def _summary_text(latest: dict[str, Any] | None, max_len: int = 60) -> str:
    if latest is None:
        return _MISSING
    prefix = f"{latest['eval_name']}@" if latest["eval_name"] else "@"
    text = f"{prefix}{latest['global_step'] if latest['global_step'] is not None else '?'} " + " ".join(
        f"{name}={_value(value)}" for name, value in latest["metrics"].items()
    )
    return text if len(text) <= max_len else text[: max_len - 3] + "..."


def _print_list(runs: list[dict[str, Any]], out: TextIO) -> None:
    rows = [
        [
            str(r["id"]),
            r["name"],
            r["status"],
            _time(r["start_time"]),
            _hms(r["duration_s"]),
            _summary_text(r["last_metrics"]),
        ]
        for r in runs
    ]
    _table(["ID", "NAME", "STATUS", "START", "DURATION", "LAST METRICS"], rows, out)


def _print_show(run: dict[str, Any], out: TextIO) -> None:
    fields = [
        ("run", str(run["id"])),
        ("name", run["name"]),
        ("status", run["status"]),
        ("start", _time(run["start_time"])),
        ("end", _time(run["end_time"])),
        ("duration", _hms(run["duration_s"])),
        ("save_dir", run["save_dir"] or _MISSING),
        ("code_version", run["code_version"] or _MISSING),
        ("host", run["host"] or _MISSING),
        ("pid", str(run["pid"])),
        ("command", shlex.join(run["command"])),
    ]
    if run["error"]:
        fields.append(("error", run["error"]))
    width = max(len(key) for key, _ in fields)
    for key, value in fields:
        out.write(f"{key.ljust(width)}  {value}\n")
    out.write("\nparams:\n")
    for key, value in sorted(run["params"].items()):
        out.write(f"  {key} = {_value(value)}\n")
    out.write("\nmetrics:\n")
    if not run["metrics"]:
        out.write(f"  {_MISSING}\n")
    by_eval: dict[Any, list[dict[str, Any]]] = {}
    for group in run["metrics"]:
        by_eval.setdefault(group["eval_name"], []).append(group)
    for eval_name, groups in by_eval.items():
        names = list(dict.fromkeys(name for g in groups for name in g["metrics"]))
        out.write(f"  [{eval_name or 'default'}]\n")
        rows = [
            [_MISSING if g["global_step"] is None else str(g["global_step"])]
            + [_value(g["metrics"][n]) if n in g["metrics"] else _MISSING for n in names]
            for g in groups
        ]
        _table(["  step"] + names, [["  " + r[0]] + r[1:] for r in rows], out)
    out.write("\ncheckpoints:\n")
    for checkpoint in run["checkpoints"] or [None]:
        if checkpoint is None:
            out.write(f"  {_MISSING}\n")
        else:
            step = _MISSING if checkpoint["global_step"] is None else checkpoint["global_step"]
            out.write(f"  step {step}  {checkpoint['path']}\n")
    out.write("\nexports:\n")
    for export in run["exports"] or [None]:
        if export is None:
            out.write(f"  {_MISSING}\n")
        else:
            out.write(f"  {export['path']}  sha1={export['model_hash'] or _MISSING}\n")


def _print_compare(result: dict[str, Any], out: TextIO) -> None:
    runs = [str(r["id"]) for r in result["runs"]]
    columns = [f"#{r['id']} {r['name']}" for r in result["runs"]]
    for title, header, section in (
        ("params that differ", "param", "params"),
        ("last metric values", "metric", "metrics"),
    ):
        out.write(f"{title}:\n")
        if result[section]:
            rows = [
                ["  " + key] + [_value(values[run]) if run in values else _MISSING for run in runs]
                for key, values in result[section].items()
            ]
            _table(["  " + header] + columns, rows, out)
        else:
            out.write("  (none)\n")
        if section == "params":
            out.write("\n")


def _json_safe(value: Any) -> Any:
    """Replaces NaN/inf floats (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    # The shared options are accepted before or after the sub-command; SUPPRESS keeps a sub-parser's
    # default from overwriting a value given before the sub-command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, help="tracking database")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    parser = argparse.ArgumentParser(prog="twml-runs", description="Inspect runs recorded by twml trainers.")
    parser.add_argument("--db", default=None, help=f"tracking database (default: {default_db_path()})")
    parser.add_argument("--json", action="store_true", default=False, help="print JSON instead of text")
    commands = parser.add_subparsers(dest="command", required=True)
    list_parser = commands.add_parser("list", parents=[common], help="list runs, newest first")
    list_parser.add_argument("--name", default=None, help="only runs whose name contains this string")
    list_parser.add_argument("--limit", type=int, default=20, help="at most this many runs; -1 for all")
    show_parser = commands.add_parser("show", parents=[common], help="everything recorded for one run")
    show_parser.add_argument("run_id", type=int)
    compare_parser = commands.add_parser("compare", parents=[common], help="compare params and metrics of runs")
    compare_parser.add_argument("run_ids", type=int, nargs="+")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``twml-runs``; returns the exit status (0 ok, 2 usage/missing db/unknown run id)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    if args.command == "compare" and len(args.run_ids) < 2:
        sys.stderr.write("twml-runs: error: compare needs at least two run ids\n")
        return 2
    db_path = os.path.expanduser(args.db) if args.db else default_db_path()
    out = sys.stdout
    try:
        conn = _open(db_path)
        try:
            if args.command == "list":
                result: Any = list_runs(conn, args.name, None if args.limit < 0 else args.limit)
                printer = _print_list
            elif args.command == "show":
                result = show_run(conn, args.run_id)
                printer = _print_show
            else:
                result = compare_runs(conn, args.run_ids)
                printer = _print_compare
        finally:
            conn.close()
    except CliError as error:
        sys.stderr.write(f"twml-runs: error: {error}\n")
        return 2
    except sqlite3.Error as error:
        sys.stderr.write(f"twml-runs: error: cannot read {db_path}: {error}\n")
        return 2
    if args.json:
        json.dump(_json_safe(result), out, indent=2, sort_keys=True)
        out.write("\n")
    else:
        printer(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
