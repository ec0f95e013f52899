// Requests and responses of a twml model served as a prediction service (reference §2.5).
// Field ids and types are part of the wire format: never renumber or retype a field.

include "data.thrift"

namespace java com.twitter.ml.prediction_service
namespace py com.twitter.ml.prediction_service

struct PredictionRequest {
  1: required data.DataRecord features
}

struct PredictionResponse {
  1: required data.DataRecord prediction
}

// commonFeatures are shared by every record of the batch (decoders prepend them to each row).
struct BatchPredictionRequest {
  1: required list<data.DataRecord> individualFeaturesList
  2: optional data.DataRecord commonFeatures
}

// One DataRecord of predictions per request row, in request order.
struct BatchPredictionResponse {
  1: required list<data.DataRecord> predictions
}

struct DataRecordPair {
  1: optional data.DataRecord first
  2: optional data.DataRecord second
}

struct PredictionTrainingExample {
  1: optional data.DataRecord features
  2: optional DataRecordPair featuresForPairwiseLearning
  3: optional data.CompactDataRecord compactFeatures
  4: optional binary compressedDataRecord
}

exception PredictionServiceException {
  1: optional string description
}

service PredictionService {
  PredictionResponse getPrediction(1: PredictionRequest request)
    throws (1: PredictionServiceException e)
  BatchPredictionResponse getBatchPrediction(1: BatchPredictionRequest batchRequest)
    throws (1: PredictionServiceException e)
}
