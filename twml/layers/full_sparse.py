"""FullSparse and full_sparse: a fully connected layer over sparse inputs (reference §6)."""

from typing import Any, Callable, List, Optional, Sequence, Union

import tensorflow.compat.v1 as tf
from tensorflow.python.ops import resource_variable_ops
from tensorflow.python.ops.variables import PartitionedVariable

# libtwml.ops loaded at import, not on first use: in distributed training the op runs on the
# parameter servers, which only `import twml` and never build the layer, so must register it here.
import libtwml.ops
from twml.layers.layer import Layer

SparseInputs = Union[tf.SparseTensor, Sequence[tf.SparseTensor]]

_MAX_PARTITION_BYTES = 2**31


def _input_dim(shape: Any) -> int:
    shape = tf.TensorShape(shape)
    if shape.rank is not None and shape.rank != 2:
        raise ValueError("FullSparse expects a [batch, input_size] SparseTensor, got a shape of rank %d" % shape.rank)
    if shape.rank is None or shape[1] is None:
        raise ValueError(
            "FullSparse needs the input SparseTensor's dense_shape[1] to be statically known "
            "(e.g. via twml.util.limit_sparse_tensor_size), got shape %s" % shape
        )
    return int(shape[1])


def sparse_dense_matmul(
    x: tf.SparseTensor,
    weight: Any,
    use_sparse_grads: bool = True,
    use_binary_values: bool = False,
    use_compression: bool = False,
    partition_axis: int = 0,
) -> tf.Tensor:
    """``x @ weight`` for a ``[batch, input_dim]`` SparseTensor and a ``[input_dim, n]`` weight.

    Args:
      x: ``tf.SparseTensor`` with int64 indices ``[nnz, 2]``, values ``[nnz]`` of weight's dtype.
      weight: a variable, a ``PartitionedVariable`` or a tensor ``[input_dim, n]``.
      use_sparse_grads: weight's gradient is a ``tf.IndexedSlices`` of the used rows: for a float32 /
        float64 weight that is not partitioned along axis 0, the libtwml op
        SparseTensorDenseMatMulUniqueGrad (its resource form for a resource variable), whose
        weight gradient has unique indices; else gather + segment sum. When False,
        ``tf.sparse.sparse_dense_matmul`` (dense gradient).
      use_binary_values: values are ignored (taken as 1): the BinarySparseTensorDenseMatMul op,
        whose weight gradient is also a ``tf.IndexedSlices``.
      use_compression: index the weight with int32 indices.
      partition_axis: the axis along which a PartitionedVariable is split.

    Returns:
      dense ``[batch, n]`` tensor of weight's dtype (duplicate indices are summed).
    """
    index_dtype = tf.int32 if use_compression else tf.int64
    if use_binary_values:
        w = tf.convert_to_tensor(weight) if isinstance(weight, PartitionedVariable) else weight
        return libtwml.ops.binary_sparse_tensor_dense_mat_mul(
            tf.cast(x.indices, index_dtype), x.values, x.dense_shape, w
        )
    if not use_sparse_grads:
        w = tf.convert_to_tensor(weight) if isinstance(weight, PartitionedVariable) else weight
        return tf.sparse.sparse_dense_matmul(x, w)
    rows = x.indices[:, 0]
    cols = tf.cast(x.indices[:, 1], index_dtype)
    if isinstance(weight, PartitionedVariable) and partition_axis == 0:
        gathered = tf.nn.embedding_lookup(list(weight), cols, partition_strategy="div")
    else:
        w = tf.convert_to_tensor(weight) if isinstance(weight, PartitionedVariable) else weight
        dtype = tf.as_dtype(w.dtype).base_dtype
        # Gather where the weight lives (a parameter server in distributed training), as
        # embedding_lookup does: only the used rows travel, and the gather's gradient ops join it
        # there instead of conflicting with the worker's device scope.
        with tf.colocate_with(w):
            if dtype in (tf.float32, tf.float64):
                # One fused op whose weight gradient is already de-duplicated (unique columns), so
                # the optimizer's own de-duplication runs over the distinct columns, not every entry.
                # A resource variable is passed by handle and read in place: a ReadVariableOp
                # would copy the whole (possibly GiB) variable every step.
                indices = tf.cast(x.indices, index_dtype)
                values = tf.cast(x.values, dtype)
                if resource_variable_ops.is_resource_variable(w):
                    return libtwml.ops.resource_sparse_tensor_dense_mat_mul_unique_grad(
                        indices, values, x.dense_shape, w.handle
                    )
                return libtwml.ops.sparse_tensor_dense_mat_mul_unique_grad(indices, values, x.dense_shape, w)
            gathered = tf.gather(w, cols)
    products = gathered * tf.expand_dims(tf.cast(x.values, gathered.dtype), 1)
    return tf.math.unsorted_segment_sum(products, rows, num_segments=x.dense_shape[0])


