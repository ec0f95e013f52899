#include "twml/batch_prediction_request.h"

namespace twml {

template <typename Record>
void BatchPredictionRequest<Record>::Decode(ThriftReader* reader, const DecodeOptions& options) {
  records.clear();
  common.Reset(options);
  for (;;) {
    const size_t field_offset = reader->offset();
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) return;
    if (header.id == 1) {
      reader->ExpectFieldType(header, kThriftList, "individualFeaturesList");
      const int32_t count = reader->ReadListHeader(kThriftStruct, "individualFeaturesList");
      records.reserve(static_cast<size_t>(count));
      for (int32_t i = 0; i < count; ++i) {
        records.push_back(MakeRecord<Record>(memory));
        records.back().Decode(reader, options);
      }
    } else if (header.id == 2) {
      reader->ExpectFieldType(header, kThriftStruct, "commonFeatures");
      common.Decode(reader, options);
    } else {
      reader->FailAt(field_offset, "BatchPredictionRequest: unknown field id " +
                                       std::to_string(header.id) + " (" +
                                       ThriftTypeName(header.type) + ")");
    }
  }
}

namespace {
// Field 1 (a list of structs) starts with 3 bytes of field header and 5 of list header, whose
// last 4 hold the count that Finish writes.
constexpr size_t kListHeaderEnd = 8;
}  // namespace

BatchPredictionRequestBuilder::BatchPredictionRequestBuilder() {
  ThriftWriter writer(&bytes_);
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftStruct, 0);
}

void BatchPredictionRequestBuilder::Add(std::string_view record) {
  bytes_.append(record.data(), record.size());
  ++count_;
}

std::string BatchPredictionRequestBuilder::Finish(const std::string_view* common_features) {
  std::string count;
  ThriftWriter(&count).WriteListHeader(kThriftStruct, count_);
  bytes_.replace(kListHeaderEnd - 5, 5, count);
  ThriftWriter writer(&bytes_);
  if (common_features != nullptr) {
    writer.WriteFieldHeader(kThriftStruct, 2);
    bytes_.append(common_features->data(), common_features->size());
  }
  writer.WriteStop();
  std::string out = std::move(bytes_);
  *this = BatchPredictionRequestBuilder();
  return out;
}

std::string EncodeBatchPredictionRequest(const std::vector<std::string_view>& records,
                                         const std::string_view* common_features) {
  BatchPredictionRequestBuilder builder;
  for (std::string_view record : records) builder.Add(record);
  return builder.Finish(common_features);
}

template struct BatchPredictionRequest<DataRecord>;
template struct BatchPredictionRequest<HashedDataRecord>;

}  // namespace twml
