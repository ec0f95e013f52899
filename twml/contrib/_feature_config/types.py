"""The v2 feature config's types: what each output of a FeatureConfigBuilder holds, the feature
types and dtypes an output can read (re-exported by ``twml.contrib.feature_config``)."""

from typing import Any, NamedTuple, Optional, Tuple, Union

import tensorflow.compat.v1 as tf

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


def check_default(default_value: Any, type_name: str, where: str) -> DefaultValue:
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
