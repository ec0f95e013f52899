"""twml.contrib.readers: readers of the v2 feature config (:class:`twml.contrib.feature_config.FeatureConfig`).

Each is the corresponding :mod:`twml.readers` reader (decode op, labels ``[batch, n_labels]``,
weights ``[batch, 1]``, filters) plus :meth:`get_v2_features`, the v2 output dict (hashed sparse
outputs, dense groups and features, tensors, images).
"""

from twml.contrib.readers import batch_prediction_request, data_record, hashed_batch_prediction_request
from twml.contrib.readers.batch_prediction_request import BatchPredictionRequest
from twml.contrib.readers.data_record import SUPPORTED_DENSE_FEATURE_TYPES, DataRecord
from twml.contrib.readers.hashed_batch_prediction_request import HashedBatchPredictionRequest

__all__ = [
    "BatchPredictionRequest",
    "DataRecord",
    "HashedBatchPredictionRequest",
    "SUPPORTED_DENSE_FEATURE_TYPES",
    "batch_prediction_request",
    "data_record",
    "hashed_batch_prediction_request",
]
