"""FactorizationMachine: second-order feature interactions over a sparse input (reference §6)."""

from typing import Any, Callable, Optional

import tensorflow.compat.v1 as tf
from tensorflow.python.ops.variables import PartitionedVariable

from twml.layers.layer import Layer


class FactorizationMachine(Layer):
    """Pairwise interactions ``Σ_k (Σ_i v_ik x_i)^2 − Σ_k Σ_i (v_ik x_i)^2`` per row.

    With ``substract_self_cross`` (default) the squared terms of a feature with itself are removed,
    leaving twice the sum over pairs ``i != j`` of ``<v_i, v_j> x_i x_j``; without it only the first
    term is computed. Rows without any feature give 0 (then ``activation``).

    Variable: ``<name>/weight`` ``[input_dim, num_latent_variables]`` (the latent vector ``v_i`` of
    each input column), where input_dim is the input's static ``dense_shape[1]``.

    Args:
      num_latent_variables: size k of each latent vector.
      weight_initializer: default ``tf.glorot_uniform_initializer()`` (not zeros: the output is
        quadratic in the weight, so a zero weight would get a zero gradient).
      activation: applied to the ``[batch, 1]`` output, or None.
      use_sparse_grads: the weight's gradient is a ``tf.IndexedSlices`` over the used rows; else a
        dense gradient through ``tf.sparse.sparse_dense_matmul``.
      use_binary_values: ignore the input values (taken as 1).
      weight_regularizer: regularizer of the weight.
      substract_self_cross: subtract the self-interaction term (the name keeps the original's spelling).

    ``call(inputs)``: inputs a ``tf.SparseTensor`` ``[batch, input_dim]`` with int64 indices and
    float values (the weight's dtype: the layer's dtype, default the inputs'), whose static
    ``dense_shape[1]`` is known and whose (row, column) pairs are unique. Returns a dense
    ``[batch, 1]`` tensor of that dtype.
    """

    def __init__(
        self,
        num_latent_variables: int = 10,
        weight_initializer: Any = None,
        activation: Optional[Callable] = None,
        trainable: bool = True,
        name: Optional[str] = None,
        use_sparse_grads: bool = True,
        use_binary_values: bool = False,
        weight_regularizer: Optional[Callable] = None,
        substract_self_cross: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        if not isinstance(num_latent_variables, int) or num_latent_variables <= 0:
            raise ValueError("num_latent_variables must be a positive int, got %r" % (num_latent_variables,))
        self.num_latent_variables = num_latent_variables
        self.weight_initializer = (
            weight_initializer if weight_initializer is not None else tf.glorot_uniform_initializer()
        )
        self.activation = activation
        self.use_sparse_grads = use_sparse_grads
        self.use_binary_values = use_binary_values
        self.weight_regularizer = weight_regularizer
        self.substract_self_cross = substract_self_cross

    def build(self, input_shape: Any) -> None:
        shape = tf.TensorShape(input_shape)
        if shape.rank != 2 or shape[1] is None:
            raise ValueError(
                "FactorizationMachine needs a [batch, input_dim] SparseTensor with a static dense_shape[1] "
                "(e.g. via twml.util.limit_sparse_tensor_size), got shape %s" % shape
            )
        self.weight = self.add_weight(
            "weight",
            shape=[int(shape[1]), self.num_latent_variables],
            initializer=self.weight_initializer,
            regularizer=self.weight_regularizer,
            dtype=self.dtype or tf.float32,
            trainable=True,
        )
        self.built = True

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(inputs, tf.SparseTensor):
            raise TypeError("FactorizationMachine expects a tf.SparseTensor input, got %s" % type(inputs).__name__)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs: tf.SparseTensor) -> tf.Tensor:
        weight = self.weight
        if isinstance(weight, PartitionedVariable):
            weight = tf.convert_to_tensor(weight)
        dtype = weight.dtype.base_dtype
        batch = inputs.dense_shape[0]
        if self.use_binary_values:
            values = tf.ones_like(inputs.values, dtype)
        else:
            values = tf.cast(inputs.values, dtype)
        if self.use_sparse_grads:
            rows = inputs.indices[:, 0]
            latent = tf.gather(weight, inputs.indices[:, 1]) * tf.expand_dims(values, 1)  # [nnz, k]
            # num_segments = batch keeps the rows that have no feature (they get 0).
            summed = tf.math.unsorted_segment_sum(latent, rows, num_segments=batch)  # [batch, k]
            self_cross = tf.math.unsorted_segment_sum(tf.reduce_sum(tf.square(latent), 1), rows, batch)
        else:
            x = tf.SparseTensor(inputs.indices, values, inputs.dense_shape)
            summed = tf.sparse.sparse_dense_matmul(x, weight)
            x_sq = tf.SparseTensor(inputs.indices, tf.square(values), inputs.dense_shape)
            self_cross = tf.reshape(
                tf.sparse.sparse_dense_matmul(x_sq, tf.reduce_sum(tf.square(weight), 1, True)), [-1]
            )
        outputs = tf.reduce_sum(tf.square(summed), 1)
        if self.substract_self_cross:
            outputs = outputs - self_cross
        outputs = tf.expand_dims(outputs, 1)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        return tf.TensorShape([tf.TensorShape(input_shape)[0], 1])
