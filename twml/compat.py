"""The names the original ``twml`` package re-exported from private packages (DeepBird, libtwml).

``import twml`` binds them as package attributes: :class:`SparseTensor`, :func:`sparse_dense_matmul`,
:func:`set_logging_level`, :func:`add1`, :func:`partition_sparse_tensor` and :data:`CLIB`.
"""

import logging
from typing import Any, List, Optional, Tuple

import tensorflow.compat.v1 as tf

import libtwml

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.FATAL,
    "CRITICAL": logging.CRITICAL,
}


class SparseTensor:
    """A ``[batch, width]`` sparse batch as three flat columns (the original's DeepBird SparseTensor).

    Args:
      ids: int64 ``[N]``, the row of each entry.
      indices: int64 ``[N]``, the **column** of each entry (not the ``[N, 2]`` of tf.SparseTensor).
      values: ``[N]`` values.
      dense_shape: ``[batch, width]`` (a list of ints / scalar tensors, or an int64 ``[2]`` tensor).
    """

    def __init__(self, ids: Any, indices: Any, values: Any, dense_shape: Any) -> None:
        self.ids = tf.cast(ids, tf.int64)
        self.indices = tf.cast(indices, tf.int64)
        self.values = tf.convert_to_tensor(values)
        if isinstance(dense_shape, (list, tuple)):
            dense_shape = tf.stack([tf.cast(d, tf.int64) for d in dense_shape])
        self.dense_shape = tf.cast(dense_shape, tf.int64)

    def to_tf(self) -> tf.SparseTensor:
        """The ``tf.SparseTensor`` with indices ``stack([ids, indices], 1)`` (``[N, 2]``)."""
        return tf.SparseTensor(
            indices=tf.stack([self.ids, self.indices], axis=1), values=self.values, dense_shape=self.dense_shape
        )

    @staticmethod
    def from_tf(sparse: tf.SparseTensor) -> "SparseTensor":
        """The inverse of :meth:`to_tf`: splits the ``[N, 2]`` indices into ids and columns."""
        return SparseTensor(
            ids=sparse.indices[:, 0], indices=sparse.indices[:, 1], values=sparse.values, dense_shape=sparse.dense_shape
        )


def _to_tf_sparse(sparse: Any) -> tf.SparseTensor:
    if isinstance(sparse, SparseTensor):
        return sparse.to_tf()
    if isinstance(sparse, tf.SparseTensor):
        return sparse
    raise TypeError("expected a twml.SparseTensor or a tf.SparseTensor, not %s" % type(sparse).__name__)


def sparse_dense_matmul(
    sp_a: Any,
    dense_b: Any,
    use_sparse_grads: bool = True,
    use_binary_values: bool = False,
    name: Optional[str] = None,
    partition_axis: int = 0,
    num_partitions: Optional[int] = None,
    compress_ids: bool = False,
    cast_indices_dtype: Any = tf.int64,
    use_binary_sparse_dense_matmul: bool = False,
) -> tf.Tensor:
    """``sp_a @ dense_b`` for a ``[batch, input_dim]`` sparse batch (twml.SparseTensor or
    tf.SparseTensor) and a ``[input_dim, n]`` weight (tensor, variable or PartitionedVariable).

    The computation is :func:`twml.layers.full_sparse.sparse_dense_matmul`: with
    ``use_sparse_grads`` the weight gradient is a ``tf.IndexedSlices`` of the used rows; with
    ``use_binary_values`` (or ``use_binary_sparse_dense_matmul``) values are taken as 1.
    ``compress_ids`` / ``cast_indices_dtype=tf.int32`` index the weight with int32.
    ``num_partitions`` is read from the PartitionedVariable itself.

    Returns:
      dense ``[batch, n]`` of the weight's dtype.
    """
    # deferred: twml.layers imports twml.util, which imports this module (cycle)
    from twml.layers.full_sparse import sparse_dense_matmul as matmul

    del num_partitions
    with tf.name_scope(name or "sparse_dense_matmul"):
        return matmul(
            _to_tf_sparse(sp_a),
            dense_b,
            use_sparse_grads=use_sparse_grads,
            use_binary_values=bool(use_binary_values or use_binary_sparse_dense_matmul),
            use_compression=bool(compress_ids or tf.as_dtype(cast_indices_dtype) == tf.int32),
            partition_axis=partition_axis,
        )


