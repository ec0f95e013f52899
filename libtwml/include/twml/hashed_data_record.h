// Hashed decoding of DataRecords (reference §2.6): a record becomes flat parallel arrays of
// (feature id, hashed key, value, code, type), ready to feed sparse layers.
#ifndef TWML_HASHED_DATA_RECORD_H_
#define TWML_HASHED_DATA_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <vector>

#include "twml/data_record.h"

namespace twml {

// The `types` of hashed entries: the DataRecord field each came from.
enum HashedFeatureType : uint8_t {
  kHashedBinary = 1,
  kHashedContinuous = 2,
  kHashedDiscrete = 3,
  kHashedString = 4,
  kHashedSparseBinary = 5,
  kHashedSparseContinuous = 6,
};

// One hashed feature value.
struct HashedEntry {
  int64_t id;     // raw feature id ("ukey")
  int64_t key;    // hashed key
  double value;
  int64_t code;   // keep-map code of the feature
  uint8_t type;   // HashedFeatureType
};

// A decoded, hashed record. Only features in the keep map become entries, in wire order:
//   binary             key = id                           value 1
//   continuous         key = id                           value (NaN skipped)
//   discrete           key = MixDiscreteIdAndValue(id, v)  value 1
//   string             key = MixStringIdAndValue(id, s)    value 1
//   sparse binary      key = MixStringIdAndValue(id, s)    value 1, one entry per name
//   sparse continuous  key = FeatureId(name) (decode_mode 0) or MixStringIdAndValue(id, name)
//                      (decode_mode 1), value v, one entry per name (NaN skipped)
// Labels and weights come only from binary and continuous features that are not kept.
// Blobs are skipped; tensors are kept as views into the serialized bytes.
//
// Entries allocate from `memory` (default: the heap): records of a batch that share one
// std::pmr::monotonic_buffer_resource cost a few large allocations instead of one per record.
struct HashedDataRecord {
  explicit HashedDataRecord(std::pmr::memory_resource* memory = std::pmr::get_default_resource())
      : entries(memory), labels(memory), weights(memory) {}

  std::pmr::vector<HashedEntry> entries;
  std::vector<Feature<RawTensor>> tensors;
  std::vector<Feature<RawSparseTensor>> sparse_tensors;
  std::pmr::vector<double> labels;   // one per label feature; NaN where missing
  std::pmr::vector<double> weights;  // one per weight feature; 0 where missing

  // Decode the struct at the reader's position, replacing the record's contents (errors as
  // DataRecord::Decode).
  void Decode(ThriftReader* reader, const DecodeOptions& options);
  // Empty the record, with missing labels and weights for `options`' label and weight features.
  void Reset(const DecodeOptions& options);
  size_t size() const { return entries.size(); }
  size_t num_labels() const { return labels.size(); }
};

}  // namespace twml

#endif  // TWML_HASHED_DATA_RECORD_H_
