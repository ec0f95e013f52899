"""HashedPercentileDiscretizer: percentile bins of sparse continuous features, hashed to output keys
(reference §6, contrib layers; ops §5.5)."""

from typing import Any, Callable, Optional

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml
from twml.layers.layer import Layer
from twml.layers.partition import Partition
from twml.layers.stitch import Stitch
from twml.util import limit_bits

#: Knuth's multiplicative constant (2**32 / golden ratio), as in the HashingDiscretizer op's 32-bit hash.
_KNUTH_CONSTANT = 2654435761


def integer_multiplicative_hashing(feature_ids: tf.Tensor, bin_indices: tf.Tensor, output_bits: int) -> tf.Tensor:
    """Hashes (feature id, bin index) pairs into ``[0, 2**output_bits)`` by their **low** bits:
    ``limit_bits((id * 2654435761 + bin) * 2654435761, output_bits)`` (wrapping int64 products).

    Args:
      feature_ids: int64 ``[n]``; bin_indices: int64 ``[n]``; output_bits: 1..63.

    Returns:
      int64 ``[n]`` keys.
    """
    constant = tf.constant(_KNUTH_CONSTANT, tf.int64)
    hashed = (tf.cast(feature_ids, tf.int64) * constant + tf.cast(bin_indices, tf.int64)) * constant
    return limit_bits(hashed, output_bits)


def integer_multiplicative_hashing_uniform(
    feature_ids: tf.Tensor, bin_indices: tf.Tensor, output_bits: int
) -> tf.Tensor:
    """Hashes (feature id, bin index) pairs uniformly into ``[0, 2**output_bits)``.

    ``x = (id * 2654435761 + bin) * 2654435761`` (wrapping mod 2**64), key = bits
    ``[32 - output_bits, 32)`` of ``x``: the HashingDiscretizer op's 32-bit hash (§5.6), so a
    (feature, bin) pair gets the same key from both layers.

    Args:
      feature_ids: int64 ``[n]`` raw feature ids.
      bin_indices: int64 ``[n]`` bin indices.
      output_bits: 1..32.

    Returns:
      int64 ``[n]`` keys in ``[0, 2**output_bits)``.
    """
    if not 1 <= output_bits <= 32:
        raise ValueError("integer_multiplicative_hashing_uniform needs output_bits in [1, 32], got %d" % output_bits)
    # int64 products wrap like uint64 ones in the low bits; only bits below 32 are kept, so the
    # arithmetic (sign-extending) shift cannot leak into the key.
    constant = tf.constant(_KNUTH_CONSTANT, tf.int64)
    hashed = (tf.cast(feature_ids, tf.int64) * constant + tf.cast(bin_indices, tf.int64)) * constant
    hashed = tf.bitwise.right_shift(hashed, tf.constant(32 - output_bits, tf.int64))
    return limit_bits(hashed, output_bits)


