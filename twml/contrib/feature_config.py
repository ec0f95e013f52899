"""twml.contrib.feature_config: the v2 FeatureConfig and its builder (reference §12.2).

Where the v1 config hands a model one hashed sparse triplet, the v2 config names its **outputs**::

    config = (
        twml.contrib.feature_config.FeatureConfigBuilder(data_spec_path="data_spec.json")
        .extract_features_as_hashed_sparse([r"ebd\\..*", r"tweet\\..*"], "sparse", hash_space_size_bits=18)
        .extract_feature_group([r"timelines\\..*"], "timelines", "CONTINUOUS", default_value=0.0)
        .extract_feature("user.author_tweepcred", expected_shape=[1], default_value=0.0)
        .add_labels(["recap.engagement.is_favorited"])
        .define_weight("meta.record_weight/type=earlybird")
        .build()
    )
    features, labels = config.get_parse_fn()(serialized)   # features["sparse"] is a SparseTensor

Rules of this implementation (the original's are private):

* Regexes match a feature's **whole** name (``re.fullmatch``). A regex, or a name, matching no
  feature of the data spec (of the filtered types, where there is a type filter) is a ValueError
  naming it and the data spec file; so is an unknown type_filter string.
* Label and weight features are never extracted, even when a regex matches them. Features are in
  data-spec order within an output.
* Output names are unique, and none is ``weights`` (the parse function's weight column).
* Discretizing sparse groups (``discretize_*``) are recorded and exported in the spec, but their
  calibrators arrive with the layers/calibrators issue: ``get_parse_fn`` raises NotImplementedError
  for such a config.
"""

import logging
import math
import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import tensorflow.compat.v1 as tf

from twml.feature_config import DataSpecBuilder

_LOG = logging.getLogger("twml")

#: type_filter strings, in the order of the hashed getter's type lists.
SPARSE_TYPES = ("BINARY", "CONTINUOUS", "DISCRETE", "STRING", "SPARSE_BINARY", "SPARSE_CONTINUOUS")
#: Types a dense output (extract_feature_group / extract_feature(s)) can read, with their dtype and
#: default default value.
DENSE_TYPES = {
    "BINARY": (tf.float32, 0.0),
    "CONTINUOUS": (tf.float32, 0.0),
    "DISCRETE": (tf.int64, 0),
    "STRING": (tf.string, ""),
}
#: discretize_type values of extract_features_as_hashed_sparse.
DISCRETIZE_TYPES = ("percentile", "hashed_percentile", "hashing")

DefaultValue = Union[float, int, str, bytes]


class SparseExtractionConfig(NamedTuple):
    """One ``extract_features_as_hashed_sparse`` output (``FeatureConfig.sparse_extraction_configs``)."""

    output_name: str
    feature_regexes: Tuple[str, ...]
    hash_space_bits: int
    discretize_num_bins: Optional[int]
    discretize_output_size_bits: Optional[int]
    discretize_type: Optional[str]
    type_filter: Tuple[str, ...]
    allow_empty_calibration: bool
    features: Tuple[Tuple[str, int, str], ...] = ()  # (name, feature id, type), resolved by build()


class DenseGroupConfig(NamedTuple):
    """One ``extract_feature_group`` output."""

    output_name: str
    feature_regexes: Tuple[str, ...]
    type_filter: str
    default_value: DefaultValue
    features: Tuple[Tuple[str, int, str], ...] = ()


class DenseFeatureConfig(NamedTuple):
    """One ``extract_feature`` output (``extract_features`` adds one per matched feature)."""

    feature_name: str
    feature_id: int
    feature_type: str
    expected_shape: Tuple[int, ...]
    default_value: DefaultValue


def _check_default(default_value: Any, type_name: str, where: str) -> DefaultValue:
    dtype = DENSE_TYPES[type_name][0]
    if dtype == tf.string:
        if isinstance(default_value, bytes):
            return default_value.decode("utf-8")
        if isinstance(default_value, str):
            return default_value
    elif dtype == tf.int64:
        if isinstance(default_value, int) and not isinstance(default_value, bool):
            return default_value
        if isinstance(default_value, float) and default_value.is_integer():
            return int(default_value)
    elif isinstance(default_value, (int, float)) and not isinstance(default_value, bool):
        return float(default_value)
    raise ValueError("%s: default_value %r does not fit a %s feature" % (where, default_value, type_name))


