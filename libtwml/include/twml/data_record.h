// DataRecord decoding and encoding (data.thrift; reference §2.2, §2.6, §2.7).
#ifndef TWML_DATA_RECORD_H_
#define TWML_DATA_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "twml/id_map.h"
#include "twml/tensor.h"
#include "twml/thrift.h"

namespace twml {

// DataRecord field ids.
enum DataRecordField : int16_t {
  kBinaryFeatures = 1,
  kContinuousFeatures = 2,
  kDiscreteFeatures = 3,
  kStringFeatures = 4,
  kSparseBinaryFeatures = 5,
  kSparseContinuousFeatures = 6,
  kBlobFeatures = 7,
  kTensors = 8,
  kSparseTensors = 9,
};

// What a decoder keeps of a record, built once per op from its attrs.
struct DecodeOptions {
  IdMap keep;     // feature id -> code (keep_features -> keep_codes)
  IdMap labels;   // feature id -> label column
  IdMap weights;  // feature id -> weight column
  int decode_mode = 0;  // hashed decoding of sparse-continuous names: 0 hash_valname, 1 hash_fname_and_valname
  // Keep every sparse and blob feature regardless of `keep` (tools that inspect whole records).
  bool keep_all = false;

  DecodeOptions() = default;
  DecodeOptions(const std::vector<int64_t>& keep_features, const std::vector<int64_t>& keep_codes,
                const std::vector<int64_t>& label_features,
                const std::vector<int64_t>& weight_features, int decode_mode = 0);
};

template <typename Value>
struct Feature {
  int64_t id;
  Value value;
};

// One (name, value) of a sparse feature, flattened: a sparse feature with three names is three
// entries with the same id.
template <typename Value>
struct SparseFeature {
  int64_t id;
  std::string_view name;
  Value value;
};

// A decoded DataRecord. Strings, blobs and tensors are views into the serialized bytes, which must
// outlive the record. Entries are in wire order (the order of the serialized maps and sets), so
// decoding is deterministic; the original's hash-map order was unspecified.
struct DataRecord {
  std::vector<int64_t> binary;
  std::vector<Feature<double>> continuous;         // NaN values are dropped
  std::vector<Feature<int64_t>> discrete;
  std::vector<Feature<std::string_view>> strings;
  std::vector<SparseFeature<bool>> sparse_binary;  // kept ids only
  std::vector<SparseFeature<double>> sparse_continuous;  // kept ids only, NaN values dropped
  std::vector<Feature<std::string_view>> blobs;    // kept ids only
  std::vector<Feature<RawTensor>> tensors;
  std::vector<Feature<RawSparseTensor>> sparse_tensors;
  std::vector<double> labels;   // one per label feature; NaN where the record has none
  std::vector<double> weights;  // one per weight feature; 0 where the record has none

  // Decode the struct at the reader's position, replacing the record's contents. Unknown field
  // ids and wrong container or element types are errors (twml::Error, kThrift) naming the field
  // and the byte offset.
  void Decode(ThriftReader* reader, const DecodeOptions& options);

  // Empty the record, with missing labels and weights for `options`' label and weight features.
  void Reset(const DecodeOptions& options);
  size_t num_labels() const { return labels.size(); }
};

// Walks the DataRecord at the reader's position with every check of the decoders, keeping
// nothing: throws as DataRecord::Decode does for bytes that do not decode.
void CheckDataRecord(ThriftReader* reader);

// Removes every entry whose feature id `keep` does not hold (all feature types, tensors too).
void RetainFeatures(const IdMap& keep, DataRecord* record);

// continuousFeatures[id] = value: replaces the value of an entry of `id` in its place, or appends.
void SetContinuous(int64_t id, double value, DataRecord* record);

// Serialize a record as a DataRecord struct (reference §2.7): fields 1..8 in id order, each only
// when non-empty; sparse tensors are not written. A sparse-continuous feature is written as one
// map entry per id holding all of its names.
void EncodeDataRecord(const DataRecord& record, ThriftWriter* writer);
std::string EncodeDataRecord(const DataRecord& record);

}  // namespace twml

#endif  // TWML_DATA_RECORD_H_
