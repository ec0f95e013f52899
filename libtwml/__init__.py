"""libtwml: twml's C++ core and TensorFlow ops, for Python.

Two layers, loaded separately so that code that only needs the core does not import TensorFlow:

* the core (``libtwml._core``, a pybind11 module): feature-id hashing and, as the data plane
  grows, the codecs, usable without a TF session;
* the ops (``libtwml.ops``, loaded on first use): the kernels of ``libtwml_tf.so`` as snake_case
  graph functions, e.g. ``libtwml.ops.feature_id(feature_names=[...])``. ``libtwml.OPLIB`` is the
  loaded op library itself, as ``tf.load_op_library`` returns it.
"""

from typing import Any, Iterable, Union

import numpy as np

from libtwml import _core

#: Raised by the core for bad input (invalid UTF-8, malformed records...); a ValueError.
Error = _core.Error

Names = Union[str, bytes, Iterable[Union[str, bytes]]]


def feature_id(names: Names) -> np.ndarray:
    """Feature ids of one feature name or of several.

    Args:
      names: a name, or an iterable of names, as ``str`` or UTF-8 ``bytes``.

    Returns:
      int64 numpy array of shape ``[n]`` (``[1]`` for a single name), so that ``[0]`` is the
      first id, as the original's call sites use it.

    Raises:
      libtwml.Error (a ValueError): a name is not valid UTF-8; the message gives the byte offset.
    """
    if isinstance(names, (str, bytes)):
        names = [names]
    return _core.feature_ids(list(names))


#: Thrift decoders of untrusted bytes, bounds-checked by the core (see libtwml._core).
decode_data_spec = _core.decode_data_spec
decode_batch_prediction_response = _core.decode_batch_prediction_response
encode_batch_prediction_request = _core.encode_batch_prediction_request

mix_discrete_id_and_value = _core.mix_discrete_id_and_value
mix_string_id_and_value = _core.mix_string_id_and_value


def __getattr__(name: str) -> Any:
    # deferred: the op library needs TensorFlow (expensive), imported only when asked for
    if name in ("ops", "OPLIB"):
        import libtwml.ops

        return libtwml.ops if name == "ops" else libtwml.ops.OPLIB
    raise AttributeError("module 'libtwml' has no attribute %r" % name)
