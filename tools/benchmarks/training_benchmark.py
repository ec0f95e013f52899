"""Training benchmark: the light-ranker example model trained from DataRecord block files against
``tf.estimator.LinearClassifier`` on the same records as tf.Example TFRecords.

    tools/bazel run -c opt //tools/benchmarks:training_benchmark [-- --steps 300 --threads 2]

Data (prepared before anything is timed): ``tools.light_ranker.synthetic_data.write_dataset`` (8 LZO
block files x 10,000 light-ranker records by default), then the same records, read back from the
block files and decoded with ``libtwml._core.decode_data_record``, written as one TFRecord file
of tf.Examples per block file. The discretizer of the twml side is calibrated once here too
(``tools.light_ranker.common.calibrate_discretizer``, on about 20,000 records as the example does).

twml side (``tools/light_ranker``): FeatureConfigBuilder over the data spec ->
DataRecordTrainer's block-file pipeline and parse function -> the HashingDiscretizerCalibrator
TF-Hub module (64 bins per continuous feature, 2**22 outputs) -> ``full_sparse`` logistic
regression (``tools.light_ranker.train.build_graph``), Adagrad.

Baseline: ``tf.compat.v1.estimator.LinearClassifier`` (Adagrad, same learning rate, sum
combiner, loss reduced like twml's ``tf.losses.sigmoid_cross_entropy``: SUM_BY_NONZERO_WEIGHTS,
weighted by the record weight) over these feature columns, one per DataRecord input feature:

* binary: ``numeric_column(name, int64, default 0)`` (the feature is stored as int64 1 when set);
  one weight each, as twml's binary feature is one column of value 1.
* continuous: ``bucketized_column(numeric_column(name, default -1e30), boundaries)`` with the
  boundaries the calibrated discretizer uses for that feature (its ``*_bin.json``),
  plus a first boundary below every value so that a missing feature gets a bucket of its own
  (twml's input simply lacks the feature then).
* discrete, string: ``categorical_column_with_hash_bucket(name, 2**16)`` (int64 / bytes).
* sparse_binary: ``categorical_column_with_hash_bucket(name, 2**16)`` over the bytes list
  (multivalent, summed).
* sparse_continuous: ``weighted_categorical_column(categorical_column_with_hash_bucket(
  name + '/names', 2**16), name + '/values')`` over the parallel name / value lists: one weight
  per name times the value (twml instead discretizes each name's values; a bucketized column
  per (feature, name) would need one tf.Example feature per name).

Hash buckets: 2**16 per column, against vocabularies of at most 500 values (collisions
negligible); the table size does not change a step's cost, which gathers and updates only the
rows present in the batch. The label is ``FixedLenFeature([1], int64, default 0)``, the weight
``numeric_column(weight, default 1)``.

Fairness: each side runs in its own subprocess (peak memory, ``ru_maxrss``, is per side) with the
same RunConfig (session ``intra_op``/``inter_op_parallelism_threads`` = ``--threads``, no
checkpoints or summaries during the timed steps, same seed), the same batch size and number of
steps, and the same tf.data structure: files -> repeat -> shuffle -> ``interleave(per-file
reader.prefetch(AUTOTUNE).shuffle(batch * 8), cycle_length = num_parallel_calls = --threads,
block_length = batch)`` -> ``batch`` -> ``map(parse, AUTOTUNE)`` -> ``prefetch(2)`` (the twml
side's is ``twml.dataset.stream_block_format_dataset`` with ``num_threads = --threads``).
examples/s is timed by a SessionRunHook from the end of step ``--warmup`` to the end of the last
step, so graph construction, session creation and the first steps are excluded on both sides.
Each side runs ``--repeats`` times, alternating, and its best counts (the machine is shared).
Target: twml >= 1.5x the baseline's examples/s; each side's peak memory under 2 GB.

``--breakdown`` also times each side's input pipeline alone (parsed batches fetched in a session
with the same threads, no model). To see which ops take a side's time, run one side by hand with
``--profile`` (traces every 10th step and sums op times), e.g. from the runfiles directory:
``python -m tools.benchmarks.training_benchmark --side twml --work DIR --profile`` where DIR was
prepared by :func:`prepare`.
"""

import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

TARGET_RATIO = 1.5
MEMORY_LIMIT_KB = 2 * 1024 * 1024
HASH_BUCKETS = 1 << 16
MISSING_VALUE = -1e30
LEARNING_RATE = 0.5
RESULT_PREFIX = "RESULT "
#: The light-ranker example's default ``--input_size_bits``.
INPUT_SIZE_BITS = 32


