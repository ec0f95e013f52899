"""twml.readers.HashedBatchPredictionRequest: the hashed decode of one serialized request."""

import tensorflow.compat.v1 as tf

import libtwml
from twml.readers.hashed_data_record import HashedDataRecord


class HashedBatchPredictionRequest(HashedDataRecord):
    """One serialized BatchPredictionRequest, decoded by ``DecodeAndHashBatchPredictionRequest``.

    Rows are the request's records; each row's entries start with the request's common features
    (total_size = common·N + Σ own). A request carries no labels: ``labels`` is None, ``weights``
    are ones and ``apply_filter`` keeps every row.

    Args:
      serialized: uint8 ``[bytes]``: one serialized BatchPredictionRequest.
      feature_config: a :class:`twml.FeatureConfig` (keep map, codes, decode_mode).
    """

    def _decode(self, serialized: tf.Tensor) -> tf.Tensor:
        config = self.feature_config
        self._has_labels = False
        return libtwml.ops.decode_and_hash_batch_prediction_request(
            tf.convert_to_tensor(serialized, dtype=tf.uint8),
            keep_features=config.keep_features,
            keep_codes=config.keep_codes,
            decode_mode=config.decode_mode,
        )
