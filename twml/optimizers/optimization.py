"""optimize_loss: the train op of a loss, a port of TF1 contrib's ``tf.contrib.layers.optimize_loss``.

Reference §11: the optimizer is given by name, Optimizer class, Optimizer instance or a function
of the learning rate; the learning rate is a float (made a non-trainable variable) or a scalar
tensor, optionally decayed by ``learning_rate_decay_fn(lr, global_step)``; gradients may get
noise, per-variable multipliers and clipping (global norm or a function); summaries are chosen
from ``OPTIMIZER_SUMMARIES``.
"""

import numbers
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import tensorflow.compat.v1 as tf

from twml.optimizers.lazy_adam import LazyAdamOptimizer

__all__ = ["OPTIMIZER_CLS_NAMES", "OPTIMIZER_SUMMARIES", "optimize_loss"]

GradsAndVars = List[Tuple[Any, Any]]


def _momentum(learning_rate: Any) -> tf.train.Optimizer:
    """MomentumOptimizer with momentum 0.9, as contrib's "Momentum" name."""
    return tf.train.MomentumOptimizer(learning_rate, momentum=0.9)


OPTIMIZER_CLS_NAMES: Dict[str, Callable[..., tf.train.Optimizer]] = {
    "Adagrad": tf.train.AdagradOptimizer,
    "Adam": tf.train.AdamOptimizer,
    "Ftrl": tf.train.FtrlOptimizer,
    "LazyAdam": LazyAdamOptimizer,
    "Momentum": _momentum,
    "RMSProp": tf.train.RMSPropOptimizer,
    "SGD": tf.train.GradientDescentOptimizer,
}

OPTIMIZER_SUMMARIES = [
    "learning_rate",
    "loss",
    "gradients",
    "gradient_norm",
    "global_gradient_norm",
]


