"""twml.contrib.pruning: Fisher pruning of channels (Theis et al., 2018, "Faster gaze prediction with
dense networks and Fisher pruning") for feed-forward and convolutional networks.

``apply_mask(tensor)`` multiplies the last axis (channels) of a tensor by a 0/1 mask variable;
``update_pruning_signals`` keeps a running Fisher signal per channel (the mean over the batch of the
squared gradient of the loss with respect to a per-example copy of the mask); ``prune`` sets the
single channel with the smallest signal, over all masks, to 0; ``computational_cost`` estimates the
FLOPs of a graph given the masks, so that the signal can be traded against the cost saved
(:class:`twml.contrib.optimizers.PruningOptimizer` does it in its ``minimize``).

Collections: :data:`MASK_COLLECTION` (the mask variables, ``[C]``), :data:`MASK_EXTENDED_COLLECTION`
(their per-example copies, ``[batch, 1, ..., C]``) and :data:`OP_COLLECTION` (the multiply ops).
"""

from typing import Any, List, Optional, Set

import numpy as np
import tensorflow.compat.v1 as tf

from twml.constants import MASK_COLLECTION, MASK_EXTENDED_COLLECTION

#: Collection of the ops that apply masks (their cost is not counted).
OP_COLLECTION = "pruning/ops"

_REMIXING_OPS = ("MatMul", "Conv1D", "Conv2D", "Conv3D", "Transpose")
_MATRIX_OPS = ("MatMul", "Conv1D", "Conv2D", "Conv3D")
# Every variable class: tf.compat.v1's Variable (ref variables) and the TF2 base of ResourceVariable.
_VARIABLES = (tf.Variable, tf.compat.v2.Variable)


def extend_mask(mask: Any, tensor: tf.Tensor) -> tf.Tensor:
    """A copy of ``mask`` (``[C]``) per example of ``tensor`` (``[batch, ..., C]``): shape
    ``[batch, 1, ..., 1, C]`` of the rank of ``tensor``, so that gradients with respect to it are
    per example."""
    rank = tensor.shape.ndims
    shape = [1] * (rank - 1) + [-1]
    multiples = tf.concat([tf.shape(tensor)[:1], tf.ones([rank - 1], tf.int32)], axis=0)
    return tf.tile(tf.reshape(mask, shape), multiples)


def apply_mask(tensor: tf.Tensor, name: str = "pruning") -> tf.Tensor:
    """Multiplies the channels (last axis) of ``tensor`` by a pruning mask.

    Creates (``variable_scope(name)``, reusing existing variables) the non-trainable variables
    ``mask`` (ones ``[C]``) and ``signal`` (zeros ``[C]``); the mask gets Python attributes
    ``extended`` (:func:`extend_mask`), ``pruning_signal`` and ``tensor`` (the unmasked input), and is
    added to :data:`MASK_COLLECTION` (its extended copy to :data:`MASK_EXTENDED_COLLECTION`, the
    multiply op to :data:`OP_COLLECTION`).

    Args:
      tensor: float ``[batch, ..., C]`` with a static last dimension.
      name: the variable scope.

    Returns:
      ``tensor * mask`` with the input's static shape and an attribute ``_mask``.
    """
    channels = tensor.shape[-1]
    if channels is None:
        raise ValueError("apply_mask needs a static last dimension, got shape %s" % tensor.shape)
    with tf.variable_scope(name, reuse=tf.AUTO_REUSE):
        mask = tf.get_variable(
            "mask", shape=[int(channels)], dtype=tensor.dtype, initializer=tf.ones_initializer(), trainable=False
        )
        signal = tf.get_variable(
            "signal", shape=[int(channels)], dtype=tensor.dtype, initializer=tf.zeros_initializer(), trainable=False
        )
    mask.extended = extend_mask(mask, tensor)
    mask.pruning_signal = signal
    mask.tensor = tensor
    output = tf.multiply(tensor, mask.extended)
    output.set_shape(tensor.shape)
    output._mask = mask
    tf.add_to_collection(MASK_COLLECTION, mask)
    tf.add_to_collection(MASK_EXTENDED_COLLECTION, mask.extended)
    tf.add_to_collection(OP_COLLECTION, output.op)
    return output


