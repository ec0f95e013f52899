"""Tensor and batch helpers: weighted averages, partitions and masks of feature structures,
per-row maps, fixed-length padding, periodic graph actions (re-exported by ``twml.util``)."""

from typing import Any, Callable, Optional

import tensorflow.compat.v1 as tf

import libtwml


def weighted_average(values: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """``sum(values * weights) / sum(weights)``.

    Args:
      values: float tensor of any shape.
      weights: float tensor broadcastable to values.

    Returns:
      a float scalar tensor (NaN when the weights sum to 0).
    """
    return tf.reduce_sum(tf.multiply(values, weights)) / tf.reduce_sum(weights)


def dynamic_partition(
    features: Any, partitions: tf.Tensor, num_partitions: int = 2, name: Optional[str] = None
) -> list:
    """``tf.dynamic_partition`` of a tensor, or of each tensor of a dict, list or tuple.

    Args:
      features: a tensor ``[batch, ...]`` or a dict/list/tuple of them.
      partitions: int32 tensor ``[batch]``, values in ``[0, num_partitions)``.
      num_partitions: number of partitions.
      name: name scope.

    Returns:
      a list of num_partitions items, each of the same structure as features (dict, list, tuple
      or tensor) holding the rows of that partition.
    """
    partitions = tf.cast(partitions, tf.int32)
    with tf.name_scope(name or "dynamic_partition"):
        if isinstance(features, dict):
            parts = {k: tf.dynamic_partition(v, partitions, num_partitions) for k, v in features.items()}
            return [{k: parts[k][i] for k in features} for i in range(num_partitions)]
        if isinstance(features, (list, tuple)):
            columns = [tf.dynamic_partition(v, partitions, num_partitions) for v in features]
            return [type(features)(p[i] for p in columns) for i in range(num_partitions)]
        return tf.dynamic_partition(features, partitions, num_partitions)


def boolean_mask(features: Any, mask: Any, name: Optional[str] = None) -> Any:
    """The rows of a tensor, or of each tensor of a dict / list / tuple, where ``mask`` is true.

    Args:
      features: a tensor ``[batch, ...]`` or a dict/list/tuple of them.
      mask: bool ``[batch]``.
      name: name scope.

    Returns:
      the same structure with ``[kept, ...]`` tensors.
    """
    mask = tf.cast(mask, tf.bool)
    with tf.name_scope(name or "boolean_mask"):
        if isinstance(features, dict):
            return {k: tf.boolean_mask(v, mask) for k, v in features.items()}
        if isinstance(features, (list, tuple)):
            return type(features)(tf.boolean_mask(v, mask) for v in features)
        return tf.boolean_mask(features, mask)


def batch_apply(fn: Callable[[Any], Any], inputs: Any, dtype: Any = None) -> tf.Tensor:
    """Applies ``fn`` to each element of ``inputs`` along the first dimension (a ``tf.while_loop``,
    through ``tf.map_fn``) and stacks the results.

    Args:
      fn: element -> tensor; an element is ``inputs[i]`` (or a tuple of ``x[i]`` for a tuple of inputs).
      inputs: a tensor ``[n, ...]`` or a tuple of tensors with the same first dimension.
      dtype: the result's dtype (or structure of dtypes) when it differs from the inputs'.

    Returns:
      ``[n, ...]`` stacked results.
    """
    return tf.map_fn(fn, inputs, dtype=dtype)


def fixed_length_tensor(
    segment_ids: Any, values: Any, pad_value: Any, max_length: int = -1, batch_size: Any = None
) -> tf.Tensor:
    """A dense ``[batch, L]`` tensor of a ragged batch given as sorted row ids and values.

    Row ``r`` holds, in order, the values whose segment id is ``r``, padded with ``pad_value`` and
    truncated to ``L`` columns (the ``FixedLengthTensor`` / ``FixedLengthTensorV2`` ops).

    Args:
      segment_ids: int32/int64 ``[n]``, non-decreasing row of each value.
      values: int32/int64/string ``[n]``.
      pad_value: scalar of the values' dtype.
      max_length: ``L``; negative for the longest row.
      batch_size: None: rows = last segment id + 1; else an int64 scalar (rows without values are
        all padding).

    Returns:
      ``[batch, L]`` tensor of the values' dtype.
    """
    values = tf.convert_to_tensor(values)
    pad_value = tf.convert_to_tensor(pad_value, dtype=values.dtype)
    if batch_size is None:
        return libtwml.ops.fixed_length_tensor(segment_ids, values, pad_value, max_length=int(max_length))
    return libtwml.ops.fixed_length_tensor_v2(
        segment_ids, values, pad_value, tf.cast(batch_size, tf.int64), max_length=int(max_length)
    )


def do_every_n_steps(action: Callable[[], Any], num_steps: int) -> tf.Operation:
    """A graph op that runs ``action()`` (which builds ops) every num_steps global steps.

    Args:
      action: builds and returns the op(s) to run (called inside a tf.cond branch).
      num_steps: period, > 0.

    Returns:
      an op: runs the action when ``global_step % num_steps == 0``, else a no-op. Needs a global
      step in the graph.
    """
    if num_steps <= 0:
        raise ValueError("num_steps must be > 0")
    global_step = tf.train.get_or_create_global_step()

    def run_action() -> tf.Tensor:
        with tf.control_dependencies(tf.nest.flatten(action())):
            return tf.constant(True)

    return tf.cond(tf.equal(tf.math.floormod(global_step, num_steps), 0), run_action, lambda: tf.constant(False)).op
