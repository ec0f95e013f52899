"""twml.readers.HashedDataRecord: the hashed decode of a batch of serialized DataRecords."""

from typing import Dict, Sequence

import tensorflow.compat.v1 as tf

import libtwml
from twml.readers.data_record import SPARSE_DATA_RECORD_FEATURE_FIELDS, _Reader


class HashedDataRecord(_Reader):
    """A batch of serialized DataRecords decoded by ``DecodeAndHashDataRecord``.

    Every kept entry of record ``i`` is one element of the 1-D columns: ``ids`` (int64, ``i``),
    ``ukeys`` (int64 feature id), ``keys`` (int64 hashed key, reference §2.6), ``values``
    (float32), ``codes`` (int64 group code), ``types`` (int8, 1 binary .. 6 sparse continuous);
    ``batch_size`` and ``total_size`` are int64 scalars.

    Args:
      serialized: string ``[batch]`` (one record each) or uint8 ``[bytes]`` (one record).
      feature_config: a :class:`twml.FeatureConfig`: keep map, labels, weight, filters, decode_mode.
      default_label: the label of records lacking a label feature.
    """

    #: field name -> libtwml op name.
    _HASHED_FIELDS = {
        "ids": "get_ids_from_hashed_data_record",
        "ukeys": "get_u_keys_from_hashed_data_record",
        "keys": "get_keys_from_hashed_data_record",
        "values": "get_values_from_hashed_data_record",
        "codes": "get_codes_from_hashed_data_record",
        "types": "get_types_from_hashed_data_record",
        "batch_size": "get_batch_size_from_hashed_data_record",
        "total_size": "get_total_size_from_hashed_data_record",
    }
    _FEATURE_NAMES = SPARSE_DATA_RECORD_FEATURE_FIELDS
    FEATURE_TYPES = {
        "ids": tf.int64,
        "ukeys": tf.int64,
        "keys": tf.int64,
        "values": tf.float32,
        "codes": tf.int64,
        "types": tf.int8,
        "batch_size": tf.int64,
        "total_size": tf.int64,
    }
    _get_labels = staticmethod(lambda handle, **kw: libtwml.ops.get_labels_from_hashed_data_record(handle, **kw))
    _get_weights = staticmethod(lambda handle: libtwml.ops.get_weights_from_hashed_data_record(handle))
    _get_batch_size = staticmethod(lambda handle: libtwml.ops.get_batch_size_from_hashed_data_record(handle))

    def _decode(self, serialized: tf.Tensor) -> tf.Tensor:
        config = self.feature_config
        return libtwml.ops.decode_and_hash_data_record(
            serialized,
            keep_features=config.keep_features,
            keep_codes=config.keep_codes,
            label_features=self._label_columns,
            weight_features=config.weight_features,
            decode_mode=config.decode_mode,
        )

    def field(self, field: str) -> tf.Tensor:
        if field not in self._HASHED_FIELDS:
            raise ValueError(
                "unknown hashed-record field %r; expected one of %s" % (field, ", ".join(self._FEATURE_NAMES))
            )
        tensor = getattr(libtwml.ops, self._HASHED_FIELDS[field])(self.handle)
        tensor.set_shape([] if field in ("batch_size", "total_size") else [None])
        return tensor

    def get_features(self, keep_fields: Sequence[str]) -> Dict[str, tf.Tensor]:
        """The chosen hashed columns (see the class docstring) plus ``weights`` (float32 ``[batch, 1]``).

        Raises:
          ValueError: a field not in SPARSE_DATA_RECORD_FEATURE_FIELDS.
        """
        if isinstance(keep_fields, str):
            keep_fields = [keep_fields]
        features = {field: self.field(field) for field in keep_fields}
        features["weights"] = self.weights
        return features

    def get_sparse_features(self) -> Dict[str, tf.Tensor]:
        """The sparse triplet: ``ids``, ``keys`` (int64 ``[total]``), ``values`` (float32 ``[total]``)."""
        return {field: self.field(field) for field in ("ids", "keys", "values")}
