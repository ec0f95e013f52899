// Seed records for the decoder fuzz targets, made with the project's own encoders: every
// feature type, labels, typed and raw tensors, and a BatchPredictionRequest around them.
#ifndef TWML_TESTS_FUZZ_RECORD_SEEDS_H_
#define TWML_TESTS_FUZZ_RECORD_SEEDS_H_

#include <string>
#include <vector>

#include "twml/batch_prediction_response.h"
#include "twml/data_record.h"
#include "twml/thrift.h"

namespace twml {

inline std::string FullSeedRecord() {
  static const float kFloats[] = {1.5f, -2.0f, 0.25f, 8.0f};
  DataRecord record;
  record.binary = {1, 2, -3};
  record.continuous = {{4, 0.5}, {5, -1e300}, {100, 1.0}};
  record.discrete = {{6, 7}, {7, -1}};
  record.strings = {{8, "abc"}, {9, "caf\xc3\xa9"}};
  record.sparse_binary = {{10, "x", true}, {10, "y", true}, {11, "z", true}};
  record.sparse_continuous = {{12, "n", 1.5}, {12, "m", 2.5}, {13, "o", 3.5}};
  record.blobs = {{14, std::string_view("\0\1\2", 3)}};
  RawTensor tensor;
  tensor.type = TensorType::kFloat32;
  tensor.shape = {2, 2};
  tensor.data = reinterpret_cast<const uint8_t*>(kFloats);
  tensor.byte_length = sizeof(kFloats);
  record.tensors = {{15, tensor}};
  RawTensor strings;
  strings.type = TensorType::kString;
  strings.shape = {2};
  strings.strings = {"s1", "s2"};
  record.tensors.push_back({16, strings});
  return EncodeDataRecord(record);
}

// A record with an Int64Tensor (a big-endian list tensor) and a COO sparse tensor, which the
// encoders do not write: built field by field.
inline std::string ListTensorSeedRecord() {
  std::string out;
  ThriftWriter writer(&out);
  writer.WriteFieldHeader(kThriftMap, kTensors);
  writer.WriteMapHeader(kThriftI64, kThriftStruct, 1);
  writer.WriteI64(20);
  writer.WriteFieldHeader(kThriftStruct, 4);  // int64Tensor
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftI64, 2);
  writer.WriteI64(5);
  writer.WriteI64(-6);
  writer.WriteStop();
  writer.WriteStop();
  writer.WriteFieldHeader(kThriftMap, kSparseTensors);
  writer.WriteMapHeader(kThriftI64, kThriftStruct, 1);
  writer.WriteI64(21);
  writer.WriteFieldHeader(kThriftStruct, 1);  // cooSparseTensor
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftI64, 1);
  writer.WriteI64(4);
  writer.WriteFieldHeader(kThriftStruct, 2);
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftI64, 1);
  writer.WriteI64(3);
  writer.WriteStop();
  writer.WriteFieldHeader(kThriftStruct, 3);
  writer.WriteFieldHeader(kThriftStruct, 6);  // doubleTensor
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftDouble, 1);
  writer.WriteDouble(0.5);
  writer.WriteStop();
  writer.WriteStop();
  writer.WriteStop();
  writer.WriteStop();
  writer.WriteStop();
  return out;
}

inline std::string SeedRequest(const std::vector<std::string>& records, const std::string& common) {
  std::string out;
  ThriftWriter writer(&out);
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftStruct, records.size());
  for (const auto& record : records) out += record;
  writer.WriteFieldHeader(kThriftStruct, 2);
  out += common;
  writer.WriteStop();
  return out;
}

inline std::vector<std::string> RecordSeeds() {
  return {FullSeedRecord(), ListTensorSeedRecord(), EncodeDataRecord(DataRecord()),
          std::string(1, '\0')};
}

// The options the record targets decode with: some kept ids, labels and a weight.
inline DecodeOptions FuzzDecodeOptions(int decode_mode) {
  return DecodeOptions({1, 4, 6, 8, 10, 12, 14}, {0, 1, 2, 3, 4, 5, 6}, {2, 100}, {5}, decode_mode);
}

}  // namespace twml

#endif  // TWML_TESTS_FUZZ_RECORD_SEEDS_H_
