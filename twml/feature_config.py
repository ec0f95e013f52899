"""twml.FeatureConfig and its v1 builder: which DataRecord features a model reads, and how.

A feature config is built from a **data spec** (the data set's FeatureMetaInfoList, JSON or
Thrift, see ``twml_common.data_spec``) by naming features with regexes::

    config = (
        twml.FeatureConfigBuilder(data_spec_path="data_spec.json")
        .batch_add_features([(r"ebd\\..*", "A"), (r"encoded_tweet_features\\..*", "B")])
        .add_labels(["recap.engagement.is_favorited", "recap.engagement.is_replied"])
        .define_weight("meta.record_weight/type=earlybird")
        .build()
    )

Rules of this implementation (the original's are private):

* A regex must match a feature's **whole** name (``re.fullmatch``). A regex that matches no name of
  the data spec, or a label / weight / filter name absent from it, is a ValueError naming it and
  the data spec file.
* When several regexes match one name, the **first** one added gives its group.
* Label, weight and filter features are never kept features, even when a regex matches them: the
  decode ops only read labels and weights from features outside the keep map (reference §2.6).
* **Group → code.** The decode ops tag each kept feature with an int64 ``code`` (``keep_codes``).
  A group is a single letter or a non-negative int: ``"A"``..``"Z"`` map to 0..25, ``"a"``..``"z"``
  to 26..51, and an int ``n`` is the code ``n`` itself. Anything else is a ValueError.
"""

import logging
import re
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import libtwml
from twml import parsers
from twml_common import data_spec as _data_spec

Group = Union[str, int]

_LOG = logging.getLogger("twml")


def group_code(group: Group) -> int:
    """The int64 keep code of a feature group: "A".."Z" -> 0..25, "a".."z" -> 26..51, int n -> n.

    Raises:
      ValueError: the group is neither a single ASCII letter nor a non-negative int.
    """
    if isinstance(group, int) and not isinstance(group, bool) and 0 <= group < 2**63:
        return group
    if isinstance(group, str) and len(group) == 1 and "A" <= group <= "Z":
        return ord(group) - ord("A")
    if isinstance(group, str) and len(group) == 1 and "a" <= group <= "z":
        return 26 + ord(group) - ord("a")
    raise ValueError("feature group %r: expected a single letter A-Z / a-z or a non-negative int" % (group,))


def _dtype_name(dtype: Any) -> str:
    return getattr(dtype, "name", str(dtype))


class FeatureInfo(NamedTuple):
    """One kept feature: its name, id (reference §3), group, keep code and FeatureType name."""

    name: str
    feature_id: int
    group: Group
    code: int
    feature_type: str