def set_logging_level(level: Any) -> None:
    """Sets TensorFlow's, absl's and Python's root logging level.

    Args:
      level: a name (``'DEBUG'``, ``'INFO'``, ``'WARN'``, ``'ERROR'``, any case) or a logging number.

    Raises:
      ValueError: an unknown level name.
    """
    if isinstance(level, str):
        if level.upper() not in _LEVELS:
            raise ValueError("unknown logging level %r; expected one of %s" % (level, ", ".join(_LEVELS)))
        number = _LEVELS[level.upper()]
    else:
        number = int(level)
    logging.getLogger().setLevel(number)
    tf.get_logger().setLevel(number)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.converter.standard_to_absl(number))
    except ImportError:  # absl comes with TensorFlow; be safe anyway
        pass


def add1(x: Any, name: Optional[str] = None) -> tf.Tensor:
    """``x + 1`` (float32, float64 or int32 tensor of any shape; the gradient passes through).

    The original's ``Add1`` op is the smoke test of a custom-op build; here it is the TF expression.
    """
    x = tf.convert_to_tensor(x)
    if x.dtype not in (tf.float32, tf.float64, tf.int32):
        raise TypeError("add1 takes float32, float64 or int32, not %s" % x.dtype.name)
    return tf.add(x, tf.ones([], x.dtype), name=name or "Add1")


def partition_sparse_tensor(sparse: Any, num_partitions: int) -> List[tf.SparseTensor]:
    """Splits a ``[batch, width]`` SparseTensor's entries into ``num_partitions`` SparseTensors by
    ``column mod num_partitions``, the columns divided by ``num_partitions`` (``PartitionSparseTensorMod``).

    Args:
      sparse: a tf.SparseTensor or twml.SparseTensor with float32/float64 values.
      num_partitions: P >= 1.

    Returns:
      P tf.SparseTensors; part ``p`` holds the entries whose column ``c`` has ``c % P == p``, at
      column ``c // P``, with dense shape ``[batch, ceil(width / P)]``.
    """
    sparse = _to_tf_sparse(sparse)
    values = sparse.values
    types = [tf.int64, values.dtype] * int(num_partitions)
    outputs = libtwml.ops.partition_sparse_tensor_mod(
        sparse.indices, values, num_partitions=int(num_partitions), output_types=types
    )
    width = sparse.dense_shape[1]
    part_width = (width + num_partitions - 1) // num_partitions
    shape = tf.stack([sparse.dense_shape[0], part_width])
    parts: List[Tuple[Any, Any]] = [(outputs[2 * p], outputs[2 * p + 1]) for p in range(int(num_partitions))]
    return [tf.SparseTensor(indices=indices, values=vals, dense_shape=shape) for indices, vals in parts]


class _NoCLib:
    """Stands for the original's ctypes handle of libtwml's C ABI, which this rebuild does not have."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            "twml.CLIB.%s is not available: the original's libtwml C ABI (ctypes functions such as "
            "twml_tensor_create) is not part of this rebuild; use twml.Array for numpy tensors, libtwml._core "
            "for the core (hashing, record codecs, block files) and libtwml.ops / twml.util.OPLIB for the TF ops" % name
        )

    def __repr__(self) -> str:
        return "<twml.CLIB: the original's C ABI, not provided (see libtwml._core and libtwml.ops)>"


#: The original's ctypes handle of libtwml's C ABI: any attribute raises a RuntimeError naming the
#: alternatives (``twml.Array``, ``libtwml._core``, ``libtwml.ops``).
CLIB = _NoCLib()

__all__ = ["CLIB", "SparseTensor", "add1", "partition_sparse_tensor", "set_logging_level", "sparse_dense_matmul"]
