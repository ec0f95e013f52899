"""Keras models as twml Trainers: ``create_build_graph_fn`` and ``build_keras_trainer`` (reference §8.3)."""

import inspect
from typing import Any, Callable, Dict, Optional

import tensorflow.compat.v1 as tf

from twml.trainers.trainer import Trainer

__all__ = ["build_keras_trainer", "create_build_graph_fn"]


def _call_factory(model_factory: Callable[..., Any], params: Any) -> Any:
    """``model_factory(params)`` when it takes an argument, else ``model_factory()``."""
    try:
        signature = inspect.signature(model_factory)
    except (TypeError, ValueError):
        return model_factory()
    takes_argument = any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in signature.parameters.values()
    )
    return model_factory(params) if takes_argument else model_factory()


def create_build_graph_fn(
    model_factory: Callable[..., Any], loss_fn: Optional[Callable[..., tf.Tensor]] = None
) -> Callable[..., Dict[str, Any]]:
    """A Trainer ``build_graph_fn`` running a (not compiled) Keras model.

    Args:
      model_factory: returns a ``tf.keras.Model`` (called with the params if it takes an argument,
        else without); a new model is built in each Estimator graph.
      loss_fn: ``loss_fn(labels, outputs, sample_weight=weights) -> float32 []``, e.g. a
        ``tf.keras.losses.Loss``; default ``tf.keras.losses.BinaryCrossentropy()``.

    Returns:
      ``build_graph_fn(features, label, mode, params, config=None)``: the model is called on the
      features (a dict without its ``weights`` entry; a dict with a single other entry is passed as
      that bare tensor) with ``training`` true in train mode; ``output`` is the model's output
      (e.g. float32 ``[batch, 1]``) and ``loss`` (train and eval) is ``loss_fn(label, output,
      sample_weight=features['weights'])`` (no weights when the features have none).
    """
    loss_fn = loss_fn or tf.keras.losses.BinaryCrossentropy()

    def build_graph_fn(features: Any, label: Any, mode: str, params: Any, config: Any = None) -> Dict[str, Any]:
        model = _call_factory(model_factory, params)
        weights = None
        inputs = features
        if isinstance(features, dict):
            weights = features.get("weights")
            inputs = {key: value for key, value in features.items() if key != "weights"}
            if len(inputs) == 1:
                inputs = next(iter(inputs.values()))
        output = model(inputs, training=mode == tf.estimator.ModeKeys.TRAIN)
        loss = None
        if mode != tf.estimator.ModeKeys.PREDICT:
            loss = loss_fn(label, output, sample_weight=weights)
        return {"output": output, "loss": loss}

    return build_graph_fn


def build_keras_trainer(
    name: str,
    model_factory: Callable[..., Any],
    save_dir: str,
    loss_fn: Optional[Callable[..., tf.Tensor]] = None,
    metrics_fn: Optional[Callable[..., Dict[str, Any]]] = None,
    **kwargs: Any,
) -> Trainer:
    """A :class:`twml.trainers.Trainer` training a Keras model built by ``model_factory``.

    Args:
      name: the Trainer's name (variable scope ``<name>/model``).
      model_factory, loss_fn: see :func:`create_build_graph_fn`.
      save_dir: the Trainer's save_dir.
      metrics_fn: the Trainer's ``metric_fn``.
      **kwargs: more Trainer arguments; ``params`` defaults to the Trainer parser's defaults
        (``Trainer.add_parser_arguments().parse_args([])``).

    Returns:
      the Trainer.
    """
    params = kwargs.pop("params", None)
    if params is None:
        params = Trainer.add_parser_arguments().parse_args([])
    return Trainer(
        name=name,
        params=params,
        build_graph_fn=create_build_graph_fn(model_factory, loss_fn),
        metric_fn=metrics_fn,
        save_dir=save_dir,
        **kwargs,
    )
