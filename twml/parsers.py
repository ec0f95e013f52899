"""twml.parsers: parse functions and serving input receivers built from a twml.FeatureConfig.

A parse function takes a **1-D string tensor of serialized DataRecords** (one batch, as
``twml.dataset`` pipelines give it) and returns ``(features, labels)``:

* ``features``: a dict of the chosen hashed-record columns (:data:`DEFAULT_KEEP_FIELDS` unless
  told otherwise; see ``twml.readers.HashedDataRecord``) plus ``weights`` (float32 ``[batch, 1]``);
* ``labels``: float32 ``[batch, n_labels]`` in the config's label order, 0.0 for a missing label.

The config's filters are applied (records lacking a filter feature are dropped).
"""

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence, Tuple

import tensorflow.compat.v1 as tf

import libtwml
from twml import readers

if TYPE_CHECKING:  # twml.feature_config imports this module
    from twml.feature_config import FeatureConfig

#: The default hashed-record fields of a sparse parse function: what Earlybird asks for.
DEFAULT_KEEP_FIELDS = ("ids", "keys", "values", "batch_size", "total_size", "codes")

Features = Dict[str, Any]
ParseFn = Callable[[tf.Tensor], Tuple[Features, Optional[tf.Tensor]]]


def check_keep_fields(keep_fields: Optional[Sequence[str]]) -> Tuple[str, ...]:
    """The hashed-record fields to keep (default :data:`DEFAULT_KEEP_FIELDS`); a ValueError names unknown ones."""
    if keep_fields is None:
        return DEFAULT_KEEP_FIELDS
    if isinstance(keep_fields, str):
        keep_fields = (keep_fields,)
    unknown = [f for f in keep_fields if f not in readers.SPARSE_DATA_RECORD_FEATURE_FIELDS]
    if unknown:
        raise ValueError(
            "unknown keep_fields %s; expected among %s"
            % (", ".join(map(repr, unknown)), ", ".join(readers.SPARSE_DATA_RECORD_FEATURE_FIELDS))
        )
    return tuple(keep_fields)


def get_sparse_parse_fn(feature_config: "FeatureConfig", keep_fields: Optional[Sequence[str]] = None) -> ParseFn:
    """A parse function decoding and hashing DataRecords (``DecodeAndHashDataRecord``).

    Args:
      feature_config: a :class:`twml.FeatureConfig`.
      keep_fields: hashed-record fields among ids, ukeys, keys, values, codes, types, batch_size,
        total_size; None for :data:`DEFAULT_KEEP_FIELDS`. ``ids`` is needed when the config has
        filters.

    Returns:
      ``fn(serialized: string [batch]) -> (features, labels)``: features has each chosen field
      (ids/ukeys/keys/codes int64 ``[total]``, values float32 ``[total]``, types int8 ``[total]``,
      batch_size/total_size int64 scalars) and ``weights`` float32 ``[batch, 1]``; labels float32
      ``[batch, n_labels]``.

    Raises:
      ValueError: an unknown field, or filters without ``ids``.
    """
    fields = check_keep_fields(keep_fields)
    if feature_config.filters and "ids" not in fields:
        raise ValueError("a feature config with filters needs 'ids' in keep_fields")

    def parse(serialized: tf.Tensor) -> Tuple[Features, tf.Tensor]:
        record = readers.HashedDataRecord(serialized, feature_config)
        return record.apply_filter(record.get_features(fields), record.labels)

    return parse


def get_default_parse_fn(feature_config: "FeatureConfig") -> ParseFn:
    """``get_sparse_parse_fn(feature_config, DEFAULT_KEEP_FIELDS)``."""
    return get_sparse_parse_fn(feature_config, DEFAULT_KEEP_FIELDS)


