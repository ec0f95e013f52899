"""The v2 parse functions: the feature dict of a decoded batch (hashed sparse outputs, dense groups
and features, tensors, images), over libtwml's getter ops (used by ``FeatureConfig.get_parse_fn``,
re-exported by ``twml.contrib.feature_config``)."""

import math
from typing import TYPE_CHECKING, Any, Callable, Dict, List

import tensorflow.compat.v1 as tf

import libtwml
from twml import util
from twml.contrib._feature_config.types import SPARSE_TYPES, TENSOR_DTYPES, ImageConfig, TensorConfig

if TYPE_CHECKING:  # a type only: config.py imports this module
    from twml.contrib._feature_config.config import FeatureConfig


def parse_tensor(handle: tf.Tensor, config: TensorConfig) -> tf.Tensor:
    """The dense tensor output of a TensorConfig (see ``FeatureConfig.get_parse_fn``)."""
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
            [
                "tensor feature %s (%d) holds an element type extract_tensors cannot decode:"
                % (name, config.feature_id),
                out_type,
            ],
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


def parse_image(handle: tf.Tensor, batch_size: tf.Tensor, config: ImageConfig) -> tf.Tensor:
    """The ``[batch, height, width, channels]`` output of an ImageConfig."""
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


def extract_v2_features(record: Any, config: "FeatureConfig") -> Dict[str, Any]:
    """The v2 feature dict of a decoded batch (see :meth:`FeatureConfig.get_parse_fn`).

    Args:
      record: a decoded ``twml.readers.DataRecord`` / ``BatchPredictionRequest`` of ``config``.
      config: the v2 FeatureConfig.

    Returns:
      dict output name -> tensor (hashed sparse outputs, dense groups, dense features, tensors,
      images) plus ``weights`` float32 ``[batch, 1]``.
    """
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
        features[tensor_config.feature_name] = parse_tensor(record.handle, tensor_config)
    for image in config.image_configs:
        features[image.feature_name] = parse_image(record.handle, batch_size, image)
    features["weights"] = record.weights
    return features
