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
* A discretizing sparse output (``discretize_*``) is parsed like any other: the parse output
  carries the **raw** hashed SparseTensor. ``FeatureConfig.discretize_config`` maps its name to a
  fresh calibrator ('percentile' -> ``PercentileDiscretizerCalibrator``, 'hashed_percentile' ->
  ``HashedPercentileDiscretizerCalibrator``, 'hashing' -> ``HashingDiscretizerCalibrator``, with
  ``n_bin = discretize_num_bins``, ``out_bits = discretize_output_size_bits``), fitted on those
  raw outputs (columns = the masked hashed keys) by
  ``twml.contrib.calibrators.discretize.discretize``, which exports one hub module with a
  signature per output name; the model applies it:
  ``hub.Module(params.discretizer_save_dir)(features[name], signature=name)``.
* Tensor features (``extract_tensors``; data-spec type TENSOR) are decoded from the record's
  GeneralTensors with ``GetTensors[WithMissingMask]FromDataRecord``: the output dtype is chosen by
  the caller, the element type the record stores is read at run time and cast to it (a
  FloatTensor, stored as doubles, decodes exactly). With a ``shape`` each record's tensor must
  have that shape and missing ones read as ``default_value``; without one every record must hold
  the tensor, all of one shape (the output then has a dynamic shape).
* Images (``extract_image``) are encoded bytes (JPEG / PNG / GIF / BMP, ``tf.io.decode_image``) in a
  STRING feature or a one-string TENSOR feature; every image of a batch must have the same size.
