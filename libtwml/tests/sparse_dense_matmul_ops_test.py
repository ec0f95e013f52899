"""SparseTensorDenseMatMulUniqueGrad (dense and resource forms) and its gradients against numpy."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml

ops = libtwml.ops
RNG = np.random.default_rng(20261127)

tf.disable_eager_execution()


def random_problem(rows=7, k=11, cols=5, nnz=40, dtype=np.float64):
    """Entries with many duplicate columns and the last rows left empty."""
    indices = np.stack([RNG.integers(0, rows - 2, nnz), RNG.integers(0, k // 2, nnz)], axis=1)
    values = RNG.normal(size=nnz).astype(dtype)
    b = RNG.normal(size=(k, cols)).astype(dtype)
    grad = RNG.normal(size=(rows, cols)).astype(dtype)
    return indices, values, b, grad


def numpy_product(indices, values, rows, b):
    out = np.zeros((rows, b.shape[1]))
    np.add.at(out, indices[:, 0], values[:, None] * b[indices[:, 1]])
    return out


def build(indices, values, shape, b, index_dtype, dtype, resource):
    a_indices = tf.constant(indices, dtype=index_dtype)
    a_values = tf.constant(values, dtype=dtype)
    if resource:
        var = tf.Variable(b, dtype=dtype, use_resource=True)
        out = ops.resource_sparse_tensor_dense_mat_mul_unique_grad(a_indices, a_values, shape, var.handle)
        return a_values, var, out
    b_tensor = tf.constant(b, dtype=dtype)
    return a_values, b_tensor, ops.sparse_tensor_dense_mat_mul_unique_grad(a_indices, a_values, shape, b_tensor)


@pytest.mark.parametrize("resource", [False, True])
@pytest.mark.parametrize("index_dtype", [tf.int32, tf.int64])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_forward_and_gradients_match_numpy(resource, index_dtype, dtype):
    rows, k = 7, 11
    indices, values, b, grad = random_problem(rows, k, dtype=dtype.as_numpy_dtype)
    with tf.Graph().as_default():
        a_values, weight, out = build(indices, values, [rows, k], b, index_dtype, dtype, resource)
        assert out.shape.as_list() == [rows, 5]
        upstream = tf.constant(grad)
        values_grad, weight_grad = tf.gradients(out, [a_values, weight], grad_ys=upstream)
        assert isinstance(weight_grad, tf.IndexedSlices)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got, got_values_grad, slices, columns, dense_shape = session.run(
                [out, values_grad, weight_grad.values, weight_grad.indices, weight_grad.dense_shape]
            )
    tol = 1e-5 if dtype == tf.float32 else 1e-12
    np.testing.assert_allclose(got, numpy_product(indices, values, rows, b), rtol=tol, atol=tol)
    # d/d values[i] = grad[row_i] . b[col_i]
    np.testing.assert_allclose(
        got_values_grad, np.sum(grad[indices[:, 0]] * b[indices[:, 1]], axis=1), rtol=tol, atol=tol
    )
    # The weight gradient's indices are the distinct columns in order of first appearance.
    _, first = np.unique(indices[:, 1], return_index=True)
    np.testing.assert_array_equal(columns, indices[np.sort(first), 1])
    assert len(np.unique(columns)) == len(columns) < len(indices)
    assert list(dense_shape) == [k, 5]
    dense = np.zeros_like(b, dtype=np.float64)
    dense[columns] = slices
    expected = np.zeros_like(b, dtype=np.float64)
    np.add.at(expected, indices[:, 1], values[:, None] * grad[indices[:, 0]])
    np.testing.assert_allclose(dense, expected, rtol=tol, atol=tol)


def test_numeric_gradients():
    rows, k = 4, 6
    indices, values, b, _ = random_problem(rows, k, cols=3, nnz=9)
    with tf.Graph().as_default():
        a_values = tf.constant(values)
        b_tensor = tf.constant(b)
        out = ops.sparse_tensor_dense_mat_mul_unique_grad(tf.constant(indices), a_values, [rows, k], b_tensor)
        with tf.Session():
            for x, x0 in [(a_values, values), (b_tensor, b)]:
                theoretical, numerical = tf.test.compute_gradient(x, list(x0.shape), out, [rows, 3], x_init_value=x0)
                np.testing.assert_allclose(theoretical, numerical, rtol=1e-6, atol=1e-6)


def test_empty_input():
    _, _, b, _ = random_problem()
    with tf.Graph().as_default():
        indices = tf.zeros([0, 2], tf.int64)
        values = tf.zeros([0], tf.float64)
        b_tensor = tf.constant(b)
        out = ops.sparse_tensor_dense_mat_mul_unique_grad(indices, values, [3, 11], b_tensor)
        (weight_grad,) = tf.gradients(out, [b_tensor])
        with tf.Session() as session:
            got, slices = session.run([out, weight_grad.values])
    np.testing.assert_array_equal(got, np.zeros((3, 5)))
    assert slices.shape == (0, 5)


@pytest.mark.parametrize("resource", [False, True])
@pytest.mark.parametrize(
    "indices, message",
    [
        ([[0, 1], [3, 2]], r"a_indices\[1, 0\] = 3 is outside \[0, 3\)"),
        ([[0, 1], [1, 11]], r"a_indices\[1, 1\] = 11 is outside \[0, 11\)"),
        ([[-1, 1]], r"a_indices\[0, 0\] = -1"),
    ],
)
def test_out_of_range_indices_are_invalid_argument(resource, indices, message):
    _, _, b, _ = random_problem()
    indices = np.array(indices)
    with tf.Graph().as_default():
        _, _, out = build(indices, np.ones(len(indices)), [3, 11], b, tf.int64, tf.float64, resource)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                session.run(out)


def test_resource_form_reads_the_variable_in_place_and_trains():
    """No ReadVariableOp of the weight, and an optimizer applies the unique-index gradient."""
    rows, k = 5, 9
    indices, values, b, _ = random_problem(rows, k, cols=4, nnz=20)
    with tf.Graph().as_default():
        var = tf.Variable(b, use_resource=True)
        out = ops.resource_sparse_tensor_dense_mat_mul_unique_grad(
            tf.constant(indices), tf.constant(values), [rows, k], var.handle
        )
        loss = tf.reduce_sum(out)
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        reads = [op for op in tf.get_default_graph().get_operations() if op.type == "ReadVariableOp"]
        assert all(out.op not in [c for t in r.outputs for c in t.consumers()] for r in reads)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(train)
            updated = session.run(var)
    expected = b.copy()
    np.add.at(expected, indices[:, 1], -0.1 * values[:, None] * np.ones((1, 4)))
    # The learning rate is a float32 0.1 cast to float64.
    np.testing.assert_allclose(updated, expected, rtol=1e-7, atol=1e-7)
