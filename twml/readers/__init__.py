"""twml.readers: graph-side readers of serialized DataRecords and BatchPredictionRequests.

Each reader wraps a decode op of libtwml (reference §5.1-5.3) and its getters for one batch:

* :class:`HashedDataRecord` — ``DecodeAndHashDataRecord`` of a ``[batch]`` string tensor;
* :class:`HashedBatchPredictionRequest` — ``DecodeAndHashBatchPredictionRequest`` of one
  serialized request (uint8 ``[bytes]``), as served;
* :class:`DataRecord` / :class:`BatchPredictionRequest` — the un-hashed decodes and their
  per-type getters.
"""

from twml.readers.batch_prediction_request import BatchPredictionRequest
from twml.readers.data_record import DataRecord
from twml.readers.hashed_batch_prediction_request import HashedBatchPredictionRequest
from twml.readers.hashed_data_record import SPARSE_DATA_RECORD_FEATURE_FIELDS, HashedDataRecord

__all__ = [
    "BatchPredictionRequest",
    "DataRecord",
    "HashedBatchPredictionRequest",
    "HashedDataRecord",
    "SPARSE_DATA_RECORD_FEATURE_FIELDS",
]
