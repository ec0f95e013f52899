"""twml.layers: Layer, FullDense and FullSparse against numpy, gradients and training; SparseMaxNorm,
Sequential, Partition, Stitch, the writers and Isotonic (reference §6)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
import twml
from twml.layers import (
    MDL,
    BatchPredictionTensorWriter,
    BatchPredictionWriter,
    DataRecordTensorWriter,
    FullDense,
    FullSparse,
    Isotonic,
    Layer,
    MaxNorm,
    Partition,
    PercentileDiscretizer,
    Sequential,
    SparseMaxNorm,
    Stitch,
    full_dense,
    full_sparse,
    sparse_max_norm,
)
from twml_common import BatchPredictionResponse, DataRecord, deserialize

RNG = np.random.default_rng(20240612)


def random_sparse(batch, dim, nnz, binary=False):
    rows = RNG.integers(0, batch, nnz)
    cols = RNG.integers(0, dim, nnz)
    indices = np.stack([rows, cols], axis=1).astype(np.int64)
    values = np.ones(nnz, np.float32) if binary else RNG.normal(size=nnz).astype(np.float32)
    return indices, values


def dense_of(indices, values, batch, dim):
    out = np.zeros((batch, dim), np.float64)
    np.add.at(out, (indices[:, 0], indices[:, 1]), values)
    return out


def partition_constant(value):
    """A constant initializer that gives each partition of a partitioned variable its slice."""
    value = np.asarray(value)

    def initializer(shape, dtype=None, partition_info=None):
        if partition_info is None:
            return tf.constant(value.reshape(shape), dtype)
        offsets = partition_info.var_offset
        return tf.constant(value[tuple(slice(o, o + n) for o, n in zip(offsets, shape))], dtype)

    return initializer


def sparse(indices, values, batch, dim):
    return tf.SparseTensor(tf.constant(indices, tf.int64), tf.constant(values), tf.constant([batch, dim], tf.int64))


# --- Layer -------------------------------------------------------------------------------------


def test_layer_base_api():
    class Scale(Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", shape=[int(input_shape[-1])], initializer=tf.ones_initializer())
            self.built = True

        def call(self, inputs):
            return inputs * self.w

    with tf.Graph().as_default():
        layer = Scale(name="scale")
        out = layer(tf.constant([[1.0, 2.0]]))
        assert [v.name for v in layer.variables] == ["scale/w:0"]
        assert isinstance(layer.init, tf.Operation) and layer.init.type == "NoOp"
        with pytest.raises(NotImplementedError):
            layer.compute_output_shape([None, 2])
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(layer.init)
            np.testing.assert_array_equal(session.run(out), [[1.0, 2.0]])


# --- FullDense ---------------------------------------------------------------------------------


@pytest.mark.parametrize("num_partitions", [None, 2])
def test_full_dense_matches_numpy(num_partitions):
    x = RNG.normal(size=(6, 5)).astype(np.float32)
    w = RNG.normal(size=(5, 3)).astype(np.float32)
    b = RNG.normal(size=3).astype(np.float32)
    with tf.Graph().as_default():
        layer = FullDense(
            3,
            weight_initializer=partition_constant(w),
            bias_initializer=tf.constant_initializer(b),
            activation=tf.nn.relu,
            num_partitions=num_partitions,
            name="dense",
        )
        out = layer(tf.constant(x))
        assert out.shape.as_list() == [6, 3]
        names = sorted(v.name for v in layer.variables)
        if num_partitions:
            assert names == ["dense/bias:0", "dense/kernel/part_0:0", "dense/kernel/part_1:0"]
        else:
            assert names == ["dense/bias:0", "dense/kernel:0"]
        assert layer.weight is layer.kernel and layer.output_size == 3
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got = session.run(out)
    np.testing.assert_allclose(got, np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)


def test_full_dense_functional_gradient_and_reuse():
    x = RNG.normal(size=(4, 3))
    with tf.Graph().as_default():
        inputs = tf.constant(x)
        with tf.variable_scope("ref", use_resource=False):  # compute_gradient feeds ref variables
            out = full_dense(inputs, 2, activation=tf.tanh, name="fd")
            again = full_dense(inputs, 2, activation=tf.tanh, name="fd", reuse=True)
        assert len(tf.trainable_variables()) == 2
        kernel = [v for v in tf.trainable_variables() if v.name == "ref/fd/kernel:0"][0]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(*session.run([out, again]))
            for var in (inputs, kernel):
                theoretical, numerical = tf.test.compute_gradient(var, var.shape.as_list(), out, [4, 2])
                np.testing.assert_allclose(theoretical, numerical, atol=1e-5)  # central differences, delta 1e-3


def test_full_dense_bad_inputs():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="min_ndim=2"):
            FullDense(2)(tf.zeros([3]))
        with pytest.raises(ValueError, match="last dimension"):
            FullDense(2)(tf.placeholder(tf.float32, [None, None]))
        layer = FullDense(2)
        layer(tf.zeros([1, 3]))
        with pytest.raises(ValueError):
            layer(tf.zeros([1, 4]))


def test_full_dense_training_decreases_loss():
    x = RNG.normal(size=(64, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32) + 0.3).astype(np.float32)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        pred = full_dense(tf.constant(x), 1)
        loss = tf.reduce_mean(tf.square(pred - y))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            first = session.run(loss)
            for _ in range(50):
                session.run(train)
            last = session.run(loss)
    assert last < 0.05 * first


# --- FullSparse --------------------------------------------------------------------------------


@pytest.mark.parametrize("use_sparse_grads", [True, False])
@pytest.mark.parametrize("use_binary_values", [False, True])
@pytest.mark.parametrize("num_partitions", [None, 3])
@pytest.mark.parametrize("use_compression", [False, True])
def test_full_sparse_matches_numpy(use_sparse_grads, use_binary_values, num_partitions, use_compression):
    batch, dim, out_size = 5, 11, 4
    indices, values = random_sparse(batch - 1, dim, 20)  # the last row is empty
    w = RNG.normal(size=(dim, out_size)).astype(np.float32)
    b = RNG.normal(size=out_size).astype(np.float32)
    with tf.Graph().as_default():
        layer = FullSparse(
            out_size,
            weight_initializer=partition_constant(w),
            bias_initializer=tf.constant_initializer(b),
            use_sparse_grads=use_sparse_grads,
            use_binary_values=use_binary_values,
            num_partitions=num_partitions,
            use_compression=use_compression,
            name="fs",
        )
        out = layer(sparse(indices, values, batch, dim))
        assert out.shape.as_list()[1] == out_size
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got = session.run(out)
    x = dense_of(indices, np.ones_like(values) if use_binary_values else values, batch, dim)
    np.testing.assert_allclose(got, x @ w + b, rtol=1e-5, atol=1e-5)


def test_full_sparse_variables_and_defaults():
    with tf.Graph().as_default():
        x = twml.util.limit_sparse_tensor_size(sparse(*random_sparse(3, 16, 5), 3, 16), 4)
        layer = FullSparse(4, name="fs")
        out = layer(x)
        assert [v.name for v in layer.trainable_variables] == ["fs/bias:0", "fs/weight:0"]
        assert layer.weight.shape.as_list() == [16, 4] and layer.bias.shape.as_list() == [4]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_allclose(session.run(out), np.full((3, 4), 0.25))  # zeros weight, 1/4 bias
        parted = FullSparse(4, num_partitions=2, name="parted")
        parted(x)
        assert sorted(v.name for v in parted.trainable_variables) == [
            "parted/bias:0",
            "parted/weight/part_0:0",
            "parted/weight/part_1:0",
        ]


def test_full_sparse_list_inputs_and_functional():
    batch, dim = 4, 7
    (i1, v1), (i2, v2) = random_sparse(batch, dim, 6), random_sparse(batch, dim, 9)
    w = RNG.normal(size=(dim, 2)).astype(np.float32)
    with tf.Graph().as_default():
        out = full_sparse(
            [sparse(i1, v1, batch, dim), sparse(i2, v2, batch, dim)],
            2,
            weight_initializer=partition_constant(w),
            bias_initializer=tf.zeros_initializer(),
            use_binary_values=[False, True],
            activation=tf.sigmoid,
            name="fs",
        )
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got = session.run(out)
    logits = dense_of(i1, v1, batch, dim) @ w + dense_of(i2, np.ones_like(v2), batch, dim) @ w
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("use_binary_values", [False, True])
def test_full_sparse_gradient(use_binary_values):
    batch, dim = 3, 6
    indices, values = random_sparse(batch, dim, 8)
    with tf.Graph().as_default():
        x = sparse(indices, values.astype(np.float64), batch, dim)
        layer = FullSparse(
            2,
            weight_initializer=tf.random_normal_initializer(seed=3),
            use_binary_values=use_binary_values,
            dtype=tf.float64,
        )
        with tf.variable_scope("ref", use_resource=False):  # compute_gradient feeds ref variables
            out = layer(x)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for var in (layer.weight, layer.bias):
                theoretical, numerical = tf.test.compute_gradient(var, var.shape.as_list(), out, [batch, 2])
                np.testing.assert_allclose(theoretical, numerical, atol=1e-5)  # central differences, delta 1e-3


@pytest.mark.parametrize("use_binary_values", [False, True])
@pytest.mark.parametrize("num_partitions", [None, 2])
def test_full_sparse_weight_gradient_is_indexed_slices_of_used_rows(use_binary_values, num_partitions):
    dim = 10
    indices = np.array([[0, 7], [1, 2], [1, 7], [2, 7]], np.int64)  # only rows 2 and 7 are used
    with tf.Graph().as_default():
        layer = FullSparse(
            3,
            weight_initializer=tf.ones_initializer(),
            use_binary_values=use_binary_values,
            num_partitions=num_partitions,
        )
        out = layer(sparse(indices, np.ones(4, np.float32), 3, dim))
        loss = tf.reduce_sum(out)
        weights = list(layer.weight) if num_partitions else [layer.weight]
        grads = tf.gradients(loss, weights)
        assert all(isinstance(g, tf.IndexedSlices) for g in grads)
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            grad_rows = session.run([g.indices for g in grads])
            session.run(train)
            weight = session.run(tf.convert_to_tensor(layer.weight))
    offset, used = 0, set()
    for part, rows in zip(weights, grad_rows):
        used |= {int(r) + offset for r in rows}
        offset += part.shape.as_list()[0]
    assert used == {2, 7}
    changed = sorted(set(np.nonzero((weight != 1.0).any(axis=1))[0]))
    assert changed == [2, 7]


def test_full_sparse_training_decreases_loss():
    batch, dim = 128, 32
    indices, values = random_sparse(batch, dim, 600)
    true_w = RNG.normal(size=(dim, 1))
    y = (dense_of(indices, values, batch, dim) @ true_w).astype(np.float32)
    with tf.Graph().as_default():
        pred = full_sparse(sparse(indices, values, batch, dim), 1)
        loss = tf.reduce_mean(tf.square(pred - y))
        train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            first = session.run(loss)
            for _ in range(50):
                session.run(train)
            last = session.run(loss)
    assert last < 0.5 * first


def test_full_sparse_bad_inputs():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="input_size is deprecated"):
            FullSparse(2, input_size=10)
        unknown = tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.zeros([0]), tf.placeholder(tf.int64, [2]))
        with pytest.raises(ValueError, match=r"dense_shape\[1\]"):
            FullSparse(2)(unknown)
        rank3 = tf.SparseTensor(tf.zeros([0, 3], tf.int64), tf.zeros([0]), [2, 3, 4])
        with pytest.raises(ValueError, match="rank"):
            FullSparse(2)(rank3)
        with pytest.raises(ValueError, match="same dense_shape"):
            FullSparse(2)([sparse(*random_sparse(2, 3, 2), 2, 3), sparse(*random_sparse(2, 4, 2), 2, 4)])
        with pytest.raises(ValueError, match="2 GiB"):
            FullSparse(1024)(tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.zeros([0]), [2, 1 << 20]))
        with pytest.raises(TypeError, match="SparseTensor"):
            FullSparse(2)(tf.zeros([2, 3]))


MISC_RNG = np.random.default_rng(20240613)


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
    rows, cols = MISC_RNG.integers(0, batch, 300), MISC_RNG.integers(0, dim, 300)
    indices = np.unique(np.stack([rows, cols], 1), axis=0).astype(np.int64)
    values = (MISC_RNG.normal(size=len(indices)) * 10).astype(np.float32)
    y = MISC_RNG.normal(size=(batch, 1)).astype(np.float32)
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
    x = MISC_RNG.normal(size=(3, 4)).astype(np.float32)
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
    vals = MISC_RNG.normal(size=6).astype(np.float32)
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
    values = MISC_RNG.normal(size=(3, 2)).astype(np.float32)
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
    xs = np.sort(MISC_RNG.normal(size=(2, 5)), axis=1)
    ys = np.sort(MISC_RNG.random((2, 5)), axis=1)
    inputs = (MISC_RNG.normal(size=(50, 2)) * 2).astype(dtype)
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
            indices[:, 1],
            values,
            BIN_IDS,
            BIN_VALS,
            OFFSETS,
            0,
            -1,
            output_bits=22,
            feature_ids=tf.make_tensor_proto(FEATURE_IDS),
            feature_indices=tf.make_tensor_proto(np.arange(2, dtype=np.int64)),
            cost_per_unit=100,
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
            "mdl/bin_ids:0",
            "mdl/bin_values:0",
            "mdl/feature_offsets:0",
            "mdl/hash_keys:0",
            "mdl/hash_values:0",
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
