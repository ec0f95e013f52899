"""HashingDiscretizer: sparse continuous features to hashed (feature id, bin) keys (reference §5.6, §6)."""

from typing import Any, Optional, Sequence

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml
from twml.constants import HashingDiscretizerOptions
from twml.layers.layer import Layer
from twml.layers.percentile_discretizer import check_unique_feature_ids
from twml.util import limit_bits


class HashingDiscretizer(Layer):
    """Replaces each calibrated (feature id, value) of a sparse input by ``hash(id, bucket)``, value 1.

    The bucket of a value is its place among its feature's ``n_bin`` sorted boundaries (in
    ``[0, n_bin]``); the key is the HashingDiscretizer op's hash of (feature id, bucket) limited to
    ``out_bits`` bits. Uncalibrated ids keep their value, with key ``id & (2**out_bits - 1)``.

    Args:
      feature_ids: int64 ``[n_feature]`` calibrated raw feature ids, unique (position = index).
      bin_vals: float ``[n_feature * n_bin]`` boundaries; feature i's at ``[i*n_bin, (i+1)*n_bin)``,
        sorted.
      n_bin: number of boundaries per feature (>= 1).
      out_bits: output key space is ``[0, 2**out_bits)``.
      cost_per_unit: the op's estimated cost of one element (work sharding).
      options: the op's options (``twml.constants.HashingDiscretizerOptions``); None = default
        (lower-bound search, 32-bit hash).

    ``call(inputs)``: inputs a ``tf.SparseTensor`` ``[batch, n]`` whose column indices are int64 raw
    feature ids and values float32/float64. Returns a ``tf.SparseTensor`` ``[batch, 2**out_bits]``
    with the same row indices, int64 keys as column indices and the op's values (inputs' dtype).
    """

    def __init__(
        self,
        feature_ids: Sequence[int],
        bin_vals: Sequence[float],
        n_bin: int,
        out_bits: int,
        cost_per_unit: int = 500,
        options: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._feature_ids = np.asarray(feature_ids, np.int64).reshape(-1)
        self._bin_vals = np.asarray(bin_vals, np.float64).reshape(-1)
        self._n_bin = int(n_bin)
        self._out_bits = int(out_bits)
        self.cost_per_unit = int(cost_per_unit)
        self.options = HashingDiscretizerOptions.DEFAULT if options is None else int(options)
        if self._n_bin < 1:
            raise ValueError("HashingDiscretizer's n_bin must be >= 1, got %d" % self._n_bin)
        # The op accepts reserved options and repeated ids (graphs the original saved may hold
        # them); a new graph must not: they are mistakes.
        if self.options < 0 or self.options & 3 == 3 or self.options >> 2 > 1:
            raise ValueError(
                "HashingDiscretizer's options = %d is invalid: bits [1:0] choose the search (0 lower bound, "
                "1 linear, 2 upper bound) and bits [4:2] the hash (0 32-bit, 1 64-bit)" % self.options
            )
        check_unique_feature_ids("HashingDiscretizer", self._feature_ids)
        if self._bin_vals.shape != (self._feature_ids.size * self._n_bin,):
            raise ValueError(
                "HashingDiscretizer's bin_vals must have shape [%d] (n_feature * n_bin), got %s"
                % (self._feature_ids.size * self._n_bin, self._bin_vals.shape)
            )

    @property
    def n_feature(self) -> int:
        """Number of calibrated features."""
        return int(self._feature_ids.size)

    def build(self, input_shape: Any) -> None:
        self.built = True

    def call(self, inputs: tf.SparseTensor, **kwargs: Any) -> tf.SparseTensor:
        if not isinstance(inputs, tf.SparseTensor):
            raise TypeError("HashingDiscretizer expects a tf.SparseTensor, got %s" % type(inputs).__name__)
        ids = inputs.indices[:, 0]
        keys = inputs.indices[:, 1]
        vals = inputs.values
        if self.n_feature > 0:
            new_keys, new_vals = libtwml.ops.hashing_discretizer(
                input_ids=keys,
                input_vals=vals,
                bin_vals=tf.constant(self._bin_vals, vals.dtype),
                feature_ids=tf.make_tensor_proto(self._feature_ids),
                n_bin=self._n_bin,
                output_bits=self._out_bits,
                cost_per_unit=self.cost_per_unit,
                options=self.options,
            )
        else:
            new_keys, new_vals = limit_bits(keys, self._out_bits), vals
        dense_shape = tf.stack([inputs.dense_shape[0], tf.constant(1 << self._out_bits, tf.int64)])
        return tf.SparseTensor(tf.stack([ids, new_keys], axis=1), new_vals, dense_shape)