class StepTimer(tf.train.SessionRunHook):
    """Timestamps the end of step ``warmup`` and of every later step (the training loop's
    session runs; hooks see no other)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.steps = 0
        self.first_time = 0.0
        self.last_time = 0.0

    def after_run(self, run_context: Any, run_values: Any) -> None:
        self.steps += 1
        now = time.perf_counter()
        if self.steps == self.warmup:
            self.first_time = now
        self.last_time = now

    def examples_per_second(self, batch_size: int) -> float:
        timed = self.steps - self.warmup
        if timed <= 0 or self.last_time <= self.first_time:
            raise RuntimeError("no timed steps: %d steps, %d warm-up" % (self.steps, self.warmup))
        return timed * batch_size / (self.last_time - self.first_time)


class OpProfiler(tf.train.SessionRunHook):
    """Traces every ``every``-th step after ``warmup`` and sums each op's wall time (by op name,
    over all devices and threads; the input pipeline's iterator shows as its GetNext op)."""

    def __init__(self, warmup: int, every: int = 10) -> None:
        self.warmup, self.every, self.steps, self.traced = warmup, every, 0, 0
        self.micros: Dict[str, int] = {}

    def before_run(self, run_context: Any) -> Any:
        self.steps += 1
        if self.steps > self.warmup and self.steps % self.every == 0:
            return tf.train.SessionRunArgs(None, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE))
        return None

    def after_run(self, run_context: Any, run_values: Any) -> None:
        stats = run_values.run_metadata.step_stats
        if not stats.dev_stats:
            return
        self.traced += 1
        for device in stats.dev_stats:
            for node in device.node_stats:
                self.micros[node.node_name] = self.micros.get(node.node_name, 0) + node.all_end_rel_micros

    def report(self, top: int = 12) -> str:
        total = sum(self.micros.values()) or 1
        lines = ["op time per traced step (%d steps), top %d of %d ops:" % (self.traced, top, len(self.micros))]
        for name, micros in sorted(self.micros.items(), key=lambda item: -item[1])[:top]:
            lines.append("  %8.2f ms %5.1f%%  %s" % (micros / 1e3 / max(1, self.traced), 100.0 * micros / total, name))
        return "\n".join(lines)


def run_config(model_dir: str, threads: int) -> tf.estimator.RunConfig:
    """The RunConfig of both sides: the thread settings, and nothing written while timing."""
    session_config = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    return tf.estimator.RunConfig(
        model_dir=model_dir,
        session_config=session_config,
        save_checkpoints_steps=None,
        save_checkpoints_secs=None,
        save_summary_steps=1 << 30,
        log_step_count_steps=1 << 30,
        tf_random_seed=1,
    )


def input_examples_per_second(input_fn: Any, args: argparse.Namespace) -> float:
    """examples/s of an input function alone: its batches fetched in a session with the same
    thread settings, timed like training (after ``--warmup`` batches)."""
    with tf.Graph().as_default():
        batch = input_fn()
        if isinstance(batch, tf.data.Dataset):
            batch = tf.data.make_one_shot_iterator(batch).get_next()
        # Fetch one small tensor per batch: every parsed tensor is computed, little is copied out.
        fetch = [t.values if isinstance(t, tf.SparseTensor) else t for t in tf.nest.flatten(batch)]
        fetch = tf.group(*fetch)
        config = run_config(None, args.threads).session_config
        with tf.Session(config=config) as session:
            session.run([tf.global_variables_initializer(), tf.local_variables_initializer(), tf.tables_initializer()])
            timer = StepTimer(args.warmup)
            for _ in range(args.steps):
                session.run(fetch)
                timer.after_run(None, None)
    return timer.examples_per_second(args.batch_size)


# ------------------------------------------------------------------------------ twml side


def twml_params(args: argparse.Namespace, work: str) -> Any:
    """The light-ranker example's params, pointed at the benchmark's data."""
    # deferred: each side's subprocess loads only its own modules (its peak memory is measured)
    from tools.light_ranker import common

    params = common.parse_args(
        common.get_parser("training benchmark"),
        [
            "--data_spec",
            os.path.join(work, "blocks", "data_spec.json"),
            "--train.data_dir",
            os.path.join(work, "blocks"),
            "--save_dir",
            os.path.join(work, "twml_model"),
            "--discretizer.save_dir",
            os.path.join(work, "discretizer"),
        ],
    )
    params.train_batch_size = args.batch_size
    params.num_threads = args.threads
    params.discretizer_keep_rate = min(1.0, common.CALIBRATION_RECORDS / float(args.files * args.records_per_file))
    params.discretizer_parts_downsampling_rate = 1.0
    return params


