"""twml_common.initializer.PartitionInitializer in real partitioned variables (row and column
partitions) and twml_common.sparse_inputs against the draws the spec describes (NumPy's global RNG)
and their statistics."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from twml_common.initializer import PartitionInitializer
from twml_common.sparse_inputs import create_reference_input, create_sparse_tensor

tf.disable_eager_execution()


@pytest.mark.parametrize(
    "partitioner",
    [
        tf.fixed_size_partitioner(3),
        tf.fixed_size_partitioner(2, axis=1),
        tf.min_max_variable_partitioner(max_partitions=4, min_slice_size=8),
    ],
)
def test_partition_initializer_fills_each_partition_with_its_slice(partitioner):
    value = np.arange(6 * 4, dtype=np.float32).reshape(6, 4) * 0.5
    with tf.Graph().as_default():
        variable = tf.get_variable("v", shape=[6, 4], initializer=PartitionInitializer(value), partitioner=partitioner)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            whole = session.run(tf.convert_to_tensor(variable))
            parts = session.run(list(variable))
    np.testing.assert_array_equal(whole, value)
    assert sum(part.size for part in parts) == value.size


def test_partition_initializer_needs_partition_info():
    with pytest.raises(ValueError, match="partitioned variables only"):
        PartitionInitializer(np.zeros((2, 2)))([2, 2])


def test_create_sparse_tensor_draws_and_layout():
    np.random.seed(11)
    sparse = create_sparse_tensor(4, 7, 12, dtype=tf.float64)
    np.random.seed(11)
    positions = np.sort(np.random.randint(0, 4 * 7, size=12))
    values = np.random.uniform(size=12)
    with tf.Session(graph=sparse.values.graph) as session:
        indices, got_values, shape = session.run([sparse.indices, sparse.values, sparse.dense_shape])
    assert sparse.values.dtype == tf.float64 and indices.dtype == np.int64
    np.testing.assert_array_equal(shape, [4, 7])
    np.testing.assert_array_equal(indices[:, 0] * 7 + indices[:, 1], positions)  # row-major, sorted
    np.testing.assert_array_equal(got_values, values)


def test_create_sparse_tensor_statistics_and_reference_input():
    np.random.seed(3)
    with tf.Graph().as_default():
        sparse = create_sparse_tensor(50, 40, 20000)
        binary = create_reference_input(sparse, use_binary_values=True)
        assert create_reference_input(sparse, use_binary_values=False) is sparse
        with tf.Session() as session:
            indices, values, ones, binary_indices = session.run(
                [sparse.indices, sparse.values, binary.values, binary.indices]
            )
    assert values.dtype == np.float32 and 0.0 <= values.min() and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.01  # uniform [0, 1): mean 1/2, sd of the mean ~0.002
    assert indices[:, 0].min() == 0 and indices[:, 0].max() == 49 and indices[:, 1].max() == 39
    # 20000 draws from 2000 positions with replacement: duplicates are kept
    assert len(np.unique(indices, axis=0)) < len(indices)
    np.testing.assert_array_equal(ones, np.ones(20000, np.float32))
    np.testing.assert_array_equal(binary_indices, indices)
