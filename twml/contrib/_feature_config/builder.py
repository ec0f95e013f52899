"""The v2 FeatureConfigBuilder: outputs declared by regexes over a data spec, resolved into a
FeatureConfig by ``build()`` (re-exported by ``twml.contrib.feature_config``)."""

import logging
import math
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import tensorflow.compat.v1 as tf

from twml.contrib._feature_config.config import FeatureConfig
from twml.contrib._feature_config.types import (
    DENSE_TYPES,
    DISCRETIZE_TYPES,
    IMAGE_OUT_TYPES,
    SPARSE_TYPES,
    TENSOR_DTYPES,
    DefaultValue,
    DenseFeatureConfig,
    DenseGroupConfig,
    ImageConfig,
    SparseExtractionConfig,
    TensorConfig,
    check_default,
)
from twml.feature_config import DataSpecBuilder

_LOG = logging.getLogger("twml")


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
        return [entry for entry in self._spec if entry[2] in types and any(p.fullmatch(entry[0]) for p in compiled)]

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
        default_value = check_default(default_value, type_filter, where)
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
        default_value = check_default(default_value, type_name, "extract_feature %r" % name)
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
                raise ValueError(
                    "extract_tensors / extract_image %r: the feature is a label or the weight" % other.feature_name
                )

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
