"""The sparse math ops (reference §5.9) against numpy and tf.sparse.sparse_dense_matmul."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml

ops = libtwml.ops
RNG = np.random.default_rng(20240612)
ERRORS = (ValueError, tf.errors.InvalidArgumentError)  # graph-construction or run-time


def run(build, feed=None):
    """Builds a graph with build() and runs what it returns."""
    with tf.Graph().as_default():
        fetches = build()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return session.run(fetches, feed)


def random_binary(rows, cols, nnz):
    """Random (row, column) pairs, duplicates allowed, and random values that the op must ignore."""
    indices = np.stack([RNG.integers(0, rows, nnz), RNG.integers(0, cols, nnz)], axis=1)
    return indices, RNG.normal(size=nnz)


def dense_binary(indices, rows, cols):
    a = np.zeros((rows, cols))
    np.add.at(a, (indices[:, 0], indices[:, 1]), 1)
    return a


# --- BinarySparseTensorDenseMatMul --------------------------------------------------------------


@pytest.mark.parametrize("index_dtype", [tf.int32, tf.int64])
@pytest.mark.parametrize("adjoint_a", [False, True])
@pytest.mark.parametrize("adjoint_b", [False, True])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.complex64, tf.complex128])
def test_matmul_matches_numpy_and_tf(index_dtype, adjoint_a, adjoint_b, dtype):
    for _ in range(3):
        rows, cols, n = RNG.integers(1, 9, 3)
        indices, values = random_binary(rows, cols, RNG.integers(0, 20))
        k = rows if adjoint_a else cols
        b = RNG.integers(-5, 6, (n, k) if adjoint_b else (k, n)).astype(dtype.as_numpy_dtype)
        if dtype.is_complex:
            b = (b + 1j * RNG.integers(-3, 4, b.shape)).astype(b.dtype)
        a = dense_binary(indices, rows, cols)
        op_a = a.T if adjoint_a else a
        op_b = b.conj().T if adjoint_b else b
        expected = op_a.astype(b.dtype) @ op_b

        def build(indices=indices, values=values, b=b, rows=rows, cols=cols):
            a_indices = tf.constant(indices, index_dtype)
            a_values = tf.constant(values.astype(dtype.as_numpy_dtype))  # ignored by the op
            a_shape = tf.constant([rows, cols], tf.int64)
            got = ops.binary_sparse_tensor_dense_mat_mul(
                a_indices, a_values, a_shape, tf.constant(b), adjoint_a=adjoint_a, adjoint_b=adjoint_b
            )
            ones = tf.SparseTensor(tf.cast(a_indices, tf.int64), tf.ones([len(indices)], dtype), a_shape)
            reference = tf.sparse.sparse_dense_matmul(ones, tf.constant(b), adjoint_a=adjoint_a, adjoint_b=adjoint_b)
            return got, reference

        got, reference = run(build)
        assert got.dtype == b.dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(got, reference)


def test_matmul_static_shape():
    with tf.Graph().as_default():
        b = tf.zeros([4, 3])
        out = ops.binary_sparse_tensor_dense_mat_mul(tf.zeros([0, 2], tf.int64), tf.zeros([0]), [5, 4], b)
        assert out.shape.as_list() == [5, 3]
        out = ops.binary_sparse_tensor_dense_mat_mul(
            tf.zeros([0, 2], tf.int64), tf.zeros([0]), [3, 5], b, adjoint_a=True, adjoint_b=True
        )
        assert out.shape.as_list() == [5, 4]


@pytest.mark.parametrize("index_dtype", [tf.int32, tf.int64])
@pytest.mark.parametrize(
    "indices, message",
    [
        ([[0, 0], [2, 1]], r"a_indices\[1, 0\] = 2 is outside \[0, 2\)"),
        ([[0, -1]], r"a_indices\[0, 1\] = -1 is outside \[0, 3\)"),
        ([[0, 3]], r"a_indices\[0, 1\] = 3 is outside \[0, 3\)"),
    ],
)
def test_matmul_rejects_out_of_range_indices(index_dtype, indices, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        run(
            lambda: ops.binary_sparse_tensor_dense_mat_mul(
                tf.constant(indices, index_dtype), tf.ones([len(indices)]), [2, 3], tf.ones([3, 2])
            )
        )


def test_matmul_rejects_bad_shapes_at_run_time():
    def build():
        b = tf.placeholder_with_default(tf.ones([4, 2]), shape=None)
        return ops.binary_sparse_tensor_dense_mat_mul([[0, 0]], [1.0], [2, 3], b)

    with pytest.raises(ERRORS, match="inner dimensions differ"):
        run(build)


@pytest.mark.parametrize("adjoint_a", [False, True])
@pytest.mark.parametrize("adjoint_b", [False, True])
def test_matmul_gradient_matches_finite_differences(adjoint_a, adjoint_b):
    rows, cols, n = 4, 5, 3
    indices, values = random_binary(rows, cols, 9)
    k = rows if adjoint_a else cols
    b_value = RNG.normal(size=(n, k) if adjoint_b else (k, n))
    with tf.Graph().as_default():
        b = tf.constant(b_value)
        out = ops.binary_sparse_tensor_dense_mat_mul(
            indices, values, [rows, cols], b, adjoint_a=adjoint_a, adjoint_b=adjoint_b
        )
        with tf.Session():
            theoretical, numerical = tf.test.compute_gradient(b, b_value.shape, out, out.shape.as_list(), b_value)
    np.testing.assert_allclose(theoretical, numerical, atol=1e-5)  # central differences, delta 1e-3


def test_matmul_gradient_is_indexed_slices_over_used_rows():
    vocab, dim = 10, 3
    indices = np.array([[0, 7], [1, 2], [1, 7], [2, 7]])  # only rows 2 and 7 of the table are used
    with tf.Graph().as_default():
        table = tf.Variable(RNG.normal(size=(vocab, dim)).astype(np.float32))
        out = ops.binary_sparse_tensor_dense_mat_mul(indices, tf.zeros([4]), [3, vocab], table)
        weights = tf.constant(RNG.normal(size=(3, dim)).astype(np.float32))
        loss = tf.reduce_sum(out * weights)
        (grad,) = tf.gradients(loss, [table])
        assert isinstance(grad, tf.IndexedSlices)
        train = tf.train.GradientDescentOptimizer(1.0).minimize(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            before = session.run(table)
            grad_indices, grad_values, dense_shape = session.run([grad.indices, grad.values, grad.dense_shape])
            session.run(train)
            after = session.run(table)
            weights_value = session.run(weights)
    assert set(grad_indices.tolist()) == {2, 7}
    assert dense_shape.tolist() == [vocab, dim]
    dense = np.zeros((vocab, dim), np.float32)
    np.add.at(dense, grad_indices, grad_values)
    expected = dense_binary(indices, 3, vocab).T @ weights_value
    np.testing.assert_allclose(dense, expected, rtol=1e-6)
    changed = np.flatnonzero(np.any(before != after, axis=1))
    assert changed.tolist() == [2, 7]
    np.testing.assert_allclose(after, before - expected, rtol=1e-5)


# --- SparseMaxNorm ------------------------------------------------------------------------------


def np_max_norm(max_values, indices, values, epsilon, update):
    maxima = np.array(max_values, np.float32)
    out = np.zeros(len(values), np.float32)
    for i, (idx, v) in enumerate(zip(indices, values)):
        m = max(maxima[idx], abs(v))
        out[i] = v / max(m, epsilon)
        if update:
            maxima[idx] = m
    return maxima, out


MAX_VALUES = np.array([2.0, 0.0, 5.0], np.float32)
INDICES = np.array([0, 0, 1, 1, 2, 1], np.int64)
VALUES = np.array([1.0, -4.0, 0.0, 0.5, 3.0, 2.0], np.float32)
EPSILON = 1e-3


def test_max_norm_inference_and_training():
    inference, (updated, training) = run(
        lambda: (
            ops.sparse_max_norm_inference(MAX_VALUES, INDICES, VALUES, epsilon=EPSILON),
            ops.sparse_max_norm_training(MAX_VALUES, INDICES, VALUES, epsilon=EPSILON),
        )
    )
    np.testing.assert_allclose(inference, np_max_norm(MAX_VALUES, INDICES, VALUES, EPSILON, False)[1])
    expected_max, expected = np_max_norm(MAX_VALUES, INDICES, VALUES, EPSILON, True)
    np.testing.assert_allclose(training, expected)
    np.testing.assert_allclose(updated, expected_max)
    np.testing.assert_allclose(expected_max, [4.0, 2.0, 5.0])
    # Divides, never clips: 3 with a maximum of 5 gives 0.6; the zero divides by epsilon.
    assert training[4] == pytest.approx(0.6) and training[2] == 0


@pytest.mark.parametrize("is_training", [False, True])
def test_max_norm_ref_variable(is_training):
    with tf.Graph().as_default():
        variable = tf.Variable(MAX_VALUES, use_resource=False)
        updated, normalized = ops.sparse_max_norm(variable, INDICES, VALUES, is_training, epsilon=EPSILON)
        with tf.Session() as session:
            session.run(variable.initializer)
            normalized_value, _ = session.run([normalized, updated])
            stored = session.run(variable)
    expected_max, expected = np_max_norm(MAX_VALUES, INDICES, VALUES, EPSILON, is_training)
    np.testing.assert_allclose(normalized_value, expected)
    np.testing.assert_allclose(stored, expected_max)


def test_max_norm_rejects_bad_input():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 3 is outside \[0, 3\)"):
        run(lambda: ops.sparse_max_norm_training(MAX_VALUES, [0, 3], [1.0, 1.0], epsilon=EPSILON))
    with pytest.raises(ERRORS):
        run(lambda: ops.sparse_max_norm_inference(MAX_VALUES, [0, 1], [1.0], epsilon=EPSILON))
    with tf.Graph().as_default():
        variable = tf.Variable(MAX_VALUES, use_resource=False)
        is_training = tf.placeholder(tf.bool, None)
        _, normalized = ops.sparse_max_norm(variable, [0], [1.0], is_training, epsilon=EPSILON)
        with tf.Session() as session:
            session.run(variable.initializer)
            with pytest.raises(tf.errors.InvalidArgumentError, match="is_training must be a scalar"):
                session.run(normalized, {is_training: [True, False]})


# --- SparseBatchNorm ----------------------------------------------------------------------------


def test_batch_norm_training_normalizes_with_the_batch_statistics():
    # The original's case: means [0], variances [1], values [1, 3] at one fresh index, eps 0.
    with tf.Graph().as_default():
        means = tf.Variable([0.0], use_resource=False)
        variances = tf.Variable([1.0], use_resource=False)
        outputs = ops.sparse_batch_norm(
            means,
            variances,
            tf.constant([0, 0], tf.int64),
            tf.constant([1.0, 3.0]),
            tf.constant(True),
            input_size=1,
            epsilon=0.0,
        )
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            updated_means, updated_variances, normalized = session.run(outputs)
    np.testing.assert_array_equal(normalized, [-1.0, 1.0])
    np.testing.assert_array_equal(updated_means, [2.0])
    np.testing.assert_array_equal(updated_variances, [1.0])


def test_batch_norm_welford_across_calls():
    size, eps = 4, 1e-3
    batches = [(RNG.integers(0, size, 7), RNG.normal(size=7).astype(np.float32)) for _ in range(3)]
    with tf.Graph().as_default():
        means = tf.Variable(np.zeros(size, np.float32), use_resource=False)
        variances = tf.Variable(np.ones(size, np.float32), use_resource=False)
        indices = tf.placeholder(tf.int64, [None])
        values = tf.placeholder(tf.float32, [None])
        is_training = tf.placeholder(tf.bool, [])
        outputs = ops.sparse_batch_norm(means, variances, indices, values, is_training, input_size=size, epsilon=eps)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            seen = [[] for _ in range(size)]
            for batch_indices, batch_values in batches:
                _, _, normalized = session.run(
                    outputs, {indices: batch_indices, values: batch_values, is_training: True}
                )
                for idx, v in zip(batch_indices, batch_values):
                    seen[idx].append(v)
                # Every entry is normalized with the statistics after the whole batch.
                for i, (idx, v) in enumerate(zip(batch_indices, batch_values)):
                    mean, var = np.mean(seen[idx]), np.var(seen[idx])
                    assert normalized[i] == pytest.approx((v - mean) / np.sqrt(var + eps), rel=1e-4, abs=1e-5)
            stored_means, stored_vars = session.run([means, variances])
            for idx in range(size):
                if seen[idx]:
                    assert stored_means[idx] == pytest.approx(np.mean(seen[idx]), rel=1e-5, abs=1e-6)
                    assert stored_vars[idx] == pytest.approx(np.var(seen[idx]), rel=1e-4, abs=1e-6)
            # Inference leaves the statistics alone.
            _, _, normalized = session.run(outputs, {indices: [0, 1], values: [1.0, 2.0], is_training: False})
            np.testing.assert_allclose(
                normalized, ([1.0, 2.0] - stored_means[:2]) / np.sqrt(stored_vars[:2] + eps), rtol=1e-5
            )
            np.testing.assert_array_equal(session.run(means), stored_means)
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = 4"):
                session.run(outputs, {indices: [4], values: [1.0], is_training: True})
