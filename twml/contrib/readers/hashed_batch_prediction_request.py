"""twml.contrib.readers.HashedBatchPredictionRequest: one serialized BatchPredictionRequest, hashed,
for a v2 FeatureConfig (as the train-graph export receiver decodes it)."""

from twml import readers


class HashedBatchPredictionRequest(readers.HashedBatchPredictionRequest):
    """``DecodeAndHashBatchPredictionRequest`` of ``serialized`` (uint8 ``[bytes]``) with the keep
    features, codes and ``decode_mode`` of a v2 ``feature_config``.

    As :class:`twml.readers.HashedBatchPredictionRequest`: ``get_sparse_features()``,
    ``get_features(keep_fields)``, ``weights`` (ones ``[batch, 1]``), ``apply_filter(features, labels)``;
    ``labels`` is None (a request carries none).
    """