def find_input_mask(tensor: tf.Tensor) -> Optional[Any]:
    """The mask that applies to the channels of ``tensor`` through its inputs: its own ``_mask``;
    else None past an op that re-mixes channels (MatMul, Conv*, Transpose) or without inputs; else the
    first mask found over the producing op's inputs (depth first)."""
    if getattr(tensor, "_mask", None) is not None:
        return tensor._mask
    op = tensor.op
    if op.type in _REMIXING_OPS or not op.inputs:
        return None
    for source in op.inputs:
        found = find_input_mask(source)
        if found is not None:
            return found
    return None


def find_output_mask(tensor: Any) -> Optional[Any]:
    """The mask applied downstream to the channels of ``tensor``: its own ``_mask``; else, over its
    consumers with one output, the mask of a MatMul/Conv* output when ``tensor`` is that op's second
    operand (the weights whose last axis are the output channels), or the mask found recursively
    through any other consumer. Variables are resolved to their op's first output (the ref tensor, or the
    resource handle whose reads are the consumers)."""
    if isinstance(tensor, _VARIABLES):
        tensor = tensor.op.outputs[0]
    if getattr(tensor, "_mask", None) is not None:
        return tensor._mask
    for consumer in tensor.consumers():
        if len(consumer.outputs) != 1:
            continue
        output = consumer.outputs[0]
        if consumer.type in _MATRIX_OPS:
            if len(consumer.inputs) > 1 and consumer.inputs[1] is tensor:
                found = getattr(output, "_mask", None) or find_output_mask(output)
            else:
                found = None
        else:
            found = find_output_mask(output)
        if found is not None:
            return found
    return None


def find_mask(tensor: Any) -> Optional[Any]:
    """The mask of the channels of ``tensor``: its input mask, its output mask, or their product
    when both exist and differ."""
    input_mask = find_input_mask(tensor) if isinstance(tensor, tf.Tensor) else None
    output_mask = find_output_mask(tensor)
    if input_mask is None:
        return output_mask
    if output_mask is None or output_mask is input_mask:
        return input_mask
    return input_mask * output_mask


def pruned_shape(tensor: tf.Tensor) -> tf.Tensor:
    """float32 ``[rank]``: the shape of ``tensor`` with the last entry replaced by the number of active
    channels (``Σ find_mask(tensor)``); the plain shape when no mask applies."""
    shape = tf.cast(tf.shape(tensor), tf.float32)
    mask = find_mask(tensor)
    if mask is None:
        return shape
    active = tf.reduce_sum(tf.cast(mask, tf.float32))
    return tf.concat([shape[:-1], tf.reshape(active, [1])], axis=0)


def computational_cost(op_or_tensor: Any, _observed: Optional[Set[str]] = None) -> tf.Tensor:
    """float32 scalar: an estimate of the FLOPs computing ``op_or_tensor`` (summed over the graph of its
    inputs, each op once), using the pruned shapes of the operands.

    MatMul ``A [a0, a1] x B [a1, b1]``: ``a0 · b1 · (2·a1 - 1)``; Add, Mul, BiasAdd: the element count
    of the larger operand; Conv2D (NHWC): ``Π output · (kh · kw · in_channels · 2 - 1)``; other ops,
    the ops applying masks: 0 (their unmasked input is counted); the extended masks: 0 (nothing
    above them is counted). Proportional to the batch size.
    """
    observed = set() if _observed is None else _observed
    op = op_or_tensor.op if isinstance(op_or_tensor, (tf.Tensor,) + _VARIABLES) else op_or_tensor
    if op.name in observed:
        return tf.constant(0.0)
    observed.add(op.name)
    extended = {t.name for t in tf.get_collection(MASK_EXTENDED_COLLECTION)}
    mask_ops = {o.name for o in tf.get_collection(OP_COLLECTION)}
    if op.op_def is None or any(out.name in extended for out in op.outputs):
        return tf.constant(0.0)
    cost = tf.constant(0.0)
    if op.name in mask_ops:
        pass  # the multiply by the mask is not counted, the network computing its input is
    elif op.type == "MatMul":
        a, b = pruned_shape(op.inputs[0]), pruned_shape(op.inputs[1])
        if op.get_attr("transpose_a"):
            a = tf.reverse(a, [0])
        if op.get_attr("transpose_b"):
            b = tf.reverse(b, [0])
        cost = a[0] * b[1] * (2.0 * a[1] - 1.0)
    elif op.type in ("Add", "AddV2", "Mul", "BiasAdd"):
        sizes = [tf.reduce_prod(pruned_shape(x)) for x in op.inputs[:2]]
        cost = tf.reduce_max(tf.stack(sizes))
    elif op.type == "Conv2D":
        kernel = pruned_shape(op.inputs[1])
        cost = tf.reduce_prod(pruned_shape(op.outputs[0])) * (tf.reduce_prod(kernel[:2]) * kernel[2] * 2.0 - 1.0)
    for source in op.inputs:
        cost = cost + computational_cost(source, observed)
    return cost


