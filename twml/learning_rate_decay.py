"""Learning-rate decay functions chosen by the learning-rate-decay sub-command (reference §11, §9).

``get_learning_rate_decay_fn(params)`` reads ``params.learning_rate_decay`` (the positional
sub-command: ``exponential_learning_rate_decay``, ``polynomial_learning_rate_decay``,
``piecewise_constant_learning_rate_decay``, ``inverse_learning_rate_decay``,
``cosine_learning_rate_decay``, ``cosine_restarts_learning_rate_decay`` or
``no_learning_rate_decay``) and that sub-command's parameters, and returns a function
``fn(learning_rate, global_step) -> Tensor`` as ``optimize_loss`` expects, or None for no decay.
"""

from typing import Any, Callable, Dict, Optional

import tensorflow.compat.v1 as tf

from twml.params import params_to_dict

DecayFn = Callable[[Any, Any], tf.Tensor]

__all__ = ["get_learning_rate_decay_fn"]


def _require(values: Dict[str, Any], key: str, decay: str) -> Any:
    """``values[key]``; ValueError naming the decay when it is missing (or None)."""
    if values.get(key) is None:
        raise ValueError("Expecting params.%s for params.learning_rate_decay == '%s'" % (key, decay))
    return values[key]


def get_learning_rate_decay_fn(params: Any) -> Optional[DecayFn]:
    """The learning-rate decay function that ``params`` select, or None.

    Args:
      params: HParams, dict or argparse Namespace with ``learning_rate_decay`` and the keys of the
        chosen decay:

        - ``exponential_learning_rate_decay``: ``decay_steps``, ``exponential_decay_rate``;
          ``lr * rate ** (step / decay_steps)`` (continuous, ``tf.train.exponential_decay``).
        - ``polynomial_learning_rate_decay``: ``decay_steps``, ``end_learning_rate``, optional
          ``polynomial_power`` (1.0 when absent; the CLI default is 0.0001);
          ``tf.train.polynomial_decay`` without cycling.
        - ``piecewise_constant_learning_rate_decay``: ``piecewise_constant_boundaries`` (ints),
          ``piecewise_constant_values`` (floats, one more than boundaries); the learning rate
          argument is ignored.
        - ``inverse_learning_rate_decay``: ``decay_rate``, ``decay_steps``, ``min_learning_rate``;
          ``max(lr / (1 + decay_rate * step / decay_steps), min_learning_rate)`` — no staircase
          floor, although the original CLI help says so.
        - ``cosine_learning_rate_decay``: ``decay_steps``, ``alpha``; ``tf.train.cosine_decay``.
        - ``cosine_restarts_learning_rate_decay``: ``first_decay_steps``, ``alpha``, ``t_mul``,
          ``m_mul``; ``tf.train.cosine_decay_restarts``.
        - ``no_learning_rate_decay`` or no ``learning_rate_decay`` at all: None.

    Returns:
      ``fn(learning_rate, global_step) -> Tensor`` or None.

    Raises:
      ValueError: a required parameter of the chosen decay is missing, or the decay is unknown.
    """
    values = params_to_dict(params)
    decay = values.get("learning_rate_decay")
    if decay is None or decay == "no_learning_rate_decay":
        return None

    if decay == "polynomial_learning_rate_decay":
        decay_steps = _require(values, "decay_steps", decay)
        end_learning_rate = _require(values, "end_learning_rate", decay)
        power = values.get("polynomial_power")
        power = 1.0 if power is None else power

        def polynomial_decay_fn(learning_rate: Any, global_step: Any) -> tf.Tensor:
            return tf.train.polynomial_decay(
                learning_rate=learning_rate,
                global_step=global_step,
                decay_steps=decay_steps,
                end_learning_rate=end_learning_rate,
                power=power,
            )

        return polynomial_decay_fn

    if decay == "piecewise_constant_learning_rate_decay":
        boundaries = _require(values, "piecewise_constant_boundaries", decay)
        piece_values = _require(values, "piecewise_constant_values", decay)

        def piecewise_constant_fn(learning_rate: Any, global_step: Any) -> tf.Tensor:
            del learning_rate  # the values replace it
            return tf.train.piecewise_constant(x=global_step, boundaries=list(boundaries), values=list(piece_values))

        return piecewise_constant_fn

    if decay == "exponential_learning_rate_decay":
        decay_steps = _require(values, "decay_steps", decay)
        decay_rate = _require(values, "exponential_decay_rate", decay)

        def exponential_decay_fn(learning_rate: Any, global_step: Any) -> tf.Tensor:
            return tf.train.exponential_decay(
                learning_rate=learning_rate,
                global_step=global_step,
                decay_steps=decay_steps,
                decay_rate=decay_rate,
            )

        return exponential_decay_fn

    if decay == "inverse_learning_rate_decay":
        min_learning_rate = _require(values, "min_learning_rate", decay)
        decay_rate = _require(values, "decay_rate", decay)
        decay_steps = _require(values, "decay_steps", decay)

        def inverse_decay_fn(learning_rate: Any, global_step: Any) -> tf.Tensor:
            decayed = tf.train.inverse_time_decay(
                learning_rate=learning_rate,
                global_step=global_step,
                decay_steps=decay_steps,
                decay_rate=decay_rate,
            )
            return tf.maximum(decayed, tf.cast(min_learning_rate, decayed.dtype))

        return inverse_decay_fn

    if decay == "cosine_learning_rate_decay":
        decay_steps = _require(values, "decay_steps", decay)
        alpha = _require(values, "alpha", decay)

        def cosine_decay_fn(learning_rate: Any, global_step: Any) -> tf.Tensor:
            return tf.train.cosine_decay(
                learning_rate=learning_rate, global_step=global_step, decay_steps=decay_steps, alpha=alpha
            )

        return cosine_decay_fn

    if decay == "cosine_restarts_learning_rate_decay":
        first_decay_steps = _require(values, "first_decay_steps", decay)
        alpha = _require(values, "alpha", decay)
        m_mul = _require(values, "m_mul", decay)
        t_mul = _require(values, "t_mul", decay)

        def cosine_restarts_decay_fn(learning_rate: Any, global_step: Any) -> tf.Tensor:
            return tf.train.cosine_decay_restarts(
                learning_rate=learning_rate,
                global_step=global_step,
                first_decay_steps=first_decay_steps,
                t_mul=t_mul,
                m_mul=m_mul,
                alpha=alpha,
            )

        return cosine_restarts_decay_fn

    raise ValueError("Unsupported params.learning_rate_decay: %s" % decay)
