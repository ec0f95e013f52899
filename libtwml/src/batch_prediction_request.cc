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

std::string EncodeBatchPredictionRequest(const std::vector<std::string_view>& records,
                                         const std::string_view* common_features) {
  size_t size = 9;
  for (std::string_view record : records) size += record.size();
  if (common_features != nullptr) size += 3 + common_features->size();
  std::string out;
  out.reserve(size);
  ThriftWriter writer(&out);
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftStruct, records.size());
  for (std::string_view record : records) out.append(record.data(), record.size());
  if (common_features != nullptr) {
    writer.WriteFieldHeader(kThriftStruct, 2);
    out.append(common_features->data(), common_features->size());
  }
  writer.WriteStop();
  return out;
}

template struct BatchPredictionRequest<DataRecord>;
template struct BatchPredictionRequest<HashedDataRecord>;

}  // namespace twml
