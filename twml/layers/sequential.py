"""Sequential: an ordered container of layers (reference §6)."""

from typing import Any, List, Optional, Sequence

import tensorflow.compat.v1 as tf

from twml.layers.layer import Layer


class Sequential(Layer):
    """Calls its layers in order, each on the previous one's output, and keeps every output.

    Args:
      layers: initial layers (``tf.layers.Layer`` instances with distinct names).

    Raises:
      ValueError: a layer's name is already in the container.
      TypeError: something that is not a layer is added.
    """

    def __init__(self, layers: Optional[Sequence[tf.layers.Layer]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._layers: List[Any] = []
        self._layer_names: List[str] = []
        self._layer_outputs: List[Any] = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: tf.layers.Layer) -> None:
        """Appends a layer."""
        if not isinstance(layer, tf.layers.Layer):
            raise TypeError("Sequential can only hold tf.layers.Layer instances, got %s" % type(layer).__name__)
        if layer.name in self._layer_names:
            raise ValueError("Sequential already has a layer named %r" % layer.name)
        self._layers.append(layer)
        self._layer_names.append(layer.name)

    def pop(self) -> tf.layers.Layer:
        """Removes and returns the last layer (and its output, if any)."""
        if not self._layers:
            raise IndexError("pop from an empty Sequential")
        if len(self._layer_outputs) == len(self._layers):
            self._layer_outputs.pop()
        self._layer_names.pop()
        return self._layers.pop()

    def get(self, index: int) -> tf.layers.Layer:
        return self._layers[index]

    def get_output(self, index: int) -> Any:
        return self._layer_outputs[index]

    def get_layer_by_name(self, name: str) -> tf.layers.Layer:
        return self._layers[self._layer_names.index(name)]

    def get_layer_output_by_name(self, name: str) -> Any:
        return self._layer_outputs[self._layer_names.index(name)]

    @property
    def layers(self) -> List[Any]:
        return list(self._layers)

    @property
    def layer_names(self) -> List[str]:
        return list(self._layer_names)

    @property
    def layer_outputs(self) -> List[Any]:
        return list(self._layer_outputs)

    @property
    def init(self) -> List[Any]:
        """The ``init`` of every layer that has one, in order."""
        return [layer.init for layer in self._layers if hasattr(layer, "init")]

    def build(self, input_shape: Any) -> None:
        self.built = True

    def call(self, inputs: Any, **kwargs: Any) -> Any:
        """Runs every layer in order; returns the last output (inputs if there are no layers)."""
        outputs = inputs
        self._layer_outputs = []
        for layer in self._layers:
            outputs = layer(outputs)
            self._layer_outputs.append(outputs)
        return outputs
