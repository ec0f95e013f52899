"""SparseMaxNorm (alias MaxNorm) and sparse_max_norm: per-column max normalisation (reference §6)."""

from typing import Any, Optional

import tensorflow.compat.v1 as tf

import libtwml
from twml.layers.layer import Layer


class SparseMaxNorm(Layer):
    """Divides each value of a sparse input by its column's running maximum of absolute values.

    Input: ``tf.SparseTensor`` ``[batch, input_dim]`` with int64 indices and float32 values
    (static ``dense_shape[1]`` known, or ``input_size`` given). Output: a float32
    ``tf.SparseTensor`` with the same indices and dense shape, values
    ``stop_gradient(normalized) + bias_x[col]``.

    Variables: ``max_x [input_dim]`` (non-trainable, default zeros) and ``bias_x [input_dim]``
    (trainable, default zeros; only with ``use_bias``). In training the SparseMaxNormTraining op
    raises max_x to the batch's maxima (assigned before the output is available); at inference
    SparseMaxNormInference uses max_x as it is. Both divide by ``max(max_x, epsilon)``.

    Args:
      input_size: input dimension, default the input's static dense_shape[1].
      is_training: a Python bool or a scalar bool tensor.
    """

    def __init__(
        self,
        input_size: Optional[int] = None,
        max_x_initializer: Any = None,
        bias_x_initializer: Any = None,
        is_training: Any = True,
        epsilon: float = 1e-5,
        use_bias: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_size = input_size
        self.max_x_initializer = max_x_initializer if max_x_initializer is not None else tf.zeros_initializer()
        self.bias_x_initializer = bias_x_initializer if bias_x_initializer is not None else tf.zeros_initializer()
        self.is_training = is_training
        self.epsilon = epsilon
        self.use_bias = use_bias

    def build(self, input_shape: Any) -> None:
        shape = tf.TensorShape(input_shape)
        if shape.rank is not None and shape.rank != 2:
            raise ValueError("SparseMaxNorm expects a [batch, input_size] SparseTensor, got rank %d" % shape.rank)
        input_dim = self.input_size
        if input_dim is None:
            if shape.rank is None or shape[1] is None:
                raise ValueError("SparseMaxNorm needs input_size or a statically known dense_shape[1]")
            input_dim = int(shape[1])
        self.max_x = self.add_weight(
            "max_x", shape=[input_dim], initializer=self.max_x_initializer, dtype=tf.float32, trainable=False
        )
        self.bias_x = None
        if self.use_bias:
            self.bias_x = self.add_weight(
                "bias_x", shape=[input_dim], initializer=self.bias_x_initializer, dtype=tf.float32, trainable=True
            )
        self.built = True

    def _normalize(self, cols: tf.Tensor, values: tf.Tensor, is_training: Any) -> tf.Tensor:
        max_x = tf.convert_to_tensor(self.max_x)

        def training() -> tf.Tensor:
            updated, normalized = libtwml.ops.sparse_max_norm_training(max_x, cols, values, epsilon=self.epsilon)
            with tf.control_dependencies([tf.assign(self.max_x, updated)]):
                return tf.identity(normalized)

        def inference() -> tf.Tensor:
            return libtwml.ops.sparse_max_norm_inference(max_x, cols, values, epsilon=self.epsilon)

        if isinstance(is_training, bool):
            return training() if is_training else inference()
        return tf.cond(tf.convert_to_tensor(is_training, tf.bool), training, inference)

    def call(self, inputs: tf.SparseTensor, is_training: Any = None, **kwargs: Any) -> tf.SparseTensor:
        if not isinstance(inputs, tf.SparseTensor):
            raise TypeError("SparseMaxNorm expects a tf.SparseTensor, got %s" % type(inputs).__name__)
        if is_training is None:
            is_training = self.is_training
        cols = inputs.indices[:, 1]
        values = tf.cast(inputs.values, tf.float32)
        with tf.device(self.max_x.device):
            normalized = tf.stop_gradient(self._normalize(cols, values, is_training))
        if self.use_bias:
            normalized = normalized + tf.gather(self.bias_x, cols)
        return tf.SparseTensor(inputs.indices, normalized, inputs.dense_shape)


MaxNorm = SparseMaxNorm


def sparse_max_norm(
    inputs: tf.SparseTensor,
    input_size: Optional[int] = None,
    max_x_initializer: Any = None,
    bias_x_initializer: Any = None,
    is_training: Any = True,
    epsilon: float = 1e-5,
    use_bias: bool = True,
    name: Optional[str] = None,
    reuse: Optional[bool] = None,
) -> tf.SparseTensor:
    """Functional SparseMaxNorm: a float32 ``tf.SparseTensor`` like ``inputs``."""
    layer = SparseMaxNorm(
        input_size=input_size,
        max_x_initializer=max_x_initializer,
        bias_x_initializer=bias_x_initializer,
        is_training=is_training,
        epsilon=epsilon,
        use_bias=use_bias,
        name=name,
        _scope=name,
        _reuse=reuse,
    )
    return layer(inputs)