def optimize_loss(
    loss: Any,
    global_step: Any,
    learning_rate: Any,
    optimizer: Union[str, type, tf.train.Optimizer, Callable[..., tf.train.Optimizer]],
    gradient_noise_scale: Optional[float] = None,
    gradient_multipliers: Optional[Dict[Any, Any]] = None,
    clip_gradients: Union[None, float, Callable[[GradsAndVars], GradsAndVars]] = None,
    learning_rate_decay_fn: Optional[Callable[[Any, Any], Any]] = None,
    update_ops: Optional[Sequence[Any]] = None,
    variables: Optional[Sequence[Any]] = None,
    name: Optional[str] = None,
    summaries: Optional[Sequence[str]] = None,
    colocate_gradients_with_ops: bool = False,
    increment_global_step: bool = True,
) -> tf.Tensor:
    """Given a loss and parameters for the optimizer, returns a training op.

    Args:
      loss: scalar Tensor.
      global_step: scalar int Tensor/Variable, or None for ``tf.train.get_global_step()``; it is
        incremented by the train op unless ``increment_global_step`` is False.
      learning_rate: float (becomes a non-trainable variable ``<name>/learning_rate``), 0-d Tensor,
        or None when ``optimizer`` is an instance or a function without arguments.
      optimizer: a name of ``OPTIMIZER_CLS_NAMES`` ("Adagrad", "Adam", "Ftrl", "LazyAdam",
        "Momentum" (momentum 0.9), "RMSProp", "SGD"), an Optimizer subclass (called with
        ``learning_rate=lr``), an Optimizer instance, or a function ``f(lr)`` (``f()`` when
        ``learning_rate`` is None) returning an Optimizer.
      gradient_noise_scale: if set, adds truncated-normal noise of this scale to the gradients.
      gradient_multipliers: dict of variables (or variable names) to gradient multipliers.
      clip_gradients: float (clip by this global norm) or a function of the gradients and
        variables returning new ones.
      learning_rate_decay_fn: ``fn(learning_rate, global_step) -> decayed learning rate``.
      update_ops: ops run before the loss; defaults to the UPDATE_OPS collection.
      variables: variables to optimize; defaults to the trainable variables.
      name: variable scope of the created ops (default "OptimizeLoss").
      summaries: names from ``OPTIMIZER_SUMMARIES``; default ["loss", "learning_rate",
        "global_gradient_norm"]. As in contrib, "learning_rate" is summarised only when a decay
        function is given.
      colocate_gradients_with_ops: passed to ``compute_gradients``.
      increment_global_step: whether the train op increments ``global_step``.

    Returns:
      The loss Tensor, evaluated after the gradient update has been applied: the train op.

    Raises:
      ValueError: bad learning rate, unknown optimizer or summary, or unusable arguments.
    """
    loss = tf.convert_to_tensor(loss)
    if loss.shape.ndims not in (None, 0):
        raise ValueError("loss must be a scalar, got shape %s" % loss.shape)
    if global_step is None:
        global_step = tf.train.get_global_step()
    else:
        tf.train.assert_global_step(global_step)
    with tf.variable_scope(name, "OptimizeLoss", [loss, global_step]):
        # Update ops take the UPDATE_OPS collection if not provided, and run before the loss.
        if update_ops is None:
            update_ops = set(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
        if update_ops:
            with tf.control_dependencies(list(update_ops)):
                loss = tf.identity(loss)

        # Learning-rate variable, with possible decay.
        lr = None
        if learning_rate is not None:
            if isinstance(learning_rate, tf.Tensor) and learning_rate.get_shape().ndims == 0:
                lr = learning_rate
            elif isinstance(learning_rate, tf.Variable) and learning_rate.get_shape().ndims == 0:
                lr = learning_rate
            elif isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
                if learning_rate < 0.0:
                    raise ValueError("Invalid learning_rate %s." % learning_rate)
                lr = tf.get_variable(
                    "learning_rate",
                    [],
                    trainable=False,
                    initializer=tf.constant_initializer(float(learning_rate)),
                )
            else:
                raise ValueError(
                    "Learning rate should be 0d Tensor or float. Got %s of type %s"
                    % (str(learning_rate), str(type(learning_rate)))
                )
        if summaries is None:
            summaries = ["loss", "learning_rate", "global_gradient_norm"]
        else:
            for summ in summaries:
                if summ not in OPTIMIZER_SUMMARIES:
                    raise ValueError(
                        "Summaries should be one of [%s], you provided %s." % (", ".join(OPTIMIZER_SUMMARIES), summ)
                    )
        if learning_rate is not None and learning_rate_decay_fn is not None:
            if global_step is None:
                raise ValueError("global_step is required for learning_rate_decay_fn.")
            lr = learning_rate_decay_fn(lr, global_step)
            if "learning_rate" in summaries:
                tf.summary.scalar("learning_rate", lr)

        opt = _make_optimizer(optimizer, lr, learning_rate)

        if variables is None:
            variables = tf.trainable_variables()

        gradients = opt.compute_gradients(loss, variables, colocate_gradients_with_ops=colocate_gradients_with_ops)

        if gradient_noise_scale is not None:
            gradients = _add_scaled_noise_to_gradients(gradients, gradient_noise_scale)

        if gradient_multipliers is not None:
            gradients = _multiply_gradients(gradients, gradient_multipliers)
            if not gradients:
                raise ValueError(
                    "Empty list of (gradient, var) pairs encountered. This is most likely "
                    "to be caused by an improper value of gradient_multipliers."
                )

        if "global_gradient_norm" in summaries or "gradient_norm" in summaries:
            tf.summary.scalar("global_norm/gradient_norm", tf.linalg.global_norm(_grads(gradients)))

        if isinstance(clip_gradients, numbers.Real) and not isinstance(clip_gradients, bool):
            gradients = _clip_gradients_by_norm(gradients, float(clip_gradients))
        elif callable(clip_gradients):
            gradients = clip_gradients(gradients)
        elif clip_gradients is not None:
            raise ValueError("Unknown type %s for clip_gradients" % type(clip_gradients))

        if "loss" in summaries:
            tf.summary.scalar("loss", loss)

        for gradient, variable in gradients:
            grad_values = gradient.values if isinstance(gradient, tf.IndexedSlices) else gradient
            if grad_values is not None:
                var_name = variable.name.replace(":", "_")
                if "gradients" in summaries:
                    tf.summary.histogram("gradients/%s" % var_name, grad_values)
                if "gradient_norm" in summaries:
                    tf.summary.scalar("gradient_norm/%s" % var_name, tf.linalg.global_norm([grad_values]))

        if clip_gradients is not None and ("global_gradient_norm" in summaries or "gradient_norm" in summaries):
            tf.summary.scalar("global_norm/clipped_gradient_norm", tf.linalg.global_norm(_grads(gradients)))

        grad_updates = opt.apply_gradients(
            gradients, global_step=global_step if increment_global_step else None, name="train"
        )
        with tf.control_dependencies([grad_updates]):
            train_tensor = tf.identity(loss)
        return train_tensor


def _make_optimizer(optimizer: Any, lr: Any, learning_rate: Any) -> tf.train.Optimizer:
    """The Optimizer that ``optimizer`` names, is, or makes."""
    if isinstance(optimizer, str):
        if lr is None:
            raise ValueError("Learning rate is None, but should be specified if optimizer is string (%s)." % optimizer)
        if optimizer not in OPTIMIZER_CLS_NAMES:
            raise ValueError(
                "Optimizer name should be one of [%s], you provided %s." % (", ".join(OPTIMIZER_CLS_NAMES), optimizer)
            )
        return OPTIMIZER_CLS_NAMES[optimizer](learning_rate=lr)
    if isinstance(optimizer, type) and issubclass(optimizer, tf.train.Optimizer):
        if lr is None:
            raise ValueError("Learning rate is None, but should be specified if optimizer is class (%s)." % optimizer)
        return optimizer(learning_rate=lr)
    if isinstance(optimizer, tf.train.Optimizer):
        return optimizer
    if callable(optimizer):
        opt = optimizer(lr) if learning_rate is not None else optimizer()
        if not isinstance(opt, tf.train.Optimizer):
            raise ValueError("Unrecognized optimizer: function should return subclass of Optimizer. Got %s." % str(opt))
        return opt
    raise ValueError(
        "Unrecognized optimizer: should be string, subclass of Optimizer, instance of subclass of "
        "Optimizer or function with one argument. Got %s." % str(optimizer)
    )


def _grads(grads_and_vars: GradsAndVars) -> List[Any]:
    """The gradients of (gradient, variable) pairs."""
    return [gradient for gradient, _ in grads_and_vars]


def _clip_gradients_by_norm(grads_and_vars: GradsAndVars, clip_gradients: float) -> GradsAndVars:
    """Clips the gradients by their global norm."""
    gradients, variables = zip(*grads_and_vars)
    clipped_gradients, _ = tf.clip_by_global_norm(gradients, clip_gradients)
    return list(zip(clipped_gradients, variables))


def _add_scaled_noise_to_gradients(grads_and_vars: GradsAndVars, gradient_noise_scale: float) -> GradsAndVars:
    """Adds truncated-normal noise of scale ``gradient_noise_scale`` to the gradients."""
    noisy = []
    for gradient, variable in grads_and_vars:
        if gradient is None:
            noisy.append((None, variable))
            continue
        if isinstance(gradient, tf.IndexedSlices):
            gradient_shape = gradient.dense_shape
        else:
            gradient_shape = gradient.get_shape()
        noise = tf.truncated_normal(gradient_shape) * gradient_noise_scale
        noisy.append((gradient + noise, variable))
    return noisy


def _multiply_gradients(grads_and_vars: GradsAndVars, gradient_multipliers: Dict[Any, Any]) -> GradsAndVars:
    """Multiplies the gradients of the variables (or variable names) in ``gradient_multipliers``."""
    multiplied = []
    for grad, var in grads_and_vars:
        multiplier = None
        if grad is not None:
            by_var = [value for key, value in gradient_multipliers.items() if key is var]
            if by_var:
                multiplier = by_var[0]
            elif var.name in gradient_multipliers:
                multiplier = gradient_multipliers[var.name]
        if multiplier is not None:
            if isinstance(grad, tf.IndexedSlices):
                grad = tf.IndexedSlices(grad.values * multiplier, grad.indices, grad.dense_shape)
            else:
                grad = grad * tf.cast(multiplier, grad.dtype)
        multiplied.append((grad, var))
    return multiplied
