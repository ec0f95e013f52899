"""Sparse tensors and hashing: column-space limits, hashed-column fixes, multiplicative rehashing
(re-exported by ``twml.util``)."""

from typing import Any, Callable, Dict

import numpy as np
import tensorflow.compat.v1 as tf

#: The constant of :func:`multiplicative_hash`.
HASHING_PRIME = 2479700537


def limit_bits(x: Any, bits: int) -> Any:
    """The low ``bits`` bits of integers: ``x & (2**bits - 1)``.

    Args:
      x: an integer tensor (int32/int64, any shape), a numpy array or a Python int.
      bits: number of bits kept, 0..63.

    Returns:
      same type, shape and dtype as x, every element in ``[0, 2**bits)``.
    """
    if not 0 <= bits <= 63:
        raise ValueError("bits must be in [0, 63], not %r" % (bits,))
    mask = (1 << bits) - 1
    if isinstance(x, (tf.Tensor, tf.compat.v2.Variable)):
        return tf.bitwise.bitwise_and(x, tf.cast(mask, x.dtype))
    return x & mask


def limit_sparse_tensor_size(
    sparse_tf: tf.SparseTensor, input_size_bits: int, mask_indices: bool = True
) -> tf.SparseTensor:
    """Sets the dense shape of a ``[batch, n]`` SparseTensor to ``[batch, 2**input_size_bits]``.

    Args:
      sparse_tf: int64-indexed ``tf.SparseTensor`` of rank 2.
      input_size_bits: bits of the column space.
      mask_indices: also map each column index to its low input_size_bits bits (limit_bits), so
        that every index fits; with False indices are kept as they are.

    Returns:
      a ``tf.SparseTensor`` with the same values and dense shape ``[batch, 2**input_size_bits]``.
    """
    indices = sparse_tf.indices
    if mask_indices:
        indices = tf.stack([indices[:, 0], limit_bits(indices[:, 1], input_size_bits)], axis=1)
    dense_shape = tf.stack([sparse_tf.dense_shape[0], tf.constant(1 << input_size_bits, tf.int64)])
    return tf.SparseTensor(indices=indices, values=sparse_tf.values, dense_shape=dense_shape)


def convert_to_sparse(features: Dict[str, tf.Tensor], input_size_bits: int) -> tf.SparseTensor:
    """A ``[batch_size, 2**input_size_bits]`` SparseTensor of a sparse parse function's output.

    Args:
      features: dict with ``ids`` (int64 ``[n]``, the record of each entry), ``keys`` (int64
        ``[n]``, hashed feature keys), ``values`` (float32 ``[n]``) and ``batch_size`` (int64
        scalar), as the hashed-record getters produce them.
      input_size_bits: bits of the column space; column = ``limit_bits(keys, input_size_bits)``.

    Returns:
      ``tf.SparseTensor`` with indices ``[n, 2]`` int64 ``(ids, limit_bits(keys))``, values
      float32 ``[n]`` and dense_shape ``[batch_size, 2**input_size_bits]``. Duplicate indices are
      kept (as ``tf.sparse`` matmul sums them).
    """
    ids = tf.cast(features["ids"], tf.int64)
    keys = limit_bits(tf.cast(features["keys"], tf.int64), input_size_bits)
    indices = tf.stack([ids, keys], axis=1)
    batch_size = tf.cast(tf.reshape(features["batch_size"], []), tf.int64)
    dense_shape = tf.stack([batch_size, tf.constant(1 << input_size_bits, tf.int64)])
    return tf.SparseTensor(indices=indices, values=features["values"], dense_shape=dense_shape)


