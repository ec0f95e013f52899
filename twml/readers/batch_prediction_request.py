"""twml.readers.BatchPredictionRequest: the un-hashed decode of one serialized request."""

import tensorflow.compat.v1 as tf

import libtwml
from twml.readers.data_record import DataRecord


class BatchPredictionRequest(DataRecord):
    """One serialized BatchPredictionRequest, decoded by ``DecodeBatchPredictionRequest``.

    Each row is one of the request's records, with the request's common features prepended by the
    getters. A request carries no labels: ``labels`` is None and ``weights`` are ones.

    Args:
      serialized: uint8 ``[bytes]``: one serialized BatchPredictionRequest.
      feature_config: a :class:`twml.FeatureConfig` (keep map).
    """

    def _decode(self, serialized: tf.Tensor) -> tf.Tensor:
        config = self.feature_config
        self._has_labels = False
        return libtwml.ops.decode_batch_prediction_request(
            tf.convert_to_tensor(serialized, dtype=tf.uint8),
            keep_features=config.keep_features,
            keep_codes=config.keep_codes,
        )