def update_pruning_signals(
    loss: tf.Tensor, decay: float = 0.96, masks: Optional[List[Any]] = None, method: str = "Fisher"
) -> List[tf.Tensor]:
    """Updates each mask's running Fisher signal ``signal ← decay·signal + (1 - decay)·f`` with
    ``f = mean over the batch of (∂loss/∂mask.extended)²`` (per channel).

    Args:
      loss: float scalar.
      decay: the running average's decay.
      masks: the masks (default: :data:`MASK_COLLECTION`).
      method: only ``'Fisher'``.

    Returns:
      the updated signal tensors (``[C]`` each); ``[]`` without masks.

    Raises:
      ValueError: another method.
    """
    if method != "Fisher":
        raise ValueError("update_pruning_signals supports method='Fisher' only, got %r" % (method,))
    masks = tf.get_collection(MASK_COLLECTION) if masks is None else masks
    if not masks:
        return []
    grads = tf.gradients(loss, [mask.extended for mask in masks])
    updates = []
    for mask, grad in zip(masks, grads):
        channels = int(mask.shape[0])
        if grad is None:
            fisher = tf.zeros([channels], mask.dtype.base_dtype)
        else:
            per_example = tf.reshape(grad, tf.stack([tf.shape(grad)[0], -1, channels]))
            fisher = tf.reduce_mean(tf.square(tf.reduce_sum(per_example, axis=1)), axis=0)
        updates.append(
            tf.assign(mask.pruning_signal, decay * mask.pruning_signal + (1.0 - decay) * fisher, use_locking=True)
        )
    return updates


def prune(signals: List[Any], masks: Optional[List[Any]] = None) -> tf.Operation:
    """Prunes exactly one channel: the active channel (``mask > 0.5``) with the smallest signal over
    all masks is set to 0.

    Args:
      signals: one float ``[C_l]`` signal per mask (e.g. from :func:`update_pruning_signals`).
      masks: the masks (default: :data:`MASK_COLLECTION`), in the order of ``signals``.

    Returns:
      an op named ``prune`` grouping the mask updates.
    """
    masks = tf.get_collection(MASK_COLLECTION) if masks is None else masks
    minima, arg_minima = [], []
    for signal, mask in zip(signals, masks):
        signal = tf.cast(signal, tf.float32)
        live = tf.where(tf.greater(tf.cast(mask, tf.float32), 0.5), signal, tf.fill(tf.shape(signal), np.inf))
        arg_minima.append(tf.argmin(live, output_type=tf.int32))
        minima.append(tf.reduce_min(live))
    layer = tf.argmin(tf.stack(minima), output_type=tf.int32)
    updates = []
    for index, mask in enumerate(masks):
        hit = tf.one_hot(arg_minima[index], int(mask.shape[0]), dtype=mask.dtype.base_dtype)
        chosen = tf.equal(layer, index)
        new_value = tf.where(chosen, mask * (1 - hit), tf.identity(mask))
        updates.append(tf.assign(mask, new_value))
    return tf.group(*updates, name="prune")


__all__ = [
    "MASK_COLLECTION",
    "MASK_EXTENDED_COLLECTION",
    "OP_COLLECTION",
    "apply_mask",
    "computational_cost",
    "extend_mask",
    "find_input_mask",
    "find_mask",
    "find_output_mask",
    "prune",
    "pruned_shape",
    "update_pruning_signals",
]