class FeatureConfig:
    """What a v2 parse function extracts. Built by :class:`FeatureConfigBuilder`.

    Attributes:
      sparse_extraction_configs: list of :class:`SparseExtractionConfig` (hashed sparse outputs).
      dense_group_configs: list of :class:`DenseGroupConfig`; dense_feature_configs: list of
        :class:`DenseFeatureConfig`.
      discretize_config: output name -> calibrator, for discretizing sparse outputs; empty until
        the calibrators exist (see ``sparse_extraction_configs`` for their settings).
      labels: label feature names (label tensor column order); weight: weight name or None;
      filters: always empty (the v2 builder has no filters yet).
      keep_features, keep_codes, label_features, weight_features, filter_features: the int lists
        for ``DecodeDataRecord`` (every extracted feature, code 0).
      features: every extracted feature as (name, feature id, type), data-spec order.
      data_spec_path: the data spec the config came from.
    """

    def __init__(
        self,
        sparse_extraction_configs: Sequence[SparseExtractionConfig],
        dense_group_configs: Sequence[DenseGroupConfig],
        dense_feature_configs: Sequence[DenseFeatureConfig],
        labels: Sequence[str],
        weight: Optional[str],
        name_to_id: Dict[str, int],
        spec_order: Sequence[str],
        data_spec_path: Optional[str] = None,
        decode_mode: int = 0,
    ) -> None:
        self.sparse_extraction_configs = list(sparse_extraction_configs)
        self.dense_group_configs = list(dense_group_configs)
        self.dense_feature_configs = list(dense_feature_configs)
        self.discretize_config: Dict[str, Any] = {}
        self.labels = list(labels)
        self.weight = weight
        self.filters: List[str] = []
        self.decode_mode = decode_mode
        self.data_spec_path = data_spec_path
        self._ids = dict(name_to_id)
        used: Dict[str, Tuple[str, int, str]] = {}
        for group in list(self.sparse_extraction_configs) + list(self.dense_group_configs):
            for entry in group.features:
                used[entry[0]] = entry
        for dense in self.dense_feature_configs:
            used[dense.feature_name] = (dense.feature_name, dense.feature_id, dense.feature_type)
        order = {name: i for i, name in enumerate(spec_order)}
        self.features = sorted(used.values(), key=lambda entry: order.get(entry[0], len(order)))
        self.keep_features = [id_ for _, id_, _ in self.features]
        self.keep_codes = [0] * len(self.keep_features)
        self.label_features = [self._ids[name] for name in self.labels]
        self.weight_features = [self._ids[weight]] if weight is not None else []
        self.filter_features: List[int] = []

    def _name_to_id(self, name: str) -> int:
        return self._ids[name]

    def get_parse_fn(self) -> Callable[[tf.Tensor], Tuple[Dict[str, Any], tf.Tensor]]:
        """A parse function over a batch of serialized DataRecords (``DecodeDataRecord``).

        Returns:
          ``fn(serialized: string [batch]) -> (features, labels)``; features maps:

          * each hashed sparse output name -> ``tf.SparseTensor`` float32, dense_shape
            ``[batch, 2**hash_space_bits]``, indices int64 ``[n, 2]`` = (record,
            ``limit_bits(key, hash_space_bits)``) with the keys of
            ``GetHashedFeaturesAsSparseTensorV2`` (reference §5.1, decode_mode 0), in row-major
            order (a key colliding after masking gives repeated indices);
          * each dense group name -> ``[batch, n_features]`` (float32 for BINARY / CONTINUOUS, int64
            DISCRETE, string STRING), features in data-spec order, ``default_value`` when absent
            (BINARY: 1.0 when present);
          * each dense feature name -> ``[batch] + expected_shape`` of its type's dtype;
          * ``weights`` -> float32 ``[batch, 1]`` (ones without a weight feature).

          labels: float32 ``[batch, n_labels]``, 0.0 for a missing label.

        Raises:
          NotImplementedError: a sparse output asks for discretization (calibrators not yet built).
        """
        discretized = [c.output_name for c in self.sparse_extraction_configs if c.discretize_type is not None]
        if discretized:
            raise NotImplementedError(
                "sparse outputs %s ask for discretization (discretize_*): discretizing calibrators arrive "
                "with the layers/calibrators issue; this config can only be exported (get_feature_spec)"
                % ", ".join(map(repr, discretized))
            )
        import libtwml
        from twml import readers, util

        group_getters = {
            "BINARY": libtwml.ops.get_binary_group_as_tensor,
            "CONTINUOUS": libtwml.ops.get_continuous_group_as_tensor,
            "DISCRETE": libtwml.ops.get_discrete_group_as_tensor,
            "STRING": libtwml.ops.get_string_group_as_tensor,
        }
        getters = {
            "BINARY": libtwml.ops.get_binary_as_tensor,
            "CONTINUOUS": libtwml.ops.get_continuous_as_tensor,
            "DISCRETE": libtwml.ops.get_discrete_as_tensor,
            "STRING": libtwml.ops.get_string_as_tensor,
        }

        def parse(serialized: tf.Tensor) -> Tuple[Dict[str, Any], tf.Tensor]:
            record = readers.DataRecord(serialized, self)
            batch_size = record.batch_size
            features: Dict[str, Any] = {}
            for sparse in self.sparse_extraction_configs:
                by_type: Dict[str, List[int]] = {t.lower() + "_keep_features": [] for t in SPARSE_TYPES}
                for _, id_, type_name in sparse.features:
                    by_type[type_name.lower() + "_keep_features"].append(id_)
                ids, keys, values = libtwml.ops.get_hashed_features_as_sparse_tensor_v2(
                    record.handle,
                    keep_features=[id_ for _, id_, _ in sparse.features],
                    keep_codes=[0] * len(sparse.features),
                    decode_mode=self.decode_mode,
                    **by_type,
                )
                columns = util.limit_bits(keys, sparse.hash_space_bits)
                tensor = tf.SparseTensor(
                    indices=tf.stack([ids, columns], axis=1),
                    values=values,
                    dense_shape=tf.stack([batch_size, tf.constant(1 << sparse.hash_space_bits, tf.int64)]),
                )
                features[sparse.output_name] = tf.sparse.reorder(tensor)
            for group in self.dense_group_configs:
                features[group.output_name] = group_getters[group.type_filter](
                    record.handle,
                    feature_ids=[id_ for _, id_, _ in group.features],
                    default_value=group.default_value,
                )
            for dense in self.dense_feature_configs:
                value = getters[dense.feature_type](
                    record.handle, feature_id=dense.feature_id, default_value=dense.default_value
                )
                features[dense.feature_name] = tf.reshape(value, [-1] + list(dense.expected_shape))
            features["weights"] = record.weights
            return features, record.labels

        return parse

    def get_feature_spec(self) -> Dict[str, Any]:
        """The exported v2 spec: a JSON/YAML-serializable dict (reference §12.2).

        ``{"class": "twml.contrib.FeatureConfig", "format": "exported", "features": {id:
        {"featureName", "featureType"}}, "labels": {id: {"featureName"}}, "weight": {id:
        {"featureName"}}, "tensors": {}, "sparseTensors": {}, "discretizeConfig": {outputName:
        {"numBins", "outputSizeBits", "type", "allowEmptyCalibration"}}, "sparseFeatureGroups":
        [{"features", "outputName", "hashSpaceBits", "discretize": {"numBins", "outputSizeBits",
        "type", "allowEmptyCalibration"} or None, "filterType": [type, ...]}], "denseFeatureGroups":
        [{"features", "outputName", "filterType", "defaultValue"}], "denseFeatures": [{"features",
        "defaultValue", "expectedShape"}], "images": [], "filters": []}``. Ids are the decimal
        strings of the signed 64-bit feature ids; each group's ``features`` is ``{id:
        {"featureName", "featureType"}}`` in data-spec order.
        """

        def feature_dict(entries: Sequence[Tuple[str, int, str]]) -> Dict[str, Dict[str, str]]:
            return {str(id_): {"featureName": name, "featureType": type_name} for name, id_, type_name in entries}

        sparse_groups = []
        discretize_config = {}
        for sparse in self.sparse_extraction_configs:
            discretize = None
            if sparse.discretize_type is not None:
                discretize = {
                    "numBins": sparse.discretize_num_bins,
                    "outputSizeBits": sparse.discretize_output_size_bits,
                    "type": sparse.discretize_type,
                    "allowEmptyCalibration": sparse.allow_empty_calibration,
                }
                discretize_config[sparse.output_name] = dict(discretize)
            sparse_groups.append(
                {
                    "features": feature_dict(sparse.features),
                    "outputName": sparse.output_name,
                    "hashSpaceBits": sparse.hash_space_bits,
                    "discretize": discretize,
                    "filterType": list(sparse.type_filter),
                }
            )
        return {
            "class": "twml.contrib.FeatureConfig",
            "format": "exported",
            "features": feature_dict(self.features),
            "labels": {str(self._ids[name]): {"featureName": name} for name in self.labels},
            "weight": {str(self._ids[self.weight]): {"featureName": self.weight}} if self.weight else {},
            "tensors": {},
            "sparseTensors": {},
            "discretizeConfig": discretize_config,
            "sparseFeatureGroups": sparse_groups,
            "denseFeatureGroups": [
                {
                    "features": feature_dict(group.features),
                    "outputName": group.output_name,
                    "filterType": group.type_filter,
                    "defaultValue": group.default_value,
                }
                for group in self.dense_group_configs
            ],
            "denseFeatures": [
                {
                    "features": feature_dict([(d.feature_name, d.feature_id, d.feature_type)]),
                    "defaultValue": d.default_value,
                    "expectedShape": list(d.expected_shape),
                }
                for d in self.dense_feature_configs
            ],
            "images": [],
            "filters": [],
        }


