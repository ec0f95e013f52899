"""twml.readers.DataRecord: the un-hashed decode of a batch of serialized DataRecords.

Also home of the readers' shared base: labels, weights and filters.
"""

import math
from typing import TYPE_CHECKING, Any, Dict, Optional, Protocol, Sequence, Tuple, cast

import tensorflow.compat.v1 as tf

import libtwml
from twml import filters

if TYPE_CHECKING:  # twml.feature_config imports twml.parsers, which imports this module
    from twml.feature_config import FeatureConfig

#: The hashed-record fields a sparse parse function can return (reference §5.2 getters).
SPARSE_DATA_RECORD_FEATURE_FIELDS = ("ids", "ukeys", "keys", "values", "codes", "types", "batch_size", "total_size")


class DecodeConfig(Protocol):
    """What a reader reads of a feature config: :class:`twml.FeatureConfig` and the v2
    ``twml.contrib.feature_config.FeatureConfig`` both are one."""

    @property
    def keep_features(self) -> Sequence[int]: ...

    @property
    def keep_codes(self) -> Sequence[int]: ...

    @property
    def label_features(self) -> Sequence[int]: ...

    @property
    def weight_features(self) -> Sequence[int]: ...

    @property
    def filter_features(self) -> Sequence[int]: ...

    @property
    def decode_mode(self) -> int: ...