"""

import base64
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


class TensorConfig(NamedTuple):
    """One ``extract_tensors`` output (``FeatureConfig.tensor_configs``), keyed by feature name."""

    feature_name: str
    feature_id: int
    dtype: tf.DType
    shape: Optional[Tuple[int, ...]]  # one record's shape; None: read from the records
    default_value: Union[int, float, bool]


class ImageConfig(NamedTuple):
    """One ``extract_image`` output (``FeatureConfig.image_configs``), keyed by feature name."""

    feature_name: str
    feature_id: int
    feature_type: str  # STRING or TENSOR
    preprocess: bool
    out_type: tf.DType
    channels: int
    default_image: Optional[bytes]


#: The original's names of these records (its private v2 feature-config module's named tuples).
FeatureGroupExtractionConfig = DenseGroupConfig
TensorExtractionConfig = DenseFeatureConfig
ImageExtractionConfig = ImageConfig

#: Element types a tensor feature can be decoded to (and stored as), by the core's type names.
TENSOR_DTYPES = ("float32", "float64", "int32", "int64", "int8", "uint8", "bool")
#: Output types of extract_image.
IMAGE_OUT_TYPES = ("uint8", "uint16", "float16", "float32", "float64")


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


def _parse_tensor(handle: tf.Tensor, config: TensorConfig) -> tf.Tensor:
    """The dense tensor output of a TensorConfig (see ``FeatureConfig.get_parse_fn``)."""
    import libtwml

    name = config.feature_name
    found = None
    if config.shape is None:
        rows, out_shape, out_type, endian = libtwml.ops.get_tensors_from_data_record(
            handle, assert_shape=True, feature_id=config.feature_id
        )
        elements = 0
    else:
        # dtype_size is irrelevant: missing rows are refilled below at the stored type's size.
        rows, out_type, endian, found = libtwml.ops.get_tensors_with_missing_mask_from_data_record(
            handle, assert_shape=True, feature_id=config.feature_id, default_shape=list(config.shape), dtype_size=1
        )
        elements = math.prod(config.shape)

    def decode(stored: tf.DType) -> Callable[[], tf.Tensor]:
        def fn() -> tf.Tensor:
            current = rows
            if found is not None:
                filler = tf.fill(tf.shape(rows), tf.constant(b"\0" * (elements * stored.size)))
                current = tf.where(found, rows, filler)
            decoded = tf.cond(
                tf.equal(endian, 1),
                lambda: tf.io.decode_raw(current, stored, little_endian=False),
                lambda: tf.io.decode_raw(current, stored, little_endian=True),
            )
            return tf.reshape(tf.cast(decoded, config.dtype), tf.stack([tf.size(rows), elements or -1]))

        return fn

    def unknown() -> tf.Tensor:
        # "" = no record holds the tensor (only possible with a shape, or an empty batch).
        check = tf.Assert(
            tf.equal(out_type, ""),
            ["tensor feature %s (%d) holds an element type extract_tensors cannot decode:" % (name, config.feature_id),
             out_type],
        )
        with tf.control_dependencies([check]):
            return tf.zeros(tf.stack([tf.size(rows), elements]), config.dtype)

    decoded = tf.case(
        [(tf.equal(out_type, type_name), decode(tf.as_dtype(type_name))) for type_name in TENSOR_DTYPES],
        default=unknown,
        exclusive=True,
    )
    if config.shape is None:
        return tf.reshape(decoded, out_shape)
    if config.default_value:
        default = tf.cast(tf.constant(config.default_value), config.dtype)
        decoded = tf.where_v2(tf.expand_dims(found, 1), decoded, default)
    return tf.reshape(decoded, [-1] + list(config.shape))


def _parse_image(handle: tf.Tensor, batch_size: tf.Tensor, config: ImageConfig) -> tf.Tensor:
    """The ``[batch, height, width, channels]`` output of an ImageConfig."""
    import libtwml

    default = config.default_image if config.default_image is not None else b""
    if config.feature_type == "STRING":
        encoded = libtwml.ops.get_string_as_tensor(handle, feature_id=config.feature_id, default_value=default)
    else:
        ids, strings = libtwml.ops.get_string_tensors_from_data_record(handle, feature_id=config.feature_id)
        batch = tf.reshape(tf.cast(batch_size, tf.int64), [1])
        encoded = tf.tensor_scatter_nd_update(tf.fill(batch, tf.constant(default)), tf.expand_dims(ids, 1), strings)
    if config.default_image is None:
        check = tf.debugging.assert_greater(
            tf.strings.length(encoded),
            0,
            message="a record lacks the image feature %s and extract_image has no default_image" % config.feature_name,
        )
        with tf.control_dependencies([check]):
            encoded = tf.identity(encoded)

    def decode(data: tf.Tensor) -> tf.Tensor:
        return tf.io.decode_image(data, channels=config.channels, dtype=tf.uint8, expand_animations=False)

    images = tf.map_fn(decode, encoded, fn_output_signature=tf.TensorSpec([None, None, config.channels], tf.uint8))
    images.set_shape([None, None, None, config.channels])
    if config.preprocess:
        return tf.image.convert_image_dtype(images, config.out_type)
    return tf.cast(images, config.out_type)


def _make_calibrator(config: SparseExtractionConfig) -> Any:
    """A fresh calibrator for a discretizing sparse output (its signature name is the output name)."""
    from twml.contrib import calibrators

    classes = {
        "percentile": calibrators.PercentileDiscretizerCalibrator,
        "hashed_percentile": calibrators.HashedPercentileDiscretizerCalibrator,
        "hashing": calibrators.HashingDiscretizerCalibrator,
    }
    return classes[config.discretize_type](
        config.discretize_num_bins,
        config.discretize_output_size_bits,
        allow_empty_calibration=config.allow_empty_calibration,
        calibrator_name=config.output_name,
    )


def extract_v2_features(record: Any, config: "FeatureConfig") -> Dict[str, Any]:
    """The v2 feature dict of a decoded batch (see :meth:`FeatureConfig.get_parse_fn`).

    Args:
      record: a decoded ``twml.readers.DataRecord`` / ``BatchPredictionRequest`` of ``config``.
      config: the v2 FeatureConfig.

    Returns:
      dict output name -> tensor (hashed sparse outputs, dense groups, dense features, tensors,
      images) plus ``weights`` float32 ``[batch, 1]``.
    """
    import libtwml
    from twml import util

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
    batch_size = record.batch_size
    features: Dict[str, Any] = {}
    for sparse in config.sparse_extraction_configs:
        by_type: Dict[str, List[int]] = {t.lower() + "_keep_features": [] for t in SPARSE_TYPES}
        for _, id_, type_name in sparse.features:
            by_type[type_name.lower() + "_keep_features"].append(id_)
        ids, keys, values = libtwml.ops.get_hashed_features_as_sparse_tensor_v2(
            record.handle,
            keep_features=[id_ for _, id_, _ in sparse.features],
            keep_codes=[0] * len(sparse.features),
            decode_mode=config.decode_mode,
            **by_type,
        )
        columns = util.limit_bits(keys, sparse.hash_space_bits)
        tensor = tf.SparseTensor(
            indices=tf.stack([ids, columns], axis=1),
            values=values,
            dense_shape=tf.stack([batch_size, tf.constant(1 << sparse.hash_space_bits, tf.int64)]),
        )
        features[sparse.output_name] = tf.sparse.reorder(tensor)
    for group in config.dense_group_configs:
        value = group_getters[group.type_filter](
            record.handle,
            feature_ids=[id_ for _, id_, _ in group.features],
            default_value=group.default_value,
        )
        value.set_shape([None, len(group.features)])
        features[group.output_name] = value
    for dense in config.dense_feature_configs:
        value = getters[dense.feature_type](
            record.handle, feature_id=dense.feature_id, default_value=dense.default_value
        )
        features[dense.feature_name] = tf.reshape(value, [-1] + list(dense.expected_shape))
    for tensor_config in config.tensor_configs:
        features[tensor_config.feature_name] = _parse_tensor(record.handle, tensor_config)
    for image in config.image_configs:
        features[image.feature_name] = _parse_image(record.handle, batch_size, image)
    features["weights"] = record.weights
    return features


class FeatureConfig:
    """What a v2 parse function extracts. Built by :class:`FeatureConfigBuilder`.

    Attributes:
      sparse_extraction_configs: list of :class:`SparseExtractionConfig` (hashed sparse outputs).
      dense_group_configs: list of :class:`DenseGroupConfig`; dense_feature_configs: list of
        :class:`DenseFeatureConfig`.
      tensor_configs: list of :class:`TensorConfig`; image_configs: list of :class:`ImageConfig`.
      discretize_config: output name -> a fresh (uncalibrated) calibrator for each discretizing
        sparse output (see the module docstring); fitted by
        ``twml.contrib.calibrators.discretize.discretize``.
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
        tensor_configs: Sequence[TensorConfig] = (),
        image_configs: Sequence[ImageConfig] = (),
    ) -> None:
        self.sparse_extraction_configs = list(sparse_extraction_configs)
        self.dense_group_configs = list(dense_group_configs)
        self.dense_feature_configs = list(dense_feature_configs)
        self.tensor_configs = list(tensor_configs)
        self.image_configs = list(image_configs)
        self.discretize_config: Dict[str, Any] = {
            c.output_name: _make_calibrator(c) for c in self.sparse_extraction_configs if c.discretize_type is not None
        }
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

    def __getitem__(self, key: str) -> Any:
        """Attribute access by name, so ``feature_config()['discretize_config']`` reads as in the
        original's calibration flow.

        Raises:
          KeyError: not a public attribute.
        """
        if not isinstance(key, str) or key.startswith("_") or not hasattr(self, key):
            raise KeyError(key)
        return getattr(self, key)

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
          * each tensor feature name -> ``dtype`` ``[batch] + shape`` (the stored elements cast to
            ``dtype``; ``default_value`` everywhere in a record lacking the tensor), or without a
            shape ``[batch] + the records' shape`` (dynamic; every record must hold it);
          * each image feature name -> ``out_type`` ``[batch, height, width, channels]``;
          * ``weights`` -> float32 ``[batch, 1]`` (ones without a weight feature).

          A discretizing sparse output is the raw hashed SparseTensor, like any other.
          labels: float32 ``[batch, n_labels]``, 0.0 for a missing label.
        """
        from twml import readers

        def parse(serialized: tf.Tensor) -> Tuple[Dict[str, Any], tf.Tensor]:
            record = readers.DataRecord(serialized, self)
            return extract_v2_features(record, self), record.labels

        return parse

    def get_feature_spec(self) -> Dict[str, Any]:
        """The exported v2 spec: a JSON/YAML-serializable dict (reference §12.2).

        ``{"class": "twml.contrib.FeatureConfig", "format": "exported", "features": {id:
        {"featureName", "featureType"}}, "labels": {id: {"featureName"}}, "weight": {id:
        {"featureName"}}, "tensors": {id: {"featureName", "dtype", "shape" (list or None),
        "defaultValue"}}, "sparseTensors": {}, "discretizeConfig": {outputName:
        {"numBins", "outputSizeBits", "type", "allowEmptyCalibration"}}, "sparseFeatureGroups":
        [{"features", "outputName", "hashSpaceBits", "discretize": {"numBins", "outputSizeBits",
        "type", "allowEmptyCalibration"} or None, "filterType": [type, ...]}], "denseFeatureGroups":
        [{"features", "outputName", "filterType", "defaultValue"}], "denseFeatures": [{"features",
        "defaultValue", "expectedShape"}], "images": [{"featureName", "preprocess", "outType",
        "channels", "defaultImage" (base64 string or None)}], "filters": []}``. Ids are the decimal
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
            "tensors": {
                str(t.feature_id): {
                    "featureName": t.feature_name,
                    "dtype": t.dtype.name,
                    "shape": None if t.shape is None else list(t.shape),
                    "defaultValue": t.default_value,
                }
                for t in self.tensor_configs
            },
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
            "images": [
                {
                    "featureName": image.feature_name,
                    "preprocess": image.preprocess,
                    "outType": image.out_type.name,
                    "channels": image.channels,
                    # base64, so that the spec stays JSON-serializable
                    "defaultImage": None
                    if image.default_image is None
                    else base64.b64encode(image.default_image).decode("ascii"),
                }
                for image in self.image_configs
            ],
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
        self._tensors: List[TensorConfig] = []
        self._images: List[ImageConfig] = []
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

    def extract_tensors(
        self,
        feature_names: Union[str, Sequence[str]],
        dtype: Any = tf.float32,
        shape: Optional[Sequence[int]] = None,
        default_value: Union[int, float, bool] = 0,
    ) -> "FeatureConfigBuilder":
        """One dense output per TENSOR feature (exact names), keyed by its name, decoded from the
        records' GeneralTensors (``GetTensors[WithMissingMask]FromDataRecord``).

        Args:
          feature_names: data-spec features of type TENSOR.
          dtype: the outputs' dtype, one of float32, float64, int32, int64, int8, uint8, bool. The
            element type the record stores (any of those) is found at run time and cast to it.
          shape: one record's tensor shape. Given: outputs ``[batch] + shape`` (static), every
            record's tensor must have exactly this shape, and a record lacking it reads
            ``default_value`` everywhere. None: every record must hold the tensor, all of one
            shape, and outputs are ``[batch] + that shape`` (dynamic).
          default_value: see ``shape``.

        Raises:
          ValueError: a name that is not a TENSOR feature of the data spec, a bad dtype / shape /
            default value, or a name already extracted.
        """
        if isinstance(feature_names, str):
            feature_names = [feature_names]
        names = list(feature_names)
        if not names:
            raise ValueError("extract_tensors: feature_names is empty")
        try:
            dtype = tf.as_dtype(dtype)
        except TypeError:
            raise ValueError("extract_tensors: dtype %r is not a TensorFlow dtype" % (dtype,)) from None
        if dtype.name not in TENSOR_DTYPES:
            raise ValueError("extract_tensors: dtype %s is not one of %s" % (dtype.name, ", ".join(TENSOR_DTYPES)))
        if shape is not None:
            shape = tuple(int(d) for d in shape)
            if any(d < 0 for d in shape):
                raise ValueError("extract_tensors: shape %r has a negative dimension" % (list(shape),))
        if isinstance(default_value, str) or not isinstance(default_value, (int, float)):
            raise ValueError("extract_tensors: default_value %r is not a number" % (default_value,))
        for feature_name in names:
            name, id_, type_name = self._check_name(feature_name, "extract_tensors: feature")
            if type_name != "TENSOR":
                raise ValueError(
                    "extract_tensors: feature %r of the data spec %s has type %s, not TENSOR"
                    % (name, self.data_spec_path, type_name)
                )
            self._add_output(name, "tensor")
            self._tensors.append(TensorConfig(name, id_, dtype, shape, default_value))
        return self

    def extract_image(
        self,
        feature_name: str,
        preprocess: bool = False,
        out_type: Any = tf.uint8,
        channels: int = 3,
        default_image: Optional[bytes] = None,
    ) -> "FeatureConfigBuilder":
        """A ``[batch, height, width, channels]`` output, keyed by the feature's name, of encoded
        images (JPEG / PNG / GIF first frame / BMP, ``tf.io.decode_image``) held by a STRING feature
        or a TENSOR feature of one string per record. All images of a batch must share one size.

        Args:
          preprocess: True: ``tf.image.convert_image_dtype`` to ``out_type`` (a float type then
            holds values in [0, 1]); False: a plain cast of the uint8 pixels.
          out_type: uint8, uint16, float16, float32 or float64.
          channels: 1 (grayscale), 3 (RGB) or 4 (RGBA): images are converted to it.
          default_image: encoded image bytes for records lacking the feature; None: such a
            record is a run-time error.

        Raises:
          ValueError: a name absent from the data spec or not STRING / TENSOR, bad options, or a
            name already extracted.
        """
        name, id_, type_name = self._check_name(feature_name, "extract_image: feature")
        if type_name not in ("STRING", "TENSOR"):
            raise ValueError(
                "extract_image: feature %r of the data spec %s has type %s; expected STRING or TENSOR"
                % (name, self.data_spec_path, type_name)
            )
        try:
            out_type = tf.as_dtype(out_type)
        except TypeError:
            raise ValueError("extract_image: out_type %r is not a TensorFlow dtype" % (out_type,)) from None
        if out_type.name not in IMAGE_OUT_TYPES:
            raise ValueError(
                "extract_image: out_type %s is not one of %s" % (out_type.name, ", ".join(IMAGE_OUT_TYPES))
            )
        if channels not in (1, 3, 4) or isinstance(channels, bool):
            raise ValueError("extract_image: channels must be 1, 3 or 4, not %r" % (channels,))
        if isinstance(default_image, str):
            default_image = default_image.encode("latin-1")
        if default_image is not None and (not isinstance(default_image, bytes) or not default_image):
            raise ValueError("extract_image: default_image must be non-empty encoded image bytes or None")
        self._add_output(name, "image")
        self._images.append(ImageConfig(name, id_, type_name, bool(preprocess), out_type, channels, default_image))
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
        for other in list(self._tensors) + list(self._images):
            if other.feature_name in reserved:
                raise ValueError("extract_tensors / extract_image %r: the feature is a label or the weight"
                                 % other.feature_name)

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
            tensor_configs=self._tensors,
            image_configs=self._images,
        )
