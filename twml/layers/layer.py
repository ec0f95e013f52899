"""twml.layers.Layer: the base of twml's layers (reference §6)."""

from typing import Any, List

import tensorflow.compat.v1 as tf
from tensorflow.python.ops.variables import PartitionedVariable


class Layer(tf.layers.Layer):
    """Base layer: the ``tf.layers.Layer`` API (graph mode) plus an ``init`` op.

    Subclasses implement ``build(input_shape)`` (creating variables with ``add_weight``) and
    ``call(inputs, ...)``; ``__call__`` builds once then calls, under the layer's name scope, so
    variables are named ``<layer name>/<variable name>``.
    """

    # tf.layers.Layer's weight lists (TensorFlow has no types).
    _non_trainable_weights: List[tf.Variable]
    _trainable_weights: List[tf.Variable]

    def add_weight(self, name: str, shape: Any = None, *args: Any, trainable: Any = None, **kwargs: Any) -> Any:
        """``tf.layers.Layer.add_weight``; a trainable ``partitioner``'s parts stay trainable.

        Returns:
          a variable, or a ``PartitionedVariable`` when ``partitioner`` is given.
        """
        variable = super().add_weight(name, shape, *args, trainable=trainable, **kwargs)
        if isinstance(variable, PartitionedVariable) and trainable is not False and self.trainable:
            # tf.layers files a PartitionedVariable's parts as non-trainable (it looks for the
            # PartitionedVariable itself among tf.trainable_variables()): move them back.
            parts = set(id(part) for part in variable)
            moved = [w for w in self._non_trainable_weights if id(w) in parts]
            if moved and all(part in tf.trainable_variables() for part in variable):
                self._non_trainable_weights = [w for w in self._non_trainable_weights if id(w) not in parts]
                self._trainable_weights += moved
        return variable

    @property
    def init(self) -> tf.Operation:
        """An op initialising the layer's own state beyond its variables: ``tf.no_op()`` by default."""
        return tf.no_op()

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Not implemented in most twml layers, as in the original.

        Raises:
          NotImplementedError: always.
        """
        raise NotImplementedError("%s does not implement compute_output_shape" % type(self).__name__)
