"""twml-records: look into DataRecord block files and convert them.

    twml-records count FILE...                     records per file and in total
    twml-records head [-n 10] FILE...              the first records as JSON lines
    twml-records cat FILE...                       every record as JSON lines
    twml-records stats FILE...                     per feature: coverage, min/mean/max, distinct values
    twml-records from-json IN.jsonl OUT            JSON lines (as cat prints them) -> a block file
    twml-records from-tfrecord IN.tfrecord OUT     tf.Examples -> DataRecords in a block file

Under Bazel: `tools/bazel run //tools:records -- count /data/part-*`. Files may be raw, .gz or
.lzo. With --data_spec SPEC (a data spec, see twml_common.data_spec) feature ids print as their
names and names are accepted on input; without it ids print as decimal strings.

A damaged file is an error (exit 1) naming the file and the byte offset, after every intact record
before the damage. With --skip_corrupt, count, head, cat and stats skip damaged blocks (after
their intact records), records that do not decode and bytes outside blocks, go on at the next
sync marker (a corrupt .gz/.lzo stream ends its file), and print per damaged file "skipped in
FILE: N damaged blocks, M records that do not decode, K bytes outside blocks; the last: <error
naming the block and byte offset>" to stderr.

A record's JSON line holds the populated feature types, keyed by feature name (or id):
{"binary": [f, ...], "continuous": {f: 0.5}, "discrete": {f: 3}, "strings": {f: "text"},
 "sparse_binary": {f: ["a", "b"]}, "sparse_continuous": {f: {"a": 1.5}}, "blobs": {f: "base64"},
 "tensors": {f: {"dtype": "float32", "shape": [2], "values": [1.0, 2.0]}}}
Strings and names that are not valid UTF-8 are written as {"base64": "..."}; floats use Python's
shortest round-trip repr, and a float tensor holding a NaN other than the canonical one (a
payload, or the sign bit) is written as "bits": ["0x...", ...] instead of "values"; so `cat` then
`from-json` gives back the same records, byte for byte. (Continuous values that are NaN mean
"absent" to twml's decoders and are not printed; on input {"float64_bits": "0x..."} gives a double
by its bits.)
"""

import argparse
import base64
import json
import math
import os
import struct
import sys
from typing import Dict, Iterable, Iterator, List, Optional, TextIO

import numpy as np

from libtwml import _core
from twml_common import block_files, data_spec

RECORD_CLASS_NAME = block_files.RECORD_CLASS_NAME
_KINDS = ("binary", "continuous", "discrete", "strings", "sparse_binary", "sparse_continuous", "blobs", "tensors")


class FeatureNames:
    """Feature id <-> name through an optional data spec; unknown ids print as decimal strings."""

    def __init__(self, spec_path: Optional[str]) -> None:
        self.by_id: Dict[int, str] = {}
        if spec_path:
            spec = data_spec.read_data_spec(spec_path)
            self.by_id = {info.featureId: info.fullFeatureName for info in spec.contents}
        self.by_name = {name: id_ for id_, name in self.by_id.items()}

    def name(self, feature_id: int) -> str:
        return self.by_id.get(feature_id, str(feature_id))

    def id(self, name: str, where: str) -> int:
        if name in self.by_name:
            return self.by_name[name]
        try:
            return int(name)
        except ValueError:
            raise ValueError("%s: unknown feature %r (not in the data spec, not an id)" % (where, name)) from None


