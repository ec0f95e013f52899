"""Thrift binary-protocol serialization of twml's structs (no message header), as stored in
twml's data files and sent in prediction requests."""

from typing import TypeVar

from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.utils import deserialize as _deserialize
from thriftpy2.utils import serialize as _serialize

_PROTOCOL = TBinaryProtocolFactory()

Struct = TypeVar("Struct")


def serialize(struct: object) -> bytes:
    """The binary-protocol bytes of a Thrift struct (e.g. a DataRecord)."""
    return _serialize(struct, _PROTOCOL)


def deserialize(struct: Struct, data: bytes) -> Struct:
    """Fill `struct` (an empty instance, e.g. ``DataRecord()``) from binary-protocol bytes; returns it."""
    return _deserialize(struct, data, _PROTOCOL)
