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

# The config types, the parse functions, FeatureConfig and its builder live in
# twml/contrib/_feature_config/ (types, parse, config, builder); this module is their public face.
from twml.contrib._feature_config.builder import FeatureConfigBuilder
from twml.contrib._feature_config.config import FeatureConfig
from twml.contrib._feature_config.parse import extract_v2_features
from twml.contrib._feature_config.types import (
    DENSE_TYPES,
    DISCRETIZE_TYPES,
    IMAGE_OUT_TYPES,
    SPARSE_TYPES,
    TENSOR_DTYPES,
    DefaultValue,
    DenseFeatureConfig,
    DenseGroupConfig,
    FeatureGroupExtractionConfig,
    ImageConfig,
    ImageExtractionConfig,
    SparseExtractionConfig,
    TensorConfig,
    TensorExtractionConfig,
)

__all__ = [
    "DENSE_TYPES",
    "DISCRETIZE_TYPES",
    "IMAGE_OUT_TYPES",
    "SPARSE_TYPES",
    "TENSOR_DTYPES",
    "DefaultValue",
    "DenseFeatureConfig",
    "DenseGroupConfig",
    "FeatureConfig",
    "FeatureConfigBuilder",
    "FeatureGroupExtractionConfig",
    "ImageConfig",
    "ImageExtractionConfig",
    "SparseExtractionConfig",
    "TensorConfig",
    "TensorExtractionConfig",
    "extract_v2_features",
]
