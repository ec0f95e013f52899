"""The v2 FeatureConfig: what a v2 parse function extracts, its parse function and its exported
feature spec (re-exported by ``twml.contrib.feature_config``)."""

import base64
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import tensorflow.compat.v1 as tf

from twml import readers
from twml.contrib import calibrators
from twml.contrib._feature_config.parse import extract_v2_features
from twml.contrib._feature_config.types import (
    DenseFeatureConfig,
    DenseGroupConfig,
    ImageConfig,
    SparseExtractionConfig,
    TensorConfig,
)


def make_calibrator(config: SparseExtractionConfig) -> Any:
    """A fresh calibrator for a discretizing sparse output (its signature name is the output name)."""
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
            c.output_name: make_calibrator(c) for c in self.sparse_extraction_configs if c.discretize_type is not None
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

    def feature_id_of(self, name: str) -> int:
        """The feature id of a feature of the data spec this config came from."""
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