def _text(value: bytes) -> object:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def _bytes(value: object, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"}:
        return base64.b64decode(value["base64"])
    raise ValueError('%s: expected a string or {"base64": ...}, got %r' % (where, value))


def record_to_json(record: Dict[str, object], names: FeatureNames) -> Dict[str, object]:
    """A decoded record dict (libtwml._core.decode_data_record) as JSON-ready values."""
    out: Dict[str, object] = {}
    for kind, values in record.items():
        if kind == "binary":
            out[kind] = [names.name(i) for i in values]
        elif kind == "continuous":
            out[kind] = {names.name(i): _float_to_json(v) for i, v in values.items()}
        elif kind == "discrete":
            out[kind] = {names.name(i): v for i, v in values.items()}
        elif kind == "strings":
            out[kind] = {names.name(i): _text(v) for i, v in values.items()}
        elif kind == "blobs":
            out[kind] = {names.name(i): base64.b64encode(v).decode("ascii") for i, v in values.items()}
        elif kind == "sparse_binary":
            out[kind] = {names.name(i): [_text(n) for n in v] for i, v in values.items()}
        elif kind == "sparse_continuous":
            out[kind] = {names.name(i): [[_text(n), _float_to_json(x)] for n, x in v.items()]
                         for i, v in values.items()}
        elif kind == "tensors":
            out[kind] = {names.name(i): _tensor_to_json(t) for i, t in values.items()}
    return out


def _tensor_to_json(tensor: object) -> Dict[str, object]:
    if isinstance(tensor, bytes):
        raise ValueError("raw STRING tensors have no JSON form")
    array = np.asarray(tensor)
    if array.dtype == object:
        return {"dtype": "string", "shape": list(array.shape), "values": [_text(v) for v in array.ravel()]}
    if array.dtype.kind == "f" and _has_odd_nan(array):
        unsigned = np.dtype("u%d" % array.dtype.itemsize)
        return {"dtype": str(array.dtype), "shape": list(array.shape),
                "bits": ["0x%x" % b for b in array.ravel().view(unsigned).tolist()]}
    return {"dtype": str(array.dtype), "shape": list(array.shape), "values": array.ravel().tolist()}


_CANONICAL_NAN_BITS = struct.unpack("<Q", struct.pack("<d", float("nan")))[0]


def _has_odd_nan(array: np.ndarray) -> bool:
    """Whether a float array holds a NaN that JSON's NaN would not give back bit for bit."""
    nans = array[np.isnan(array)]
    canonical = np.array([np.nan], array.dtype).view("u%d" % array.dtype.itemsize)[0]
    return bool(nans.size) and bool(np.any(nans.view("u%d" % array.dtype.itemsize) != canonical))


def _float_to_json(value: float) -> object:
    """A double as JSON: the number, or ``{"float64_bits": "0x..."}`` for a NaN whose bits JSON's
    NaN would not give back."""
    if value != value:
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        if bits != _CANONICAL_NAN_BITS:
            return {"float64_bits": "0x%016x" % bits}
    return value


def _float_from_json(value: object, where: str) -> float:
    if isinstance(value, dict):
        if set(value) != {"float64_bits"}:
            raise ValueError('%s: expected a number or {"float64_bits": "0x..."}, got %r' % (where, value))
        try:
            return struct.unpack("<d", struct.pack("<Q", int(str(value["float64_bits"]), 16)))[0]
        except (ValueError, struct.error):
            raise ValueError("%s: bad float64_bits %r" % (where, value["float64_bits"])) from None
    return float(value)  # type: ignore[arg-type]


def record_from_json(document: Dict[str, object], names: FeatureNames, where: str) -> Dict[str, object]:
    """The inverse of record_to_json: a record dict for libtwml._core.encode_data_record."""
    unknown = set(document) - set(_KINDS)
    if unknown:
        raise ValueError("%s: unknown keys %s; expected some of %s" % (where, sorted(unknown), ", ".join(_KINDS)))
    record: Dict[str, object] = {}
    for kind, values in document.items():
        at = "%s: %s" % (where, kind)
        if kind == "binary":
            record[kind] = [names.id(n, at) for n in values]
        elif kind == "continuous":
            record[kind] = {names.id(n, at): _float_from_json(v, at) for n, v in values.items()}
        elif kind == "discrete":
            record[kind] = {names.id(n, at): int(v) for n, v in values.items()}
        elif kind == "strings":
            record[kind] = {names.id(n, at): _bytes(v, at) for n, v in values.items()}
        elif kind == "blobs":
            record[kind] = {names.id(n, at): base64.b64decode(v) for n, v in values.items()}
        elif kind == "sparse_binary":
            record[kind] = {names.id(n, at): [_bytes(x, at) for x in v] for n, v in values.items()}
        elif kind == "sparse_continuous":
            record[kind] = {names.id(n, at): {_bytes(x, at): _float_from_json(y, at) for x, y in v}
                            for n, v in values.items()}
        elif kind == "tensors":
            record[kind] = {names.id(n, at): _tensor_from_json(t, at) for n, t in values.items()}
    return record


def _tensor_from_json(tensor: Dict[str, object], where: str) -> np.ndarray:
    if tensor.get("dtype") == "string":
        values = np.array([_bytes(v, where) for v in tensor["values"]], dtype=object)
    elif "bits" in tensor:
        dtype = np.dtype(tensor["dtype"])
        bits = np.array([int(b, 16) for b in tensor["bits"]], dtype="u%d" % dtype.itemsize)
        values = bits.view(dtype)
    else:
        values = np.array(tensor["values"], dtype=tensor["dtype"])
    return values.reshape(tensor["shape"])


def read_records(
    paths: Iterable[str], compression: str = "auto", skip_corrupt: bool = False, report: Optional[TextIO] = None
) -> Iterator[bytes]:
    """Records of block files; compression "auto" (by extension, or magic bytes), "" (raw), "gz" or "lzo".

    Without skip_corrupt, damage raises libtwml.Error (a ValueError) naming the file and byte
    offset, after every intact record before it. With skip_corrupt, damaged blocks, DataRecords
    that do not decode and bytes outside blocks are skipped, and each file with skips is reported
    on ``report`` (default stderr), also when the caller stops early and closes the generator.
    """
    for path in paths:
        if os.path.isdir(path):  # never "skipped" as damage: a directory is a usage error
            raise ValueError("%s: is a directory; give the files in it (e.g. %s)" % (path, os.path.join(path, "*")))
        reader = _core.BlockFileReader(path, compression, skip_corrupt=skip_corrupt)
        try:
            yield from reader
        finally:
            if reader.last_skip_message:
                (report or sys.stderr).write(
                    "skipped in %s: %d damaged blocks (after their intact records), %d records that do not "
                    "decode, %d bytes outside blocks; the last: %s\n"
                    % (path, reader.skipped_blocks, reader.skipped_records, reader.skipped_bytes,
                       reader.last_skip_message)
                )


def decode_records(paths: Iterable[str], compression: str = "auto", skip_corrupt: bool = False) -> Iterator[dict]:
    """The record dicts of block files of DataRecords (read as read_records reads them).

    A record that does not decode raises ValueError naming the file, the record's number and its
    block's offset (with skip_corrupt the reader has already dropped and counted such records).
    """
    for path in paths:
        records = read_records([path], compression, skip_corrupt)
        try:
            for number, data in enumerate(records, 1):
                try:
                    yield _core.decode_data_record(data)
                except ValueError as error:
                    raise ValueError("%s: record %d: %s" % (path, number, error)) from None
        finally:
            records.close()


class Progress:
    """A one-line progress counter on stderr, shown only on a terminal."""

    def __init__(self, what: str, stream: TextIO = sys.stderr) -> None:
        self.what, self.stream, self.count = what, stream, 0
        self.enabled = stream.isatty()

    def step(self) -> None:
        self.count += 1
        if self.enabled and self.count % 10000 == 0:
            self.stream.write("\r%s: %d records" % (self.what, self.count))
            self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.count >= 10000:
            self.stream.write("\r%s: %d records\n" % (self.what, self.count))


def count(paths: List[str], out: TextIO, compression: str = "auto", skip_corrupt: bool = False) -> None:
    total = 0
    for path in paths:
        n = sum(1 for _ in read_records([path], compression, skip_corrupt))
        out.write("%d\t%s\n" % (n, path))
        total += n
    out.write("%d\ttotal\n" % total)


def dump(
    paths: List[str],
    names: FeatureNames,
    out: TextIO,
    limit: Optional[int] = None,
    compression: str = "auto",
    skip_corrupt: bool = False,
) -> None:
    records = decode_records(paths, compression, skip_corrupt)
    try:
        for index, record in enumerate(records):
            if limit is not None and index >= limit:
                return
            out.write(json.dumps(record_to_json(record, names)) + "\n")
    finally:
        records.close()  # now, not at garbage collection: reports the skips of the last file read


def stats(
    paths: List[str], names: FeatureNames, out: TextIO, compression: str = "auto", skip_corrupt: bool = False
) -> None:
    """Per feature and type: records holding it, min/mean/max of its values, distinct values."""
    features: Dict[tuple, Dict[str, object]] = {}
    records = 0
    progress = Progress("stats")
    for record in decode_records(paths, compression, skip_corrupt):
        records += 1
        progress.step()
        for kind, values in record.items():
            items = values.items() if isinstance(values, dict) else ((v, 1.0) for v in values)
            for feature_id, value in items:
                entry = features.setdefault((kind, feature_id), {"records": 0, "values": [], "distinct": set()})
                entry["records"] += 1
                if kind in ("continuous", "discrete", "binary"):
                    entry["values"].append(float(value))
                    entry["distinct"].add(value)
                elif kind in ("strings", "blobs"):
                    entry["distinct"].add(value)
                elif kind == "sparse_binary":
                    entry["distinct"].update(value)
                elif kind == "sparse_continuous":
                    entry["distinct"].update(value.keys())
                    entry["values"].extend(value.values())
    progress.done()
    out.write("%d records\n" % records)
    out.write(
        "%-18s %-48s %9s %12s %12s %12s %9s\n" % ("type", "feature", "coverage", "min", "mean", "max", "distinct")
    )
    for (kind, feature_id), entry in sorted(features.items(), key=lambda item: (item[0][0], names.name(item[0][1]))):
        values = [v for v in entry["values"] if not math.isnan(v)]
        low, mean, high = (min(values), sum(values) / len(values), max(values)) if values else ("-",) * 3
        out.write(
            "%-18s %-48s %8.1f%% %12s %12s %12s %9d\n"
            % (
                kind,
                names.name(feature_id),
                100.0 * entry["records"] / records,
                _number(low),
                _number(mean),
                _number(high),
                len(entry["distinct"]),
            )
        )


def _number(value: object) -> str:
    return value if isinstance(value, str) else "%.6g" % value


def from_json(input_path: str, output_path: str, names: FeatureNames, records_per_block: int = 100) -> int:
    """Write the JSON-lines records of input_path as a block file, atomically; returns the count."""
    block = []
    with open(input_path, encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = "%s:%d" % (input_path, line_number)
            try:
                document = json.loads(line)
            except ValueError as error:
                raise ValueError("%s: not valid JSON: %s" % (where, error)) from None
            block.append(_core.encode_data_record(record_from_json(document, names, where)))
    block_files.write_block_file(output_path, block, records_per_block)
    return len(block)


def example_to_record(example_bytes: bytes, names: FeatureNames, types: Dict[str, int], where: str) -> Dict:
    """A tf.Example as a record dict: one DataRecord feature per named tf.Example feature.

    The data spec's type decides where a known feature goes; other features follow their
    tf.Example kind: a single int64 -> discrete, a single float -> continuous, a single bytes ->
    string, several int64 or bytes -> sparse binary (as strings), several floats -> an error
    (DataRecords have no float-list feature; name it in the data spec as SPARSE_CONTINUOUS is not
    possible either, as tf.Example floats carry no names).
    """
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example.FromString(example_bytes)
    record: Dict[str, Dict] = {kind: {} for kind in _KINDS if kind not in ("binary", "tensors")}
    binary: List[int] = []
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        if not values:
            continue
        feature_id = names.by_name.get(name)
        feature_id = int(_core.feature_ids([name])[0]) if feature_id is None else feature_id
        declared = types.get(name)
        at = "%s: feature %r" % (where, name)
        if declared == data_spec.FeatureType.BINARY:
            if any(values):
                binary.append(feature_id)
        elif declared == data_spec.FeatureType.CONTINUOUS or (
            declared is None and kind == "float_list" and len(values) == 1
        ):
            record["continuous"][feature_id] = float(values[0])
        elif declared == data_spec.FeatureType.DISCRETE or (
            declared is None and kind == "int64_list" and len(values) == 1
        ):
            record["discrete"][feature_id] = int(values[0])
        elif declared == data_spec.FeatureType.STRING or (
            declared is None and kind == "bytes_list" and len(values) == 1
        ):
            record["strings"][feature_id] = values[0] if isinstance(values[0], bytes) else str(values[0]).encode()
        elif declared == data_spec.FeatureType.SPARSE_BINARY or (declared is None and kind != "float_list"):
            record["sparse_binary"][feature_id] = [v if isinstance(v, bytes) else str(v).encode() for v in values]
        else:
            raise ValueError("%s: %d floats have no DataRecord feature type" % (at, len(values)))
    if binary:
        record["binary"] = binary
    return {kind: values for kind, values in record.items() if values}


def from_tfrecord(input_path: str, output_path: str, names: FeatureNames, spec_path: Optional[str]) -> int:
    """Convert a TFRecord file of tf.Examples into a DataRecord block file, atomically."""
    import tensorflow as tf

    types = {}
    if spec_path:
        types = {info.fullFeatureName: info.featureType for info in data_spec.read_data_spec(spec_path).contents}
    records = []
    for index, example in enumerate(tf.compat.v1.io.tf_record_iterator(input_path)):
        where = "%s: record %d" % (input_path, index)
        records.append(_core.encode_data_record(example_to_record(example, names, types, where)))
    block_files.write_block_file(output_path, records)
    return len(records)


def main(argv: Optional[List[str]] = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="twml-records", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_spec", help="data spec JSON (or Thrift FeatureMetaInfoList) naming the features")
    parser.add_argument(
        "--compression", default="auto", help='"auto" (by extension: .gz, .lzo, none), "" (raw), "gz" or "lzo"'
    )
    parser.add_argument(
        "--skip_corrupt",
        action="store_true",
        help="count/head/cat/stats: drop corrupt blocks and go on, reporting them on stderr",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("count", "cat", "stats"):
        commands.add_parser(name).add_argument("files", nargs="+")
    head = commands.add_parser("head")
    head.add_argument("-n", type=int, default=10)
    head.add_argument("files", nargs="+")
    for name in ("from-json", "from-tfrecord"):
        convert = commands.add_parser(name)
        convert.add_argument("input")
        convert.add_argument("output")
    args = parser.parse_args(argv)

    def path(p: str) -> str:
        return os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), p)

    try:
        names = FeatureNames(path(args.data_spec) if args.data_spec else None)
        if args.command == "count":
            count([path(f) for f in args.files], out, args.compression, args.skip_corrupt)
        elif args.command in ("cat", "head"):
            limit = args.n if args.command == "head" else None
            dump([path(f) for f in args.files], names, out, limit, args.compression, args.skip_corrupt)
        elif args.command == "stats":
            stats([path(f) for f in args.files], names, out, args.compression, args.skip_corrupt)
        elif args.command == "from-tfrecord":
            spec = path(args.data_spec) if args.data_spec else None
            total = from_tfrecord(path(args.input), path(args.output), names, spec)
            sys.stderr.write("wrote %d records to %s\n" % (total, path(args.output)))
        else:
            total = from_json(path(args.input), path(args.output), names)
            sys.stderr.write("wrote %d records to %s\n" % (total, path(args.output)))
    except (OSError, ValueError) as error:
        sys.stderr.write("twml-records: %s\n" % error)
        return 1
    except BrokenPipeError:  # `| head`
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
