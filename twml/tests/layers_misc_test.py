"""twml.layers: SparseMaxNorm, Sequential, Partition, Stitch, the writers and Isotonic (reference §6)."""

import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
from twml.layers import (
    MDL,
    BatchPredictionTensorWriter,
    BatchPredictionWriter,
    DataRecordTensorWriter,
    FullDense,
    Isotonic,
    Layer,
    MaxNorm,
    Partition,
    PercentileDiscretizer,
    Sequential,
    SparseMaxNorm,
    Stitch,
    full_sparse,
    sparse_max_norm,
)
from twml_common import BatchPredictionResponse, DataRecord, deserialize

RNG = np.random.default_rng(20240613)


def np_max_norm(max_values, cols, values, epsilon, update):
    """The ops' semantics: a running per-column maximum of |value|, in input order."""
    maxima = np.array(max_values, np.float32)
    out = np.zeros(len(values), np.float32)
    for i, (col, v) in enumerate(zip(cols, values)):
        m = max(maxima[col], abs(v))
        out[i] = v / max(m, epsilon)
        if update:
            maxima[col] = m
    return maxima, out


def sparse(indices, values, batch, dim):
    return tf.SparseTensor(tf.constant(indices, tf.int64), tf.constant(values), tf.constant([batch, dim], tf.int64))


def run(build):
    with tf.Graph().as_default():
        fetches = build()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return session.run(fetches)


# --- SparseMaxNorm -----------------------------------------------------------------------------

INDICES = np.array([[0, 0], [0, 1], [1, 0], [1, 2], [2, 1], [3, 1]], np.int64)
VALUES = np.array([1.0, -4.0, 0.0, 0.5, 3.0, 2.0], np.float32)
MAX0 = np.array([2.0, 0.0, 5.0], np.float32)


@pytest.mark.parametrize("is_training", [True, False])
def test_sparse_max_norm_matches_numpy(is_training):
    bias = np.array([0.1, -0.2, 0.3], np.float32)
    with tf.Graph().as_default():
        layer = SparseMaxNorm(
            max_x_initializer=tf.constant_initializer(MAX0),
            bias_x_initializer=tf.constant_initializer(bias),
            is_training=is_training,
            epsilon=1e-3,
            name="norm",
        )
        out = layer(sparse(INDICES, VALUES, 4, 3))
        assert isinstance(out, tf.SparseTensor)
        assert [v.name for v in layer.trainable_variables] == ["norm/bias_x:0"]
        assert [v.name for v in layer.non_trainable_variables] == ["norm/max_x:0"]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got = session.run(out)
            stored = session.run(layer.max_x)
    expected_max, expected = np_max_norm(MAX0, INDICES[:, 1], VALUES, 1e-3, is_training)
    np.testing.assert_allclose(got.values, expected + bias[INDICES[:, 1]], rtol=1e-6)
    np.testing.assert_array_equal(got.indices, INDICES)
    np.testing.assert_array_equal(got.dense_shape, [4, 3])
    np.testing.assert_allclose(stored, expected_max if is_training else MAX0)


def test_sparse_max_norm_is_training_tensor_and_alias():
    assert MaxNorm is SparseMaxNorm
    with tf.Graph().as_default():
        training = tf.placeholder(tf.bool, [])
        out = sparse_max_norm(sparse(INDICES, VALUES, 4, 3), is_training=training, use_bias=False, name="n")
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            inference = session.run(out.values, {training: False})
            trained = session.run(out.values, {training: True})
    np.testing.assert_allclose(inference, np_max_norm(np.zeros(3), INDICES[:, 1], VALUES, 1e-5, False)[1])
    np.testing.assert_allclose(trained, np_max_norm(np.zeros(3), INDICES[:, 1], VALUES, 1e-5, True)[1])