def train_twml(args: argparse.Namespace, work: str, input_only: bool = False) -> float:
    """examples/s of the light-ranker example's model (the discretizer is already calibrated), or
    of its input pipeline alone."""
    # deferred: each side's subprocess loads only its own modules (its peak memory is measured)
    from tools.light_ranker import common, train
    from twml.trainers import DataRecordTrainer

    params = twml_params(args, work)
    params.use_existing_discretizer = True
    feature_config = common.get_feature_config(params.data_spec, params.label, params.weight)
    trainer = DataRecordTrainer(
        name=train.NAME,
        params=params,
        build_graph_fn=train.build_graph,
        feature_config=feature_config,
        run_config=run_config(params.save_dir, args.threads),
    )
    if input_only:
        return input_examples_per_second(trainer.get_train_input_fn(repeat=True), args)
    timer = StepTimer(args.warmup)
    hooks = [timer] + ([args.profiler] if args.profiler else [])
    trainer.train(input_fn=trainer.get_train_input_fn(repeat=True), steps=args.steps, hooks=hooks)
    return timer.examples_per_second(args.batch_size)


# ------------------------------------------------------------------------------ baseline


def to_example(record: Dict[str, Any], names: Dict[int, str]) -> bytes:
    """A tf.Example of a decoded DataRecord, features under their full names (see the module doc)."""
    feature = {}

    def int64s(values: List[int]) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def floats(values: List[float]) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    def strings(values: List[Any]) -> tf.train.Feature:
        return tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[v if isinstance(v, bytes) else str(v).encode() for v in values])
        )

    for id_ in record.get("binary", ()):
        feature[names[id_]] = int64s([1])
    for id_, value in record.get("continuous", {}).items():
        feature[names[id_]] = floats([value])
    for id_, value in record.get("discrete", {}).items():
        feature[names[id_]] = int64s([value])
    for id_, value in record.get("strings", {}).items():
        feature[names[id_]] = strings([value])
    for id_, values in record.get("sparse_binary", {}).items():
        feature[names[id_]] = strings(sorted(values))
    for id_, named in record.get("sparse_continuous", {}).items():
        keys = sorted(named)
        feature[names[id_] + "/names"] = strings(keys)
        feature[names[id_] + "/values"] = floats([named[k] for k in keys])
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_tfrecords(block_paths: List[str], spec_path: str, directory: str) -> List[str]:
    """One TFRecord file of tf.Examples per block file, the same records in the same order."""
    # deferred: each side's subprocess loads only its own modules (its peak memory is measured)
    from libtwml import _core
    from twml_common import data_spec
    from twml_common.block_files import read_records

    names = {info.featureId: info.fullFeatureName for info in data_spec.read_data_spec(spec_path).contents}
    os.makedirs(directory, exist_ok=True)
    paths = []
    for block_path in block_paths:
        path = os.path.join(directory, os.path.basename(block_path).split(".")[0] + ".tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for data in read_records([block_path]):
                writer.write(to_example(_core.decode_data_record(data), names))
        paths.append(path)
    return paths


def baseline_columns(work: str) -> List[Any]:
    """The LinearClassifier's feature columns (see the module doc)."""
    # deferred: each side's subprocess loads only its own modules (its peak memory is measured)
    import libtwml
    from tools.light_ranker import synthetic_data
    from twml_common import data_spec

    spec = data_spec.read_data_spec(os.path.join(work, "blocks", "data_spec.json"))
    # The calibrator's save() writes <signature name>_bin.json beside the hub module.
    (bin_file,) = glob.glob(os.path.join(work, "discretizer", "*_bin.json"))
    with open(bin_file) as file:
        bins = json.load(file)
    boundaries = {}
    for key, row in zip(bins["feature_ids"], bins["bin_boundaries"]):
        boundaries[int(key)] = sorted({float(v) for v in row if np.isfinite(v)})
    skip = set(synthetic_data.LABELS) | {synthetic_data.WEIGHT}
    type_names = {
        data_spec.feature_type(t): t
        for t in ("BINARY", "CONTINUOUS", "DISCRETE", "STRING", "SPARSE_BINARY", "SPARSE_CONTINUOUS")
    }
    fc = tf.feature_column
    columns = []
    # The discretizer's keys are the feature ids as twml.util.convert_to_sparse maps them.
    mask = (1 << INPUT_SIZE_BITS) - 1
    for info in spec.contents:
        name, kind = info.fullFeatureName, type_names[info.featureType]
        if name in skip:
            continue
        if kind == "BINARY":
            columns.append(fc.numeric_column(name, dtype=tf.int64, default_value=0))
        elif kind == "CONTINUOUS":
            key = int(libtwml.feature_id([name])[0])
            bounds = boundaries.get(key, boundaries.get(key & mask))
            if not bounds:
                raise ValueError("no discretizer boundaries for %s" % name)
            numeric = fc.numeric_column(name, default_value=MISSING_VALUE)
            columns.append(fc.bucketized_column(numeric, [MISSING_VALUE / 10] + bounds))
        elif kind == "DISCRETE":
            columns.append(fc.categorical_column_with_hash_bucket(name, HASH_BUCKETS, dtype=tf.int64))
        elif kind in ("STRING", "SPARSE_BINARY"):
            columns.append(fc.categorical_column_with_hash_bucket(name, HASH_BUCKETS))
        elif kind == "SPARSE_CONTINUOUS":
            ids = fc.categorical_column_with_hash_bucket(name + "/names", HASH_BUCKETS)
            columns.append(fc.weighted_categorical_column(ids, name + "/values"))
    return columns


def train_baseline(args: argparse.Namespace, work: str, input_only: bool = False) -> float:
    """examples/s of LinearClassifier on the tf.Example copy of the data, or of its input
    pipeline alone."""
    # deferred: each side's subprocess loads only its own modules (its peak memory is measured)
    from tools.light_ranker import synthetic_data

    columns = baseline_columns(work)
    weight = tf.feature_column.numeric_column(synthetic_data.WEIGHT, default_value=1.0)
    parse_spec = tf.feature_column.make_parse_example_spec(columns + [weight])
    parse_spec[synthetic_data.MAIN_LABEL] = tf.io.FixedLenFeature([1], tf.int64, default_value=0)
    files = sorted(os.path.join(work, "tfrecords", f) for f in os.listdir(os.path.join(work, "tfrecords")))
    batch, threads = args.batch_size, args.threads

    def parse(serialized: tf.Tensor) -> Any:
        features = tf.io.parse_example(serialized, parse_spec)
        return features, features.pop(synthetic_data.MAIN_LABEL)

    def input_fn() -> tf.data.Dataset:
        def file_records(path: tf.Tensor) -> tf.data.Dataset:
            return tf.data.TFRecordDataset(path).prefetch(tf.data.AUTOTUNE).shuffle(batch * 8)

        dataset = tf.data.Dataset.from_tensor_slices(files).repeat().shuffle(100000)
        dataset = dataset.interleave(file_records, cycle_length=threads, block_length=batch, num_parallel_calls=threads)
        return dataset.batch(batch).map(parse, tf.data.AUTOTUNE).prefetch(2)

    if input_only:
        return input_examples_per_second(input_fn, args)
    estimator = tf.estimator.LinearClassifier(
        feature_columns=columns,
        model_dir=os.path.join(work, "baseline_model"),
        weight_column=weight,
        optimizer=lambda: tf.train.AdagradOptimizer(LEARNING_RATE),
        config=run_config(None, threads),
        loss_reduction=tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS,
        sparse_combiner="sum",
    )
    timer = StepTimer(args.warmup)
    hooks = [timer] + ([args.profiler] if args.profiler else [])
    estimator.train(input_fn=input_fn, steps=args.steps, hooks=hooks)
    return timer.examples_per_second(batch)


# ------------------------------------------------------------------------------ driver


def prepare(args: argparse.Namespace, work: str) -> None:
    """Block files, their TFRecord copy and the calibrated discretizer, before any timing."""
    # deferred: each side's subprocess loads only its own modules (its peak memory is measured)
    from tools.light_ranker import common, synthetic_data

    blocks = synthetic_data.write_dataset(
        os.path.join(work, "blocks"), args.files, args.records_per_file, args.seed, compression="lzo"
    )
    write_tfrecords(blocks, os.path.join(work, "blocks", "data_spec.json"), os.path.join(work, "tfrecords"))
    params = twml_params(args, work)
    with tf.Graph().as_default():
        common.calibrate_discretizer(params, common.get_feature_config(params.data_spec, params.label, params.weight))


def run_side(side: str, args: argparse.Namespace, work: str, input_only: bool = False) -> Dict[str, float]:
    """One side in a fresh process: its examples/s and peak RSS (KB)."""
    command = [sys.executable, "-m", "tools.benchmarks.training_benchmark", "--side", side, "--work", work]
    if input_only:
        command.append("--input_only")
    for name in ("files", "records_per_file", "seed", "batch_size", "steps", "warmup", "threads"):
        command += ["--" + name, str(getattr(args, name))]
    # `-m` puts the working directory first on sys.path: make it the tree this module came from
    # (Bazel's runfiles, where libtwml's extension is), not wherever the benchmark was started.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(command, capture_output=True, text=True, cwd=root)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-8000:])
        raise RuntimeError("the %s side failed (exit %d)" % (side, done.returncode))
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def best_of(args: argparse.Namespace, work: str, input_only: bool) -> Dict[str, Dict[str, float]]:
    """Each side ``--repeats`` times, alternating (so that a burst of load on the shared machine
    hits both): the best examples/s and the highest peak RSS of each side."""
    results: Dict[str, Dict[str, float]] = {}
    for _ in range(args.repeats):
        for side in ("twml", "baseline"):
            result = run_side(side, args, work, input_only)
            best = results.setdefault(side, dict(result))
            best["examples_per_second"] = max(best["examples_per_second"], result["examples_per_second"])
            best["peak_rss_kb"] = max(best["peak_rss_kb"], result["peak_rss_kb"])
    return results


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--records_per_file", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch_size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=500, help="training steps of each side")
    parser.add_argument("--warmup", type=int, default=50, help="first steps not timed")
    parser.add_argument(
        "--threads", type=int, default=2, help="intra/inter-op threads and input-pipeline parallel calls of both sides"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="fresh processes per side, alternating; the best examples/s counts"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also time each side's input pipeline alone (parsed batches, no model)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="with --side: trace every 10th step and print the ops taking the time"
    )
    parser.add_argument("--side", choices=["twml", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--input_only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tf.get_logger().setLevel("ERROR")

    if args.side:
        args.profiler = OpProfiler(args.warmup) if args.profile else None
        rate = (train_twml if args.side == "twml" else train_baseline)(args, args.work, args.input_only)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if args.profiler:
            print(args.profiler.report())
        print(RESULT_PREFIX + json.dumps({"examples_per_second": rate, "peak_rss_kb": peak}))
        return 0

    work = tempfile.mkdtemp(prefix="training_benchmark_")
    try:
        start = time.perf_counter()
        prepare(args, work)
        print(
            "data: %d LZO block files x %d records (seed %d), the same as tf.Example TFRecords; discretizer "
            "calibrated (%.0f s)" % (args.files, args.records_per_file, args.seed, time.perf_counter() - start)
        )
        print(
            "each side: batch %d, %d steps (%d timed), %d intra-op / %d inter-op threads, %d parallel reads; "
            "best of %d processes"
            % (
                args.batch_size,
                args.steps,
                args.steps - args.warmup,
                args.threads,
                args.threads,
                args.threads,
                args.repeats,
            )
        )
        results = best_of(args, work, input_only=False)
        if args.breakdown:
            inputs = best_of(args, work, input_only=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for side, label in (
        ("twml", "twml light ranker (DataRecord blocks)"),
        ("baseline", "LinearClassifier (tf.Example TFRecords)"),
    ):
        result = results[side]
        print(
            "  %-42s %9.0f examples/s   peak RSS %6.0f MB (%s 2 GB)"
            % (
                label,
                result["examples_per_second"],
                result["peak_rss_kb"] / 1024.0,
                "under" if result["peak_rss_kb"] < MEMORY_LIMIT_KB else "OVER",
            )
        )
    if args.breakdown:
        print("input pipeline alone (read + parse, no model), same settings:")
        for side, label in (("twml", "twml DataRecordTrainer input_fn"), ("baseline", "TFRecord + parse_example")):
            print("  %-42s %9.0f examples/s" % (label, inputs[side]["examples_per_second"]))
    ratio = results["twml"]["examples_per_second"] / results["baseline"]["examples_per_second"]
    memory_ok = all(r["peak_rss_kb"] < MEMORY_LIMIT_KB for r in results.values())
    print(
        "ratio: %.2fx (target >= %.1fx): %s; peak memory under 2 GB: %s"
        % (ratio, TARGET_RATIO, "PASS" if ratio >= TARGET_RATIO else "FAIL", "PASS" if memory_ok else "FAIL")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
