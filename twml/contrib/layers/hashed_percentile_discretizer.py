"""HashedPercentileDiscretizer: percentile bins of sparse continuous features, hashed to output keys
(reference §6, contrib layers; ops §5.5)."""

from typing import Any, Callable, Optional, Union

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml
from twml.layers.layer import Layer
from twml.layers.partition import Partition
from twml.layers.stitch import Stitch
from twml.util import limit_bits

#: Knuth's multiplicative constant (2**32 / golden ratio), as in the HashingDiscretizer op's 32-bit hash.
_KNUTH_CONSTANT = 2654435761


TensorOrInt = Union[tf.Tensor, int]


def _output_size(output_size: TensorOrInt) -> tf.Tensor:
    """The int64 scalar tensor of a key-space size (a power of two, 2..2**32 when a Python int)."""
    if isinstance(output_size, int) and not isinstance(output_size, bool):
        if output_size < 2 or output_size > 1 << 32 or output_size & (output_size - 1):
            raise ValueError("output_size must be a power of two in [2, 2**32], got %d" % output_size)
    return tf.cast(output_size, tf.int64)


def _knuth_hash(feature_ids: tf.Tensor, bin_indices: tf.Tensor) -> tf.Tensor:
    """``(id * 2654435761 + bin) * 2654435761`` as int64 (products wrap like uint64 ones)."""
    constant = tf.constant(_KNUTH_CONSTANT, tf.int64)
    return (tf.cast(feature_ids, tf.int64) * constant + tf.cast(bin_indices, tf.int64)) * constant


def integer_multiplicative_hashing(
    feature_ids: tf.Tensor, bin_indices: tf.Tensor, output_size: TensorOrInt
) -> tf.Tensor:
    """Hashes (feature id, bin index) pairs into ``[0, output_size)`` by their **low** bits:
    ``((id * 2654435761 + bin) * 2654435761) mod output_size`` (wrapping int64 products).

    Args:
      feature_ids: int64 ``[n]``; bin_indices: int64 ``[n]``.
      output_size: the key-space size ``2**out_bits``: an int64 scalar tensor (what
        ``HashedPercentileDiscretizer`` passes, as the original) or a Python int; a power of two.

    Returns:
      int64 ``[n]`` keys.
    """
    return tf.bitwise.bitwise_and(_knuth_hash(feature_ids, bin_indices), _output_size(output_size) - 1)


def integer_multiplicative_hashing_uniform(
    feature_ids: tf.Tensor, bin_indices: tf.Tensor, output_size: TensorOrInt
) -> tf.Tensor:
    """Hashes (feature id, bin index) pairs uniformly into ``[0, output_size)``.

    ``x = (id * 2654435761 + bin) * 2654435761`` (wrapping mod 2**64), key = bits
    ``[32 - out_bits, 32)`` of ``x`` with ``output_size = 2**out_bits``: the HashingDiscretizer op's
    32-bit hash (§5.6), so a (feature, bin) pair gets the same key from both layers.

    Args:
      feature_ids: int64 ``[n]`` raw feature ids.
      bin_indices: int64 ``[n]`` bin indices.
      output_size: ``2**out_bits`` with out_bits in 1..32: an int64 scalar tensor (what
        ``HashedPercentileDiscretizer`` passes, as the original) or a Python int.

    Returns:
      int64 ``[n]`` keys in ``[0, output_size)``.
    """
    size = _output_size(output_size)
    low32 = tf.bitwise.bitwise_and(_knuth_hash(feature_ids, bin_indices), tf.constant(0xFFFFFFFF, tf.int64))
    # The top out_bits of the low 32 bits: low32 // 2**(32 - out_bits).
    return tf.math.floordiv(low32, tf.math.floordiv(tf.constant(1 << 32, tf.int64), size))


class HashedPercentileDiscretizer(Layer):
    """Replaces each calibrated (feature id, value) of a sparse input by ``hash_fn(id, bin, 2**out_bits)``,
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
      hash_fn: ``(int64 ids [n], int64 bins [n], output_size) -> int64 keys [n]`` in
        ``[0, output_size)``, called as the original does with ``output_size`` the int64 scalar
        tensor ``2**out_bits``.

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
        hash_fn: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor] = integer_multiplicative_hashing_uniform,
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
        if hash_fn is integer_multiplicative_hashing_uniform and not 1 <= self._out_bits <= 32:
            raise ValueError(
                "HashedPercentileDiscretizer's default hash_fn needs out_bits in [1, 32], got %d" % self._out_bits
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
            output_size = tf.constant(1 << self._out_bits, tf.int64)
            hashed_keys = self._hash_fn(keys_parts[1], bins, output_size)
            other_keys = limit_bits(keys_parts[0], self._out_bits)
            out_vals, out_keys = Stitch()([vals_parts[0], new_vals], [other_keys, hashed_keys], positions)
        else:
            out_vals, out_keys = vals, limit_bits(keys, self._out_bits)
        dense_shape = tf.stack([inputs.dense_shape[0], tf.constant(1 << self._out_bits, tf.int64)])
        return tf.SparseTensor(tf.stack([rows, out_keys], axis=1), out_vals, dense_shape)