def test_sparse_max_norm_gradient_reaches_only_the_bias():
    with tf.Graph().as_default():
        x = sparse(INDICES, VALUES, 4, 3)
        with tf.variable_scope("ref", use_resource=False):  # compute_gradient feeds ref variables
            layer = SparseMaxNorm(is_training=False)
            out = layer(x)
        assert tf.gradients(out.values, x.values) == [None]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            theoretical, numerical = tf.test.compute_gradient(layer.bias_x, [3], out.values, [6])
    np.testing.assert_allclose(theoretical, numerical, atol=1e-3)


def test_sparse_max_norm_training_run_decreases_loss():
    batch, dim = 64, 16
    rows, cols = RNG.integers(0, batch, 300), RNG.integers(0, dim, 300)
    indices = np.unique(np.stack([rows, cols], 1), axis=0).astype(np.int64)
    values = (RNG.normal(size=len(indices)) * 10).astype(np.float32)
    y = RNG.normal(size=(batch, 1)).astype(np.float32)
    with tf.Graph().as_default():
        normalized = sparse_max_norm(sparse(indices, values, batch, dim))
        pred = full_sparse(normalized, 1)
        loss = tf.reduce_mean(tf.square(pred - y))
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            first = session.run(loss)
            for _ in range(50):
                session.run(train)
            last = session.run(loss)
    assert last < first


def test_sparse_max_norm_bad_inputs():
    with tf.Graph().as_default():
        unknown = tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.zeros([0]), tf.placeholder(tf.int64, [2]))
        with pytest.raises(ValueError, match="input_size"):
            SparseMaxNorm()(unknown)
        with pytest.raises(TypeError, match="SparseTensor"):
            SparseMaxNorm()(tf.zeros([2, 3]))
        out = SparseMaxNorm(input_size=2)(sparse(INDICES, VALUES, 4, 3))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"outside|not in"):
                session.run(out.values)


# --- Sequential, Partition, Stitch ------------------------------------------------------------


def test_sequential():
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    with tf.Graph().as_default():
        first = FullDense(5, name="first", activation=tf.nn.relu)
        second = FullDense(2, name="second")
        model = Sequential([first])
        model.add(second)
        with pytest.raises(ValueError, match="already has a layer named 'first'"):
            model.add(FullDense(1, name="first"))
        with pytest.raises(TypeError):
            model.add(lambda t: t)
        out = model(tf.constant(x))
        assert model.layer_names == ["first", "second"]
        assert model.get(1) is second and model.get_layer_by_name("first") is first
        assert model.get_output(1) is out and model.get_layer_output_by_name("first") is model.layer_outputs[0]
        assert len(model.init) == 2
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got, w1, b1, w2, b2 = session.run([out, first.kernel, first.bias, second.kernel, second.bias])
        assert model.pop() is second and model.layer_names == ["first"]
    np.testing.assert_allclose(got, np.maximum(x @ w1 + b1, 0) @ w2 + b2, rtol=1e-5, atol=1e-6)


def test_partition_and_stitch_round_trip():
    ids = np.array([1, 0, 1, 1, 0, 2], np.int32)
    vals = RNG.normal(size=6).astype(np.float32)
    keys = np.arange(100, 106, dtype=np.int64)
    with tf.Graph().as_default():
        vparts, kparts, iparts = Partition(partitions=3)(tf.constant(ids), tf.constant(vals), tf.constant(keys))
        assert len(vparts) == len(kparts) == len(iparts) == 3
        stitched = Stitch()(vparts, kparts, iparts)
        with tf.Session() as session:
            (v0, v1, v2), (k0, k1, k2), (i0, i1, i2), (sv, sk) = session.run([vparts, kparts, iparts, stitched])
    np.testing.assert_array_equal(i1, [0, 2, 3])
    np.testing.assert_array_equal(k0, [101, 104])
    np.testing.assert_array_equal(v2, vals[[5]])
    np.testing.assert_array_equal(sv, vals)
    np.testing.assert_array_equal(sk, keys)