class _Reader:
    """Decode once; labels, weights and the filter mask of the batch.

    Labels and filters are decoded together as the op's label columns: the ``label_features`` attr
    is the config's labels followed by its filter features that are not labels. Missing labels
    read as ``default_label``; a filter passes when its column is not missing.
    """

    _get_labels: Any = None
    _get_weights: Any = None
    _get_batch_size: Any = None

    def __init__(self, serialized: tf.Tensor, feature_config: DecodeConfig, default_label: float = 0.0) -> None:
        self.feature_config = feature_config
        self.default_label = default_label
        config = feature_config
        self._label_columns = list(config.label_features) + [
            f for f in config.filter_features if f not in config.label_features
        ]
        self._has_labels = True
        self.handle = self._decode(serialized)
        self._raw_labels: Optional[tf.Tensor] = None

    def _decode(self, serialized: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    @property
    def batch_size(self) -> tf.Tensor:
        """int64 scalar: records in the batch."""
        size = type(self)._get_batch_size(self.handle)
        size.set_shape([])
        return size

    def _raw(self) -> tf.Tensor:
        if self._raw_labels is None:
            self._raw_labels = type(self)._get_labels(self.handle, default_label=math.nan)
        return self._raw_labels

    @property
    def labels(self) -> Optional[tf.Tensor]:
        """float32 ``[batch, n_labels]`` in ``feature_config.labels`` order, missing ->
        ``default_label``; None for a BatchPredictionRequest."""
        if not self._has_labels:
            return None
        n = len(self.feature_config.label_features)
        raw = self._raw()
        raw.set_shape([None, len(self._label_columns)])
        raw = raw[:, :n]
        labels = tf.where(tf.is_nan(raw), tf.fill(tf.shape(raw), tf.cast(self.default_label, tf.float32)), raw)
        # The ops have no shape function: callers (multi-label metrics) read the label count statically.
        labels.set_shape([None, n])
        return labels

    @property
    def weights(self) -> tf.Tensor:
        """float32 ``[batch, 1]``: the weight feature (0.0 when a record lacks it), or ones when
        the config defines no weight (or for a BatchPredictionRequest)."""
        if self._has_labels and self.feature_config.weight_features:
            weights = type(self)._get_weights(self.handle)
            weights.set_shape([None, len(self.feature_config.weight_features)])
            return weights
        weights = tf.ones(tf.stack([tf.cast(self.batch_size, tf.int32), 1]), dtype=tf.float32)
        weights.set_shape([None, 1])
        return weights

    @property
    def filter_mask(self) -> tf.Tensor:
        """bool ``[batch]``: the records having every filter feature (all true without filters)."""
        config = self.feature_config
        if not self._has_labels or not config.filter_features:
            return tf.ones(tf.reshape(tf.cast(self.batch_size, tf.int32), [1]), dtype=tf.bool)
        columns = [self._label_columns.index(f) for f in config.filter_features]
        present = tf.logical_not(tf.is_nan(tf.gather(self._raw(), columns, axis=1)))
        return tf.reduce_all(present, axis=1)

    def apply_filter(
        self, features: Dict[str, Any], labels: Optional[tf.Tensor]
    ) -> Tuple[Dict[str, Any], Optional[tf.Tensor]]:
        """Keep the records passing the config's filters (``twml.filters.sparse_keep_sample_if``
        with :attr:`filter_mask`); unchanged when there are no filters."""
        if not self._has_labels or not self.feature_config.filter_features:
            return features, labels
        return filters.sparse_keep_sample_if(features, labels, self.filter_mask)


class DataRecord(_Reader):
    """A batch of serialized DataRecords decoded by ``DecodeDataRecord`` (not hashed).

    Args:
      serialized: string ``[batch]`` (one record each) or uint8 ``[bytes]`` (one record).
      feature_config: a :class:`twml.FeatureConfig`: keep map, labels, weight, filters.
      default_label: the label of records lacking a label feature.
    """

    #: getter names of :meth:`get_features` and the op each calls.
    _GETTERS = {
        "binary": "get_binary_features",  # ids, keys, values
        "continuous": "get_continuous_features",  # ids, keys, values
        "discrete": "get_discrete_features",  # ids, keys, values (int64)
        "string": "get_string_features",  # ids, keys, names, values
        "sparse_binary": "get_sparse_binary_features",  # ids, keys, names, values
        "sparse_continuous": "get_sparse_continuous_features",  # ids, keys, values, names
    }
    _get_labels = staticmethod(lambda handle, **kw: libtwml.ops.get_labels_from_data_record(handle, **kw))
    _get_weights = staticmethod(lambda handle: libtwml.ops.get_weights_from_data_record(handle))
    _get_batch_size = staticmethod(lambda handle: libtwml.ops.get_batch_size_from_data_record(handle))

    def _decode(self, serialized: tf.Tensor) -> tf.Tensor:
        config = self.feature_config
        return libtwml.ops.decode_data_record(
            serialized,
            keep_features=config.keep_features,
            keep_codes=config.keep_codes,
            label_features=self._label_columns,
            weight_features=config.weight_features,
        )

    def get_features(self, keep_fields: Sequence[str] = tuple(_GETTERS)) -> Dict[str, Tuple[tf.Tensor, ...]]:
        """Per feature type, the getter's 1-D outputs for the kept features of that type.

        Args:
          keep_fields: among binary, continuous, discrete, string, sparse_binary, sparse_continuous.

        Returns:
          dict type -> tuple: ``(ids int64, keys int64, values float32)`` for binary / continuous,
          values int64 for discrete, ``(ids, keys, names string, values)`` for string and
          sparse_binary, ``(ids, keys, values, names)`` for sparse_continuous; all ``[n]``.
        """
        out = {}
        for field in keep_fields:
            if field not in self._GETTERS:
                raise ValueError("unknown DataRecord field %r; expected one of %s" % (field, ", ".join(self._GETTERS)))
            out[field] = tuple(getattr(libtwml.ops, self._GETTERS[field])(self.handle))
        return out

    def get_sparse_features(self) -> Dict[str, tf.Tensor]:
        """Hashed sparse features (``GetHashedFeaturesAsSparseTensorV2``) of every kept feature.

        Returns:
          dict ``ids`` (int64 ``[n]``, row), ``keys`` (int64 ``[n]``, hashed key), ``values``
          (float32 ``[n]``), ``batch_size`` (int64 scalar).
        """
        config = cast("FeatureConfig", self.feature_config)  # a v1 config: its features' types
        by_type: Dict[str, list] = {
            "binary": [],
            "continuous": [],
            "discrete": [],
            "string": [],
            "sparse_binary": [],
            "sparse_continuous": [],
        }
        for info in config.features:
            kind = info.feature_type.lower()
            if kind in by_type:
                by_type[kind].append(info.feature_id)
        ids, keys, values = libtwml.ops.get_hashed_features_as_sparse_tensor_v2(
            self.handle,
            keep_features=config.keep_features,
            keep_codes=config.keep_codes,
            decode_mode=config.decode_mode,
            **{kind + "_keep_features": ids_ for kind, ids_ in by_type.items()},
        )
        return {"ids": ids, "keys": keys, "values": values, "batch_size": self.batch_size}
