// DataRecord, the record format of twml's data files and requests (reference §2.2-2.3).
// Field ids and types are part of the wire format: never renumber or retype a field.

include "tensor.thrift"

namespace java com.twitter.ml.api
namespace py com.twitter.ml.api

enum FeatureType {
  BINARY = 1,
  CONTINUOUS = 2,
  DISCRETE = 3,
  STRING = 4,
  SPARSE_BINARY = 5,
  SPARSE_CONTINUOUS = 6,
  UNKNOWN = 7,
  BLOB = 8,
  TENSOR = 9,
  SPARSE_TENSOR = 10
  // 11 and 12 are reserved.
}

// Features are keyed by 64-bit feature ids (twml.feature_id of the feature's name).
struct DataRecord {
  1: optional set<i64> binaryFeatures
  2: optional map<i64, double> continuousFeatures
  3: optional map<i64, i64> discreteFeatures
  4: optional map<i64, string> stringFeatures
  5: optional map<i64, set<string>> sparseBinaryFeatures
  6: optional map<i64, map<string, double>> sparseContinuousFeatures
  7: optional map<i64, binary> blobFeatures
  8: optional map<i64, tensor.GeneralTensor> tensors
  9: optional map<i64, tensor.SparseTensor> sparseTensors
}

// A denser DataRecord variant; libtwml does not decode it.
struct CompactDataRecord {
  1: optional set<i64> binaryFeatures
  2: optional map<i64, i32> continuousFeatures
  3: optional map<i64, i64> discreteFeatures
  4: optional map<i64, string> stringFeatures
  5: optional map<i64, set<string>> sparseBinaryFeatures
  6: optional map<i64, set<i16>> sparseBinaryFeaturesWith16bSparseKey
  7: optional map<i64, set<i32>> sparseBinaryFeaturesWith32bSparseKey
  8: optional map<i64, set<i64>> sparseBinaryFeaturesWith64bSparseKey
  9: optional map<i64, map<string, i32>> sparseContinuousFeatures
  10: optional map<i64, map<i16, i32>> sparseContinuousFeaturesWith16bSparseKey
  11: optional map<i64, map<i32, i32>> sparseContinuousFeaturesWith32bSparseKey
  12: optional map<i64, map<i64, i32>> sparseContinuousFeaturesWith64bSparseKey
  13: optional map<i64, binary> blobFeatures
  14: optional map<i64, tensor.GeneralTensor> tensors
  15: optional map<i64, tensor.SparseTensor> sparseTensors
}

struct TensorRecord {
  1: optional map<i64, tensor.GeneralTensor> tensors
  2: optional map<i64, tensor.SparseTensor> sparseTensors
}

// One entry of a data spec: which name and type a feature id stands for.
struct FeatureMetaInfo {
  1: optional i64 featureId
  2: optional string fullFeatureName
  3: optional FeatureType featureType
}

struct FeatureMetaInfoList {
  1: optional list<FeatureMetaInfo> contents
}
