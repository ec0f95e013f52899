"""twml.contrib.build_graphs_fns: build-graph functions for stitching saved TF-Hub modules into one checkpoint."""

from typing import Any, Callable, Dict

import tensorflow.compat.v1 as tf


def get_saved_modules_graph(input_graph_fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """A build_graph_fn that calls ``input_graph_fn(features, params)`` (e.g. loading hub modules).

    In ``'train'`` mode it returns a dummy model whose train op only increments the global step (loss
    int32 ``1``), so that one training step writes a checkpoint of the loaded modules; in any other
    mode it returns what ``input_graph_fn`` returned (a dict with ``output``).

    Returns:
      ``build_graph(features, label, mode, params, config=None)``.
    """

    def build_graph(features: Any, label: Any, mode: str, params: Any, config: Any = None) -> Dict[str, Any]:
        del label, config
        output = input_graph_fn(features, params)
        if mode == "train":
            global_step = tf.train.get_or_create_global_step()
            return {"train_op": tf.assign_add(global_step, 1), "loss": tf.constant(1)}
        return output

    return build_graph


__all__ = ["get_saved_modules_graph"]