class HashedPercentileDiscretizer(Layer):
    """Replaces each calibrated (feature id, value) of a sparse input by ``hash_fn(id, bin, out_bits)``,
    value 1, where ``bin`` in ``[0, n_bin]`` is the value's place among the feature's ``n_bin + 1``
    percentile boundaries (PercentileDiscretizerBinIndices, §5.5's bisection). Unlike
    ``twml.layers.PercentileDiscretizer`` the key space needs no room reserved for the bins:
    uncalibrated ids keep their value with key ``id & (2**out_bits - 1)`` (and may collide with
    hashed keys).

    Args:
      n_feature: number of calibrated features (0: keys are only ``limit_bits``-ed).
      n_bin: bins per feature (``n_bin + 1`` boundaries each).
      out_bits: output key space ``[0, 2**out_bits)``; at most 32 with the default hash_fn.
      bin_values: float ``[n_feature * (n_bin + 1)]`` boundaries, per feature increasing.
      hash_keys: int64 ``[n_feature]`` feature ids; hash_values: int64 ``[n_feature]`` their indices.
      bin_ids: int64 ``[n_feature * (n_bin + 1)]`` (the op's input; unused by the hashed keys).
      feature_offsets: int64 ``[n_feature]`` start of each feature's boundaries in bin_values.
      hash_fn: ``(int64 ids [n], int64 bins [n], out_bits) -> int64 keys [n]``.

    The id -> index map is a ``tf.lookup.StaticHashTable`` (default -1) of constants; run
    ``init`` (or ``tf.tables_initializer()``) before use.

    ``call(inputs)``: ``tf.SparseTensor`` ``[batch, n]`` whose column indices are int64 raw
    feature ids and values float32/float64. Returns a ``tf.SparseTensor`` ``[batch, 2**out_bits]``
    with the input's row indices (same order), int64 keys and values of the input's dtype.
    """

    def __init__(
        self,
        n_feature: int,
        n_bin: int,
        out_bits: int,
        bin_values: Any,
        hash_keys: Any,
        hash_values: Any,
        bin_ids: Any,
        feature_offsets: Any,
        hash_fn: Callable[[tf.Tensor, tf.Tensor, int], tf.Tensor] = integer_multiplicative_hashing_uniform,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._n_feature = int(n_feature)
        self._n_bin = int(n_bin)
        self._out_bits = int(out_bits)
        total = self._n_feature * (self._n_bin + 1)
        self._bin_values = np.asarray(bin_values, np.float64).reshape(-1)
        self._hash_keys = np.asarray(hash_keys, np.int64).reshape(-1)
        self._hash_values = np.asarray(hash_values, np.int64).reshape(-1)
        self._bin_ids = np.asarray(bin_ids, np.int64).reshape(-1)
        self._feature_offsets = np.asarray(feature_offsets, np.int64).reshape(-1)
        for name, value, size in (
            ("bin_values", self._bin_values, total),
            ("bin_ids", self._bin_ids, total),
            ("hash_keys", self._hash_keys, self._n_feature),
            ("hash_values", self._hash_values, self._n_feature),
            ("feature_offsets", self._feature_offsets, self._n_feature),
        ):
            if value.shape != (size,):
                raise ValueError(
                    "HashedPercentileDiscretizer's %s must have shape [%d], got %s" % (name, size, value.shape)
                )
        self._hash_fn = hash_fn
        self._hash_table: Optional[tf.lookup.StaticHashTable] = None

    @property
    def n_feature(self) -> int:
        """Number of calibrated features."""
        return self._n_feature

    def build(self, input_shape: Any) -> None:
        if self._n_feature > 0:
            self._hash_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(self._hash_keys), tf.constant(self._hash_values)), -1
            )
        self.built = True

    @property
    def init(self) -> tf.Operation:
        """Initialises the id -> index hash table (a no-op before the layer is built)."""
        return self._hash_table.initializer if self._hash_table is not None else tf.no_op()

    def call(self, inputs: tf.SparseTensor, **kwargs: Any) -> tf.SparseTensor:
        if not isinstance(inputs, tf.SparseTensor):
            raise TypeError("HashedPercentileDiscretizer expects a tf.SparseTensor, got %s" % type(inputs).__name__)
        rows = inputs.indices[:, 0]
        keys = inputs.indices[:, 1]
        vals = inputs.values
        if self._n_feature > 0:
            indices = self._hash_table.lookup(keys)
            found = tf.cast(tf.not_equal(indices, -1), tf.int32)
            vals_parts, keys_parts, positions = Partition(2)(found, vals, keys)
            index_parts = tf.dynamic_partition(indices, found, 2)
            bins, new_vals = libtwml.ops.percentile_discretizer_bin_indices(
                index_parts[1],
                vals_parts[1],
                tf.constant(self._bin_ids),
                tf.constant(self._bin_values, vals.dtype),
                tf.constant(self._feature_offsets),
            )
            hashed_keys = self._hash_fn(keys_parts[1], bins, self._out_bits)
            other_keys = limit_bits(keys_parts[0], self._out_bits)
            out_vals, out_keys = Stitch()([vals_parts[0], new_vals], [other_keys, hashed_keys], positions)
        else:
            out_vals, out_keys = vals, limit_bits(keys, self._out_bits)
        dense_shape = tf.stack([inputs.dense_shape[0], tf.constant(1 << self._out_bits, tf.int64)])
        return tf.SparseTensor(tf.stack([rows, out_keys], axis=1), out_vals, dense_shape)