class FeatureConfig:
    """What a v1 parse function decodes: kept features with their groups, labels, weight, filters.

    Built by :class:`FeatureConfigBuilder`; the arguments mirror the original's constructor.

    Attributes:
      features: list of :class:`FeatureInfo`, in data-spec order.
      labels: label feature names; the label tensor's columns follow this order.
      weight: the weight feature name, or None.
      filters: filter feature names (a record passes when it has every filter feature).
      tensor_types: tensor feature name -> (dtype, shape), read by
        ``twml.parsers.get_tensor_parse_fn``; sparse_tensor_types: sparse tensor names (exported
        in the spec only).
      decode_mode: 0 (sparse-continuous keys = feature_id(value name)) or 1 (mixed with the id).
      keep_features, keep_codes: int lists for the decode ops' attrs of the same names.
      label_features, weight_features, filter_features: feature-id lists.
      data_spec_path: the data spec the config came from.
    """

    def __init__(
        self,
        features: Sequence[FeatureInfo],
        labels: Sequence[str],
        weight: Optional[str],
        filters: Sequence[str],
        tensor_types: Optional[Dict[str, Tuple[Any, Sequence[int]]]] = None,
        sparse_tensor_types: Optional[Dict[str, Any]] = None,
        feature_types: Optional[Dict[str, str]] = None,
        decode_mode: int = 0,
        legacy_sparse: bool = False,
        feature_name_to_feature_parser: Optional[Dict[str, Any]] = None,
        feature_in_bq_name: Optional[Dict[str, Any]] = None,
        name_to_id: Optional[Dict[str, int]] = None,
        data_spec_path: Optional[str] = None,
    ) -> None:
        if decode_mode not in (0, 1):
            raise ValueError("decode_mode must be 0 or 1, not %r" % (decode_mode,))
        self.features = list(features)
        self.labels = list(labels)
        self.weight = weight
        self.filters = list(filters)
        self.tensor_types = dict(tensor_types or {})
        self.sparse_tensor_types = dict(sparse_tensor_types or {})
        self.feature_types = dict(feature_types or {})
        self.decode_mode = decode_mode
        self.legacy_sparse = legacy_sparse
        self.feature_name_to_feature_parser = dict(feature_name_to_feature_parser or {})
        self.feature_in_bq_name = dict(feature_in_bq_name or {})
        self.data_spec_path = data_spec_path
        self._ids = dict(name_to_id or {})
        for info in self.features:
            self._ids.setdefault(info.name, info.feature_id)
        self.keep_features = [info.feature_id for info in self.features]
        self.keep_codes = [info.code for info in self.features]
        self.label_features = [self.feature_id_of(name) for name in self.labels]
        self.weight_features = [self.feature_id_of(weight)] if weight is not None else []
        self.filter_features = [self.feature_id_of(name) for name in self.filters]

    def feature_id_of(self, name: str) -> int:
        """The feature id of a feature of this config (a label, the weight, a kept feature): the data
        spec's id of the name, computed by the §3 hash when the name is not in it."""
        if name not in self._ids:
            self._ids[name] = int(libtwml.feature_id(name)[0])
        return self._ids[name]

    def get_parse_fn(self, keep_fields: Optional[Sequence[str]] = None) -> Callable:
        """``twml.parsers.get_sparse_parse_fn(self, keep_fields)``: serialized [batch] string ->
        (features, labels)."""
        return parsers.get_sparse_parse_fn(self, keep_fields)

    def get_serving_input_receiver_fn(self, keep_fields: Optional[Sequence[str]] = None) -> Callable:
        """``twml.parsers.get_sparse_serving_input_receiver_fn(self, keep_fields)``."""
        return parsers.get_sparse_serving_input_receiver_fn(self, keep_fields)

    def get_feature_spec(self) -> Dict[str, Any]:
        """The exported v1 spec: a JSON-serializable dict.

        ``{"class": "twml.FeatureConfig", "format": "exported", "features": {id: {"featureName",
        "featureGroup", "featureType"}}, "labels": {id: {"featureName"}}, "weight": {id:
        {"featureName"}}, "tensors": {}, "sparse_tensors": {}, "filters": [name, ...]}``; ids are
        the decimal strings of the signed 64-bit feature ids (JSON object keys are strings).
        """
        return {
            "class": "twml.FeatureConfig",
            "format": "exported",
            "features": {
                str(info.feature_id): {
                    "featureName": info.name,
                    "featureGroup": info.group,
                    "featureType": info.feature_type,
                }
                for info in self.features
            },
            "labels": {str(self.feature_id_of(name)): {"featureName": name} for name in self.labels},
            "weight": {str(self.feature_id_of(self.weight)): {"featureName": self.weight}} if self.weight else {},
            "tensors": {
                str(self.feature_id_of(name)): {
                    "featureName": name,
                    "dtype": _dtype_name(dtype),
                    "shape": [int(d) for d in shape],
                }
                for name, (dtype, shape) in self.tensor_types.items()
            },
            "sparse_tensors": {
                str(self.feature_id_of(name)): {"featureName": name} for name in self.sparse_tensor_types
            },
            "filters": list(self.filters),
        }