def test_partition_and_stitch_bad_inputs():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="partitions"):
            Partition(partitions=0)
        with pytest.raises(ValueError, match="1-D input_vals"):
            Partition()(tf.zeros([2], tf.int32), tf.zeros([2, 2]), tf.zeros([2], tf.int64))
        with pytest.raises(ValueError, match="as many"):
            Stitch()([tf.zeros([1])], [], [tf.zeros([1], tf.int32)])


# --- Writers -----------------------------------------------------------------------------------


def test_batch_prediction_writer():
    keys = [11, -22]
    values = RNG.normal(size=(3, 2)).astype(np.float32)
    result = run(lambda: BatchPredictionWriter(keys)(tf.constant(values)))
    predictions = deserialize(BatchPredictionResponse(), result[0].tobytes()).predictions
    assert [record.continuousFeatures for record in predictions] == [
        {k: float(v) for k, v in zip(keys, row)} for row in values
    ]


def test_tensor_writers_match_the_ops():
    keys = [7, 8]
    values = [np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1, 2, 3], np.int64)]

    def build():
        tensors = [tf.constant(v) for v in values]
        return [
            BatchPredictionTensorWriter(keys)(tensors),
            libtwml.ops.batch_prediction_tensor_response_writer(tf.constant(keys, tf.int64), tensors),
            DataRecordTensorWriter(keys)(tensors),
            libtwml.ops.data_record_tensor_writer(tf.constant(keys, tf.int64), tensors),
        ]

    response, expected_response, record, expected_record = run(build)
    np.testing.assert_array_equal(response, expected_response)
    np.testing.assert_array_equal(record, expected_record)
    assert sorted(deserialize(DataRecord(), record[0].tobytes()).tensors) == keys


def test_writers_reject_mismatched_keys():
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
        run(lambda: BatchPredictionWriter([1, 2, 3])(tf.zeros([2, 2])))


# --- Isotonic ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_isotonic_matches_numpy(dtype):
    xs = np.sort(RNG.normal(size=(2, 5)), axis=1)
    ys = np.sort(RNG.random((2, 5)), axis=1)
    inputs = (RNG.normal(size=(50, 2)) * 2).astype(dtype)
    with tf.Graph().as_default():
        layer = Isotonic(2, 5, xs, ys)
        assert isinstance(layer, Layer)
        out = layer(tf.constant(inputs))
        assert out.dtype == tf.as_dtype(dtype)
        with tf.Session() as session:
            got = session.run(out)
    expected = np.stack([np.interp(inputs[:, j], xs[j], ys[j]) for j in range(2)], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_isotonic_bad_inputs():
    with pytest.raises(ValueError, match=r"xs_input must have shape \[2, 5\]"):
        Isotonic(2, 5, np.zeros((2, 4)), np.zeros((2, 5)))
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match=r"shape \[batch, 2\]"):
            Isotonic(2, 2, [[0, 1], [0, 1]], [[0, 1], [0, 1]])(tf.zeros([3, 3]))


# --- PercentileDiscretizer ---------------------------------------------------------------------

FEATURE_IDS = np.array([100, 200], np.int64)
BIN_VALS = np.array([-1e30, 1, 2, 3, 0, 10, 20, 30], np.float32)
BIN_IDS = np.arange(1, 9, dtype=np.int64)
OFFSETS = np.array([0, 4], np.int64)


def discretizer():
    return PercentileDiscretizer(2, 3, 22, BIN_VALS, FEATURE_IDS, np.arange(2, dtype=np.int64), BIN_IDS, OFFSETS)


