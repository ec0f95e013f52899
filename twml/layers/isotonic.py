"""Isotonic: piecewise-linear isotonic calibration (reference §6)."""

from typing import Any, Optional

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml
from twml.layers.layer import Layer


class Isotonic(Layer):
    """Calibrates each column ``j`` of ``[batch, n_unit]`` inputs by linear interpolation through
    the points ``(xs[j], ys[j])`` (clamped at both ends), with the IsotonicCalibration op.

    Args:
      n_unit: number of columns (calibrated outputs).
      n_bin: points per column.
      xs_input, ys_input: ``[n_unit, n_bin]`` arrays, xs increasing along each row.

    Output: same shape and dtype (float32 or float64) as the input.
    """

    def __init__(
        self, n_unit: int, n_bin: int, xs_input: Optional[Any] = None, ys_input: Optional[Any] = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.n_unit = n_unit
        self.n_bin = n_bin
        for name, value in (("xs_input", xs_input), ("ys_input", ys_input)):
            if value is None or np.shape(value) != (n_unit, n_bin):
                raise ValueError("Isotonic's %s must have shape [%d, %d]" % (name, n_unit, n_bin))
        self.xs_input = np.asarray(xs_input)
        self.ys_input = np.asarray(ys_input)

    def build(self, input_shape: Any) -> None:
        shape = tf.TensorShape(input_shape)
        if shape.rank is not None and (shape.rank != 2 or shape[1] not in (None, self.n_unit)):
            raise ValueError("Isotonic expects inputs of shape [batch, %d], got %s" % (self.n_unit, shape))
        self.built = True

    def call(self, inputs: tf.Tensor, **kwargs: Any) -> tf.Tensor:
        dtype = inputs.dtype.base_dtype
        xs = tf.constant(self.xs_input, dtype, name="xs")
        ys = tf.constant(self.ys_input, dtype, name="ys")
        return libtwml.ops.isotonic_calibration(inputs, xs, ys)