class DataSpecBuilder:
    """What both feature-config builders (v1 here, v2 in twml.contrib) share: the data spec,
    exact-name lookups, labels and the weight.

    Args:
      data_spec_path: a data spec file, JSON or a Thrift FeatureMetaInfoList.
      debug: log each matched feature at INFO level.

    Raises:
      OSError: the file cannot be read. ValueError: it is not a valid data spec.
    """

    def __init__(self, data_spec_path: str, debug: bool = False) -> None:
        self.data_spec_path = data_spec_path
        self.debug = debug
        try:
            spec = _data_spec.read_data_spec(data_spec_path)
        except ValueError as error:
            raise ValueError("malformed data spec: %s" % error) from None
        # (name, feature id, FeatureType name) of every feature, in data-spec order.
        self._spec: List[Tuple[str, int, str]] = []
        for info in spec.contents or []:
            type_name = _data_spec.FeatureType._VALUES_TO_NAMES.get(info.featureType, str(info.featureType))
            self._spec.append((info.fullFeatureName, int(info.featureId), type_name))
        self._by_name = {entry[0]: entry for entry in self._spec}
        self._name_to_id = {name: id_ for name, id_, _ in self._spec}
        self._labels: List[str] = []
        self._weight: Optional[str] = None
        self.decode_mode = 0

    def _check_name(self, name: str, what: str) -> Tuple[str, int, str]:
        """The data-spec entry of an exact feature name; a ValueError naming it otherwise."""
        if not isinstance(name, str):
            raise ValueError("%s name must be a string, not %r" % (what, name))
        if name not in self._by_name:
            raise ValueError("%s %r is not a feature of the data spec %s" % (what, name, self.data_spec_path))
        return self._by_name[name]

    def add_labels(self, names: Union[str, Sequence[str]]) -> "DataSpecBuilder":
        """Label features (exact names); the label tensor's columns follow this order.

        Raises:
          ValueError: a name is not in the data spec, or is already a label.
        """
        if isinstance(names, str):
            names = [names]
        for name in names:
            self._check_name(name, "label")
            if name in self._labels:
                raise ValueError("label %r added twice" % name)
            self._labels.append(name)
        return self

    def define_weight(self, name: str) -> "DataSpecBuilder":
        """The sample-weight feature (an exact name; a continuous feature).

        Raises:
          ValueError: the name is not in the data spec.
        """
        self._check_name(name, "weight")
        self._weight = name
        return self


class FeatureConfigBuilder(DataSpecBuilder):
    """Chainable v1 builder of a :class:`FeatureConfig` over a data spec.

    Args:
      data_spec_path: a data spec file, JSON or a Thrift FeatureMetaInfoList.
      debug: log each matched feature and its group at INFO level.

    Raises:
      OSError: the file cannot be read. ValueError: it is not a valid data spec.
    """

    def __init__(self, data_spec_path: str, debug: bool = False) -> None:
        super().__init__(data_spec_path, debug)
        self._feature_regexes: List[Tuple[str, Group, int]] = []
        self._filters: List[str] = []

    def add_feature(self, regex: str, group: Group) -> "FeatureConfigBuilder":
        """Keep the features whose whole name matches ``regex``, with group ``group``.

        Raises:
          ValueError: an invalid regex, one matching no feature of the data spec, or a bad group.
        """
        try:
            pattern = re.compile(regex)
        except (re.error, TypeError) as error:
            raise ValueError("invalid feature regex %r: %s" % (regex, error)) from None
        code = group_code(group)
        if not any(pattern.fullmatch(name) for name, _, _ in self._spec):
            raise ValueError("feature regex '%s' matches no feature of the data spec %s" % (regex, self.data_spec_path))
        self._feature_regexes.append((regex, group, code))
        return self

    def batch_add_features(self, regexes_and_groups: Iterable[Tuple[str, Group]]) -> "FeatureConfigBuilder":
        """``add_feature`` for each ``(regex, group)`` pair, in order."""
        for regex, group in regexes_and_groups:
            self.add_feature(regex, group)
        return self

    def add_filter(self, name: str) -> "FeatureConfigBuilder":
        """A filter feature: ``apply_filter`` keeps only the records that have it.

        Raises:
          ValueError: the name is not in the data spec.
        """
        self._check_name(name, "filter")
        if name not in self._filters:
            self._filters.append(name)
        return self

    def build(self) -> FeatureConfig:
        """The FeatureConfig: kept features in data-spec order, first matching regex's group.

        Raises:
          ValueError: a feature is both a label and the weight.
        """
        if self._weight is not None and self._weight in self._labels:
            raise ValueError("%r is both a label and the weight" % self._weight)
        reserved = set(self._labels) | set(self._filters) | ({self._weight} if self._weight else set())
        compiled = [(re.compile(regex), group, code) for regex, group, code in self._feature_regexes]
        features = []
        for name, id_, type_name in self._spec:
            if name in reserved:
                continue
            for pattern, group, code in compiled:
                if pattern.fullmatch(name):
                    features.append(FeatureInfo(name, id_, group, code, type_name))
                    if self.debug:
                        _LOG.info("twml.FeatureConfigBuilder: %s (%s) -> group %r", name, type_name, group)
                    break
        return FeatureConfig(
            features=features,
            labels=self._labels,
            weight=self._weight,
            filters=self._filters,
            feature_types={name: type_name for name, _, type_name in self._spec},
            decode_mode=self.decode_mode,
            name_to_id=self._name_to_id,
            data_spec_path=self.data_spec_path,
        )
