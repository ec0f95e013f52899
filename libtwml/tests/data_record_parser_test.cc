// The DataRecord wire walk (data_record_parser.h) that DataRecord::Decode and
// HashedDataRecord::Decode share: every field type reaches the visitor in wire order, and every
// malformed field is an error naming the field and its byte offset.
#include "twml/data_record_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "twml/data_record.h"
#include "twml/error.h"
#include "twml/tensor.h"
#include "twml/thrift.h"

namespace twml {
namespace {

std::string Num(double value) { return std::isnan(value) ? "nan" : std::to_string(value); }

// Records every call of the wire walk.
struct Recorder {
  std::vector<std::string> calls;
  const uint8_t* tensor_data = nullptr;
  void Binary(int64_t id) { calls.push_back("b" + std::to_string(id)); }
  void Continuous(int64_t id, double v) { calls.push_back("c" + std::to_string(id) + "=" + Num(v)); }
  void Discrete(int64_t id, int64_t v) { calls.push_back("d" + std::to_string(id) + "=" + std::to_string(v)); }
  void String(int64_t id, std::string_view v) { calls.push_back("s" + std::to_string(id) + "=" + std::string(v)); }
  void SparseBinary(int64_t id, std::string_view n) { calls.push_back("sb" + std::to_string(id) + "=" + std::string(n)); }
  void SparseContinuous(int64_t id, std::string_view n, double v, size_t offset) {
    calls.push_back("sc" + std::to_string(id) + "=" + std::string(n) + ":" + Num(v) + "@" + std::to_string(offset));
  }
  void Blob(int64_t id, std::string_view v) { calls.push_back("blob" + std::to_string(id) + "=" + std::to_string(v.size())); }
  void Tensor(int64_t id, const RawTensor& t) {
    calls.push_back("t" + std::to_string(id) + ":" + TensorTypeName(t.type) + "x" + std::to_string(t.num_elements()));
    tensor_data = t.data;
  }
  void SparseTensor(int64_t id, const RawSparseTensor& t) {
    calls.push_back("st" + std::to_string(id) + ":" + std::to_string(t.dense_shape.size()) + "d");
  }
};

std::vector<std::string> Walk(const std::string& bytes, size_t* remaining = nullptr, Recorder* out = nullptr) {
  Recorder recorder;
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "record");
  ParseDataRecord(&reader, &recorder);
  if (remaining != nullptr) *remaining = reader.remaining();
  if (out != nullptr) *out = recorder;
  return recorder.calls;
}

std::string WalkError(const std::string& bytes) {
  try {
    Walk(bytes);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kThrift);
    return error.what();
  }
  ADD_FAILURE() << "walked malformed bytes";
  return "";
}

// A record holding every field type, fields out of id order. `name_offset` receives the byte
// offset of the sparse-continuous name "n".
std::string EveryField(size_t* name_offset) {
  std::string bytes;
  ThriftWriter writer(&bytes);
  writer.WriteFieldHeader(kThriftMap, kTensors);
  writer.WriteMapHeader(kThriftI64, kThriftStruct, 1);
  writer.WriteI64(80);
  const int32_t ints[2] = {1, 2};
  EncodeGeneralTensor(TensorType::kInt32, {2}, ints, {}, &writer);
  writer.WriteFieldHeader(kThriftMap, kStringFeatures);
  writer.WriteMapHeader(kThriftI64, kThriftString, 1);
  writer.WriteI64(40);
  writer.WriteString("s");
  writer.WriteFieldHeader(kThriftMap, kContinuousFeatures);
  writer.WriteMapHeader(kThriftI64, kThriftDouble, 2);
  writer.WriteI64(20);
  writer.WriteDouble(0.5);
  writer.WriteI64(21);
  writer.WriteDouble(std::numeric_limits<double>::quiet_NaN());  // the decoders drop NaN, not the walk
  writer.WriteFieldHeader(kThriftMap, kBlobFeatures);
  writer.WriteMapHeader(kThriftI64, kThriftString, 1);
  writer.WriteI64(70);
  writer.WriteString(std::string_view("\0\1", 2));
  writer.WriteFieldHeader(kThriftMap, kSparseBinaryFeatures);
  writer.WriteMapHeader(kThriftI64, kThriftSet, 1);
  writer.WriteI64(50);
  writer.WriteSetHeader(kThriftString, 2);
  writer.WriteString("a");
  writer.WriteString("b");
  writer.WriteFieldHeader(kThriftMap, kSparseTensors);
  writer.WriteMapHeader(kThriftI64, kThriftStruct, 1);
  writer.WriteI64(90);
  writer.WriteFieldHeader(kThriftStruct, 1);  // SparseTensor.cooSparseTensor
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftI64, 1);
  writer.WriteI64(3);
  writer.WriteFieldHeader(kThriftStruct, 2);
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftI64, 1);
  writer.WriteI64(2);
  writer.WriteStop();
  writer.WriteFieldHeader(kThriftStruct, 3);
  const float value = 1.0f;
  EncodeGeneralTensor(TensorType::kFloat32, {1}, &value, {}, &writer);
  writer.WriteStop();
  writer.WriteStop();
  writer.WriteFieldHeader(kThriftSet, kBinaryFeatures);
  writer.WriteSetHeader(kThriftI64, 2);
  writer.WriteI64(10);
  writer.WriteI64(11);
  writer.WriteFieldHeader(kThriftMap, kDiscreteFeatures);
  writer.WriteMapHeader(kThriftI64, kThriftI64, 1);
  writer.WriteI64(30);
  writer.WriteI64(-1);
  writer.WriteFieldHeader(kThriftMap, kSparseContinuousFeatures);
  writer.WriteMapHeader(kThriftI64, kThriftMap, 1);
  writer.WriteI64(60);
  writer.WriteMapHeader(kThriftString, kThriftDouble, 1);
  *name_offset = bytes.size();
  writer.WriteString("n");
  writer.WriteDouble(1.5);
  writer.WriteStop();
  return bytes;
}

