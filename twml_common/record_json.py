"""DataRecords as JSON: a record dict (``libtwml._core.decode_data_record``) as JSON-ready values
and back, losslessly, with feature ids named through an optional data spec.

A record's JSON object holds the populated feature types, keyed by feature name (or id):
{"binary": [f, ...], "continuous": {f: 0.5}, "discrete": {f: 3}, "strings": {f: "text"},
 "sparse_binary": {f: ["a", "b"]}, "sparse_continuous": {f: {"a": 1.5}}, "blobs": {f: "base64"},
 "tensors": {f: {"dtype": "float32", "shape": [2], "values": [1.0, 2.0]}}}
Strings and names that are not valid UTF-8 are written as {"base64": "..."}; floats use Python's
shortest round-trip repr, and a float tensor holding a NaN other than the canonical one (a
payload, or the sign bit) is written as "bits": ["0x...", ...] instead of "values"; so
record_from_json(record_to_json(r)) encodes to the same bytes as r. (Continuous values that are
NaN mean "absent" to twml's decoders and are not printed; on input {"float64_bits": "0x..."} gives
a double by its bits.)
"""

import base64
import struct
from typing import Dict, Optional

import numpy as np

from twml_common import data_spec

#: The feature types of a record dict, in the order JSON objects list them.
KINDS = ("binary", "continuous", "discrete", "strings", "sparse_binary", "sparse_continuous", "blobs", "tensors")


class FeatureNames:
    """Feature id <-> name through an optional data spec; unknown ids print as decimal strings."""

    def __init__(self, spec_path: Optional[str]) -> None:
        self.by_id: Dict[int, str] = {}
        if spec_path:
            spec = data_spec.read_data_spec(spec_path)
            self.by_id = {info.featureId: info.fullFeatureName for info in spec.contents}
        self.by_name = {name: id_ for id_, name in self.by_id.items()}

    def name(self, feature_id: int) -> str:
        return self.by_id.get(feature_id, str(feature_id))

    def id(self, name: str, where: str) -> int:
        if name in self.by_name:
            return self.by_name[name]
        try:
            return int(name)
        except ValueError:
            raise ValueError("%s: unknown feature %r (not in the data spec, not an id)" % (where, name)) from None


