"""MaskLayer: a non-trainable pruning mask over the last dimension of its inputs (reference §6, §11)."""

from typing import Any, Optional

import tensorflow.compat.v1 as tf

# Graph collections through which Fisher pruning (PruningOptimizer) finds the masks:
# MASK_COLLECTION holds each mask variable ``[units]``; MASK_EXTENDED_COLLECTION holds, at the same
# position, the mask broadcast to the batch ``[batch, ..., units]`` that the inputs were multiplied
# by, so that per-example gradients of the loss with respect to the mask can be taken.
from twml.constants import MASK_COLLECTION, MASK_EXTENDED_COLLECTION
from twml.layers.layer import Layer


class MaskLayer(Layer):
    """``outputs = inputs * mask``, where ``mask`` is a non-trainable 0/1 vector over the last axis.

    The mask starts as ones (no unit pruned); a pruning procedure sets entries to 0 to remove the
    corresponding units (feature maps / neurons). The mask is not trained by optimizers.

    Variable: ``<name>/mask`` ``[units]`` of the inputs' dtype, initialised to ones, added to
    ``tf.GraphKeys.GLOBAL_VARIABLES`` and to the collection ``MASK_COLLECTION``.

    ``call(inputs)``: inputs a float tensor ``[batch, ..., units]`` (rank >= 1, last dimension
    statically known). Returns a tensor of the same shape and dtype. After the call,
    ``layer.mask`` is the variable and ``layer.mask_extended`` the ``[batch, ..., units]`` tensor
    (``mask`` broadcast to the inputs' shape) that the inputs were multiplied by; it is added to
    ``MASK_EXTENDED_COLLECTION``.

    Args:
      name: the layer's name (variable scope), default ``mask_layer``.
    """

    def __init__(self, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.mask: Any = None
        self.mask_extended: Optional[tf.Tensor] = None

    def build(self, input_shape: Any) -> None:
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank is None or input_shape.rank < 1 or input_shape[-1] is None:
            raise ValueError(
                "MaskLayer needs inputs with a statically known last dimension, got shape %s" % input_shape
            )
        self.mask = self.add_weight(
            "mask",
            shape=[int(input_shape[-1])],
            initializer=tf.ones_initializer(),
            dtype=self.dtype,
            trainable=False,
        )
        tf.add_to_collection(MASK_COLLECTION, self.mask)
        self.built = True

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        if not inputs.dtype.is_floating:
            raise TypeError("MaskLayer expects floating point inputs, got %s" % inputs.dtype.name)
        # Broadcasting the mask to a per-example tensor lets a pruner take the gradient of each
        # example's loss with respect to the mask (the Fisher signal) from the same graph.
        self.mask_extended = tf.ones_like(inputs) * self.mask
        tf.add_to_collection(MASK_EXTENDED_COLLECTION, self.mask_extended)
        return inputs * self.mask_extended

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        return tf.TensorShape(input_shape)
