// BatchPredictionRequest decoding (prediction_service.thrift; reference §2.6): a list of records
// plus an optional record of features common to all of them.
#ifndef TWML_BATCH_PREDICTION_REQUEST_H_
#define TWML_BATCH_PREDICTION_REQUEST_H_

#include <memory_resource>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "twml/data_record.h"
#include "twml/hashed_data_record.h"
#include "twml/thrift.h"

namespace twml {

// A new, empty Record: HashedDataRecord allocates from `memory`, DataRecord from the heap.
template <typename Record>
Record MakeRecord(std::pmr::memory_resource* memory) {
  if constexpr (std::is_constructible_v<Record, std::pmr::memory_resource*>) {
    return Record(memory);
  } else {
    return Record();
  }
}

// Record is DataRecord or HashedDataRecord.
template <typename Record>
struct BatchPredictionRequest {
  // Records are made with `Record(memory)` where the record type takes a memory resource.
  explicit BatchPredictionRequest(std::pmr::memory_resource* memory = std::pmr::get_default_resource())
      : memory(memory), common(MakeRecord<Record>(memory)) {}

  std::pmr::memory_resource* memory;
  std::vector<Record> records;  // individualFeaturesList, in order
  Record common;                // commonFeatures; empty when absent

  // Field 1 must be a list of structs, field 2 a struct; other field ids are errors.
  void Decode(ThriftReader* reader, const DecodeOptions& options);
};

// Builds the bytes of a BatchPredictionRequest of serialized DataRecords record by record, so a
// reader can pack records straight into a request without holding them elsewhere.
class BatchPredictionRequestBuilder {
 public:
  BatchPredictionRequestBuilder();
  // Appends one serialized DataRecord (copied as it is: it must be one serialized struct).
  void Add(std::string_view record);
  size_t size() const { return count_; }
  // The request, with `common_features` (a serialized record) when non-null; empties the builder.
  std::string Finish(const std::string_view* common_features = nullptr);

 private:
  std::string bytes_;
  size_t count_ = 0;
};

// The bytes of a BatchPredictionRequest of serialized DataRecords (individualFeaturesList,
// field 1) and, when `common_features` is non-null, a serialized record shared by every row
// (commonFeatures, field 2). The records' bytes are copied as they are: each must be one
// serialized struct.
std::string EncodeBatchPredictionRequest(const std::vector<std::string_view>& records,
                                         const std::string_view* common_features = nullptr);

extern template struct BatchPredictionRequest<DataRecord>;
extern template struct BatchPredictionRequest<HashedDataRecord>;

}  // namespace twml

#endif  // TWML_BATCH_PREDICTION_REQUEST_H_