def _text(value: bytes) -> object:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def _bytes(value: object, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"}:
        return base64.b64decode(value["base64"])
    raise ValueError('%s: expected a string or {"base64": ...}, got %r' % (where, value))


def record_to_json(record: Dict[str, object], names: FeatureNames) -> Dict[str, object]:
    """A decoded record dict (libtwml._core.decode_data_record) as JSON-ready values."""
    out: Dict[str, object] = {}
    for kind, values in record.items():
        if kind == "binary":
            out[kind] = [names.name(i) for i in values]
        elif kind == "continuous":
            out[kind] = {names.name(i): _float_to_json(v) for i, v in values.items()}
        elif kind == "discrete":
            out[kind] = {names.name(i): v for i, v in values.items()}
        elif kind == "strings":
            out[kind] = {names.name(i): _text(v) for i, v in values.items()}
        elif kind == "blobs":
            out[kind] = {names.name(i): base64.b64encode(v).decode("ascii") for i, v in values.items()}
        elif kind == "sparse_binary":
            out[kind] = {names.name(i): [_text(n) for n in v] for i, v in values.items()}
        elif kind == "sparse_continuous":
            out[kind] = {
                names.name(i): [[_text(n), _float_to_json(x)] for n, x in v.items()] for i, v in values.items()
            }
        elif kind == "tensors":
            out[kind] = {names.name(i): _tensor_to_json(t) for i, t in values.items()}
    return out


def _tensor_to_json(tensor: object) -> Dict[str, object]:
    if isinstance(tensor, bytes):
        raise ValueError("raw STRING tensors have no JSON form")
    array = np.asarray(tensor)
    if array.dtype == object:
        return {"dtype": "string", "shape": list(array.shape), "values": [_text(v) for v in array.ravel()]}
    if array.dtype.kind == "f" and _has_odd_nan(array):
        unsigned = np.dtype("u%d" % array.dtype.itemsize)
        return {
            "dtype": str(array.dtype),
            "shape": list(array.shape),
            "bits": ["0x%x" % b for b in array.ravel().view(unsigned).tolist()],
        }
    return {"dtype": str(array.dtype), "shape": list(array.shape), "values": array.ravel().tolist()}


_CANONICAL_NAN_BITS = struct.unpack("<Q", struct.pack("<d", float("nan")))[0]


def _has_odd_nan(array: np.ndarray) -> bool:
    """Whether a float array holds a NaN that JSON's NaN would not give back bit for bit."""
    nans = array[np.isnan(array)]
    canonical = np.array([np.nan], array.dtype).view("u%d" % array.dtype.itemsize)[0]
    return bool(nans.size) and bool(np.any(nans.view("u%d" % array.dtype.itemsize) != canonical))


def _float_to_json(value: float) -> object:
    """A double as JSON: the number, or ``{"float64_bits": "0x..."}`` for a NaN whose bits JSON's
    NaN would not give back."""
    if value != value:
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        if bits != _CANONICAL_NAN_BITS:
            return {"float64_bits": "0x%016x" % bits}
    return value


def _float_from_json(value: object, where: str) -> float:
    if isinstance(value, dict):
        if set(value) != {"float64_bits"}:
            raise ValueError('%s: expected a number or {"float64_bits": "0x..."}, got %r' % (where, value))
        try:
            return struct.unpack("<d", struct.pack("<Q", int(str(value["float64_bits"]), 16)))[0]
        except (ValueError, struct.error):
            raise ValueError("%s: bad float64_bits %r" % (where, value["float64_bits"])) from None
    return float(value)  # type: ignore[arg-type]


def record_from_json(document: Dict[str, object], names: FeatureNames, where: str) -> Dict[str, object]:
    """The inverse of record_to_json: a record dict for libtwml._core.encode_data_record."""
    unknown = set(document) - set(KINDS)
    if unknown:
        raise ValueError("%s: unknown keys %s; expected some of %s" % (where, sorted(unknown), ", ".join(KINDS)))
    record: Dict[str, object] = {}
    for kind, values in document.items():
        at = "%s: %s" % (where, kind)
        if kind == "binary":
            record[kind] = [names.id(n, at) for n in values]
        elif kind == "continuous":
            record[kind] = {names.id(n, at): _float_from_json(v, at) for n, v in values.items()}
        elif kind == "discrete":
            record[kind] = {names.id(n, at): int(v) for n, v in values.items()}
        elif kind == "strings":
            record[kind] = {names.id(n, at): _bytes(v, at) for n, v in values.items()}
        elif kind == "blobs":
            record[kind] = {names.id(n, at): base64.b64decode(v) for n, v in values.items()}
        elif kind == "sparse_binary":
            record[kind] = {names.id(n, at): [_bytes(x, at) for x in v] for n, v in values.items()}
        elif kind == "sparse_continuous":
            record[kind] = {
                names.id(n, at): {_bytes(x, at): _float_from_json(y, at) for x, y in v} for n, v in values.items()
            }
        elif kind == "tensors":
            record[kind] = {names.id(n, at): _tensor_from_json(t, at) for n, t in values.items()}
    return record


def _tensor_from_json(tensor: Dict[str, object], where: str) -> np.ndarray:
    if tensor.get("dtype") == "string":
        values = np.array([_bytes(v, where) for v in tensor["values"]], dtype=object)
    elif "bits" in tensor:
        dtype = np.dtype(tensor["dtype"])
        bits = np.array([int(b, 16) for b in tensor["bits"]], dtype="u%d" % dtype.itemsize)
        values = bits.view(dtype)
    else:
        values = np.array(tensor["values"], dtype=tensor["dtype"])
    return values.reshape(tensor["shape"])
