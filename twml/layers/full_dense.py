"""FullDense and full_dense: a dense layer with twml's names (reference §6)."""

from typing import Any, Callable, Optional

import tensorflow.compat.v1 as tf
from tensorflow.python.ops.variables import PartitionedVariable

from twml.layers.layer import Layer

_ZEROS = tf.zeros_initializer()


class FullDense(Layer, tf.layers.Dense):
    """``outputs = activation(inputs @ weight + bias)``.

    Inputs: a float tensor ``[batch, ..., input_size]`` (rank >= 2, last dimension statically
    known). Output: ``[batch, ..., output_size]`` of the same dtype. Variables ``kernel``
    ``[input_size, output_size]`` (optionally partitioned along axis 0 in ``num_partitions``
    parts) and ``bias`` ``[output_size]``; ``weight`` is an alias of ``kernel``.

    Args:
      output_size: number of output units.
      weight_initializer, weight_regularizer, weight_constraint: for the kernel
        (default initializer: glorot uniform).
      bias_constraint: for the bias.
      num_partitions: if set, the kernel is split with ``tf.fixed_size_partitioner``.
      **kwargs: ``activation``, ``use_bias``, ``bias_initializer``, ``bias_regularizer``,
        ``activity_regularizer``, ``trainable``, ``name`` ... as ``tf.layers.Dense``.
    """

    def __init__(
        self,
        output_size: int,
        weight_initializer: Any = None,
        weight_regularizer: Optional[Callable] = None,
        weight_constraint: Optional[Callable] = None,
        bias_constraint: Optional[Callable] = None,
        num_partitions: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            units=output_size,
            kernel_initializer=weight_initializer,
            kernel_regularizer=weight_regularizer,
            kernel_constraint=weight_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
        self.num_partitions = num_partitions

    def build(self, input_shape: Any) -> None:
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank is not None and input_shape.rank < 2:
            raise ValueError("FullDense expects inputs of rank >= 2 ([batch, input_size]), got shape %s" % input_shape)
        if input_shape.rank is None or input_shape[-1] is None:
            raise ValueError("FullDense needs the last dimension of its inputs to be known, got shape %s" % input_shape)
        input_size = int(input_shape[-1])
        partitioner = tf.fixed_size_partitioner(self.num_partitions) if self.num_partitions else None
        self.input_spec = tf.layers.InputSpec(min_ndim=2, axes={-1: input_size})
        self.kernel = self.add_weight(
            "kernel",
            shape=[input_size, self.units],
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            dtype=self.dtype,
            trainable=True,
            partitioner=partitioner,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                shape=[self.units],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                dtype=self.dtype,
                trainable=True,
            )
        else:
            self.bias = None
        self.built = True

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        kernel = self.kernel
        if isinstance(kernel, PartitionedVariable):
            kernel = tf.convert_to_tensor(kernel)
        rank = inputs.shape.rank
        if rank is not None and rank > 2:
            outputs = tf.tensordot(inputs, kernel, [[rank - 1], [0]])
        else:
            outputs = tf.matmul(inputs, kernel)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        return tf.TensorShape(input_shape)[:-1].concatenate([self.units])

    @property
    def output_size(self) -> int:
        return self.units

    @property
    def weight(self) -> Any:
        return self.kernel

    @property
    def weight_initializer(self) -> Any:
        return self.kernel_initializer

    @property
    def weight_regularizer(self) -> Any:
        return self.kernel_regularizer

    @property
    def weight_constraint(self) -> Any:
        return self.kernel_constraint


def full_dense(
    inputs: tf.Tensor,
    output_size: int,
    activation: Optional[Callable] = None,
    use_bias: bool = True,
    weight_initializer: Any = None,
    bias_initializer: Any = _ZEROS,
    weight_regularizer: Optional[Callable] = None,
    bias_regularizer: Optional[Callable] = None,
    activity_regularizer: Optional[Callable] = None,
    weight_constraint: Optional[Callable] = None,
    bias_constraint: Optional[Callable] = None,
    trainable: bool = True,
    name: Optional[str] = None,
    num_partitions: Optional[int] = None,
    reuse: Optional[bool] = None,
) -> tf.Tensor:
    """Functional FullDense: ``activation(inputs @ weight + bias)``, ``[batch, ..., output_size]``."""
    layer = FullDense(
        output_size,
        weight_initializer=weight_initializer,
        weight_regularizer=weight_regularizer,
        weight_constraint=weight_constraint,
        bias_constraint=bias_constraint,
        num_partitions=num_partitions,
        activation=activation,
        use_bias=use_bias,
        bias_initializer=bias_initializer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        trainable=trainable,
        name=name,
        dtype=inputs.dtype.base_dtype,
        _scope=name,
        _reuse=reuse,
    )
    return layer(inputs)