class FeatureConfigBuilder(DataSpecBuilder):
    """Chainable v2 builder of a :class:`FeatureConfig` over a data spec.

    Args:
      data_spec_path: a data spec file, JSON or a Thrift FeatureMetaInfoList.
      debug: log each extracted feature and its output at INFO level.

    Raises:
      OSError: the file cannot be read. ValueError: it is not a valid data spec.
    """

    def __init__(self, data_spec_path: str, debug: bool = False) -> None:
        super().__init__(data_spec_path, debug)
        self._sparse: List[SparseExtractionConfig] = []
        self._groups: List[DenseGroupConfig] = []
        self._dense: List[DenseFeatureConfig] = []
        self._outputs: List[str] = []

    # -- helpers ---------------------------------------------------------------------------------

    def _regexes(self, feature_regexes: Union[str, Sequence[str]]) -> Tuple[str, ...]:
        if isinstance(feature_regexes, str):
            feature_regexes = [feature_regexes]
        regexes = tuple(feature_regexes)
        if not regexes:
            raise ValueError("feature_regexes is empty")
        for regex in regexes:
            try:
                re.compile(regex)
            except (re.error, TypeError) as error:
                raise ValueError("invalid feature regex %r: %s" % (regex, error)) from None
        return regexes

    def _match(self, regexes: Sequence[str], types: Sequence[str], where: str) -> List[Tuple[str, int, str]]:
        """The data spec's features (data-spec order) matching a regex, of one of ``types``; each
        regex must match at least one such feature."""
        compiled = [re.compile(regex) for regex in regexes]
        for regex, pattern in zip(regexes, compiled):
            names = [name for name, _, type_name in self._spec if pattern.fullmatch(name)]
            if not names:
                raise ValueError(
                    "%s: feature regex '%s' matches no feature of the data spec %s"
                    % (where, regex, self.data_spec_path)
                )
            if not any(self._by_name[name][2] in types for name in names):
                raise ValueError(
                    "%s: feature regex '%s' matches no feature of type %s in the data spec %s (it matches %s)"
                    % (where, regex, "/".join(types), self.data_spec_path, ", ".join(names[:5]))
                )
        return [
            entry for entry in self._spec if entry[2] in types and any(p.fullmatch(entry[0]) for p in compiled)
        ]

    def _add_output(self, name: str, what: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("%s name must be a non-empty string, not %r" % (what, name))
        if name == "weights":
            raise ValueError("%s name 'weights' is reserved for the weight column" % what)
        if name in self._outputs:
            raise ValueError("output name %r is used twice" % name)
        self._outputs.append(name)

    # -- extraction ------------------------------------------------------------------------------

    def extract_feature_group(
        self,
        feature_regexes: Union[str, Sequence[str]],
        group_name: str,
        type_filter: str,
        default_value: DefaultValue,
    ) -> "FeatureConfigBuilder":
        """A dense ``[batch, n]`` output ``group_name`` of the features of type ``type_filter``
        matching the regexes (``Get{Binary,Continuous,Discrete,String}GroupAsTensor``).

        Args:
          type_filter: BINARY, CONTINUOUS (float32 output), DISCRETE (int64) or STRING (string).
          default_value: the value of an absent feature (of the output's dtype).

        Raises:
          ValueError: a bad type_filter / default value / name, or a regex matching no feature of
            that type.
        """
        if type_filter not in DENSE_TYPES:
            raise ValueError(
                "extract_feature_group %r: type_filter %r is not one of %s"
                % (group_name, type_filter, ", ".join(DENSE_TYPES))
            )
        where = "extract_feature_group %r" % (group_name,)
        regexes = self._regexes(feature_regexes)
        default_value = _check_default(default_value, type_filter, where)
        self._match(regexes, [type_filter], where)
        self._add_output(group_name, "group")
        self._groups.append(DenseGroupConfig(group_name, regexes, type_filter, default_value))
        return self

    def extract_features_as_hashed_sparse(
        self,
        feature_regexes: Union[str, Sequence[str]],
        output_tensor_name: str,
        hash_space_size_bits: int,
        discretize_num_bins: Optional[int] = None,
        discretize_output_size_bits: Optional[int] = None,
        discretize_type: Optional[str] = None,
        type_filter: Sequence[str] = SPARSE_TYPES,
        allow_empty_calibration: bool = False,
    ) -> "FeatureConfigBuilder":
        """A hashed ``tf.SparseTensor`` output ``[batch, 2**hash_space_size_bits]`` (float32) of the
        features matching the regexes whose type is in ``type_filter``.

        Args:
          hash_space_size_bits: 1..63; columns are the low bits of the hashed keys.
          discretize_num_bins, discretize_output_size_bits, discretize_type: a discretizing
            calibrator for the output's continuous features ('percentile', 'hashed_percentile' or
            'hashing'); all three or none. Recorded and exported, but not yet parsed (see
            :meth:`FeatureConfig.get_parse_fn`).
          type_filter: among BINARY, CONTINUOUS, DISCRETE, STRING, SPARSE_BINARY, SPARSE_CONTINUOUS.
          allow_empty_calibration: passed to the calibrator.

        Raises:
          ValueError: bad bits / types / discretize options / output name, or a regex matching no
            feature of the filtered types.
        """
        where = "extract_features_as_hashed_sparse %r" % (output_tensor_name,)
        if isinstance(type_filter, str):
            type_filter = [type_filter]
        bad = [t for t in type_filter if t not in SPARSE_TYPES]
        if bad or not type_filter:
            raise ValueError(
                "%s: type_filter %r: expected a non-empty list among %s"
                % (where, list(type_filter), ", ".join(SPARSE_TYPES))
            )
        bits = hash_space_size_bits
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 63:
            raise ValueError("%s: hash_space_size_bits must be an int in [1, 63], not %r" % (where, bits))
        options = (discretize_num_bins, discretize_output_size_bits, discretize_type)
        if any(o is not None for o in options):
            if any(o is None for o in options):
                raise ValueError(
                    "%s: discretize_num_bins, discretize_output_size_bits and discretize_type go together" % where
                )
            if discretize_type not in DISCRETIZE_TYPES:
                raise ValueError(
                    "%s: discretize_type %r is not one of %s" % (where, discretize_type, ", ".join(DISCRETIZE_TYPES))
                )
            for option, value in (
                ("discretize_num_bins", discretize_num_bins),
                ("discretize_output_size_bits", discretize_output_size_bits),
            ):
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ValueError("%s: %s must be a positive int, not %r" % (where, option, value))
        regexes = self._regexes(feature_regexes)
        types = tuple(t for t in SPARSE_TYPES if t in type_filter)
        self._match(regexes, types, where)
        self._add_output(output_tensor_name, "output_tensor")
        self._sparse.append(
            SparseExtractionConfig(
                output_tensor_name,
                regexes,
                hash_space_size_bits,
                discretize_num_bins,
                discretize_output_size_bits,
                discretize_type,
                types,
                bool(allow_empty_calibration),
            )
        )
        return self

    def extract_feature(
        self, feature_name: str, expected_shape: Sequence[int] = (), default_value: Optional[DefaultValue] = None
    ) -> "FeatureConfigBuilder":
        """A dense output, keyed by the feature's name, of one BINARY / CONTINUOUS / DISCRETE /
        STRING feature (``Get*AsTensor``): ``[batch] + expected_shape``.

        Args:
          expected_shape: the shape of one record's value: ``[]`` or ``[1]`` (one scalar per record).
          default_value: the value when a record lacks the feature; None for the type's zero.

        Raises:
          ValueError: a name absent from the data spec, a type without a dense getter, a shape
            that is not one scalar, a bad default value, or a name already extracted.
        """
        name, id_, type_name = self._check_name(feature_name, "extract_feature: feature")
        if type_name not in DENSE_TYPES:
            raise ValueError(
                "extract_feature: feature %r of the data spec %s has type %s; expected one of %s"
                % (name, self.data_spec_path, type_name, ", ".join(DENSE_TYPES))
            )
        shape = tuple(int(d) for d in expected_shape)
        if math.prod(shape) != 1:
            raise ValueError(
                "extract_feature %r: expected_shape %r does not hold one scalar per record" % (name, list(shape))
            )
        if default_value is None:
            default_value = DENSE_TYPES[type_name][1]
        default_value = _check_default(default_value, type_name, "extract_feature %r" % name)
        self._add_output(name, "feature")
        self._dense.append(DenseFeatureConfig(name, id_, type_name, shape, default_value))
        return self

    def extract_features(
        self, feature_regexes: Union[str, Sequence[str]], default_value_map: Optional[Dict[str, DefaultValue]] = None
    ) -> "FeatureConfigBuilder":
        """``extract_feature(name, [], default)`` for every BINARY / CONTINUOUS / DISCRETE / STRING
        feature matching the regexes: one ``[batch]`` output per feature, keyed by its name.

        Args:
          default_value_map: default values by feature name, or by type name (``"CONTINUOUS"``,
            ...); a feature name wins. Missing: the type's zero.

        Raises:
          ValueError: a regex matching no feature of those types (or as ``extract_feature``).
        """
        default_value_map = dict(default_value_map or {})
        regexes = self._regexes(feature_regexes)
        for name, _, type_name in self._match(regexes, list(DENSE_TYPES), "extract_features"):
            default = default_value_map.get(name, default_value_map.get(type_name, DENSE_TYPES[type_name][1]))
            self.extract_feature(name, (), default)
        return self

    def build(self) -> FeatureConfig:
        """The FeatureConfig, with each output's features resolved (labels and weight left out).

        Raises:
          ValueError: a feature is both a label and the weight; an explicitly extracted feature
            is a label or the weight; an output is left with no feature once labels and weight
            are removed.
        """
        if self._weight is not None and self._weight in self._labels:
            raise ValueError("%r is both a label and the weight" % self._weight)
        reserved = set(self._labels) | ({self._weight} if self._weight else set())
        for dense in self._dense:
            if dense.feature_name in reserved:
                raise ValueError("extract_feature %r: the feature is a label or the weight" % dense.feature_name)

        def resolve(regexes: Sequence[str], types: Sequence[str], output: str) -> Tuple[Tuple[str, int, str], ...]:
            entries = tuple(e for e in self._match(regexes, types, output) if e[0] not in reserved)
            if not entries:
                raise ValueError("output %r has no feature left once labels and weight are removed" % output)
            if self.debug:
                for name, _, type_name in entries:
                    _LOG.info("twml.contrib.FeatureConfigBuilder: %s (%s) -> %r", name, type_name, output)
            return entries

        sparse = [s._replace(features=resolve(s.feature_regexes, s.type_filter, s.output_name)) for s in self._sparse]
        groups = [g._replace(features=resolve(g.feature_regexes, [g.type_filter], g.output_name)) for g in self._groups]
        return FeatureConfig(
            sparse_extraction_configs=sparse,
            dense_group_configs=groups,
            dense_feature_configs=self._dense,
            labels=self._labels,
            weight=self._weight,
            name_to_id={name: id_ for name, id_, _ in self._spec},
            spec_order=[name for name, _, _ in self._spec],
            data_spec_path=self.data_spec_path,
            decode_mode=self.decode_mode,
        )
