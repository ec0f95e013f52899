"""ZscoreNormalization: z-scores of dense features from moving averages, missing values excluded (§6)."""

from typing import Any, Optional

import tensorflow.compat.v1 as tf

from twml.layers.layer import Layer


class ZscoreNormalization(Layer):
    """``outputs = (inputs - moving_mean) / sqrt(moving_var + epsilon)``, 0 where a value is missing.

    Per feature j, each training step with at least one present value in the batch updates
    (missing values are excluded from the batch statistics; a feature with no present value keeps
    its statistics)::

        n_j = number of updates of feature j so far, including this one
        w_j = (1 - decay) / (1 - decay ** n_j)          # zero-debiased EMA weight (1 at n_j = 1)
        moving_mean_j += w_j * (batch_mean_j - moving_mean_j)
        moving_var_j  += w_j * (batch_var_j  - moving_var_j)

    with ``batch_mean_j``/``batch_var_j`` the mean and (biased) variance of the present values.
    So ``moving_*`` equal the bias-corrected exponential moving averages of the batch statistics
    with rate ``decay``, usable from the first step. With ``zero_debias=False`` the weight is the
    plain ``w_j = 1 - decay`` (statistics start from mean 0, variance 1). With ``handle_single``, a
    feature with a single present value in the batch updates its mean but keeps its variance (the
    variance of one value, 0, is no estimate). Training normalises with the updated values.

    Variables (non-trainable, ``data_type``, shape ``[n_feature]``): ``<name>/moving_mean``
    (zeros), ``<name>/moving_var`` (ones), ``<name>/num_updates`` (zeros; n_j above).

    Args (the original's):
      decay: EMA decay in ``[0, 1)``.
      data_type: dtype of the statistics and of the computation.
      name: the layer's name.
      epsilon (keyword-only, an extra of this rebuild): added to the variance before the square root.

    ``call(input, is_training=True, dense_mask=None, zero_debias=True, handle_single=False)``: input
    float ``[batch, n_feature]`` (``n_feature`` static); is_training a Python or scalar tensor bool;
    dense_mask bool ``[batch, n_feature]``, True where the value is present (None: all present; NaN
    inputs always count as missing). Returns ``[batch, n_feature]`` of the input's dtype.
    """

    def __init__(
        self,
        decay: float = 0.9999,
        data_type: Any = tf.float64,
        name: Optional[str] = None,
        *,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError("ZscoreNormalization's decay must be in [0, 1), got %r" % (decay,))
        self.decay = float(decay)
        self.data_type = tf.as_dtype(data_type)
        if not self.data_type.is_floating:
            raise ValueError("ZscoreNormalization's data_type must be a floating type, got %s" % self.data_type.name)
        self.epsilon = float(epsilon)

    def build(self, input_shape: Any) -> None:
        shape = tf.TensorShape(input_shape)
        if shape.rank != 2 or shape[1] is None:
            raise ValueError(
                "ZscoreNormalization expects dense inputs [batch, n_feature] with a static n_feature, got %s" % shape
            )
        n = int(shape[1])

        def stat(name: str, initializer: Any) -> Any:
            return self.add_weight(name, shape=[n], initializer=initializer, dtype=self.data_type, trainable=False)

        self.moving_mean = stat("moving_mean", tf.zeros_initializer())
        self.moving_var = stat("moving_var", tf.ones_initializer())
        self.num_updates = stat("num_updates", tf.zeros_initializer())
        self.built = True

    def call(
        self,
        input: tf.Tensor,
        is_training: Any = True,
        dense_mask: Optional[tf.Tensor] = None,
        zero_debias: bool = True,
        handle_single: bool = False,
    ) -> tf.Tensor:
        inputs, input_mask = input, dense_mask
        if not inputs.dtype.is_floating:
            raise TypeError("ZscoreNormalization expects floating point inputs, got %s" % inputs.dtype.name)
        x = tf.cast(inputs, self.data_type)
        present = tf.logical_not(tf.is_nan(x))
        if input_mask is not None:
            input_mask = tf.convert_to_tensor(input_mask)
            if input_mask.dtype != tf.bool:
                raise TypeError("ZscoreNormalization's dense_mask must be bool, got %s" % input_mask.dtype.name)
            input_mask.shape.assert_is_compatible_with(inputs.shape)
            present = tf.logical_and(present, input_mask)
        x = tf.where(present, x, tf.zeros_like(x))  # missing entries (even NaN) must not leak into sums
        weights = tf.cast(present, self.data_type)

        def normalize(mean: Any = None, var: Any = None) -> tf.Tensor:
            mean = self.moving_mean if mean is None else mean
            var = self.moving_var if var is None else var
            normalized = (x - mean) * tf.rsqrt(var + self.epsilon)
            return tf.where(present, normalized, tf.zeros_like(normalized))

        def update_and_normalize() -> tf.Tensor:
            count = tf.reduce_sum(weights, 0)
            seen = count > 0
            safe_count = tf.maximum(count, 1.0)
            batch_mean = tf.reduce_sum(x, 0) / safe_count
            batch_var = tf.reduce_sum(weights * tf.square(x - batch_mean), 0) / safe_count
            n_updates = self.num_updates + tf.cast(seen, self.data_type)
            if zero_debias:
                rate = (1.0 - self.decay) / (
                    1.0 - tf.pow(tf.constant(self.decay, self.data_type), tf.maximum(n_updates, 1.0))
                )
            else:
                rate = tf.fill(tf.shape(count), tf.constant(1.0 - self.decay, self.data_type))
            rate = tf.where(seen, rate, tf.zeros_like(rate))
            var_rate = tf.where(count > 1, rate, tf.zeros_like(rate)) if handle_single else rate
            new_mean = tf.assign_add(self.moving_mean, rate * (batch_mean - self.moving_mean))
            new_var = tf.assign_add(self.moving_var, var_rate * (batch_var - self.moving_var))
            # Normalise with the values the assignments return, so the output sees this step's update.
            with tf.control_dependencies([tf.assign(self.num_updates, n_updates)]):
                return normalize(new_mean, new_var)

        if isinstance(is_training, bool):
            out = update_and_normalize() if is_training else normalize()
        else:
            out = tf.cond(tf.convert_to_tensor(is_training, tf.bool), update_and_normalize, normalize)
        return tf.cast(out, inputs.dtype)

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        return tf.TensorShape(input_shape)


def zscore_normalization(
    input: tf.Tensor,  # the original's parameter name
    is_training: Any,
    decay: float = 0.9999,
    data_type: Any = tf.float64,
    name: Optional[str] = None,
    dense_mask: Optional[tf.Tensor] = None,
    zero_debias: bool = True,
    handle_single: bool = False,
    **kwargs: Any,
) -> tf.Tensor:
    """Functional ZscoreNormalization (the original's signature): ``[batch, n_feature]`` z-scores of
    the input's dtype. ``**kwargs`` go to the layer (e.g. ``epsilon``, ``dtype``)."""
    return ZscoreNormalization(decay=decay, data_type=data_type, name=name, **kwargs)(
        input, is_training=is_training, dense_mask=dense_mask, zero_debias=zero_debias, handle_single=handle_single
    )


def update_moving_variable(
    batch_var: Any, moving_var: Any, decay: float, zero_debias: bool = True, name: Optional[str] = None
) -> tf.Tensor:
    """Moves ``moving_var`` towards ``batch_var``: ``moving -= (1 - decay) * (moving - batch)``
    (``assign_moving_average``, with TF's zero-debias bookkeeping when ``zero_debias``), adds it to the
    ``MODEL_VARIABLES`` collection, and returns its value after the update. ``name`` is unused.

    Returns:
      a tensor of ``moving_var``'s shape and dtype.
    """
    del name
    from tensorflow.python.training import moving_averages

    update = moving_averages.assign_moving_average(moving_var, batch_var, decay, zero_debias=zero_debias)
    if moving_var not in tf.get_collection(tf.GraphKeys.MODEL_VARIABLES):
        tf.add_to_collection(tf.GraphKeys.MODEL_VARIABLES, moving_var)
    with tf.control_dependencies([update]):
        return tf.identity(moving_var)
