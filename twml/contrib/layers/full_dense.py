"""Contrib FullDense and full_dense: twml's FullDense plus an optional pruning mask (reference §6)."""

from typing import Any, Callable, Optional

import tensorflow.compat.v1 as tf

from twml.contrib.layers.mask_layer import MaskLayer
from twml.layers.full_dense import FullDense as _CoreFullDense

_ZEROS = tf.zeros_initializer()


class FullDense(_CoreFullDense):
    """``outputs = mask * activation(inputs @ weight + bias)`` (the mask only with ``use_mask``).

    The same layer as ``twml.layers.FullDense`` (variables ``<name>/kernel`` ``[input_size,
    output_size]``, optionally partitioned along axis 0, and ``<name>/bias`` ``[output_size]``),
    with extra options:

    Args (the original's, in its order):
      output_size, weight_initializer, weight_regularizer, weight_constraint, bias_constraint:
        as ``twml.layers.FullDense``.
      num_partitions: the kernel is split along axis 0 into this many parts with
        ``tf.fixed_size_partitioner`` (default 3, as the original, for an even spread over parameter
        servers; variables ``<name>/kernel/part_<i>``, at most ``input_size`` parts). None or 1: one
        ``<name>/kernel`` variable.
      activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer, trainable, name,
        **kwargs: as ``tf.layers.Dense``.

    Keyword-only extras of this rebuild:
      use_mask: multiply the output units by a non-trainable pruning mask (a ``MaskLayer``,
        variable ``<name>/mask/mask`` ``[output_size]``, registered in
        ``twml.contrib.layers.mask_layer.MASK_COLLECTION``) so that Fisher pruning can remove units.
      dropout_rate: if set (in ``[0, 1)``), inputs are dropped out with this rate when the layer is
        called with ``training=True``.

    ``call(inputs, training=False)``: inputs float ``[batch, ..., input_size]`` (last dimension
    known). Returns ``[batch, ..., output_size]`` of the inputs' dtype.
    """

    def __init__(
        self,
        output_size: int,
        weight_initializer: Any = None,
        weight_regularizer: Optional[Callable] = None,
        weight_constraint: Optional[Callable] = None,
        bias_constraint: Optional[Callable] = None,
        num_partitions: Optional[int] = 3,
        activation: Optional[Callable] = None,
        use_bias: bool = True,
        bias_initializer: Any = _ZEROS,
        bias_regularizer: Optional[Callable] = None,
        activity_regularizer: Optional[Callable] = None,
        trainable: bool = True,
        name: Optional[str] = None,
        *,
        use_mask: bool = False,
        dropout_rate: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            output_size,
            weight_initializer=weight_initializer,
            weight_regularizer=weight_regularizer,
            weight_constraint=weight_constraint,
            bias_constraint=bias_constraint,
            num_partitions=num_partitions if num_partitions and num_partitions > 1 else None,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            trainable=trainable,
            name=name,
            **kwargs,
        )
        if dropout_rate is not None and not 0.0 <= float(dropout_rate) < 1.0:
            raise ValueError("FullDense's dropout_rate must be in [0, 1), got %r" % (dropout_rate,))
        self.use_mask = bool(use_mask)
        self.dropout_rate = dropout_rate
        self.mask_layer: Optional[MaskLayer] = None

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if self.use_mask:
            self.mask_layer = MaskLayer(name="mask", dtype=self.dtype)

    def call(self, inputs: tf.Tensor, training: Any = False) -> tf.Tensor:
        if self.dropout_rate:
            rate = self.dropout_rate
            inputs = tf.cond(
                tf.convert_to_tensor(training, tf.bool),
                lambda: tf.nn.dropout(inputs, rate=rate),
                lambda: tf.identity(inputs),
            )
        outputs = super().call(inputs)
        if self.mask_layer is not None:
            outputs = self.mask_layer(outputs)
            # List the sub-layer's mask among this layer's (non-trainable) weights.
            if not any(w is self.mask_layer.mask for w in self._non_trainable_weights):
                self._non_trainable_weights.append(self.mask_layer.mask)
        return outputs

    @property
    def mask(self) -> Any:
        """The pruning mask variable ``[output_size]``, or None without ``use_mask`` / before the call."""
        return self.mask_layer.mask if self.mask_layer is not None else None


def full_dense(
    inputs: tf.Tensor,
    output_size: int,
    weight_initializer: Any = None,
    weight_regularizer: Optional[Callable] = None,
    weight_constraint: Optional[Callable] = None,
    bias_constraint: Optional[Callable] = None,
    num_partitions: Optional[int] = 3,
    activation: Optional[Callable] = None,
    use_bias: bool = True,
    bias_initializer: Any = _ZEROS,
    bias_regularizer: Optional[Callable] = None,
    activity_regularizer: Optional[Callable] = None,
    trainable: bool = True,
    name: Optional[str] = None,
    reuse: Optional[bool] = None,
    *,
    use_mask: bool = False,
    dropout_rate: Optional[float] = None,
    training: Any = False,
    **kwargs: Any,
) -> tf.Tensor:
    """Functional contrib FullDense (the original's parameter order): ``[batch, ..., output_size]`` of
    the inputs' dtype. Arguments as ``FullDense``; ``reuse`` reuses the variables of the layer ``name``;
    ``training`` (a Python or tensor bool) switches the input dropout on when ``dropout_rate`` is set.
    """
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
        use_mask=use_mask,
        dropout_rate=dropout_rate,
        dtype=kwargs.pop("dtype", inputs.dtype.base_dtype),
        _scope=name,
        _reuse=reuse,
        **kwargs,
    )
    return layer(inputs, training=training)