class FullSparse(Layer):
    """``outputs = activation(sparse_dense_matmul(inputs, weight) + bias)``.

    Inputs: a ``tf.SparseTensor`` ``[batch, input_dim]`` (int64 indices, float values; the static
    ``dense_shape[1]`` must be known), or a list of them with the same input_dim, whose products
    are summed. Output: dense ``[batch, output_size]``. Variables ``weight [input_dim,
    output_size]`` (default initializer zeros; split in ``num_partitions`` parts along
    ``partition_axis``) and ``bias [output_size]`` (default ``1 / output_size``).

    Args:
      output_size: number of output units.
      input_size: deprecated; must be None (the size comes from the input's dense_shape).
      use_sparse_grads: weight's gradient is a ``tf.IndexedSlices`` of the used rows.
      use_binary_values: ignore the input values (taken as 1), through the
        BinarySparseTensorDenseMatMul op; a list of booleans for a list of inputs.
      use_compression: int32 indices into the weight.
      use_binary_sparse_dense_matmul: accepted for compatibility; the binary op is always used
        when use_binary_values is True.

    Raises:
      ValueError: input_size is given, the input dimension is unknown, the input is not a rank-2
        SparseTensor, or one weight partition would be 2 GiB or more.
    """

    def __init__(
        self,
        output_size: int,
        input_size: Optional[int] = None,
        weight_initializer: Any = None,
        activation: Optional[Callable] = None,
        bias_initializer: Any = None,
        trainable: bool = True,
        name: Optional[str] = None,
        use_sparse_grads: bool = True,
        num_partitions: Optional[int] = None,
        partition_axis: int = 0,
        use_binary_values: Union[bool, Sequence[bool]] = False,
        bias_regularizer: Optional[Callable] = None,
        weight_regularizer: Optional[Callable] = None,
        use_compression: bool = False,
        use_binary_sparse_dense_matmul: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        if input_size is not None:
            raise ValueError("FullSparse's input_size is deprecated: the input SparseTensor's dense_shape[1] is used")
        if not isinstance(output_size, int) or output_size <= 0:
            raise ValueError("output_size must be a positive int, got %r" % (output_size,))
        self.output_size = output_size
        self.weight_initializer = weight_initializer if weight_initializer is not None else tf.zeros_initializer()
        self.bias_initializer = (
            bias_initializer if bias_initializer is not None else tf.constant_initializer(1.0 / output_size)
        )
        self.activation = activation
        self.use_sparse_grads = use_sparse_grads
        self.num_partitions = num_partitions
        self.partition_axis = partition_axis
        self.use_binary_values = use_binary_values
        self.bias_regularizer = bias_regularizer
        self.weight_regularizer = weight_regularizer
        self.use_compression = use_compression
        self.use_binary_sparse_dense_matmul = use_binary_sparse_dense_matmul

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape, (list, tuple)) and input_shape and not isinstance(input_shape[0], (int, type(None))):
            dims = {_input_dim(shape) for shape in input_shape}
            if len(dims) != 1:
                raise ValueError("FullSparse's inputs must all have the same dense_shape[1], got %s" % sorted(dims))
            input_dim = dims.pop()
        else:
            input_dim = _input_dim(input_shape)
        dtype = tf.as_dtype(self.dtype or tf.float32)
        parts = self.num_partitions or 1
        part_bytes = input_dim * self.output_size * dtype.size / parts
        if part_bytes >= _MAX_PARTITION_BYTES:
            raise ValueError(
                "FullSparse weight [%d, %d] would need %d bytes per partition (>= 2 GiB): raise num_partitions"
                % (input_dim, self.output_size, part_bytes)
            )
        partitioner = None
        if self.num_partitions:
            partitioner = tf.fixed_size_partitioner(self.num_partitions, axis=self.partition_axis)
        self.bias = self.add_weight(
            "bias",
            shape=[self.output_size],
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            dtype=dtype,
            trainable=True,
        )
        self.weight = self.add_weight(
            "weight",
            shape=[input_dim, self.output_size],
            initializer=self.weight_initializer,
            regularizer=self.weight_regularizer,
            dtype=dtype,
            trainable=True,
            partitioner=partitioner,
        )
        self.built = True

    def call(self, inputs: SparseInputs, **kwargs: Any) -> tf.Tensor:
        inputs_list: List[tf.SparseTensor] = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        binary = self.use_binary_values
        binary_list: List[bool] = (
            list(binary) if isinstance(binary, (list, tuple)) else [bool(binary)] * len(inputs_list)
        )
        if len(binary_list) != len(inputs_list):
            raise ValueError(
                "use_binary_values has %d entries but there are %d inputs" % (len(binary_list), len(inputs_list))
            )
        products = []
        for x, use_binary in zip(inputs_list, binary_list):
            if not isinstance(x, tf.SparseTensor):
                raise TypeError("FullSparse expects tf.SparseTensor inputs, got %s" % type(x).__name__)
            products.append(
                sparse_dense_matmul(
                    x,
                    self.weight,
                    use_sparse_grads=self.use_sparse_grads,
                    use_binary_values=use_binary,
                    use_compression=self.use_compression,
                    partition_axis=self.partition_axis,
                )
            )
        outputs = products[0] if len(products) == 1 else tf.add_n(products)
        outputs = tf.nn.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


