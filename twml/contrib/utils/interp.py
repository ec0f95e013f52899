"""Piecewise-linear interpolation on a grid (``twml.contrib.utils.interp``), over the
``IsotonicCalibration`` op: linear between grid points, constant (first / last output) outside.
"""

from typing import Any

import tensorflow.compat.v1 as tf

import libtwml


def linear_interp1(inputs: Any, ref_inputs: Any, ref_outputs: Any) -> tf.Tensor:
    """Interpolates ``inputs`` on the grid ``ref_inputs -> ref_outputs``.

    Args:
      inputs: float32 or float64 tensor of rank <= 2.
      ref_inputs: ascending grid points, same dtype and rank as ``inputs``; a rank-2 grid is read
        row after row as one grid.
      ref_outputs: the values at the grid points, same dtype and number of elements as ``ref_inputs``.

    Returns:
      a tensor of the shape and dtype of ``inputs``.

    Raises:
      ValueError: ``ref_inputs`` has another rank than ``inputs``, or a rank above 2.
    """
    inputs = tf.convert_to_tensor(inputs)
    ref_inputs = tf.convert_to_tensor(ref_inputs, dtype=inputs.dtype)
    ref_outputs = tf.convert_to_tensor(ref_outputs, dtype=inputs.dtype)
    if inputs.shape.ndims is not None and ref_inputs.shape.ndims is not None:
        if inputs.shape.ndims != ref_inputs.shape.ndims:
            raise ValueError(
                "inputs and ref_inputs must have the same rank, not %d and %d"
                % (inputs.shape.ndims, ref_inputs.shape.ndims)
            )
        if inputs.shape.ndims > 2:
            raise ValueError("linear_interp1 takes tensors of rank <= 2, not %d" % inputs.shape.ndims)
    flat = libtwml.ops.isotonic_calibration(
        tf.reshape(inputs, [-1, 1]), tf.reshape(ref_inputs, [1, -1]), tf.reshape(ref_outputs, [1, -1])
    )
    return tf.reshape(flat, tf.shape(inputs))


def linear_interp1_by_class(inputs: Any, input_classes: Any, ref_inputs: Any, ref_outputs: Any) -> tf.Tensor:
    """Interpolates each element on the grid of its class.

    Args:
      inputs: float ``[N]``.
      input_classes: integer ``[N]``, each in ``[0, C)``.
      ref_inputs: ``[C, B]`` ascending grid of each class, dtype of ``inputs``.
      ref_outputs: ``[C, B]`` values at the grid points.

    Returns:
      ``[N]``: ``out[i] = linear_interp1([inputs[i]], ref_inputs[c_i], ref_outputs[c_i])``.
    """
    inputs = tf.convert_to_tensor(inputs)
    ref_inputs = tf.convert_to_tensor(ref_inputs, dtype=inputs.dtype)
    ref_outputs = tf.convert_to_tensor(ref_outputs, dtype=inputs.dtype)
    classes = tf.cast(input_classes, tf.int32)

    def one(element: Any) -> tf.Tensor:
        value, cls = element
        return linear_interp1(tf.reshape(value, [1]), ref_inputs[cls], ref_outputs[cls])[0]

    return tf.map_fn(one, (inputs, classes), dtype=inputs.dtype)