def get_continuous_parse_fn(feature_config: "FeatureConfig") -> ParseFn:
    """A parse function returning the kept **continuous** features, un-hashed (``DecodeDataRecord``).

    Returns:
      ``fn(serialized: string [batch]) -> (features, labels)``: features ``ids`` (int64 ``[n]``,
      row), ``keys`` (int64 ``[n]``, feature id), ``values`` (float32 ``[n]``; NaNs dropped),
      ``batch_size`` (int64 scalar), ``weights`` (float32 ``[batch, 1]``); labels float32
      ``[batch, n_labels]``. Filters are applied.
    """

    def parse(serialized: tf.Tensor) -> Tuple[Features, tf.Tensor]:
        record = readers.DataRecord(serialized, feature_config)
        ids, keys, values = record.get_features(["continuous"])["continuous"]
        features = {
            "ids": ids,
            "keys": keys,
            "values": values,
            "batch_size": record.batch_size,
            "weights": record.weights,
        }
        return record.apply_filter(features, record.labels)

    return parse


def get_labels_in_features_parse_fn(
    feature_config: "FeatureConfig", keep_fields: Optional[Sequence[str]] = None
) -> Callable[[tf.Tensor], Features]:
    """:func:`get_sparse_parse_fn`, with the labels moved into the features dict.

    Returns:
      ``fn(serialized: string [batch]) -> features``: as :func:`get_sparse_parse_fn`'s features,
      plus ``labels`` (float32 ``[batch, n_labels]``); for pipelines and ``predict`` calls that
      take one dict.
    """
    parse_fn = get_sparse_parse_fn(feature_config, keep_fields)

    def parse(serialized: tf.Tensor) -> Features:
        features, labels = parse_fn(serialized)
        features = dict(features)
        features["labels"] = labels
        return features

    return parse


def get_tensor_parse_fn(
    feature_config: "FeatureConfig", tensor_types: Optional[Dict[str, Tuple[Any, Sequence[int]]]] = None
) -> ParseFn:
    """A parse function reading dense **tensor features** (DataRecord field ``tensors``).

    Args:
      feature_config: a :class:`twml.FeatureConfig` (labels, weight, filters; its
        ``tensor_types`` when ``tensor_types`` is None).
      tensor_types: feature name -> ``(dtype, shape)`` of each record's tensor, e.g.
        ``{"user.embedding": (tf.float32, [64])}``. The dtype is the one the record stores
        (FloatTensor values travel as float64).

    Returns:
      ``fn(serialized: string [batch]) -> (features, labels)``: features name -> ``dtype``
      ``[batch] + shape`` (zeros for records lacking the tensor), ``weights`` float32
      ``[batch, 1]``; labels float32 ``[batch, n_labels]``. Filters are applied.
    """
    tensor_types = dict(feature_config.tensor_types if tensor_types is None else tensor_types)
    specs = []
    for name, (dtype, shape) in tensor_types.items():
        dtype = tf.as_dtype(dtype)
        specs.append((name, feature_config.feature_id_of(name), dtype, [int(d) for d in shape]))

    def parse(serialized: tf.Tensor) -> Tuple[Features, tf.Tensor]:
        record = readers.DataRecord(serialized, feature_config)
        features: Features = {"weights": record.weights}
        for name, feature_id, dtype, shape in specs:
            output, _, endian, _ = libtwml.ops.get_tensors_with_missing_mask_from_data_record(
                record.handle, assert_shape=True, feature_id=feature_id, default_shape=shape, dtype_size=dtype.size
            )
            decoded = tf.cond(
                tf.equal(endian, 1),
                lambda output=output, dtype=dtype: tf.io.decode_raw(output, dtype, little_endian=False),
                lambda output=output, dtype=dtype: tf.io.decode_raw(output, dtype, little_endian=True),
            )
            features[name] = tf.reshape(decoded, [-1] + shape)
        labels = record.labels
        if feature_config.filters:
            mask = record.filter_mask
            features = {k: tf.boolean_mask(v, mask) for k, v in features.items()}
            labels = tf.boolean_mask(labels, mask)
        return features, labels

    return parse


