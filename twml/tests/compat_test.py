"""twml.compat (the names ``import twml`` re-exported from DeepBird/libtwml) against numpy:
twml.SparseTensor <-> tf.SparseTensor, sparse_dense_matmul and its gradients, add1,
partition_sparse_tensor, set_logging_level, and CLIB's error naming the alternatives."""

import logging

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from absl import logging as absl_logging

import twml
from twml import compat

ROWS = np.array([0, 0, 1, 2, 2, 2], np.int64)
COLS = np.array([1, 4, 0, 2, 4, 9], np.int64)
VALS = np.array([0.5, -2.0, 3.0, 1.5, 0.25, 4.0], np.float32)
WEIGHT = np.arange(20, dtype=np.float32).reshape(10, 2) / 7.0


def dense(values=VALS, shape=(3, 10)):
    out = np.zeros(shape, np.float32)
    np.add.at(out, (ROWS, COLS), values)
    return out


def test_sparse_tensor_columns_and_conversions():
    assert twml.SparseTensor is compat.SparseTensor
    with tf.Graph().as_default():
        sparse = compat.SparseTensor(ROWS, COLS, VALS, [3, 10])
        as_tf = sparse.to_tf()
        back = compat.SparseTensor.from_tf(as_tf)
        with tf.Session() as session:
            indices, shape, ids, columns, values = session.run(
                [as_tf.indices, as_tf.dense_shape, back.ids, back.indices, back.values]
            )
            as_dense = session.run(tf.sparse.to_dense(as_tf))
    np.testing.assert_array_equal(indices, np.stack([ROWS, COLS], axis=1))
    np.testing.assert_array_equal(shape, [3, 10])
    np.testing.assert_array_equal(ids, ROWS)
    np.testing.assert_array_equal(columns, COLS)
    np.testing.assert_array_equal(values, VALS)
    np.testing.assert_array_equal(as_dense, dense())


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"use_binary_values": True},
        {"compress_ids": True},
        {"cast_indices_dtype": tf.int32, "use_sparse_grads": False},
        {"use_binary_sparse_dense_matmul": True},
    ],
)
def test_sparse_dense_matmul_and_weight_gradient(kwargs):
    binary = kwargs.get("use_binary_values") or kwargs.get("use_binary_sparse_dense_matmul")
    x = dense(np.ones_like(VALS) if binary else VALS)
    upstream = np.array([[1.0, -1.0], [2.0, 0.5], [0.0, 3.0]], np.float32)
    with tf.Graph().as_default():
        weight = tf.get_variable("w", initializer=WEIGHT)
        product = compat.sparse_dense_matmul(compat.SparseTensor(ROWS, COLS, VALS, [3, 10]), weight, **kwargs)
        (grad,) = tf.gradients(tf.reduce_sum(product * upstream), [weight])
        if kwargs.get("use_sparse_grads", True):
            assert isinstance(grad, tf.IndexedSlices)  # only the used rows
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            value, grad_value = session.run([product, tf.convert_to_tensor(grad)])
    np.testing.assert_allclose(value, x @ WEIGHT, rtol=1e-6)
    np.testing.assert_allclose(grad_value, x.T @ upstream, rtol=1e-6)


def test_add1_values_gradient_and_types():
    with tf.Graph().as_default():
        x = tf.constant([[1.5, -2.0]], tf.float64)
        y = compat.add1(x)
        assert y.op.name == "Add1" and y.dtype == tf.float64
        (grad,) = tf.gradients(tf.reduce_sum(y * 3.0), [x])
        ints = twml.add1(tf.constant([0, 41], tf.int32), name="plus")
        with tf.Session() as session:
            values, grad_value, int_values = session.run([y, grad, ints])
        with pytest.raises(TypeError, match="int64"):
            compat.add1(tf.constant([1], tf.int64))
    np.testing.assert_array_equal(values, [[2.5, -1.0]])
    np.testing.assert_array_equal(grad_value, [[3.0, 3.0]])
    np.testing.assert_array_equal(int_values, [1, 42])


@pytest.mark.parametrize("parts", [1, 3, 4])
def test_partition_sparse_tensor_by_column_mod(parts):
    with tf.Graph().as_default():
        pieces = compat.partition_sparse_tensor(tf.SparseTensor(np.stack([ROWS, COLS], 1), VALS, [3, 10]), parts)
        with tf.Session() as session:
            results = session.run([(p.indices, p.values, p.dense_shape) for p in pieces])
    width = -(-10 // parts)
    assert len(results) == parts
    for p, (indices, values, shape) in enumerate(results):
        keep = COLS % parts == p
        np.testing.assert_array_equal(shape, [3, width])
        got = np.zeros((3, width), np.float32)
        np.add.at(got, (indices[:, 0], indices[:, 1]), values)
        want = np.zeros((3, width), np.float32)
        np.add.at(want, (ROWS[keep], COLS[keep] // parts), VALS[keep])
        np.testing.assert_array_equal(got, want)
        assert len(values) == keep.sum()


def test_set_logging_level():
    root, tf_logger = logging.getLogger(), tf.get_logger()
    saved = (root.level, tf_logger.level, absl_logging.get_verbosity())
    try:
        compat.set_logging_level("debug")
        assert root.level == tf_logger.level == logging.DEBUG
        assert absl_logging.get_verbosity() == absl_logging.DEBUG
        twml.set_logging_level("WARN")
        assert root.level == tf_logger.level == logging.WARNING
        assert absl_logging.get_verbosity() == absl_logging.WARNING
        compat.set_logging_level(logging.ERROR)
        assert root.level == tf_logger.level == logging.ERROR
        with pytest.raises(ValueError, match="unknown logging level 'loud'"):
            compat.set_logging_level("loud")
    finally:
        root.setLevel(saved[0])
        tf_logger.setLevel(saved[1])
        absl_logging.set_verbosity(saved[2])


def test_clib_raises_naming_the_local_alternatives():
    assert twml.CLIB is compat.CLIB
    with pytest.raises(RuntimeError) as caught:
        twml.CLIB.twml_tensor_create  # noqa: B018
    message = str(caught.value)
    assert "twml_tensor_create" in message and "C ABI" in message
    assert "twml.Array" in message and "libtwml._core" in message and "libtwml.ops" in message
    assert "not provided" in repr(twml.CLIB)
