"""libtwml.ops: the TensorFlow ops of libtwml_tf.so as graph functions.

Each op registered by the library is available here under its snake_case name with the inputs
and attrs of the reference, e.g. ``feature_id(feature_names=["a", "b"])`` for the ``FeatureId``
op. ``OPLIB`` is the module ``tf.load_op_library`` returned.
"""

import os
from typing import TYPE_CHECKING, Any

import tensorflow as tf

OPLIB = tf.load_op_library(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libtwml_tf.so"))

#: snake_case names of every op in the library.
OP_NAMES = sorted(
    name
    for name in dir(OPLIB)
    if not name.startswith("_") and name not in ("LIB_HANDLE", "OP_LIST") and callable(getattr(OPLIB, name))
)

globals().update({name: getattr(OPLIB, name) for name in OP_NAMES})

if TYPE_CHECKING:
    # For type checkers: the ops are bound at run time, from the library; TensorFlow has no types.
    def __getattr__(name: str) -> Any: ...


__all__ = ["OPLIB", "OP_NAMES"] + OP_NAMES

from libtwml.ops import gradients  # noqa: E402,F401  (registers the op gradients)