def fix_shape_sparse(features: Dict[str, Any], feature_config: Any) -> Dict[str, Any]:
    """Gives every hashed sparse output of a v2 config its dense shape ``[batch, 2**hash_space_bits]``.

    A SparseTensor coming out of a ``tf.data`` pipeline (or a hub module) may carry a dynamic or
    unknown dense shape; layers such as ``full_sparse`` need the static column count.

    Args:
      features: the parse output; ``features[output_name]`` is a ``tf.SparseTensor`` (any dtype,
        indices int64 ``[n, 2]``) for each ``feature_config.sparse_extraction_configs`` entry.
        Replaced in place; other entries are left alone.
      feature_config: a ``twml.contrib.feature_config.FeatureConfig`` (v2).

    Returns:
      ``features`` (the same dict). Each fixed SparseTensor keeps its indices and values; its
      dense_shape is int64 ``[batch, 2**hash_space_bits]`` with batch = its old ``dense_shape[0]``,
      and its static shape ``[None or batch, 2**hash_space_bits]``.

    Raises:
      ValueError: ``feature_config`` is not a v2 config (it has no ``sparse_extraction_configs``).
    """
    configs = getattr(feature_config, "sparse_extraction_configs", None)
    if configs is None:
        raise ValueError(
            "fix_shape_sparse needs a twml.contrib.feature_config.FeatureConfig (v2), not %s"
            % type(feature_config).__name__
        )
    for config in configs:
        sparse = features.get(config.output_name)
        if not isinstance(sparse, tf.SparseTensor):
            continue
        batch = tf.cast(sparse.dense_shape[0], tf.int64)
        dense_shape = tf.stack([batch, tf.constant(1 << config.hash_space_bits, tf.int64)])
        features[config.output_name] = tf.SparseTensor(sparse.indices, sparse.values, dense_shape)
    return features


def multiplicative_hash(input: Any, hash_constant: int = HASHING_PRIME) -> Any:
    """Multiplicative hash: ``input * hash_constant`` (wrapping at the integer width).

    Args:
      input: int64 tensor (any shape), numpy int64 array, or Python int.
      hash_constant: the multiplier (default HASHING_PRIME = 2479700537).

    Returns:
      same type and shape as input. Python ints are reduced modulo 2**64 into int64 range, like the
      tensor product.
    """
    if isinstance(input, (tf.Tensor, tf.compat.v2.Variable)):
        return input * tf.cast(hash_constant, input.dtype)
    if isinstance(input, np.ndarray):
        with np.errstate(over="ignore"):
            return input * input.dtype.type(hash_constant)
    product = (int(input) * hash_constant) & ((1 << 64) - 1)
    return product - (1 << 64) if product >= 1 << 63 else product


def rehash_sparse_features_nbits(
    sp_a: tf.SparseTensor, nbits: int, hash_fn: Callable = multiplicative_hash
) -> tf.SparseTensor:
    """Rehashes the column indices of a ``[batch, n]`` SparseTensor into ``nbits`` bits.

    Spreads small feature ids (e.g. a discretizer's bins) over the column space: the new column
    is the top ``nbits`` bits of the low 32 bits of ``hash_fn(column)`` (Knuth's multiplicative
    hashing). Columns should be below 2**32.

    Args:
      sp_a: ``tf.SparseTensor`` with int64 indices ``[n, 2]``.
      nbits: output bits, 1..32.
      hash_fn: int64 tensor -> int64 tensor (default :func:`multiplicative_hash`).

    Returns:
      ``tf.SparseTensor`` with the same rows and values, columns in ``[0, 2**nbits)`` and dense
      shape ``[batch, 2**nbits]``.
    """
    if not 1 <= nbits <= 32:
        raise ValueError("nbits must be in [1, 32], not %r" % (nbits,))
    if not isinstance(sp_a, tf.SparseTensor):
        raise TypeError("sp_a must be a tf.SparseTensor, not %s" % type(sp_a).__name__)
    hashed = limit_bits(hash_fn(sp_a.indices[:, 1]), 32)
    columns = tf.bitwise.right_shift(hashed, tf.constant(32 - nbits, tf.int64))
    indices = tf.stack([sp_a.indices[:, 0], columns], axis=1)
    dense_shape = tf.stack([sp_a.dense_shape[0], tf.constant(1 << nbits, tf.int64)])
    return tf.SparseTensor(indices=indices, values=sp_a.values, dense_shape=dense_shape)
