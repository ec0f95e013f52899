"""twml.contrib.readers.HashedBatchPredictionRequest: one serialized BatchPredictionRequest, hashed,
for a v2 FeatureConfig (as the train-graph export receiver decodes it)."""

from typing import Any

import tensorflow.compat.v1 as tf

import libtwml
from twml import readers


class HashedBatchPredictionRequest(readers.HashedBatchPredictionRequest):
    """``DecodeAndHashBatchPredictionRequestV2`` of ``serialized`` (uint8 ``[bytes]``) with the keep
    features, codes, labels, weight and ``decode_mode`` of a v2 ``feature_config``.

    As :class:`twml.readers.HashedBatchPredictionRequest` (``get_sparse_features()``,
    ``get_features(keep_fields)``, every row starting with the request's common entries), but the
    records' labels and weights are read, as the train graph exported for training from requests
    needs them (``twml.contrib.export.export_fn.get_sparse_batch_supervised_input_receiver_fn``):
    ``labels`` float32 ``[batch, n_labels]`` (``default_label`` where a record lacks one),
    ``weights`` float32 ``[batch, 1]`` (the weight feature, 0.0 when absent; ones without one), and
    ``apply_filter(features, labels)`` applies the config's filters.
    """

    def _decode(self, serialized: Any) -> tf.Tensor:
        config = self.feature_config
        return libtwml.ops.decode_and_hash_batch_prediction_request_v2(
            tf.convert_to_tensor(serialized, dtype=tf.uint8),
            keep_features=config.keep_features,
            keep_codes=config.keep_codes,
            label_features=self._label_columns,
            weight_features=config.weight_features,
            decode_mode=config.decode_mode,
        )
