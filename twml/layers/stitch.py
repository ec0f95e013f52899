"""Stitch: merges what Partition split, with tf.dynamic_stitch (reference §6)."""

from typing import Any, List, Sequence

import tensorflow.compat.v1 as tf

from twml.layers.layer import Layer


class Stitch(Layer):
    """``call(partitioned_vals, partitioned_keys, partitioned_indices)`` -> ``[vals, keys]``.

    Each argument is a list of 1-D tensors (as Partition returns them); the results are 1-D
    tensors with element ``i`` taken from the part whose indices hold ``i``.
    """

    def call(
        self,
        partitioned_vals: Sequence[tf.Tensor],
        partitioned_keys: Sequence[tf.Tensor],
        partitioned_indices: Sequence[tf.Tensor],
        **kwargs: Any,
    ) -> List[tf.Tensor]:
        if not len(partitioned_vals) == len(partitioned_keys) == len(partitioned_indices):
            raise ValueError(
                "Stitch needs as many value, key and index parts, got %d, %d and %d"
                % (len(partitioned_vals), len(partitioned_keys), len(partitioned_indices))
            )
        indices = [tf.cast(i, tf.int32) for i in partitioned_indices]
        return [tf.dynamic_stitch(indices, list(partitioned_vals)), tf.dynamic_stitch(indices, list(partitioned_keys))]
