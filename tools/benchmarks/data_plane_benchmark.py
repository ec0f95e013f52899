"""Data-plane benchmark: decoding DataRecords against the alternatives, in one process.

    tools/bazel run -c opt //tools/benchmarks:data_plane_benchmark [-- --records 20480]

1. Decode + hash of light-ranker records (synthetic_data, ~50 features of mixed types) into the
   sparse (ids, keys, values) triplet with DecodeAndHashDataRecord, batch 1024, against
   tf.io.parse_example on tf.Examples holding the same features (one named feature per
   DataRecord feature, all VarLenFeature), and against thriftpy2 deserialization.
2. Reading block files with BlockFormatDatasetV2 against TFRecordDataset on a TFRecord file of
   the same records (about the same size).
3. Peak memory of reading a block file, in fresh processes, for N and 4N records.

Fairness: both sides of each ratio run in one TF session config (1 intra-op, 1 inter-op
thread), take their input from a fed placeholder (never a graph constant), and fetch every
output (reduced in-graph to a scalar, so fetch copies do not dominate). Each figure is the best
of several timed repetitions. Targets: decode >= 3x parse_example and >= 20x thriftpy2; dataset
read >= 1x TFRecordDataset; peak memory flat in the number of records.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

import libtwml  # noqa: E402
from libtwml import _core  # noqa: E402
from tools.light_ranker import synthetic_data  # noqa: E402
from twml_common import DataRecord, block_files, deserialize  # noqa: E402

tf.disable_eager_execution()
BATCH = 1024


def session() -> tf.Session:
    config = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    return tf.Session(config=config)


def best_seconds(run: Callable[[], None], repeats: int) -> float:
    run()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def to_example(record: Dict[str, object]) -> bytes:
    """A tf.Example with one named feature per DataRecord feature of `record`."""
    feature = {}
    for id_ in record.get("binary", []):
        feature["b%d" % id_] = tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))
    for id_, value in record.get("continuous", {}).items():
        feature["c%d" % id_] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    for id_, value in record.get("discrete", {}).items():
        feature["d%d" % id_] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    for id_, value in record.get("strings", {}).items():
        feature["s%d" % id_] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    for id_, names in record.get("sparse_binary", {}).items():
        feature["sb%d" % id_] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[n.encode() for n in names]))
    for id_, named in record.get("sparse_continuous", {}).items():
        feature["scn%d" % id_] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[n.encode() for n in named]))
        feature["scv%d" % id_] = tf.train.Feature(float_list=tf.train.FloatList(value=list(named.values())))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def example_spec(records: List[Dict[str, object]]) -> Dict[str, tf.io.VarLenFeature]:
    spec = {}
    for record in records:
        for kind, dtype, prefixes in (
            ("binary", tf.int64, ["b"]),
            ("continuous", tf.float32, ["c"]),
            ("discrete", tf.int64, ["d"]),
            ("strings", tf.string, ["s"]),
            ("sparse_binary", tf.string, ["sb"]),
        ):
            for id_ in record.get(kind, []):
                spec[prefixes[0] + str(id_)] = tf.io.VarLenFeature(dtype)
        for id_ in record.get("sparse_continuous", {}):
            spec["scn%d" % id_] = tf.io.VarLenFeature(tf.string)
            spec["scv%d" % id_] = tf.io.VarLenFeature(tf.float32)
    return spec


def reduce_all(tensors: List[tf.Tensor]) -> tf.Tensor:
    """One scalar that depends on every element of every tensor."""
    parts = []
    for t in tensors:
        if t.dtype == tf.string:
            parts.append(tf.cast(tf.reduce_sum(tf.strings.length(t)), tf.float64))
        else:
            parts.append(tf.cast(tf.reduce_sum(t), tf.float64))
    return tf.add_n(parts)


def thriftpy2_triplet(data: List[bytes], keep: set) -> List[np.ndarray]:
    """The (ids, keys, values) triplet of DecodeAndHashDataRecord (decode_mode 0), computed from
    thriftpy2-decoded records in Python, with libtwml's C++ hash functions for the keys."""
    ids, keys, values = [], [], []

    def add(row: int, key: int, value: float) -> None:
        ids.append(row)
        keys.append(key)
        values.append(value)

    for row, raw in enumerate(data):
        record = deserialize(DataRecord(), raw)
        for id_ in record.binaryFeatures or ():
            if id_ in keep:
                add(row, id_, 1.0)
        for id_, value in (record.continuousFeatures or {}).items():
            if id_ in keep and value == value:
                add(row, id_, value)
        for id_, value in (record.discreteFeatures or {}).items():
            if id_ in keep:
                add(row, libtwml.mix_discrete_id_and_value(id_, value), 1.0)
        for id_, value in (record.stringFeatures or {}).items():
            if id_ in keep:
                add(row, libtwml.mix_string_id_and_value(id_, value), 1.0)
        for id_, names in (record.sparseBinaryFeatures or {}).items():
            if id_ in keep:
                for name in names:
                    add(row, libtwml.mix_string_id_and_value(id_, name), 1.0)
        for id_, named in (record.sparseContinuousFeatures or {}).items():
            if id_ in keep:
                for name, value in named.items():
                    if value == value:
                        add(row, int(libtwml.feature_id(name)[0]), value)
    return [np.array(ids, np.int64), np.array(keys, np.int64), np.array(values, np.float32)]


