"""MDL: the deprecated MDL discretizer layer (reference §6)."""

import warnings
from typing import Any, Optional

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml
from twml.layers.layer import Layer
from twml.layers.partition import Partition
from twml.layers.stitch import Stitch


class MDL(Layer):
    """Deprecated (warns): replaces calibrated (feature id, value) pairs by their MDL bin key, value 1.

    Args:
      n_feature: number of calibrated features; n_bin: bins per feature (n_bin + 1 boundaries).
      out_bits: output key space ``[0, 2**out_bits)``.
      bin_values: float32 ``[n_feature * (n_bin + 1)]`` boundaries; bin_ids: int64, same size,
        output key of each bin; hash_keys: int64 ``[n_feature]`` feature ids; hash_values: int64
        ``[n_feature]`` their feature indices; feature_offsets: int64 ``[n_feature]``.

    The values become non-trainable variables of those names (defaults zeros), and a
    ``StaticHashTable`` hash_keys -> hash_values (default -1) initialised by ``init`` (also
    registered in the table initialisers collection).

    ``call(inputs)``: ``tf.SparseTensor`` ``[batch, n]`` whose column indices are int64 feature
    ids and values float32. Found ids go through the MDL op; the others get key
    ``floormod(id, 2**out_bits - len(bin_ids)) + len(bin_ids)`` with their value kept. Returns a
    ``tf.SparseTensor`` ``[batch, 2**out_bits]`` with the input's row indices.
    """

    def __init__(
        self,
        n_feature: int,
        n_bin: int,
        out_bits: int,
        bin_values: Optional[Any] = None,
        hash_keys: Optional[Any] = None,
        hash_values: Optional[Any] = None,
        bin_ids: Optional[Any] = None,
        feature_offsets: Optional[Any] = None,
        **kwargs: Any,
    ) -> None:
        warnings.warn("twml.layers.MDL is deprecated", DeprecationWarning, stacklevel=2)
        super().__init__(**kwargs)
        self._n_feature = n_feature
        self._n_bin = n_bin
        self._out_bits = out_bits
        total = n_feature * (n_bin + 1)
        self._values = {
            "hash_keys": (hash_keys, np.int64, n_feature),
            "hash_values": (hash_values, np.int64, n_feature),
            "bin_ids": (bin_ids, np.int64, total),
            "bin_values": (bin_values, np.float32, total),
            "feature_offsets": (feature_offsets, np.int64, n_feature),
        }
        for name, (value, _, size) in self._values.items():
            if value is not None and np.shape(value) != (size,):
                raise ValueError("MDL's %s must have shape [%d], got %s" % (name, size, np.shape(value)))
        self._hash_table: Any = None

    def build(self, input_shape: Any) -> None:
        for name, (value, dtype, size) in self._values.items():
            initializer = tf.zeros_initializer() if value is None else tf.constant_initializer(np.asarray(value, dtype))
            variable = self.add_weight(
                name, shape=[size], initializer=initializer, dtype=tf.as_dtype(dtype), trainable=False
            )
            setattr(self, name, variable)
        self._hash_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.convert_to_tensor(self.hash_keys), tf.convert_to_tensor(self.hash_values)
            ),
            -1,
        )
        self.built = True

    @property
    def init(self) -> tf.Operation:
        """Initialises the hash table (run after the variables' initialisers)."""
        return self._hash_table.initializer if self._hash_table is not None else tf.no_op()

    def call(self, inputs: tf.SparseTensor, **kwargs: Any) -> tf.SparseTensor:
        if not isinstance(inputs, tf.SparseTensor):
            raise TypeError("MDL expects a tf.SparseTensor, got %s" % type(inputs).__name__)
        ids = inputs.indices[:, 0]
        keys = inputs.indices[:, 1]
        vals = tf.cast(inputs.values, tf.float32)
        indices = self._hash_table.lookup(keys)
        found = tf.cast(tf.not_equal(indices, -1), tf.int32)
        vals_parts, keys_parts, positions = Partition(2)(found, vals, keys)
        _, index_parts, _ = Partition(2)(found, vals, indices)
        new_keys, new_vals = libtwml.ops.mdl(
            index_parts[1],
            vals_parts[1],
            tf.convert_to_tensor(self.bin_ids),
            tf.convert_to_tensor(self.bin_values),
            tf.convert_to_tensor(self.feature_offsets),
        )
        n_bins = tf.size(self.bin_ids, out_type=tf.int64)
        other_keys = tf.math.floormod(keys_parts[0], (1 << self._out_bits) - n_bins) + n_bins
        out_vals, out_keys = Stitch()([vals_parts[0], new_vals], [other_keys, new_keys], positions)
        dense_shape = tf.stack([inputs.dense_shape[0], tf.constant(1 << self._out_bits, tf.int64)])
        return tf.SparseTensor(tf.stack([ids, out_keys], axis=1), out_vals, dense_shape)
