"""PercentileDiscretizer: sparse continuous features to sparse bin keys (reference §6)."""

from typing import Any, Optional

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml
from twml.layers.layer import Layer
from twml.util import limit_bits


def check_unique_feature_ids(layer: str, feature_ids: np.ndarray) -> None:
    """Raises ValueError naming the first repeated id of a calibration's ``feature_ids``.

    The discretizer ops give a repeated id its last position, as the original did, so that
    graphs it saved still load; building a new graph with one is a mistake.
    """
    unique, first_index, counts = np.unique(feature_ids, return_index=True, return_counts=True)
    if np.any(counts > 1):
        repeated = unique[counts > 1]
        first = repeated[np.argmin(first_index[counts > 1])]
        raise ValueError(
            "%s's feature ids must be unique: %d appears %d times" % (layer, first, counts[unique == first][0])
        )


class PercentileDiscretizer(Layer):
    """Replaces each calibrated (feature id, value) of a sparse input by its bin's key, value 1.

    The calibration (from a percentile calibrator) is held as numpy constants:

    Args:
      n_feature: number of calibrated features (0: keys are only ``limit_bits``-ed).
      n_bin: bins per feature (each feature has ``n_bin + 1`` boundaries).
      out_bits: output key space is ``[0, 2**out_bits)``.
      bin_values: float ``[n_feature * (n_bin + 1)]`` boundaries, per feature in increasing order.
      hash_keys: int64 ``[n_feature]`` feature ids; hash_values: int64 ``[n_feature]`` their indices.
      bin_ids: int64 ``[n_feature * (n_bin + 1)]`` output key of each boundary.
      feature_offsets: int64 ``[n_feature]`` start of each feature in bin_ids/bin_values.
      num_parts, cost_per_unit: work sharding of the op.

    ``call(inputs, keep_inputs=False)``: inputs a ``tf.SparseTensor`` ``[batch, n]`` whose
    column indices are int64 feature ids and values float32/float64. Returns a
    ``tf.SparseTensor`` ``[batch, 2**out_bits]`` (PercentileDiscretizerV2's keys and values; ids
    not calibrated are remapped into the free key range by the op). With keep_inputs the inputs,
    remapped to ``floormod(key, 2**out_bits - n_feature*(n_bin+1)) + n_feature*(n_bin+1)``, are
    added as well (so uncalibrated features appear twice, as in the original).
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
        num_parts: int = 1,
        cost_per_unit: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._n_feature = n_feature
        self._n_bin = n_bin
        self._out_bits = out_bits
        total = n_feature * (n_bin + 1)
        self._bin_values = np.zeros(total, np.float32) if bin_values is None else np.asarray(bin_values)
        self._hash_keys = np.zeros(n_feature, np.int64) if hash_keys is None else np.asarray(hash_keys, np.int64)
        self._hash_values = np.zeros(n_feature, np.int64) if hash_values is None else np.asarray(hash_values, np.int64)
        self._bin_ids = np.zeros(total, np.int64) if bin_ids is None else np.asarray(bin_ids, np.int64)
        self._feature_offsets = (
            np.zeros(n_feature, np.int64) if feature_offsets is None else np.asarray(feature_offsets, np.int64)
        )
        for name, value, size in (
            ("bin_values", self._bin_values, total),
            ("bin_ids", self._bin_ids, total),
            ("hash_keys", self._hash_keys, n_feature),
            ("hash_values", self._hash_values, n_feature),
            ("feature_offsets", self._feature_offsets, n_feature),
        ):
            if value.shape != (size,):
                raise ValueError("PercentileDiscretizer's %s must have shape [%d], got %s" % (name, size, value.shape))
        check_unique_feature_ids("PercentileDiscretizer", self._hash_keys)
        self.num_parts = num_parts
        self.cost_per_unit = cost_per_unit

    def build(self, input_shape: Any) -> None:
        self.built = True

    def call(self, inputs: tf.SparseTensor, keep_inputs: bool = False, **kwargs: Any) -> tf.SparseTensor:
        if not isinstance(inputs, tf.SparseTensor):
            raise TypeError("PercentileDiscretizer expects a tf.SparseTensor, got %s" % type(inputs).__name__)
        ids = inputs.indices[:, 0]
        keys = inputs.indices[:, 1]
        vals = inputs.values
        if self._n_feature > 0:
            new_keys, new_vals = libtwml.ops.percentile_discretizer_v2(
                input_ids=keys,
                input_vals=vals,
                bin_ids=tf.constant(self._bin_ids),
                bin_vals=tf.constant(self._bin_values, vals.dtype),
                feature_offsets=tf.constant(self._feature_offsets),
                start_compute=tf.constant(0, tf.int64),
                end_compute=tf.constant(-1, tf.int64),
                output_bits=self._out_bits,
                feature_ids=tf.make_tensor_proto(self._hash_keys),
                feature_indices=tf.make_tensor_proto(self._hash_values),
                cost_per_unit=self.cost_per_unit,
            )
        else:
            new_keys, new_vals = limit_bits(keys, self._out_bits), vals
            keep_inputs = False  # would only double the inputs
        output_size = tf.constant(1 << self._out_bits, tf.int64)
        dense_shape = tf.stack([inputs.dense_shape[0], output_size])
        output = tf.SparseTensor(tf.stack([ids, new_keys], axis=1), new_vals, dense_shape)
        if keep_inputs:
            total = self._n_feature * (self._n_bin + 1)
            remapped = tf.math.floormod(keys, output_size - total) + total
            kept = tf.SparseTensor(tf.stack([ids, remapped], axis=1), vals, dense_shape)
            output = tf.sparse.add(tf.sparse.reorder(output), tf.sparse.reorder(kept))
        return output
