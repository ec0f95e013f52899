"""twml_common: the Thrift structs of twml's data, and their binary-protocol serialization.

``from twml_common import DataRecord, BatchPredictionRequest, serialize, deserialize`` covers what
tests and tools need; the same classes import from the IDL namespaces too
(``com.twitter.ml.api.ttypes`` and friends).
"""

from twml_common import idl
from twml_common.serialize import deserialize, serialize

globals().update(idl.types_of(idl.tensor))
globals().update(idl.types_of(idl.data))
globals().update(idl.types_of(idl.prediction_service))

__all__ = ["deserialize", "idl", "serialize"] + sorted(
    list(idl.types_of(idl.tensor)) + list(idl.types_of(idl.data)) + list(idl.types_of(idl.prediction_service))
)