def to_object_array(values: List[bytes]) -> np.ndarray:
    """A 1-D numpy object array holding `values` (np.array would make a fixed-width bytes array)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def decode_benchmark(records: List[Dict[str, object]], repeats: int) -> Dict[str, float]:
    data = [_core.encode_data_record(r) for r in records]
    examples = [to_example(r) for r in records]
    # Batches are fed as numpy object arrays of bytes, both sides alike: what session.run returns
    # for a batch of strings read in another graph, and what it would otherwise build from a list
    # on every step (np.asarray(list, dtype=object)). The string tensor is still built from the
    # fed bytes on every step.
    batches = [to_object_array(data[i : i + BATCH]) for i in range(0, len(data) - BATCH + 1, BATCH)]
    example_batches = [to_object_array(examples[i : i + BATCH]) for i in range(0, len(examples) - BATCH + 1, BATCH)]
    n = len(batches) * BATCH
    names = [name for name, _ in synthetic_data.LightRankerData().features]
    keep = libtwml.feature_id(names).tolist()
    results = {}

    with tf.Graph().as_default(), session() as sess:
        serialized = tf.placeholder(tf.string, [None])
        handle = libtwml.ops.decode_and_hash_data_record(
            serialized, keep_features=keep, keep_codes=list(range(len(keep))), label_features=[]
        )
        triplet = [
            libtwml.ops.get_ids_from_hashed_data_record(handle),
            libtwml.ops.get_keys_from_hashed_data_record(handle),
            libtwml.ops.get_values_from_hashed_data_record(handle),
        ]
        fetch = reduce_all(triplet)
        results["decode_seconds"] = best_seconds(lambda: [sess.run(fetch, {serialized: b}) for b in batches], repeats)

    with tf.Graph().as_default(), session() as sess:
        serialized = tf.placeholder(tf.string, [None])
        parsed = tf.io.parse_example(serialized, example_spec(records))
        fetch = reduce_all([t for sp in parsed.values() for t in (sp.indices, sp.values)])
        results["parse_example_seconds"] = best_seconds(
            lambda: [sess.run(fetch, {serialized: b}) for b in example_batches], repeats
        )

    subset = data[: min(len(data), 2 * BATCH)]
    keep_set = set(keep)
    thrift_seconds = best_seconds(lambda: [deserialize(DataRecord(), r) for r in subset], max(1, repeats // 2))
    results["thriftpy2_seconds"] = thrift_seconds * n / len(subset)
    triplet_seconds = best_seconds(lambda: thriftpy2_triplet(subset, keep_set), max(1, repeats // 2))
    results["thriftpy2_triplet_seconds"] = triplet_seconds * n / len(subset)
    results["records"] = n
    results["record_bytes"] = sum(len(r) for b in batches for r in b)
    results["example_bytes"] = sum(len(e) for b in example_batches for e in b)
    return results


def write_files(records: List[Dict[str, object]], directory: str) -> Dict[str, str]:
    data = [_core.encode_data_record(r) for r in records]
    block_path = os.path.join(directory, "records.block")
    block_files.write_block_file(block_path, data)
    tfrecord_path = os.path.join(directory, "records.tfrecord")
    with tf.io.TFRecordWriter(tfrecord_path) as writer:
        for record in data:
            writer.write(record)
    return {"block": block_path, "tfrecord": tfrecord_path}


def block_dataset(path: str) -> tf.data.Dataset:
    variant = libtwml.ops.block_format_dataset_v2(path, compression_type="", buffer_size=1 << 20)
    return tf.data.experimental.from_variant(variant, tf.TensorSpec([], tf.string))


def dataset_read_seconds(make: Callable[[tf.Tensor], tf.data.Dataset], path: str, repeats: int) -> float:
    """Best time to read every record of `path` through the dataset `make` builds."""
    with tf.Graph().as_default(), session() as sess:
        filename = tf.placeholder(tf.string, [])
        lengths = make(filename).batch(BATCH).map(lambda batch: tf.reduce_sum(tf.strings.length(batch)))
        total = lengths.reduce(tf.constant(0, tf.int32), lambda a, b: a + b)
        return best_seconds(lambda: sess.run(total, {filename: path}), repeats)


def dataset_benchmark(paths: Dict[str, str], repeats: int) -> Dict[str, float]:
    return {
        "block_seconds": dataset_read_seconds(block_dataset, paths["block"], repeats),
        "tfrecord_seconds": dataset_read_seconds(tf.data.TFRecordDataset, paths["tfrecord"], repeats),
        "block_bytes": os.path.getsize(paths["block"]),
        "tfrecord_bytes": os.path.getsize(paths["tfrecord"]),
    }


def peak_memory_kb(path: str) -> int:
    """Peak RSS growth (KB) of a fresh process while it reads every record of `path` with
    BlockFormatDatasetV2: the high-water mark is reset after TensorFlow is loaded and the graph
    built (Linux /proc/self/clear_refs), so only the reading counts."""
    code = (
        "import sys\n"
        "from tools.benchmarks.data_plane_benchmark import block_dataset, session, tf\n"
        "def rss(field):\n"
        "    return int([l for l in open('/proc/self/status') if l.startswith(field)][0].split()[1])\n"
        "with tf.Graph().as_default(), session() as s:\n"
        "    d = block_dataset(%r).batch(1024).map(lambda b: tf.reduce_sum(tf.strings.length(b)))\n"
        "    d = d.reduce(tf.constant(0), lambda a, b: a + b)\n"
        "    open('/proc/self/clear_refs', 'w').write('5')\n"
        "    before = rss('VmRSS')\n"
        "    s.run(d)\n"
        "    print(rss('VmHWM') - before)\n" % path
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=16 * BATCH)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    records = list(synthetic_data.LightRankerData(seed=7).records(args.records))
    decode = decode_benchmark(records, args.repeats)
    n, mb = decode["records"], decode["record_bytes"] / 1e6
    print(
        "decode+hash, batch %d, %d records (%.1f MB as DataRecords, %.1f MB as tf.Examples), 1 thread:"
        % (BATCH, n, mb, decode["example_bytes"] / 1e6)
    )
    for label, key in (
        ("DecodeAndHashDataRecord", "decode_seconds"),
        ("tf.io.parse_example", "parse_example_seconds"),
        ("thriftpy2 deserialize only", "thriftpy2_seconds"),
        ("thriftpy2 + Python hashing", "thriftpy2_triplet_seconds"),
    ):
        print("  %-26s %10.0f records/s %8.1f MB/s" % (label, n / decode[key], mb / decode[key]))
    print(
        "  ratio vs parse_example: %.2fx (target >= 3)" % (decode["parse_example_seconds"] / decode["decode_seconds"])
    )
    print(
        "  ratio vs thriftpy2 (same triplet output): %.2fx (target >= 20); vs its deserialization alone: %.2fx"
        % (
            decode["thriftpy2_triplet_seconds"] / decode["decode_seconds"],
            decode["thriftpy2_seconds"] / decode["decode_seconds"],
        )
    )

    with tempfile.TemporaryDirectory() as directory:
        paths = write_files(records, directory)
        read = dataset_benchmark(paths, args.repeats)
        block_mbs = read["block_bytes"] / 1e6 / read["block_seconds"]
        tfrecord_mbs = read["tfrecord_bytes"] / 1e6 / read["tfrecord_seconds"]
        print("file read, %d records:" % len(records))
        print("  BlockFormatDatasetV2      %8.1f MB/s (%.1f MB)" % (block_mbs, read["block_bytes"] / 1e6))
        print("  TFRecordDataset           %8.1f MB/s (%.1f MB)" % (tfrecord_mbs, read["tfrecord_bytes"] / 1e6))
        print("  ratio: %.2fx (target >= 1)" % (block_mbs / tfrecord_mbs))

        # Memory: the same blocks repeated 16 times make a file of 16x the records.
        large_path = os.path.join(directory, "large.block")
        with open(paths["block"], "rb") as small_file, open(large_path, "wb") as large_file:
            blocks = small_file.read()
            for _ in range(16):
                large_file.write(blocks)
        small_kb, large_kb = peak_memory_kb(paths["block"]), peak_memory_kb(large_path)
        print(
            "peak RSS growth while reading %d vs %d records (%.0f vs %.0f MB): %d KB vs %d KB (target: flat)"
            % (
                len(records),
                16 * len(records),
                read["block_bytes"] / 1e6,
                16 * read["block_bytes"] / 1e6,
                small_kb,
                large_kb,
            )
        )


if __name__ == "__main__":
    main()