def get_features_as_tensor_dict(serialized: tf.Tensor, feature_config: "FeatureConfig") -> Dict[str, tf.Tensor]:
    """Every kept feature of a dense type as its own dense tensor, keyed by feature name.

    Args:
      serialized: string ``[batch]`` of serialized DataRecords.
      feature_config: a :class:`twml.FeatureConfig`.

    Returns:
      dict name -> ``[batch]`` tensor: BINARY float32 (1.0 present, 0.0 absent), CONTINUOUS
      float32 (0.0 absent), DISCRETE int64 (0 absent), STRING string ("" absent). Kept features of
      other types (sparse, blob, tensors) are left out. Filters are not applied.
    """
    handle = readers.DataRecord(serialized, feature_config).handle
    getters = {
        "BINARY": (libtwml.ops.get_binary_as_tensor, 0.0),
        "CONTINUOUS": (libtwml.ops.get_continuous_as_tensor, 0.0),
        "DISCRETE": (libtwml.ops.get_discrete_as_tensor, 0),
        "STRING": (libtwml.ops.get_string_as_tensor, ""),
    }
    out = {}
    for info in feature_config.features:
        if info.feature_type in getters:
            getter, default = getters[info.feature_type]
            out[info.name] = getter(handle, feature_id=info.feature_id, default_value=default)
    return out


def get_sparse_serving_input_receiver_fn(
    feature_config: "FeatureConfig", keep_fields: Optional[Sequence[str]] = None
) -> Callable[[], Any]:
    """A serving input receiver fn over one serialized BatchPredictionRequest.

    Returns:
      ``fn() -> tf.estimator.export.ServingInputReceiver`` whose receiver tensor ``request`` is a
      uint8 ``[bytes]`` placeholder holding one serialized BatchPredictionRequest, decoded with
      ``DecodeAndHashBatchPredictionRequest``; its features are the chosen hashed fields (as
      :func:`get_sparse_parse_fn`, common features first in every row) — no ``weights``, no labels.
    """
    fields = check_keep_fields(keep_fields)

    def serving_input_receiver_fn() -> Any:
        request = tf.placeholder(tf.uint8, shape=[None], name="request")
        record = readers.HashedBatchPredictionRequest(request, feature_config)
        features = {field: record.field(field) for field in fields}
        return tf.estimator.export.ServingInputReceiver(features, {"request": request})

    return serving_input_receiver_fn


def get_serving_input_receiver_fn_feature_dict(
    feature_config: "FeatureConfig", keep_fields: Optional[Sequence[str]] = None
) -> Callable[[], Any]:
    """A serving input receiver fn fed with already-decoded hashed columns, one placeholder each.

    Returns:
      ``fn() -> tf.estimator.export.ServingInputReceiver`` whose features and receiver tensors are
      the same placeholders, named after the fields: ids/ukeys/keys/codes int64 ``[None]``, values
      float32 ``[None]``, types int8 ``[None]``, batch_size/total_size int64 scalars.
    """
    fields = check_keep_fields(keep_fields)
    del feature_config  # the placeholders do not depend on it; kept for the original's signature

    def serving_input_receiver_fn() -> Any:
        features = {}
        for field in fields:
            shape = [] if field in ("batch_size", "total_size") else [None]
            dtype = readers.HashedDataRecord.FEATURE_TYPES[field]
            features[field] = tf.placeholder(dtype, shape=shape, name=field)
        return tf.estimator.export.ServingInputReceiver(features, dict(features))

    return serving_input_receiver_fn


def convert_to_supervised_input_receiver_fn(parse_fn: ParseFn) -> Callable[[], Any]:
    """A supervised input receiver fn (for exporting eval/train graphs) around a parse function.

    Returns:
      ``fn() -> SupervisedInputReceiver(features, labels, {"serialized": placeholder})``, where
      the placeholder is string ``[None]`` (serialized DataRecords) and ``(features, labels) =
      parse_fn(placeholder)``.
    """
    from tensorflow_estimator.python.estimator.export.export import SupervisedInputReceiver

    def supervised_input_receiver_fn() -> Any:
        serialized = tf.placeholder(tf.string, shape=[None], name="serialized")
        features, labels = parse_fn(serialized)
        return SupervisedInputReceiver(features, labels, {"serialized": serialized})

    return supervised_input_receiver_fn
