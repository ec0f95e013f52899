"""twml-batch-predict: score DataRecord block files with an exported twml SavedModel, as a job
that can be killed, rerun and scaled out, writing each prediction exactly once.

    twml-batch-predict --export_dir MODELS --input '/data/eval/part-*' --output_dir /preds
    tools/bazel run //tools:batch_predict -- --export_dir ... --input ... --output_dir ...

One output part per input file, named after it (``part-00000.lzo`` -> ``part-00000``, or
``part-00000.csv``), each written under a hidden temporary name and renamed when complete, then
committed by its manifest ``_manifests/<part>.json`` (input file, its size and mtime, record
count, output size and SHA-256, the export and its fingerprint, the job's flags). A rerun skips
committed parts, redoes the others, and refuses parts committed by another model, other flags or
from an input file that changed since (``--overwrite`` redoes them). When every part of the job
(all shards) is committed, ``_SUCCESS`` is written with the totals.

The library entry points are :func:`run` (parsed flags in, summary out) and :func:`main`.
Prediction goes through :class:`twml.batch_prediction.SavedModelPredictor` (the one code path):
the core builds each BatchPredictionRequest, and the floats the export's response writer encodes
are fetched directly. Reading (and decompressing), the model and writing run in three threads
that overlap, with bounded queues between them (memory does not grow with the input).
"""

import argparse
import glob as globlib
import hashlib
import json
import logging
import os
import queue
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, TextIO, Tuple

import numpy as np

from libtwml import _core
from twml import console
from twml.batch_prediction import SavedModelPredictor
from twml_common import atomic_files, block_files
from twml_common.data_spec import read_data_spec

PROG = "twml-batch-predict"
MANIFEST_DIR = "_manifests"
SUCCESS_FILE = "_SUCCESS"
OUTPUT_FORMATS = ("datarecord", "csv")
_COMPRESSION_SUFFIXES = (".gz", ".lzo")
_QUEUE_DEPTH = 4
_LOG = logging.getLogger("twml.batch_prediction_job")


