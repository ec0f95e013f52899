"""TF-Hub (TF1 ``hub.Module`` format) module specs and their application (re-exported by
``twml.util``)."""

from typing import Any, Callable, Optional, Sequence

import tensorflow.compat.v1 as tf


def create_module_spec(
    mlp_fn: Callable[..., None],
    mode: str,
    params: Any,
    drop_collections: Optional[Sequence[str]] = None,
) -> Any:
    """A TF-Hub (TF1 ``hub.Module`` format) ModuleSpec of ``mlp_fn`` with two graph versions:
    the default tag set built with ``mode`` and the ``{"train"}`` tag set built in train mode.

    Args:
      mlp_fn: ``mlp_fn(mode=..., params=...)`` builds the module's graph and adds its signatures
        with ``hub.add_signature``.
      mode: a tf.estimator.ModeKeys value for the default (serving) graph.
      params: passed to ``mlp_fn``.
      drop_collections: graph collections left out of the module.

    Returns:
      a ``hub.ModuleSpec``; ``spec.export(path, checkpoint_path=...)`` writes it.
    """
    import tensorflow_hub as hub

    tags_and_args = [
        (set(), {"mode": mode, "params": params}),
        ({"train"}, {"mode": tf.estimator.ModeKeys.TRAIN, "params": params}),
    ]
    return hub.create_module_spec(mlp_fn, tags_and_args=tags_and_args, drop_collections=drop_collections)


def hub_import(input: Any, module: str, module_name: str, trainable: bool = False) -> Any:
    """Apply the TF-Hub module at ``module`` (a path or URL hub can read) to ``input``.

    The module's variables live under the scope ``module_name``; with ``trainable`` they are
    trainable and the module's ``{"train"}`` graph is used.

    Returns:
      the module's default signature output for ``input``.
    """
    import tensorflow_hub as hub

    tags = {"train"} if trainable else None
    return hub.Module(module, trainable=trainable, name=module_name, tags=tags)(input)
