"""twml.contrib.initializers: initializers for large constants (reference §14.3).

A large numpy constant baked into the graph bloats the GraphDef (2 GB limit) and every
checkpoint-less export. ``PlaceholderInitializer`` instead initialises a variable from a
placeholder whose value is fed once, at variable initialisation: the value is registered in the
``TWML_INIT_FEED_COLLECTION`` collection, and the Trainer's model_fn passes
its contents (``get_init_feed_dict()``) to the Scaffold's ``init_feed_dict``.
"""

from typing import Any, Dict, Optional, Sequence

import numpy as np
import tensorflow.compat.v1 as tf

from twml.constants import TWML_INIT_FEED_KEY  # the Trainer reads the same collection


class PartitionConstant(tf.keras.initializers.Initializer):
    """A constant initializer for (possibly partitioned) variables: each partition gets its slice
    of ``value`` (a numpy array of the full variable's shape)."""

    def __init__(self, value: Any, dtype: Any = tf.float32) -> None:
        self.value = np.asarray(value)
        self.dtype = tf.as_dtype(dtype)

    def __call__(self, shape: Sequence[int], dtype: Any = None, partition_info: Any = None, **kwargs: Any) -> tf.Tensor:
        dtype = tf.as_dtype(dtype) if dtype is not None else self.dtype
        if partition_info is None:
            if tuple(shape) != self.value.shape:
                raise ValueError(
                    "PartitionConstant: value has shape %s, variable %s" % (self.value.shape, tuple(shape))
                )
            return tf.constant(self.value, dtype)
        offsets = partition_info.var_offset
        part = self.value[tuple(slice(o, o + n) for o, n in zip(offsets, shape))]
        return tf.constant(part, dtype)

    def get_config(self) -> Dict[str, Any]:
        return {"value": self.value.tolist(), "dtype": self.dtype.name}


class PlaceholderInitializer(tf.keras.initializers.Initializer):
    """Initialises a variable of ``shape``/``dtype`` from a fed numpy value (see module doc).

    Args:
      shape: the variable's full shape.
      dtype: its dtype.
      value: the numpy value to feed at initialisation; registered for ``get_init_feed_dict``.
    """

    def __init__(self, shape: Sequence[int], dtype: Any = tf.float32, value: Optional[Any] = None) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = tf.as_dtype(dtype)
        self.value = None if value is None else np.asarray(value, self.dtype.as_numpy_dtype)
        if self.value is not None and self.value.shape != self.shape:
            raise ValueError("PlaceholderInitializer: value has shape %s, expected %s" % (self.value.shape, self.shape))

    def __call__(self, shape: Sequence[int], dtype: Any = None, partition_info: Any = None, **kwargs: Any) -> tf.Tensor:
        placeholder = tf.placeholder(self.dtype, shape=self.shape, name="init_placeholder")
        if self.value is not None:
            tf.add_to_collection(TWML_INIT_FEED_KEY, (placeholder, self.value))
        if partition_info is not None:
            begin = list(partition_info.var_offset)
            return tf.slice(placeholder, begin, list(shape))
        return placeholder

    def get_config(self) -> Dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype.name}


#: The original's function-style name of :class:`PartitionConstant` (the same class).
partition_constant_initializer = PartitionConstant


def get_init_feed_dict() -> Dict[Any, Any]:
    """``{placeholder: value}`` of every PlaceholderInitializer in the default graph."""
    return dict(tf.get_collection(TWML_INIT_FEED_KEY))


def clear_init_feed_collection() -> None:
    """Empties the collection (once its feed dict has been handed to a Scaffold)."""
    tf.get_default_graph().clear_collection(TWML_INIT_FEED_KEY)