class JobError(Exception):
    """A problem the user can fix (bad flag, bad input, refused rerun): one line, exit status 2
    (1 for damaged input data found while running)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise JobError(message)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an integer" % text) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("%d is not positive" % value)
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of twml-batch-predict."""
    parser = _Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--export_dir",
        required=True,
        help="a SavedModel directory, or a directory of timestamped exports (the newest complete "
        "one is used and logged), e.g. <save_dir>/exported_models",
    )
    parser.add_argument(
        "--input",
        required=True,
        nargs="+",
        help="DataRecord block files (raw, .gz or .lzo), directories (their files, except hidden, "
        "_* and *.json ones) or glob patterns; any tf.io.gfile path (non-local files are "
        "copied to the output dir one at a time)",
    )
    parser.add_argument("--output_dir", required=True, help="where the parts, _manifests/ and _SUCCESS go (local)")
    parser.add_argument(
        "--output_format",
        default="datarecord",
        choices=OUTPUT_FORMATS,
        help="datarecord: block files of DataRecords holding the --keep_fields features of the "
        "input record and each prediction as a continuous feature keyed by the export's "
        "response key (the label's feature id), readable by twml-records; csv: a header "
        "row, then the kept fields and the predictions as columns (default: %(default)s)",
    )
    parser.add_argument(
        "--keep_fields",
        nargs="*",
        default=[],
        help="feature names copied from each input record to its output row; each must be "
        "known to the export's feature_spec.yaml or to --data_spec",
    )
    parser.add_argument("--data_spec", help="a data spec naming more features for --keep_fields and CSV headers")
    parser.add_argument("--batch_size", type=_positive, default=512, help="records per request (default %(default)s)")
    parser.add_argument(
        "--signature",
        default="serving_default",
        help="the signature to run: input 'request', output 'prediction' (default %(default)s)",
    )
    parser.add_argument(
        "--skip_corrupt",
        action="store_true",
        help="skip damaged blocks, undecodable records and bytes outside blocks (as twml-records "
        "--skip_corrupt), counted in the summary and manifests; without it damage stops the "
        "job with an error naming the file and byte offset",
    )
    parser.add_argument(
        "--max_records",
        type=_positive,
        help="a dry run: score at most this many records, print the summary, write no output",
    )
    parser.add_argument(
        "--num_shards",
        type=_positive,
        default=1,
        help="workers sharing the job: input file i (in sorted order) goes to shard i %% N",
    )
    parser.add_argument(
        "--shard_index", type=int, help="this worker's shard, 0..N-1 (default $JOB_COMPLETION_INDEX, else 0)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="redo parts committed by another model, other flags or from changed input",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="TensorFlow intra/inter-op threads (0: TensorFlow's default)"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also print TensorFlow's deprecation notices and its INFO lines"
    )
    parser.add_argument(
        "--log_every_secs",
        type=float,
        default=30.0,
        help="progress log period when stderr is not a terminal (default %(default)s)",
    )
    return parser


# ---------------------------------------------------------------------------------------------
# The export.


def _gfile() -> Any:
    import tensorflow.compat.v1 as tf

    return tf.io.gfile


def _is_savedmodel(path: str) -> bool:
    gfile = _gfile()
    return gfile.exists(os.path.join(path, "saved_model.pb")) or gfile.exists(os.path.join(path, "saved_model.pbtxt"))


def _is_complete_export(path: str) -> bool:
    """A SavedModel whose variables (if it has any) are all written."""
    gfile = _gfile()
    if not _is_savedmodel(path):
        return False
    variables = os.path.join(path, "variables")
    return not gfile.isdir(variables) or gfile.exists(os.path.join(variables, "variables.index"))


def resolve_export(export_dir: str) -> Tuple[str, str]:
    """The SavedModel `export_dir` names, and how it was chosen (for the log).

    Raises:
      JobError: no such directory, or neither a SavedModel nor a directory of timestamped exports.
    """
    gfile = _gfile()
    if not gfile.isdir(export_dir):
        raise JobError("--export_dir %s: no such directory" % export_dir)
    if _is_savedmodel(export_dir):
        return export_dir, "the SavedModel %s" % export_dir
    stamps = sorted(
        (int(name.rstrip("/")), name.rstrip("/")) for name in gfile.listdir(export_dir) if name.rstrip("/").isdigit()
    )
    complete = [
        os.path.join(export_dir, name) for _, name in stamps if _is_complete_export(os.path.join(export_dir, name))
    ]
    if not complete:
        raise JobError(
            "--export_dir %s: not a SavedModel (no saved_model.pb) and holds no complete timestamped "
            "export" % export_dir
        )
    return complete[-1], "the newest of %d complete exports in %s: %s" % (len(complete), export_dir, complete[-1])


def export_fingerprint(export_path: str) -> str:
    """SHA-256 over the export's graph and variables index: another model, another fingerprint."""
    gfile = _gfile()
    digest = hashlib.sha256()
    for name in ("saved_model.pb", "saved_model.pbtxt", os.path.join("variables", "variables.index")):
        path = os.path.join(export_path, name)
        if gfile.exists(path):
            with gfile.GFile(path, "rb") as source:
                digest.update(name.encode() + b"\0" + source.read())
    return digest.hexdigest()


def feature_names(export_path: str, data_spec_path: Optional[str]) -> Dict[str, int]:
    """Feature name -> id from the export's feature_spec.yaml (features, labels, weight) and an
    optional data spec."""
    import yaml

    names: Dict[str, int] = {}
    spec_path = os.path.join(export_path, "feature_spec.yaml")
    gfile = _gfile()
    if gfile.exists(spec_path):
        with gfile.GFile(spec_path) as source:
            spec = yaml.safe_load(source.read()) or {}
        for section in ("features", "labels", "weight"):
            entries = spec.get(section) or {}
            for key, info in entries.items():
                if isinstance(info, dict) and "featureName" in info:
                    names[str(info["featureName"])] = int(key)
    if data_spec_path:
        try:
            spec = read_data_spec(data_spec_path)
        except (OSError, ValueError) as error:
            raise JobError("--data_spec %s: %s" % (data_spec_path, error)) from None
        names.update({info.fullFeatureName: info.featureId for info in spec.contents})
    return names


# ---------------------------------------------------------------------------------------------
# Inputs, parts, shards.


def expand_inputs(patterns: Sequence[str]) -> List[str]:
    """The input files of `patterns` (files, directories, globs), sorted, without duplicates.

    Raises:
      JobError: a pattern matches nothing, or the set is empty.
    """
    gfile = _gfile()
    files = set()
    for pattern in patterns:
        if gfile.isdir(pattern):
            found = [
                os.path.join(pattern, name.rstrip("/"))
                for name in gfile.listdir(pattern)
                if not name.startswith((".", "_")) and not name.endswith(".json")
            ]
            found = [path for path in found if not gfile.isdir(path)]
            if not found:
                raise JobError("--input %s: the directory holds no input files" % pattern)
        elif any(char in pattern for char in "*?["):
            found = [path for path in gfile.glob(pattern) if not gfile.isdir(path)]
            if not found:
                raise JobError("--input %s: matches no file" % pattern)
        elif gfile.exists(pattern):
            found = [pattern]
        else:
            raise JobError("--input %s: no such file" % pattern)
        files.update(found)
    if not files:
        raise JobError("--input: no input files")
    return sorted(files)


def part_names(inputs: Sequence[str], output_format: str) -> List[str]:
    """One output part name per input file, from its name without the compression suffix (from its
    path below the inputs' common directory when names repeat), ``.csv`` added for CSV.

    Raises:
      JobError: two inputs would write the same part.
    """

    def strip(name: str) -> str:
        for suffix in _COMPRESSION_SUFFIXES:
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name

    names = [strip(os.path.basename(path)) for path in inputs]
    if len(set(names)) != len(names):
        common = os.path.dirname(os.path.commonprefix([os.path.dirname(p) + "/" for p in inputs]))
        names = [
            strip(os.path.relpath(path, common) if common else path.lstrip("/")).replace("/", "_") for path in inputs
        ]
    seen: Dict[str, str] = {}
    for path, name in zip(inputs, names):
        if name in seen:
            raise JobError("--input: %s and %s would write the same output part %r" % (seen[name], path, name))
        seen[name] = path
    suffix = ".csv" if output_format == "csv" else ""
    return [name + suffix for name in names]


def shard_index_from_env(value: Optional[int]) -> int:
    """--shard_index, else $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs), else 0."""
    if value is not None:
        return value
    text = os.environ.get("JOB_COMPLETION_INDEX")
    if text is None:
        return 0
    try:
        return int(text)
    except ValueError:
        raise JobError("JOB_COMPLETION_INDEX=%r is not an integer" % text) from None


def input_stat(path: str) -> Dict[str, int]:
    """Size and mtime (ns) of an input file, as the manifests record them."""
    try:
        stat = _gfile().stat(path)
    except Exception as error:  # tf.errors.* for any filesystem
        raise JobError("--input %s: cannot stat: %s" % (path, getattr(error, "message", error))) from None
    return {"input_size": int(stat.length), "input_mtime_ns": int(stat.mtime_nsec)}


def _file_digest(path: str) -> Tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class Part:
    """One input file and the output part it becomes."""

    def __init__(self, index: int, input_path: str, name: str, output_dir: str) -> None:
        self.index, self.input_path, self.name = index, input_path, name
        self.path = os.path.join(output_dir, name)
        self.manifest_path = os.path.join(output_dir, MANIFEST_DIR, name + ".json")

    def read_manifest(self) -> Optional[Dict[str, Any]]:
        """The committed manifest, or None (a damaged one counts as none: the part is redone)."""
        try:
            with open(self.manifest_path) as source:
                manifest = json.load(source)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None

    def output_intact(self, manifest: Dict[str, Any]) -> bool:
        """Whether the part file holds exactly what its manifest committed."""
        try:
            return _file_digest(self.path) == (manifest.get("output_bytes"), manifest.get("output_sha256"))
        except OSError:
            return False


def _mismatch(manifest: Dict[str, Any], expected: Dict[str, Any]) -> Optional[str]:
    for key, value in expected.items():
        if manifest.get(key) != value:
            return "%s was %r, now %r" % (key, manifest.get(key), value)
    return None


# ---------------------------------------------------------------------------------------------
# Output rows.


def _cell(record: Dict[str, Any], feature: int) -> str:
    """A kept feature of a decoded record as a CSV cell ("" when absent)."""
    if feature in record.get("binary", ()):
        return "1"
    for kind in ("continuous", "discrete"):
        if feature in record.get(kind, {}):
            return repr(record[kind][feature])
    if feature in record.get("strings", {}):
        value = record["strings"][feature]
        return value.decode("utf-8", "replace")
    if feature in record.get("sparse_binary", {}):
        return json.dumps(sorted(v.decode("utf-8", "replace") for v in record["sparse_binary"][feature]))
    if feature in record.get("sparse_continuous", {}):
        return json.dumps(
            {k.decode("utf-8", "replace"): v for k, v in record["sparse_continuous"][feature].items()}, sort_keys=True
        )
    if feature in record.get("blobs", {}):
        import base64

        return base64.b64encode(record["blobs"][feature]).decode("ascii")
    return ""


def _csv_field(text: str) -> str:
    if any(char in text for char in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


class _Formatter:
    """Turns a batch (input records, predictions) into the output bytes of the format."""

    def __init__(
        self, output_format: str, keep: Sequence[Tuple[str, int]], keys: np.ndarray, key_names: Dict[int, str]
    ) -> None:
        self.output_format, self.keep, self.keys = output_format, list(keep), [int(k) for k in keys]
        self.keep_ids = [feature for _, feature in self.keep]
        self.header = (
            ",".join(
                _csv_field(c) for c in [name for name, _ in self.keep] + [key_names.get(k, str(k)) for k in self.keys]
            )
            + "\n"
        ).encode()

    def encode(self, records: Sequence[bytes], values: np.ndarray) -> bytes:
        if self.output_format == "csv":
            return self._csv(records, values)
        if len(values) == 0:
            return b""
        # In the core, without the GIL: the kept features of each input record (decoded there) plus
        # the predictions as continuous features, float32 values widened exactly to double.
        return _core.encode_prediction_block(
            list(records) if self.keep_ids else [], values, self.keys, self.keep_ids, block_files.RECORD_CLASS_NAME
        )

    def _csv(self, records: Sequence[bytes], values: np.ndarray) -> bytes:
        # str() of a numpy float32 is its shortest repr that reads back as the same float32.
        predictions = [",".join(str(v) for v in row) for row in values]
        if not self.keep_ids:
            return ("\n".join(predictions) + "\n").encode() if predictions else b""
        lines = []
        for data, prediction in zip(records, predictions):
            record = _core.decode_data_record(data)
            lines.append(",".join(_csv_field(_cell(record, f)) for f in self.keep_ids) + "," + prediction)
        return ("\n".join(lines) + "\n").encode() if lines else b""


# ---------------------------------------------------------------------------------------------
# The pipeline: reader -> model -> writer threads.


class _Stop(Exception):
    """Another stage failed: this one stops quietly."""


class _Pipeline:
    """Three threads with bounded queues between them; the first error stops all of them."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: Optional[BaseException] = None
        self._lock = threading.Lock()

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = error
        self.stop.set()

    def put(self, target: "queue.Queue[Any]", item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise _Stop()
            try:
                target.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self, source: "queue.Queue[Any]") -> Any:
        while True:
            if self.stop.is_set():
                raise _Stop()
            try:
                return source.get(timeout=0.1)
            except queue.Empty:
                continue

    def thread(self, target: Any, *args: Any) -> threading.Thread:
        def body() -> None:
            try:
                target(*args)
            except _Stop:
                pass
            except BaseException as error:  # noqa: B902 - handed to the main thread
                self.fail(error)

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        return thread


class _Progress:
    """Records, records/s and ETA: a bar on a terminal, log lines otherwise."""

    def __init__(self, total_bytes: int, stream: TextIO, log_every_secs: float) -> None:
        self.total_bytes, self.stream, self.log_every = total_bytes, stream, log_every_secs
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.last = self.start
        self.records = 0
        self.done_bytes = 0
        self.current_fraction = 0.0
        self.current_bytes = 0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.records / elapsed
        done = self.done_bytes + self.current_fraction * self.current_bytes
        text = "%d records, %.0f records/s" % (self.records, rate)
        if self.total_bytes and done > 0:
            fraction = min(done / self.total_bytes, 1.0)
            eta = elapsed * (1 - fraction) / fraction
            text += ", %.0f%%, ETA %ds" % (100 * fraction, eta)
        return text

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty and (force or now - self.last >= 0.5):
            self.stream.write("\r" + self.line() + "   ")
            self.stream.flush()
            self.last = now
        elif not self.tty and (now - self.last >= self.log_every):
            _LOG.info("progress: %s", self.line())
            self.last = now

    def finish(self) -> None:
        if self.tty:
            self.tick(force=True)
            self.stream.write("\n")


def run(args: argparse.Namespace, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> Dict[str, Any]:
    """Runs the job of parsed flags. Everything is checked before any work: the export and
    signature, the inputs, --keep_fields, the output dir and the parts already committed.

    Returns:
      the summary (also printed on `stdout`).

    Raises:
      JobError: bad flags or input, a refused rerun, damaged input data.
    """
    started = time.monotonic()
    shard = shard_index_from_env(args.shard_index)
    if not 0 <= shard < args.num_shards:
        raise JobError(
            "--shard_index %d: not in 0..%d (--num_shards %d)" % (shard, args.num_shards - 1, args.num_shards)
        )
    export_path, how = resolve_export(args.export_dir)
    _LOG.info("export: %s", how)
    names = feature_names(export_path, args.data_spec)
    unknown = [name for name in args.keep_fields if name not in names]
    if unknown:
        raise JobError(
            "--keep_fields: unknown feature(s) %s (not in %s%s)"
            % (
                ", ".join(unknown),
                os.path.join(export_path, "feature_spec.yaml"),
                " nor in --data_spec" if args.data_spec else "; name more with --data_spec",
            )
        )
    keep = [(name, names[name]) for name in args.keep_fields]
    inputs = expand_inputs(args.input)
    all_parts = [
        Part(i, path, name, args.output_dir)
        for i, (path, name) in enumerate(zip(inputs, part_names(inputs, args.output_format)))
    ]
    mine = [part for part in all_parts if part.index % args.num_shards == shard]
    dry_run = args.max_records is not None
    _check_output_dir(args.output_dir, create=not dry_run)

    identity = {
        "export": os.path.abspath(export_path) if "://" not in export_path else export_path,
        "export_fingerprint": export_fingerprint(export_path),
        "signature": args.signature,
        "output_format": args.output_format,
        "keep_fields": list(args.keep_fields),
    }
    stats = {part.index: input_stat(part.input_path) for part in mine}
    pending: List[Part] = []
    skipped_done: List[Dict[str, Any]] = []
    for part in mine:
        manifest = part.read_manifest()
        if manifest is None or dry_run:
            pending.append(part)
            continue
        expected = dict(identity, input=part.input_path, **stats[part.index])
        why = _mismatch(manifest, expected)
        if why is not None and not args.overwrite:
            raise JobError(
                "%s: committed by another run (%s); rerun with --overwrite to redo it" % (part.manifest_path, why)
            )
        if why is None and part.output_intact(manifest):
            skipped_done.append(manifest)
        else:
            pending.append(part)
    if not dry_run:
        # A shard has one worker, so temporaries of its parts are debris of a killed run, whichever
        # host or container (pid namespace) that run was in.
        for part in mine:
            for path in (part.path, part.manifest_path):
                atomic_files.remove_stale_temporaries(path, any_writer=True)

    try:
        predictor = SavedModelPredictor(export_path, args.signature, _session_config(args.threads))
    except ValueError as error:
        raise JobError("--signature %s: %s" % (args.signature, error)) from None
    except Exception as error:  # a SavedModel that does not load: tf.errors.*, RuntimeError
        detail = str(getattr(error, "message", error)).splitlines()[0]
        raise JobError("--export_dir %s: cannot load %s: %s" % (args.export_dir, export_path, detail)) from None
    key_names = {feature: name for name, feature in names.items()}
    if pending and not dry_run:
        _remove(os.path.join(args.output_dir, SUCCESS_FILE))
        os.makedirs(os.path.join(args.output_dir, MANIFEST_DIR), exist_ok=True)
    with predictor:
        totals = _score(args, predictor, pending, identity, stats, keep, key_names, dry_run, stderr)
    summary: Dict[str, Any] = {
        "export": identity["export"],
        "shard": "%d/%d" % (shard, args.num_shards),
        "parts_written": totals["parts"],
        "parts_already_done": len(skipped_done),
        "records": totals["records"],
        "skipped_corrupt": totals["skipped"],
        "records_per_s": round(totals["records"] / max(totals["seconds"], 1e-9), 1),
        "wall_s": round(time.monotonic() - started, 3),
        "dry_run": dry_run,
    }
    if not dry_run:
        summary["success"] = _write_success_if_complete(args.output_dir, all_parts, identity)
    stdout.write("%s summary: %s\n" % (PROG, json.dumps(summary, sort_keys=True)))
    stdout.flush()
    return summary


def _session_config(threads: int) -> Any:
    import tensorflow.compat.v1 as tf

    if threads <= 0:
        return None
    return tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)


def _check_output_dir(path: str, create: bool) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise JobError("--output_dir %s: is a file, not a directory" % path)
    try:
        if create:
            os.makedirs(path, exist_ok=True)
        probe_dir = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        with atomic_files.atomic_output(os.path.join(probe_dir, ".twml-batch-predict-probe")) as probe:
            probe.write(b"")
        os.unlink(os.path.join(probe_dir, ".twml-batch-predict-probe"))
    except OSError as error:
        raise JobError("--output_dir %s: not writable: %s" % (path, error.strerror or error)) from None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _local_copy(part: Part, output_dir: str) -> Tuple[str, Optional[str]]:
    """A local path of the part's input: itself, or a copy of a non-local file (removed after)."""
    if "://" not in part.input_path:
        return part.input_path, None
    staging = os.path.join(output_dir, ".input-%d-%s" % (os.getpid(), part.name))
    _gfile().copy(part.input_path, staging, overwrite=True)
    return staging, staging


def _score(
    args: argparse.Namespace,
    predictor: Any,
    pending: Sequence[Part],
    identity: Dict[str, Any],
    stats: Dict[int, Dict[str, int]],
    keep: Sequence[Tuple[str, int]],
    key_names: Dict[int, str],
    dry_run: bool,
    stderr: TextIO,
) -> Dict[str, Any]:
    """Reads, predicts and writes the pending parts in three overlapping threads."""
    pipeline = _Pipeline()
    to_model: "queue.Queue[Any]" = queue.Queue(_QUEUE_DEPTH)
    to_writer: "queue.Queue[Any]" = queue.Queue(_QUEUE_DEPTH)
    progress = _Progress(sum(stats[p.index]["input_size"] for p in pending), stderr, args.log_every_secs)
    totals: Dict[str, Any] = {
        "parts": 0,
        "records": 0,
        "skipped": {"blocks": 0, "records": 0, "bytes": 0},
        "seconds": 0.0,
    }
    limit = args.max_records
    started = time.monotonic()

    def read() -> None:
        remaining = limit
        for part in pending:
            if remaining is not None and remaining <= 0:
                break
            local, staged = _local_copy(part, args.output_dir)
            try:
                reader = _core.BlockFileReader(local, skip_corrupt=args.skip_corrupt)
                pipeline.put(to_model, ("start", part, None))
                while remaining is None or remaining > 0:
                    size = args.batch_size if remaining is None else min(args.batch_size, remaining)
                    # Read and decompressed without the GIL. Without --keep_fields the records are
                    # only needed as a request: the reader packs them into one straight away.
                    batch: Optional[List[bytes]]
                    if keep:
                        batch = reader.read_batch(size)
                        request, count = None, len(batch)
                    else:
                        batch = None
                        request, count = reader.read_request(size)
                    if not count:
                        break
                    pipeline.put(to_model, ("batch", part, (batch, request, count, reader.block_offset)))
                    if remaining is not None:
                        remaining -= count
                skipped = {
                    "blocks": reader.skipped_blocks,
                    "records": reader.skipped_records,
                    "bytes": reader.skipped_bytes,
                    "last": reader.last_skip_message,
                }
                pipeline.put(to_model, ("end", part, skipped))
            except ValueError as error:  # libtwml.Error: damaged data, named by file and offset
                text = str(error)
                if staged is not None:
                    text = text.replace(local, part.input_path)
                failure = JobError(text if part.input_path in text else "%s: %s" % (part.input_path, text), 1)
                # In the stream, after the batches before it: the parts before this one still complete.
                pipeline.put(to_model, ("error", part, failure))
                return
            finally:
                if staged is not None:
                    _remove(staged)
        pipeline.put(to_model, ("done", None, None))

    def predict() -> None:
        while True:
            kind, part, payload = pipeline.get(to_model)
            if kind == "batch":
                records, request, count, offset = payload
                values = (
                    predictor.predict_batch(records)
                    if request is None
                    else predictor.predict_request_values(request, count)
                )
                payload = (records, count, offset, values)
            pipeline.put(to_writer, (kind, part, payload))
            if kind in ("done", "error"):
                return

    reader_thread = pipeline.thread(read)
    model_thread = pipeline.thread(predict)
    formatter: Optional[_Formatter] = None
    output: Any = None
    context: Any = None
    digest: Any = None
    records = 0
    size = 0
    try:
        while True:
            try:
                kind, part, payload = pipeline.get(to_writer)
            except _Stop:
                break
            if kind == "done":
                break
            if kind == "error":
                raise payload
            if kind == "start":
                records, size, digest = 0, 0, hashlib.sha256()
                progress.current_bytes, progress.current_fraction = stats[part.index]["input_size"], 0.0
                if not dry_run:
                    context = atomic_files.atomic_output(part.path, fsync=True)
                    output = context.__enter__()
                continue
            if kind == "batch":
                batch, count, offset, values = payload
                if formatter is None:
                    formatter = _Formatter(args.output_format, keep, predictor.keys, key_names)
                data = formatter.encode(batch or [], values)
                if records == 0 and args.output_format == "csv":
                    data = formatter.header + data
                records += count
                progress.records += count
                if not part.input_path.endswith(_COMPRESSION_SUFFIXES) and progress.current_bytes:
                    progress.current_fraction = min(offset / progress.current_bytes, 1.0)
                if output is not None:
                    output.write(data)
                    digest.update(data)
                    size += len(data)
                progress.tick()
                continue
            # "end": the part is complete
            if output is not None and records == 0 and args.output_format == "csv":
                header = _Formatter(
                    args.output_format,
                    keep,
                    predictor.keys if predictor.keys is not None else np.zeros(0, np.int64),
                    key_names,
                ).header
                output.write(header)
                digest.update(header)
                size += len(header)
            if context is not None:
                context.__exit__(None, None, None)
                context, output = None, None
                manifest = dict(
                    identity,
                    input=part.input_path,
                    **stats[part.index],
                    part=part.name,
                    records=records,
                    output_bytes=size,
                    output_sha256=digest.hexdigest(),
                    skipped_corrupt=payload,
                    batch_size=args.batch_size,
                )
                atomic_files.write_file_atomically(
                    part.manifest_path, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
                )
            totals["parts"] += 1
            totals["records"] += records
            for key in ("blocks", "records", "bytes"):
                totals["skipped"][key] += payload[key]
            if payload["last"]:
                _LOG.warning(
                    "skipped in %s: %d damaged blocks, %d records that do not decode, %d bytes outside "
                    "blocks; the last: %s",
                    part.input_path,
                    payload["blocks"],
                    payload["records"],
                    payload["bytes"],
                    payload["last"],
                )
            progress.done_bytes += stats[part.index]["input_size"]
            progress.current_bytes, progress.current_fraction = 0, 0.0
            progress.tick()
    except BaseException as error:
        pipeline.fail(error)
    finally:
        if context is not None:
            exc = pipeline.error or RuntimeError("stopped")
            context.__exit__(type(exc), exc, None)
        reader_thread.join()
        model_thread.join()
        progress.finish()
    if pipeline.error is not None:
        failure = pipeline.error
        if isinstance(failure, JobError):
            raise failure
        if isinstance(failure, ValueError) or hasattr(failure, "message"):  # libtwml.Error, tf.errors.*
            raise JobError(str(getattr(failure, "message", failure)).splitlines()[0], 1) from failure
        raise failure
    totals["seconds"] = time.monotonic() - started
    return totals


def _write_success_if_complete(output_dir: str, parts: Sequence[Part], identity: Dict[str, Any]) -> bool:
    """Writes ``_SUCCESS`` with the totals when every part of the job is committed by this job's
    model and flags (any worker may complete the set; the content is the same for all)."""
    manifests = []
    for part in parts:
        manifest = part.read_manifest()
        if manifest is None or _mismatch(manifest, dict(identity, input=part.input_path)) is not None:
            return False
        if not os.path.exists(part.path):
            return False
        manifests.append(manifest)
    success = dict(
        identity,
        parts=len(parts),
        records=sum(m["records"] for m in manifests),
        output_bytes=sum(m["output_bytes"] for m in manifests),
        skipped_corrupt={
            key: sum(m["skipped_corrupt"][key] for m in manifests) for key in ("blocks", "records", "bytes")
        },
        part_sha256={m["part"]: m["output_sha256"] for m in manifests},
    )
    atomic_files.write_file_atomically(
        os.path.join(output_dir, SUCCESS_FILE), (json.dumps(success, indent=1, sort_keys=True) + "\n").encode()
    )
    return True


def read_predictions(output_dir: str) -> Iterator[Tuple[str, bytes]]:
    """(part name, record bytes) of a DataRecord job output, parts in name order."""
    for path in sorted(globlib.glob(os.path.join(output_dir, "[!._]*"))):
        if os.path.isfile(path):
            for record in _core.BlockFileReader(path, compression=""):
                yield os.path.basename(path), record


def main(argv: Optional[List[str]] = None) -> int:
    """The command: 0 on success; a bad flag, bad input or a refused rerun prints one line and
    returns 2 (damaged input data: 1)."""
    console.configure(verbose="--verbose" in (sys.argv[1:] if argv is None else argv))
    try:
        args = build_parser().parse_args(argv)
        if args.output_dir and os.environ.get("BUILD_WORKING_DIRECTORY"):  # under `bazel run`: relative to the caller
            base = os.environ["BUILD_WORKING_DIRECTORY"]
            args.output_dir = os.path.join(base, args.output_dir)
            args.export_dir = args.export_dir if "://" in args.export_dir else os.path.join(base, args.export_dir)
            args.input = [p if "://" in p else os.path.join(base, p) for p in args.input]
            if args.data_spec:
                args.data_spec = os.path.join(base, args.data_spec)
        run(args)
        return 0
    except JobError as error:
        sys.stderr.write("%s: error: %s\n" % (PROG, error))
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
