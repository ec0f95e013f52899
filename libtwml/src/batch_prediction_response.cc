#include "twml/batch_prediction_response.h"

#include "twml/data_record.h"
#include "twml/error.h"
#include "twml/id_map.h"
#include "twml/thrift.h"

namespace twml {
namespace {

[[noreturn]] void Fail(const std::string& message) { throw Error(ErrorCode::kSize, message); }

// Which of the entries of a repeated key a map gets: the original's writers insert tensors into
// a map (the first value stays) and assign predictions by key (the last value stays).
enum class RepeatedKey { kFirstWins, kLastWins };

// The index of the entry written for each distinct key, in order of the keys' first appearance:
// a Thrift map holds each key once.
std::vector<size_t> DistinctKeyEntries(const std::vector<int64_t>& keys, RepeatedKey rule) {
  std::vector<size_t> entries;
  entries.reserve(keys.size());
  IdMap slot_of_key;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (const int64_t* slot = slot_of_key.Find(keys[i])) {
      if (rule == RepeatedKey::kLastWins) entries[static_cast<size_t>(*slot)] = i;
    } else {
      slot_of_key.Insert(keys[i], static_cast<int64_t>(entries.size()));
      entries.push_back(i);
    }
  }
  return entries;
}

void WriteTensorMap(const std::vector<int64_t>& keys, const std::vector<DenseTensor>& tensors,
                    ThriftWriter* writer) {
  if (keys.size() != tensors.size()) {
    Fail(std::to_string(keys.size()) + " keys for " + std::to_string(tensors.size()) + " tensors");
  }
  const std::vector<size_t> entries = DistinctKeyEntries(keys, RepeatedKey::kFirstWins);
  writer->WriteMapHeader(kThriftI64, kThriftStruct, entries.size());
  for (size_t i : entries) {
    writer->WriteI64(keys[i]);
    EncodeGeneralTensor(tensors[i].type, tensors[i].shape, tensors[i].data, tensors[i].strings, writer);
  }
}

}  // namespace

int64_t DenseTensor::num_elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

DenseTensor DenseTensor::Row(int64_t row) const {
  DenseTensor slice;
  slice.type = type;
  slice.shape.assign(shape.begin() + 1, shape.end());
  const int64_t row_elements = slice.num_elements();
  if (type == TensorType::kString) {
    const auto begin = strings.begin() + row * row_elements;
    slice.strings.assign(begin, begin + row_elements);
  } else {
    slice.data = static_cast<const char*>(data) + row * row_elements * static_cast<int64_t>(TensorElementSize(type));
  }
  return slice;
}

std::string EncodeBatchPredictionResponse(const std::vector<int64_t>& keys,
                                          const PredictionMatrix& values,
                                          const std::vector<int64_t>& dense_keys,
                                          const std::vector<DenseTensor>& dense) {
  const bool have_values = values.data != nullptr;
  if (have_values && static_cast<int64_t>(keys.size()) != values.columns) {
    Fail(std::to_string(keys.size()) + " keys for " + std::to_string(values.columns) +
         " prediction columns");
  }
  if (dense_keys.size() != dense.size()) {
    Fail(std::to_string(dense_keys.size()) + " dense keys for " + std::to_string(dense.size()) +
         " dense tensors");
  }
  int64_t batch = have_values ? values.rows : -1;
  for (size_t j = 0; j < dense.size(); ++j) {
    if (dense[j].shape.empty()) Fail("dense tensor " + std::to_string(j) + " has no batch dimension");
    if (batch >= 0 && dense[j].shape[0] != batch) {
      Fail("dense tensor " + std::to_string(j) + " has " + std::to_string(dense[j].shape[0]) +
           " rows, expected " + std::to_string(batch));
    }
    batch = dense[j].shape[0];
  }
  if (batch < 0) batch = 0;

  std::string out;
  ThriftWriter writer(&out);
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftStruct, static_cast<size_t>(batch));
  std::vector<DenseTensor> rows(dense.size());
  const std::vector<size_t> columns = DistinctKeyEntries(keys, RepeatedKey::kLastWins);
  for (int64_t i = 0; i < batch; ++i) {
    if (have_values) {
      writer.WriteFieldHeader(kThriftMap, kContinuousFeatures);
      writer.WriteMapHeader(kThriftI64, kThriftDouble, columns.size());
      for (size_t j : columns) {
        writer.WriteI64(keys[j]);
        writer.WriteDouble(values.at(i, static_cast<int64_t>(j)));
      }
    }
    if (!dense.empty()) {
      for (size_t j = 0; j < dense.size(); ++j) rows[j] = dense[j].Row(i);
      writer.WriteFieldHeader(kThriftMap, kTensors);
      WriteTensorMap(dense_keys, rows, &writer);
    }
    writer.WriteStop();
  }
  writer.WriteStop();
  return out;
}

std::vector<DataRecord> DecodeBatchPredictionResponse(ThriftReader* reader, const DecodeOptions& options) {
  std::vector<DataRecord> rows;
  for (;;) {
    const size_t field_offset = reader->offset();
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) return rows;
    if (header.id != 1) {
      reader->FailAt(field_offset, "BatchPredictionResponse: unknown field id " + std::to_string(header.id) +
                                       " (" + ThriftTypeName(header.type) + ")");
    }
    reader->ExpectFieldType(header, kThriftList, "predictions");
    const int32_t count = reader->ReadListHeader(kThriftStruct, "predictions");
    rows.resize(static_cast<size_t>(count));
    for (DataRecord& row : rows) row.Decode(reader, options);
  }
}

std::string EncodeTensorRecord(const std::vector<int64_t>& keys, const std::vector<DenseTensor>& tensors) {
  std::string out;
  ThriftWriter writer(&out);
  writer.WriteFieldHeader(kThriftMap, 1);
  WriteTensorMap(keys, tensors, &writer);
  writer.WriteStop();
  return out;
}

std::string EncodeTensorDataRecord(const std::vector<int64_t>& keys, const std::vector<DenseTensor>& tensors) {
  std::string out;
  ThriftWriter writer(&out);
  writer.WriteFieldHeader(kThriftMap, kTensors);
  WriteTensorMap(keys, tensors, &writer);
  writer.WriteStop();
  return out;
}

}  // namespace twml
