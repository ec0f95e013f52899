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

A record's JSON line is twml_common.record_json's form of it: the populated feature types, keyed
by feature name (or id), e.g. {"binary": [f, ...], "continuous": {f: 0.5}, "strings": {f: "text"}};
`cat` then `from-json` gives back the same records, byte for byte.
"""

import argparse
import json
import math
import os
import sys
from typing import Dict, List, Optional, TextIO

import tensorflow.compat.v1 as tf
from tensorflow.core.example import example_pb2

from libtwml import _core
from twml_common import block_files, data_spec
from twml_common.block_files import decode_records, read_records
from twml_common.record_json import KINDS, FeatureNames, record_from_json, record_to_json


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
    example = example_pb2.Example.FromString(example_bytes)
    record: Dict[str, Dict] = {kind: {} for kind in KINDS if kind not in ("binary", "tensors")}
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
    types = {}
    if spec_path:
        types = {info.fullFeatureName: info.featureType for info in data_spec.read_data_spec(spec_path).contents}
    records = []
    for index, example in enumerate(tf.io.tf_record_iterator(input_path)):
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
