"""Partition: splits keyed values into groups with tf.dynamic_partition (reference §6)."""

from typing import Any, List

import tensorflow.compat.v1 as tf

from twml.layers.layer import Layer


class Partition(Layer):
    """Splits ``input_vals`` and ``input_keys`` (both ``[n]``) by ``partition_ids`` (int32 ``[n]``,
    each in ``[0, partitions)``).

    ``call`` returns ``[vals_parts, keys_parts, indices_parts]``: three lists of ``partitions``
    1-D tensors, ``indices_parts`` holding the int32 positions (0..n-1) each element came from, as
    Stitch needs them.
    """

    def __init__(self, partitions: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(partitions, int) or partitions < 1:
            raise ValueError("partitions must be a positive int, got %r" % (partitions,))
        self.partitions = partitions

    def call(self, partition_ids: tf.Tensor, input_vals: tf.Tensor, input_keys: tf.Tensor, **kwargs: Any) -> List[Any]:
        partition_ids = tf.cast(partition_ids, tf.int32)
        for name, tensor in (("partition_ids", partition_ids), ("input_vals", input_vals), ("input_keys", input_keys)):
            if tensor.shape.rank is not None and tensor.shape.rank != 1:
                raise ValueError("Partition expects 1-D %s, got shape %s" % (name, tensor.shape))
        indices = tf.range(tf.size(partition_ids))
        vals = tf.dynamic_partition(input_vals, partition_ids, self.partitions)
        keys = tf.dynamic_partition(input_keys, partition_ids, self.partitions)
        positions = tf.dynamic_partition(indices, partition_ids, self.partitions)
        return [vals, keys, positions]