TEST(ParseDataRecordTest, VisitsEveryFieldTypeInWireOrder) {
  size_t name_offset = 0;
  const std::string bytes = EveryField(&name_offset);
  size_t remaining = 1;
  Recorder recorder;
  EXPECT_EQ(Walk(bytes, &remaining, &recorder),
            (std::vector<std::string>{"t80:int32x2", "s40=s", "c20=" + Num(0.5), "c21=nan", "blob70=2", "sb50=a",
                                      "sb50=b", "st90:1d", "b10", "b11", "d30=-1",
                                      "sc60=n:" + Num(1.5) + "@" + std::to_string(name_offset)}));
  EXPECT_EQ(remaining, 0u);
  // Tensors are views into the record's bytes.
  EXPECT_GT(recorder.tensor_data, reinterpret_cast<const uint8_t*>(bytes.data()));
  EXPECT_LT(recorder.tensor_data, reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size());
}

TEST(ParseDataRecordTest, TheEncodersBytesWalkInIdOrder) {
  DataRecord record;
  record.binary = {2, 1};
  record.continuous = {{3, 0.25}};
  record.strings = {{5, "x"}};
  const std::string bytes = EncodeDataRecord(record);
  EXPECT_EQ(Walk(bytes), (std::vector<std::string>{"b2", "b1", "c3=" + Num(0.25), "s5=x"}));
}

TEST(ParseDataRecordTest, ZeroBytesAreAnEmptyRecordAndTheWalkStopsAtStop) {
  EXPECT_TRUE(Walk("").empty());
  EXPECT_TRUE(Walk(std::string("\0", 1)).empty());
  // Bytes after the record's STOP belong to whoever reads on (a record nested in a request).
  size_t remaining = 0;
  EXPECT_EQ(Walk(std::string("\x0e\x00\x01\x0a\x00\x00\x00\x00\x00" "\x0b\x0b", 11), &remaining).size(), 0u);
  EXPECT_EQ(remaining, 2u);
}

TEST(ParseDataRecordTest, WrongTypesNameTheFieldAndOffset) {
  // Field 1 as a list instead of a set.
  EXPECT_EQ(WalkError(std::string("\x0f\x00\x01\x0a\x00\x00\x00\x00\x00", 9)),
            "record: field binaryFeatures (id 1): expected set, found list at byte 0");
  // continuousFeatures with i64 values, after an empty binaryFeatures set (8 bytes).
  EXPECT_EQ(WalkError(std::string("\x0e\x00\x01\x0a\x00\x00\x00\x00" "\x0d\x00\x02\x0a\x0a\x00\x00\x00\x00", 17)),
            "record: continuousFeatures: expected map<i64, double>, found map<i64, i64> at byte 11");
  // A sparse-binary value set of i64 instead of strings.
  EXPECT_NE(WalkError(std::string("\x0d\x00\x05\x0a\x0e\x00\x00\x00\x01" "\x00\x00\x00\x00\x00\x00\x00\x01"
                                  "\x0a\x00\x00\x00\x00\x00", 23))
                .find("sparseBinaryFeatures value"),
            std::string::npos);
}

TEST(ParseDataRecordTest, UnknownFieldsAreErrors) {
  // Field id 10 (no such DataRecord field), after an empty binaryFeatures set.
  EXPECT_EQ(WalkError(std::string("\x0e\x00\x01\x0a\x00\x00\x00\x00" "\x0a\x00\x0a", 11) + std::string(8, '\0')),
            "record: DataRecord: unknown field id 10 (i64) at byte 8");
  EXPECT_EQ(WalkError(std::string("\x0c\x00\x00\x00", 4)), "record: DataRecord: unknown field id 0 (struct) at byte 0");
}

TEST(ParseDataRecordTest, CountsBeyondTheBytesAreRejectedBeforeAllocating) {
  // A set of 2^31 - 1 ids in 0 bytes.
  EXPECT_EQ(WalkError(std::string("\x0e\x00\x01\x0a\x7f\xff\xff\xff", 8)),
            "record: binaryFeatures: 2147483647 elements cannot fit in the 0 bytes left at byte 3");
  EXPECT_NE(WalkError(std::string("\x0e\x00\x01\x0a\xff\xff\xff\xff", 8)).find("negative element count -1"),
            std::string::npos);
}

TEST(ParseDataRecordTest, EveryTruncationIsAnErrorNotAnOverread) {
  size_t unused = 0;
  const std::string bytes = EveryField(&unused);
  for (size_t size = 1; size < bytes.size(); ++size) {
    // A copy of exactly `size` bytes, so that ASan sees any read past its end.
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    ThriftReader reader(prefix.data(), prefix.size());
    Recorder recorder;
    EXPECT_THROW(ParseDataRecord(&reader, &recorder), Error) << size << " bytes";
  }
}

}  // namespace
}  // namespace twml
