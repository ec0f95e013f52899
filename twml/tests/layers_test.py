"""twml.layers: Layer, FullDense and FullSparse against numpy, gradients and training (reference §6)."""

import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from twml.layers import FullDense, FullSparse, Layer, full_dense, full_sparse

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
        unknown = tf.SparseTensor(
            tf.zeros([0, 2], tf.int64), tf.zeros([0]), tf.placeholder(tf.int64, [2])
        )
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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))
