"""Layers benchmark (issue 5): libtwml's sparse matmul and discretizer ops against the alternatives.

    tools/bazel run -c opt //tools/benchmarks:layers_benchmark [-- --threads 1,2 --repeats 11]

1. BinarySparseTensorDenseMatMul forward + backward (twml's ``sparse_dense_matmul`` with
   ``use_binary_values=True``; its weight gradient is a ``tf.IndexedSlices``) against
   ``tf.sparse.sparse_dense_matmul`` on the same binary inputs (values all 1; its weight gradient
   is dense, the only form TF offers for that op), for ``[2**22, 1]`` and ``[2**22, 64]`` weights,
   batch 1024, 64 non-zeros per row. Target >= 1.5x.
2. ``twml.layers.full_sparse`` forward + backward against a hand-built ``tf.nn.embedding_lookup_sparse``
   model (combiner 'sum', the input values as ``sp_weights``, plus the same bias) over the *same*
   weight and bias variables, same shapes and inputs. Target >= 1.0x.
3. The PercentileDiscretizerV2 and HashingDiscretizer ops against a vectorised numpy
   implementation of the same mapping built on ``np.searchsorted`` (outputs asserted equal on the
   benchmark inputs). Target >= 3x.

Fairness: both sides of each TF ratio run in one session, so under one ConfigProto (N intra-op
and N inter-op threads, for each N of ``--threads``: 1, then 2 by default); they take their sparse
inputs and upstream gradient from fed placeholders (never graph constants) and fetch every output
in full (forward output and every gradient; an IndexedSlices gradient as its values and indices).
Both sides' outputs are checked against each other before timing. Repetitions of the two
sides alternate so that the shared machine's load drifts affect both alike; each figure is the
median of ``--repeats`` timed repetitions after warm-up runs. The report always exits 0.
"""

import argparse
import os
import statistics
import time
from typing import Callable, Dict, List, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

import libtwml  # noqa: E402
import twml  # noqa: E402,F401  (registers the libtwml gradients, disables eager execution)
from twml.layers.full_sparse import FullSparse, sparse_dense_matmul  # noqa: E402

tf.disable_eager_execution()

BATCH = 1024
INPUT_BITS = 22
NNZ_PER_ROW = 64


def make_session(graph: tf.Graph, threads: int) -> tf.Session:
    """Every session of the benchmark gets this one config, so both sides of a ratio share it."""
    config = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    return tf.Session(graph=graph, config=config)


def median_pair(run_a: Callable[[], object], run_b: Callable[[], object], repeats: int) -> Tuple[float, float]:
    """Median seconds of run_a and run_b, their repetitions interleaved, after two warm-up runs each."""
    for _ in range(2):
        run_a()
        run_b()
    times_a: List[float] = []
    times_b: List[float] = []
    for _ in range(repeats):
        for run, times in ((run_a, times_a), (run_b, times_b)):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio >= target else "FAIL"