def test_percentile_discretizer_matches_the_op():
    indices = np.array([[0, 100], [0, 200], [1, 100], [2, 300]], np.int64)
    values = np.array([0.5, 15.0, 2.5, 7.0], np.float32)
    with tf.Graph().as_default():
        x = tf.SparseTensor(indices, values, [3, 1 << 40])
        out = discretizer()(x)
        kept = discretizer()(x, keep_inputs=True)
        expected_keys, expected_vals = libtwml.ops.percentile_discretizer_v2(
            indices[:, 1], values, BIN_IDS, BIN_VALS, OFFSETS, 0, -1, output_bits=22,
            feature_ids=tf.make_tensor_proto(FEATURE_IDS),
            feature_indices=tf.make_tensor_proto(np.arange(2, dtype=np.int64)), cost_per_unit=100,
        )
        with tf.Session() as session:
            got, got_kept, keys, vals = session.run([out, kept, expected_keys, expected_vals])
    np.testing.assert_array_equal(got.indices[:, 0], indices[:, 0])
    np.testing.assert_array_equal(got.indices[:, 1], keys)
    np.testing.assert_array_equal(got.values, vals)
    np.testing.assert_array_equal(got.dense_shape, [3, 1 << 22])
    assert got.indices[1, 1] == 6 and got.values[1] == 1  # 15 is in feature 200's bin [10, 20)
    remapped = np.mod(indices[:, 1], (1 << 22) - 8) + 8
    expected = {(int(r), int(k)) for r, k in zip(indices[:, 0], keys)} | {
        (int(r), int(k)) for r, k in zip(indices[:, 0], remapped)
    }
    assert {tuple(map(int, i)) for i in got_kept.indices} == expected


def test_percentile_discretizer_without_features_limits_bits():
    indices = np.array([[0, (1 << 30) + 5], [1, 7]], np.int64)
    with tf.Graph().as_default():
        out = PercentileDiscretizer(0, 3, 10)(tf.SparseTensor(indices, [1.0, 2.0], [2, 1 << 40]), keep_inputs=True)
        with tf.Session() as session:
            got = session.run(out)
    np.testing.assert_array_equal(got.indices, [[0, 5], [1, 7]])
    np.testing.assert_array_equal(got.dense_shape, [2, 1024])


def test_percentile_discretizer_bad_inputs():
    with pytest.raises(ValueError, match=r"bin_ids must have shape \[8\]"):
        PercentileDiscretizer(2, 3, 22, BIN_VALS, FEATURE_IDS, [0, 1], BIN_IDS[:4], OFFSETS)
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="SparseTensor"):
            discretizer()(tf.zeros([2, 2]))


# --- MDL ---------------------------------------------------------------------------------------


def test_mdl_matches_the_discretizer_and_remaps_unknown_ids():
    indices = np.array([[0, 100], [0, 100], [1, 100], [1, 200], [2, 300], [2, 1 << 40], [3, -5]], np.int64)
    values = np.array([0.5, 1.0, 9, -1, 7, 2, 3], np.float32)
    with tf.Graph().as_default():
        with pytest.warns(DeprecationWarning):
            layer = MDL(2, 3, 22, BIN_VALS, FEATURE_IDS, np.arange(2, dtype=np.int64), BIN_IDS, OFFSETS, name="mdl")
        out = layer(tf.SparseTensor(indices, values, [4, 1 << 41]))
        assert sorted(v.name for v in layer.non_trainable_variables) == [
            "mdl/bin_ids:0", "mdl/bin_values:0", "mdl/feature_offsets:0", "mdl/hash_keys:0", "mdl/hash_values:0"
        ]
        assert layer.trainable_variables == []
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(layer.init)
            got = session.run(out)
    np.testing.assert_array_equal(got.indices[:, 0], indices[:, 0])
    # As PercentileDiscretizerV2's reference, but unknown ids use a signed floormod.
    expected = [1, 2, 4, 5, 300 + 8, (1 << 40) % ((1 << 22) - 8) + 8, (-5) % ((1 << 22) - 8) + 8]
    np.testing.assert_array_equal(got.indices[:, 1], expected)
    np.testing.assert_array_equal(got.values, [1, 1, 1, 1, 7, 2, 3])
    np.testing.assert_array_equal(got.dense_shape, [4, 1 << 22])


def test_mdl_bad_inputs():
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match=r"bin_ids must have shape \[8\]"):
        MDL(2, 3, 22, BIN_VALS, FEATURE_IDS, [0, 1], BIN_IDS[:3], OFFSETS)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))
