"""Data specs: the name and type each feature id of a data set stands for.

A data spec is the IDL's FeatureMetaInfoList. On disk it is either that struct in Thrift binary
protocol, or this JSON, which maps one-to-one onto it::

    {"contents": [
      {"featureId": 2086305051125082499, "fullFeatureName": "ebd.has_diff_lang", "featureType": "BINARY"},
      ...
    ]}

featureId is the signed 64-bit feature id of fullFeatureName (twml.feature_id) and featureType
the name of a FeatureType enum value (BINARY, CONTINUOUS, DISCRETE, STRING, SPARSE_BINARY, ...).
"""

import json
import os
from typing import TYPE_CHECKING, Any, Iterable, List, Tuple, Union

import libtwml
from twml_common import idl
from twml_common.atomic_files import write_file_atomically
from twml_common.serialize import serialize

if TYPE_CHECKING:  # thriftpy2 builds the IDL's structs at run time: no static types
    FeatureType = Any
    FeatureMetaInfo = Any
    FeatureMetaInfoList = Any
else:
    FeatureType = idl.data.FeatureType
    FeatureMetaInfo = idl.data.FeatureMetaInfo
    FeatureMetaInfoList = idl.data.FeatureMetaInfoList

#: The feature list of the synthetic light-ranker data (`<name> <FeatureType>` per line).
LIGHT_RANKER_FEATURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "light_ranker_features.txt")


def feature_type(value: Union[str, int], where: str = "") -> int:
    """The FeatureType value of an enum name ('BINARY', case-insensitive) or number."""
    if isinstance(value, int) and value in FeatureType._VALUES_TO_NAMES:
        return value
    if isinstance(value, str) and value.upper() in FeatureType._NAMES_TO_VALUES:
        return FeatureType._NAMES_TO_VALUES[value.upper()]
    raise ValueError(
        "%sunknown feature type %r; expected one of %s"
        % (where, value, ", ".join(sorted(FeatureType._NAMES_TO_VALUES)))
    )


def read_feature_list(path: str) -> List[Tuple[str, str]]:
    """(name, type) pairs of a feature list file: `<full feature name> <FeatureType>` per line,
    '#' starting a comment line (a '#' inside a name belongs to the name).

    Raises:
      OSError: the file cannot be read. ValueError: a malformed line, naming the file and line.
    """
    features = []
    with open(path, encoding="utf-8") as feature_file:
        for line_number, line in enumerate(feature_file, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 2:
                raise ValueError("%s:%d: expected '<feature name> <FeatureType>', got %r" % (path, line_number, line))
            features.append((fields[0], fields[1]))
    return features


def make_data_spec(features: Iterable[Tuple[str, Union[str, int]]]) -> FeatureMetaInfoList:
    """A data spec for (name, type) pairs; ids are computed from the names.

    Raises:
      ValueError: an unknown type, a name given twice, or two names with the same feature id.
    """
    features = list(features)
    names = [name for name, _ in features]
    ids = libtwml.feature_id(names).tolist() if names else []
    seen = {}
    contents = []
    for index, ((name, type_), id_) in enumerate(zip(features, ids)):
        if id_ in seen:
            raise ValueError(
                "feature #%d %r has the id %d of feature #%d %r" % (index, name, id_, seen[id_], names[seen[id_]])
            )
        seen[id_] = index
        contents.append(
            FeatureMetaInfo(featureId=id_, fullFeatureName=name, featureType=feature_type(type_, "%r: " % name))
        )
    return FeatureMetaInfoList(contents=contents)


def to_json(spec: FeatureMetaInfoList) -> str:
    """The JSON text of a data spec (one feature per line)."""
    lines = [
        json.dumps(
            {
                "featureId": info.featureId,
                "fullFeatureName": info.fullFeatureName,
                "featureType": FeatureType._VALUES_TO_NAMES[info.featureType],
            }
        )
        for info in spec.contents or []
    ]
    return '{"contents": [\n  ' + ",\n  ".join(lines) + "\n]}\n"


def from_json(text: str, source: str = "<data spec>") -> FeatureMetaInfoList:
    """Parse and validate a JSON data spec; errors name `source` and the entry."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError("%s: not valid JSON: %s" % (source, error)) from None
    if not isinstance(document, dict) or not isinstance(document.get("contents"), list):
        raise ValueError('%s: expected an object {"contents": [...]}' % source)
    contents = []
    for index, entry in enumerate(document["contents"]):
        where = "%s: contents[%d]: " % (source, index)
        if not isinstance(entry, dict):
            raise ValueError(where + "expected an object")
        missing = {"featureId", "fullFeatureName", "featureType"} - set(entry)
        if missing:
            raise ValueError(where + "missing " + ", ".join(sorted(missing)))
        if not isinstance(entry["featureId"], int) or not -(2**63) <= entry["featureId"] < 2**63:
            raise ValueError(where + "featureId must be a signed 64-bit integer")
        if not isinstance(entry["fullFeatureName"], str):
            raise ValueError(where + "fullFeatureName must be a string")
        contents.append(
            FeatureMetaInfo(
                featureId=entry["featureId"],
                fullFeatureName=entry["fullFeatureName"],
                featureType=feature_type(entry["featureType"], where),
            )
        )
    return FeatureMetaInfoList(contents=contents)


def read_data_spec(path: str) -> FeatureMetaInfoList:
    """Read a data spec file, JSON or a Thrift-serialized FeatureMetaInfoList."""
    with open(path, "rb") as spec_file:
        data = spec_file.read()
    if data.lstrip()[:1] not in (b"{", b"["):  # a JSON document starts so; a Thrift struct cannot
        return from_thrift(data, path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError("%s: JSON that is not valid UTF-8 (byte %d)" % (path, error.start)) from None
    return from_json(text, path)


def from_thrift(data: bytes, source: str = "<data spec>") -> FeatureMetaInfoList:
    """Parse and validate a Thrift-serialized FeatureMetaInfoList.

    The bytes are untrusted: they are decoded by libtwml's bounds-checked core (every declared
    length and count checked against the bytes left, unknown fields skipped), never by a decoder
    that allocates or loops on a declared size.
    """
    try:
        decoded = libtwml.decode_data_spec(bytes(data))
    except ValueError as error:
        raise ValueError("%s: neither JSON nor a valid serialized FeatureMetaInfoList: %s" % (source, error)) from None
    contents = []
    for index, (feature_id, name, type_value) in enumerate(decoded):
        where = "%s: contents[%d]: " % (source, index)
        if feature_id is None or name is None or type_value is None:
            raise ValueError(where + "missing featureId, fullFeatureName or featureType")
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(where + "fullFeatureName is not valid UTF-8 (byte %d)" % error.start) from None
        contents.append(
            FeatureMetaInfo(featureId=feature_id, fullFeatureName=text, featureType=feature_type(type_value, where))
        )
    return FeatureMetaInfoList(contents=contents)


def write_data_spec(spec: FeatureMetaInfoList, path: str, binary: bool = False) -> None:
    """Write a data spec atomically (a temporary file renamed over `path`): JSON, or Thrift if `binary`."""
    write_file_atomically(path, serialize(spec) if binary else to_json(spec).encode("utf-8"))