def sparse_batch(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Row-major sorted [BATCH * NNZ_PER_ROW, 2] indices into [BATCH, 2**INPUT_BITS] and float values."""
    rows = np.repeat(np.arange(BATCH, dtype=np.int64), NNZ_PER_ROW)
    cols = rng.integers(0, 1 << INPUT_BITS, size=BATCH * NNZ_PER_ROW, dtype=np.int64).reshape(BATCH, NNZ_PER_ROW)
    cols = np.sort(cols, axis=1).reshape(-1)
    values = rng.uniform(0.5, 1.5, size=rows.size).astype(np.float32)
    return np.stack([rows, cols], axis=1), values


def gradient_fetches(grad: object) -> List[tf.Tensor]:
    """Every tensor of a gradient: an IndexedSlices' values and indices, or the dense tensor."""
    if isinstance(grad, tf.IndexedSlices):
        return [grad.values, grad.indices]
    return [grad]


# ------------------------------------------------------------------------------------------------
# 1 and 2: sparse x dense


def bench_binary_matmul(output_size: int, threads: int, repeats: int, rng: np.random.Generator) -> Dict[str, float]:
    graph = tf.Graph()
    with graph.as_default():
        indices = tf.placeholder(tf.int64, [None, 2], name="indices")
        values = tf.placeholder(tf.float32, [None], name="values")
        upstream = tf.placeholder(tf.float32, [BATCH, output_size], name="upstream")
        x = tf.SparseTensor(indices, values, tf.constant([BATCH, 1 << INPUT_BITS], tf.int64))
        weight = tf.get_variable(
            "weight", [1 << INPUT_BITS, output_size], initializer=tf.random_uniform_initializer(-1.0, 1.0)
        )
        twml_out = sparse_dense_matmul(x, weight, use_binary_values=True)
        (twml_grad,) = tf.gradients(twml_out, [weight], grad_ys=upstream)
        tf_out = tf.sparse.sparse_dense_matmul(x, weight)
        (tf_grad,) = tf.gradients(tf_out, [weight], grad_ys=upstream)
        assert isinstance(twml_grad, tf.IndexedSlices), type(twml_grad)
        twml_fetches = [twml_out] + gradient_fetches(twml_grad)
        tf_fetches = [tf_out] + gradient_fetches(tf_grad)
        init = tf.global_variables_initializer()
    idx, _ = sparse_batch(rng)
    feed = {
        indices: idx,
        values: np.ones(len(idx), np.float32),  # binary inputs: TF's op then computes the same product
        upstream: rng.standard_normal((BATCH, output_size)).astype(np.float32),
    }
    with make_session(graph, threads) as sess:
        sess.run(init)
        got = sess.run(twml_fetches, feed)
        want = sess.run(tf_fetches, feed)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-4)
        dense = np.zeros_like(want[1])
        np.add.at(dense, got[2], got[1])
        np.testing.assert_allclose(dense, want[1], rtol=1e-4, atol=1e-4)
        del got, want, dense
        twml_s, tf_s = median_pair(lambda: sess.run(twml_fetches, feed), lambda: sess.run(tf_fetches, feed), repeats)
    return {"twml": twml_s, "base": tf_s}


def bench_full_sparse(output_size: int, threads: int, repeats: int, rng: np.random.Generator) -> Dict[str, float]:
    graph = tf.Graph()
    with graph.as_default():
        indices = tf.placeholder(tf.int64, [None, 2], name="indices")
        values = tf.placeholder(tf.float32, [None], name="values")
        upstream = tf.placeholder(tf.float32, [BATCH, output_size], name="upstream")
        dense_shape = tf.constant([BATCH, 1 << INPUT_BITS], tf.int64)
        x = tf.SparseTensor(indices, values, dense_shape)
        layer = FullSparse(
            output_size,
            weight_initializer=tf.random_uniform_initializer(-1.0, 1.0),
            bias_initializer=tf.random_uniform_initializer(-1.0, 1.0),
        )
        twml_out = layer(x)
        variables = [layer.weight, layer.bias]
        twml_grads = tf.gradients(twml_out, variables, grad_ys=upstream)
        # The hand-built model over the same variables: ids are the column indices, the input values
        # the per-id weights; only indices[:, 0] (the row) matters to combiner 'sum'.
        sp_ids = tf.SparseTensor(indices, indices[:, 1], dense_shape)
        sp_weights = tf.SparseTensor(indices, values, dense_shape)
        base_out = tf.nn.bias_add(
            tf.nn.embedding_lookup_sparse(layer.weight, sp_ids, sp_weights, combiner="sum"), layer.bias
        )
        base_grads = tf.gradients(base_out, variables, grad_ys=upstream)
        assert isinstance(twml_grads[0], tf.IndexedSlices) and isinstance(base_grads[0], tf.IndexedSlices)
        twml_fetches = [twml_out] + [t for g in twml_grads for t in gradient_fetches(g)]
        base_fetches = [base_out] + [t for g in base_grads for t in gradient_fetches(g)]
        init = tf.global_variables_initializer()
    idx, vals = sparse_batch(rng)
    feed = {indices: idx, values: vals, upstream: rng.standard_normal((BATCH, output_size)).astype(np.float32)}
    with make_session(graph, threads) as sess:
        sess.run(init)
        got = sess.run(twml_fetches, feed)
        want = sess.run(base_fetches, feed)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got[-1], want[-1], rtol=1e-4, atol=1e-3)  # bias gradient
        twml_s, base_s = median_pair(
            lambda: sess.run(twml_fetches, feed), lambda: sess.run(base_fetches, feed), repeats
        )
    return {"twml": twml_s, "base": base_s}