def full_sparse(
    inputs: SparseInputs,
    output_size: int,
    input_size: Optional[int] = None,
    activation: Optional[Callable] = None,
    bias_regularizer: Optional[Callable] = None,
    weight_regularizer: Optional[Callable] = None,
    bias_initializer: Any = None,
    weight_initializer: Any = None,
    trainable: bool = True,
    name: Optional[str] = None,
    reuse: Optional[bool] = None,
    use_sparse_grads: bool = True,
    num_partitions: Optional[int] = None,
    partition_axis: int = 0,
    use_binary_values: Union[bool, Sequence[bool]] = False,
    use_compression: bool = False,
) -> tf.Tensor:
    """Functional FullSparse: dense ``[batch, output_size]`` of ``activation(inputs @ weight + bias)``."""
    first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    layer = FullSparse(
        output_size,
        input_size=input_size,
        weight_initializer=weight_initializer,
        activation=activation,
        bias_initializer=bias_initializer,
        trainable=trainable,
        name=name,
        use_sparse_grads=use_sparse_grads,
        num_partitions=num_partitions,
        partition_axis=partition_axis,
        use_binary_values=use_binary_values,
        bias_regularizer=bias_regularizer,
        weight_regularizer=weight_regularizer,
        use_compression=use_compression,
        dtype=first.dtype.base_dtype if isinstance(first, tf.SparseTensor) else None,
        _scope=name,
        _reuse=reuse,
    )
    return layer(inputs)
