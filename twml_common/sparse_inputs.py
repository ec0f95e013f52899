"""twml_common.sparse_inputs: random sparse batches for tests (NumPy's global random generator)."""

from typing import Any

import numpy as np
import tensorflow.compat.v1 as tf


def create_sparse_tensor(batch_size: int, input_size: int, num_values: int, dtype: Any = tf.float32) -> tf.SparseTensor:
    """A random ``[batch_size, input_size]`` SparseTensor with ``num_values`` entries.

    Flat positions are drawn uniformly with replacement from ``[0, batch_size * input_size)`` and
    sorted (so duplicate indices are possible); values are uniform in [0, 1), cast to ``dtype``.

    Returns:
      ``tf.SparseTensor`` with int64 indices ``[num_values, 2]``, values ``dtype [num_values]`` and
      dense_shape ``(batch_size, input_size)``.
    """
    positions = np.sort(np.random.randint(0, batch_size * input_size, size=num_values)).astype(np.int64)
    indices = np.stack([positions // input_size, positions % input_size], axis=1)
    values = tf.cast(np.random.uniform(size=num_values), dtype)
    return tf.SparseTensor(indices=indices, values=values, dense_shape=(batch_size, input_size))


def create_reference_input(sparse_input: tf.SparseTensor, use_binary_values: bool) -> tf.SparseTensor:
    """``sparse_input`` itself, or with ``use_binary_values`` the same indices and shape with all values 1."""
    if not use_binary_values:
        return sparse_input
    return tf.SparseTensor(
        indices=sparse_input.indices, values=tf.ones_like(sparse_input.values), dense_shape=sparse_input.dense_shape
    )