# ------------------------------------------------------------------------------------------------
# 3: discretizers

N_VALUES = 1 << 20
N_FEATURES = 200
OUT_BITS = 22


def ordered_keys(feature: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """int64 keys ordered as (feature, value): the float32 bits mapped to an order-preserving integer.

    Exact (no arithmetic on the values), so a single searchsorted over every feature's boundaries
    gives each value's place among its own feature's boundaries.
    """
    bits = vals.astype(np.float32).view(np.int32).astype(np.int64)
    ordered = np.where(bits < 0, -(bits & 0x7FFFFFFF) - 1, bits) + (1 << 31)  # [0, 2**32), order of the floats
    return (feature.astype(np.int64) << 32) | ordered


def feature_positions(sorted_ids: np.ndarray, order: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each id among the calibrated feature ids (order: argsort of them), or -1."""
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[at] == ids, order[at], -1)


class PercentileNumpy:
    """PercentileDiscretizerV2 in numpy: calibrated id -> (bin id, 1), others -> (id mod m + total, value)."""

    def __init__(
        self,
        feature_ids: np.ndarray,
        feature_indices: np.ndarray,
        bin_ids: np.ndarray,
        bin_vals: np.ndarray,
        offsets: np.ndarray,
        out_bits: int,
    ) -> None:
        self.order = np.argsort(feature_ids)
        self.sorted_ids = feature_ids[self.order]
        self.indices = feature_indices
        self.bin_ids = bin_ids
        self.offsets = offsets
        self.counts = np.diff(np.append(offsets, len(bin_vals)))
        feature_of_bin = np.repeat(np.arange(len(offsets)), self.counts)
        self.keys = ordered_keys(feature_of_bin, bin_vals)
        self.total = len(bin_vals)
        self.modulus = np.uint64((1 << out_bits) - self.total)

    def ties(self, ids: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """Mask of the calibrated values equal to one of their feature's boundaries.

        The op's bisection puts such a value in the bin below or above the boundary depending on
        its path (kept for parity with the original), which a searchsorted does not reproduce.
        """
        pos = feature_positions(self.sorted_ids, self.order, ids)
        keys = ordered_keys(self.indices[np.maximum(pos, 0)], vals)
        tied = np.searchsorted(self.keys, keys, side="left") != np.searchsorted(self.keys, keys, side="right")
        return tied & (pos >= 0)

    def __call__(self, ids: np.ndarray, vals: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        pos = feature_positions(self.sorted_ids, self.order, ids)
        calibrated = pos >= 0
        j = self.indices[pos[calibrated]]
        # Bins <= value within feature j, minus one, clamped: the bisection's bin for untied values.
        local = np.searchsorted(self.keys, ordered_keys(j, vals[calibrated]), side="right") - self.offsets[j]
        local = np.clip(np.minimum(local, self.counts[j]) - 1, 0, None)
        new_keys = (ids.view(np.uint64) % self.modulus).astype(np.int64) + self.total
        new_vals = vals.copy()
        new_keys[calibrated] = self.bin_ids[self.offsets[j] + local]
        new_vals[calibrated] = 1
        return new_keys, new_vals


class HashingNumpy:
    """HashingDiscretizer in numpy (lower-bound search, 32-bit hash)."""

    def __init__(self, feature_ids: np.ndarray, bin_vals: np.ndarray, n_bin: int, out_bits: int) -> None:
        self.order = np.argsort(feature_ids)
        self.sorted_ids = feature_ids[self.order]
        self.n_bin = n_bin
        self.keys = ordered_keys(np.repeat(np.arange(len(feature_ids)), n_bin), bin_vals)
        self.out_bits = out_bits
        self.mask = np.uint64((1 << out_bits) - 1)

    def __call__(self, ids: np.ndarray, vals: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        pos = feature_positions(self.sorted_ids, self.order, ids)
        calibrated = pos >= 0
        j = pos[calibrated]
        bucket = np.searchsorted(self.keys, ordered_keys(j, vals[calibrated]), side="left") - j * self.n_bin
        multiplier = np.uint64(2654435761)
        x = ids[calibrated].view(np.uint64) * multiplier
        x = (x + bucket.astype(np.uint64)) * multiplier
        hashed = (x >> np.uint64(32 - self.out_bits)) & self.mask
        new_keys = (ids.view(np.uint64) & self.mask).astype(np.int64)
        new_vals = vals.copy()
        new_keys[calibrated] = hashed.astype(np.int64)
        new_vals[calibrated] = 1
        return new_keys, new_vals


def discretizer_inputs(rng: np.random.Generator, feature_ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """N_VALUES (id, value): 80 % calibrated ids, the rest random (negative ones included)."""
    ids = rng.choice(feature_ids, size=N_VALUES)
    other = rng.random(N_VALUES) < 0.2
    ids[other] = rng.integers(-(1 << 62), 1 << 62, size=int(other.sum()), dtype=np.int64)
    vals = rng.standard_normal(N_VALUES).astype(np.float32)
    return ids, vals


def sorted_boundaries(rng: np.random.Generator, n_feature: int, per_feature: int) -> np.ndarray:
    return np.sort(rng.standard_normal((n_feature, per_feature)).astype(np.float32), axis=1).reshape(-1)


def run_discretizer(
    name: str,
    build: Callable[[tf.Tensor, tf.Tensor], Sequence[tf.Tensor]],
    reference: Callable[[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]],
    ids: np.ndarray,
    vals: np.ndarray,
    threads: int,
    repeats: int,
) -> Dict[str, float]:
    graph = tf.Graph()
    with graph.as_default():
        ids_ph = tf.placeholder(tf.int64, [None], name="ids")
        vals_ph = tf.placeholder(tf.float32, [None], name="vals")
        fetches = list(build(ids_ph, vals_ph))
    feed = {ids_ph: ids, vals_ph: vals}
    with make_session(graph, threads) as sess:
        got = sess.run(fetches, feed)
        want = reference(ids, vals)
        np.testing.assert_array_equal(got[0], want[0], err_msg=name + " keys")
        np.testing.assert_array_equal(got[1], want[1], err_msg=name + " values")
        op_s, np_s = median_pair(lambda: sess.run(fetches, feed), lambda: reference(ids, vals), repeats)
    return {"twml": op_s, "base": np_s}


def bench_discretizers(threads: int, repeats: int, rng: np.random.Generator) -> Dict[str, Dict[str, float]]:
    feature_ids = rng.permutation(np.unique(rng.integers(1, 1 << 40, size=2 * N_FEATURES, dtype=np.int64)))[:N_FEATURES]
    ids, vals = discretizer_inputs(rng, feature_ids)
    results = {}

    # PercentileDiscretizerV2: 20 bins (21 boundaries) per feature, indices a permutation.
    per_feature = 21
    bin_vals = sorted_boundaries(rng, N_FEATURES, per_feature)
    bin_ids = np.arange(len(bin_vals), dtype=np.int64)
    offsets = np.arange(N_FEATURES, dtype=np.int64) * per_feature
    feature_indices = rng.permutation(N_FEATURES).astype(np.int64)

    def percentile_op(ids_t: tf.Tensor, vals_t: tf.Tensor) -> Sequence[tf.Tensor]:
        return libtwml.ops.percentile_discretizer_v2(
            input_ids=ids_t,
            input_vals=vals_t,
            bin_ids=tf.constant(bin_ids),
            bin_vals=tf.constant(bin_vals),
            feature_offsets=tf.constant(offsets),
            start_compute=tf.constant(0, tf.int64),
            end_compute=tf.constant(-1, tf.int64),
            output_bits=OUT_BITS,
            feature_ids=tf.make_tensor_proto(feature_ids),
            feature_indices=tf.make_tensor_proto(feature_indices),
            cost_per_unit=100,
        )

    percentile_np = PercentileNumpy(feature_ids, feature_indices, bin_ids, bin_vals, offsets, OUT_BITS)
    # A few of the 2**20 random floats hit a boundary exactly: move them off it (see ties()).
    tied = percentile_np.ties(ids, vals)
    while tied.any():
        vals[tied] = np.nextafter(vals[tied], np.float32(np.inf))
        tied = percentile_np.ties(ids, vals)
    results["PercentileDiscretizerV2"] = run_discretizer(
        "PercentileDiscretizerV2", percentile_op, percentile_np, ids, vals, threads, repeats
    )

    # HashingDiscretizer: 20 boundaries per feature, default options.
    n_bin = 20
    hash_bins = sorted_boundaries(rng, N_FEATURES, n_bin)

    def hashing_op(ids_t: tf.Tensor, vals_t: tf.Tensor) -> Sequence[tf.Tensor]:
        return libtwml.ops.hashing_discretizer(
            input_ids=ids_t,
            input_vals=vals_t,
            bin_vals=tf.constant(hash_bins),
            feature_ids=tf.make_tensor_proto(feature_ids),
            n_bin=n_bin,
            output_bits=OUT_BITS,
            cost_per_unit=500,
            options=0,
        )

    hashing_np = HashingNumpy(feature_ids, hash_bins, n_bin, OUT_BITS)
    results["HashingDiscretizer"] = run_discretizer(
        "HashingDiscretizer", hashing_op, hashing_np, ids, vals, threads, repeats
    )
    return results


def run_all(threads: int, repeats: int) -> List[str]:
    """Every measure with one thread setting; returns the report lines (each ends in PASS or FAIL)."""
    rng = np.random.default_rng(5)
    print("-- %d intra-op and %d inter-op threads in every session" % (threads, threads), flush=True)
    lines = []

    def report(line: str) -> None:
        lines.append(line)
        print("  " + line, flush=True)

    for output_size in (1, 64):
        r = bench_binary_matmul(output_size, threads, repeats, rng)
        ratio = r["base"] / r["twml"]
        report(
            "BinarySparseTensorDenseMatMul fwd+bwd [2^%d, %d]: %.2f ms vs tf.sparse.sparse_dense_matmul %.2f ms: "
            "%.2fx (target >= 1.5) %s"
            % (INPUT_BITS, output_size, r["twml"] * 1e3, r["base"] * 1e3, ratio, verdict(ratio, 1.5))
        )
    for output_size in (1, 64):
        r = bench_full_sparse(output_size, threads, repeats, rng)
        ratio = r["base"] / r["twml"]
        report(
            "full_sparse fwd+bwd [2^%d, %d]: %.2f ms vs embedding_lookup_sparse model %.2f ms: %.2fx (target >= 1.0) %s"
            % (INPUT_BITS, output_size, r["twml"] * 1e3, r["base"] * 1e3, ratio, verdict(ratio, 1.0))
        )
    for name, r in bench_discretizers(threads, repeats, rng).items():
        ratio = r["base"] / r["twml"]
        report(
            "%s, %d values: %.1f M values/s vs numpy searchsorted %.1f M values/s: %.2fx (target >= 3) %s"
            % (name, N_VALUES, N_VALUES / r["twml"] / 1e6, N_VALUES / r["base"] / 1e6, ratio, verdict(ratio, 3.0))
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--threads",
        default="1,2",
        help="comma-separated thread settings; each runs every measure with that many intra- and inter-op threads",
    )
    parser.add_argument("--repeats", type=int, default=11, help="timed repetitions per side (median)")
    args = parser.parse_args()
    settings = [int(t) for t in args.threads.split(",")]
    print(
        "layers benchmark: batch %d, %d non-zeros per row, input dim 2^%d; median of %d repetitions after warm-up"
        % (BATCH, NNZ_PER_ROW, INPUT_BITS, args.repeats)
    )
    lines = [line for threads in settings for line in run_all(threads, args.repeats)]
    passed = sum(line.endswith("PASS") for line in lines)
    print("%d of %d targets met (the report exits 0 either way)" % (passed, len(lines)))


if __name__ == "__main__":
    main()
