// The record codecs of the core: Thrift reader/writer, DataRecord, HashedDataRecord,
// BatchPredictionRequest and tensors, including their errors on malformed bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "twml/batch_prediction_request.h"
#include "twml/batch_prediction_response.h"
#include "twml/data_record.h"
#include "twml/hashed_data_record.h"
#include "twml/hashing.h"

namespace twml {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

DataRecord Decode(const std::string& bytes, const DecodeOptions& options) {
  DataRecord record;
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "record 0");
  record.Decode(&reader, options);
  return record;
}

template <typename Field>
auto Column(const HashedDataRecord& record, Field field) {
  std::vector<std::remove_cv_t<std::remove_reference_t<decltype(record.entries[0].*field)>>> column;
  for (const auto& entry : record.entries) column.push_back(entry.*field);
  return column;
}

HashedDataRecord DecodeHashed(const std::string& bytes, const DecodeOptions& options) {
  HashedDataRecord record;
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "record 0");
  record.Decode(&reader, options);
  return record;
}

std::string DecodeError(const std::string& bytes, const DecodeOptions& options = DecodeOptions()) {
  try {
    Decode(bytes, options);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kThrift);
    return error.what();
  }
  ADD_FAILURE() << "decoded malformed bytes";
  return "";
}

DataRecord SampleRecord() {
  DataRecord record;
  record.binary = {1, 2};
  record.continuous = {{3, 0.5}, {4, -2.0}};
  record.discrete = {{5, 7}};
  record.strings = {{6, "abc"}};
  record.sparse_binary = {{7, "x", true}, {7, "y", true}};
  record.sparse_continuous = {{8, "n", 1.5}, {9, "m", 2.5}, {8, "o", 3.5}};
  record.blobs = {{10, std::string_view("\0\1", 2)}};
  return record;
}

TEST(ThriftTest, WriterIsBigEndianAndReaderReadsItBack) {
  std::string bytes;
  ThriftWriter writer(&bytes);
  writer.WriteI16(-2);
  writer.WriteI32(0x01020304);
  writer.WriteI64(-1);
  writer.WriteDouble(0.5);
  writer.WriteString("hi");
  EXPECT_EQ(bytes, std::string("\xff\xfe\x01\x02\x03\x04\xff\xff\xff\xff\xff\xff\xff\xff"
                               "\x3f\xe0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02hi", 28));
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(reader.ReadI16(), -2);
  EXPECT_EQ(reader.ReadI32(), 0x01020304);
  EXPECT_EQ(reader.ReadI64(), -1);
  EXPECT_EQ(reader.ReadDouble(), 0.5);
  EXPECT_EQ(reader.ReadString(), "hi");
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_THROW(reader.ReadByte(), Error);
}

TEST(DataRecordTest, EncodesFieldsInIdOrderAndRoundTrips) {
  const DataRecord record = SampleRecord();
  const std::string bytes = EncodeDataRecord(record);
  // Field headers in id order: set 1, maps 2..7.
  EXPECT_EQ(bytes.substr(0, 3), std::string("\x0e\x00\x01", 3));
  DecodeOptions keep_all;
  keep_all.keep_all = true;
  const DataRecord decoded = Decode(bytes, keep_all);
  EXPECT_EQ(decoded.binary, record.binary);
  ASSERT_EQ(decoded.continuous.size(), 2u);
  EXPECT_EQ(decoded.continuous[1].value, -2.0);
  ASSERT_EQ(decoded.sparse_binary.size(), 2u);
  EXPECT_EQ(decoded.sparse_binary[1].name, "y");
  // Sparse entries of one id are grouped into one map entry when encoded: 8 comes back together.
  ASSERT_EQ(decoded.sparse_continuous.size(), 3u);
  EXPECT_EQ(decoded.sparse_continuous[0].name, "n");
  EXPECT_EQ(decoded.sparse_continuous[1].name, "o");
  EXPECT_EQ(decoded.sparse_continuous[2].id, 9);
  EXPECT_EQ(EncodeDataRecord(decoded).size(), bytes.size());
  EXPECT_EQ(EncodeDataRecord(DataRecord()), std::string(1, '\0'));
}

TEST(DataRecordTest, KeepMapFiltersSparseAndBlobFeaturesOnly) {
  const std::string bytes = EncodeDataRecord(SampleRecord());
  const DataRecord decoded = Decode(bytes, DecodeOptions({8}, {0}, {}, {}));
  EXPECT_EQ(decoded.binary.size(), 2u);
  EXPECT_EQ(decoded.strings.size(), 1u);
  EXPECT_TRUE(decoded.sparse_binary.empty());
  EXPECT_EQ(decoded.sparse_continuous.size(), 2u);
  EXPECT_TRUE(decoded.blobs.empty());
}

TEST(DataRecordTest, LabelsAndWeights) {
  DataRecord record;
  record.binary = {100};
  record.continuous = {{200, kNaN}, {300, 4.0}, {400, kNaN}};
  const DataRecord decoded =
      Decode(EncodeDataRecord(record), DecodeOptions({}, {}, {100, 200, 500}, {300, 400}));
  EXPECT_EQ(decoded.labels[0], 1.0);
  EXPECT_TRUE(std::isnan(decoded.labels[1]));  // a NaN label stays missing
  EXPECT_TRUE(std::isnan(decoded.labels[2]));
  EXPECT_EQ(decoded.weights[0], 4.0);
  EXPECT_TRUE(std::isnan(decoded.weights[1]));
  ASSERT_EQ(decoded.continuous.size(), 1u);  // NaN values are not features
}

TEST(HashedDataRecordTest, KeysFollowTheReferenceRules) {
  const std::string bytes = EncodeDataRecord(SampleRecord());
  const DecodeOptions mode0({1, 3, 5, 6, 7, 8}, {11, 13, 15, 16, 17, 18}, {2}, {4}, 0);
  const HashedDataRecord hashed = DecodeHashed(bytes, mode0);
  const std::vector<int64_t> expected_keys = {
      1, 3, MixDiscreteIdAndValue(5, 7), MixStringIdAndValue(6, "abc"),
      MixStringIdAndValue(7, "x"), MixStringIdAndValue(7, "y"), FeatureId("n"), FeatureId("o")};
  EXPECT_EQ(Column(hashed, &HashedEntry::key), expected_keys);
  EXPECT_EQ(Column(hashed, &HashedEntry::id), (std::vector<int64_t>{1, 3, 5, 6, 7, 7, 8, 8}));
  EXPECT_EQ(Column(hashed, &HashedEntry::code), (std::vector<int64_t>{11, 13, 15, 16, 17, 17, 18, 18}));
  EXPECT_EQ(Column(hashed, &HashedEntry::type), (std::vector<uint8_t>{1, 2, 3, 4, 5, 5, 6, 6}));
  EXPECT_EQ(Column(hashed, &HashedEntry::value), (std::vector<double>{1, 0.5, 1, 1, 1, 1, 1.5, 3.5}));
  EXPECT_EQ(std::vector<double>(hashed.labels.begin(), hashed.labels.end()),
            std::vector<double>{1.0});  // binary 2 is not kept: a label
  EXPECT_EQ(std::vector<double>(hashed.weights.begin(), hashed.weights.end()), std::vector<double>{-2.0});

  const DecodeOptions mode1({8}, {0}, {}, {}, 1);
  EXPECT_EQ(Column(DecodeHashed(bytes, mode1), &HashedEntry::key),
            (std::vector<int64_t>{MixStringIdAndValue(8, "n"), MixStringIdAndValue(8, "o")}));
}

TEST(BatchPredictionRequestTest, DecodesRecordsAndCommonFeatures) {
  std::string bytes;
  ThriftWriter writer(&bytes);
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(kThriftStruct, 2);
  EncodeDataRecord(SampleRecord(), &writer);
  EncodeDataRecord(DataRecord(), &writer);
  writer.WriteFieldHeader(kThriftStruct, 2);
  DataRecord common;
  common.binary = {42};
  EncodeDataRecord(common, &writer);
  writer.WriteStop();
  BatchPredictionRequest<HashedDataRecord> request;
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "request");
  request.Decode(&reader, DecodeOptions({1, 42}, {0, 1}, {}, {}));
  ASSERT_EQ(request.records.size(), 2u);
  EXPECT_EQ(Column(request.records[0], &HashedEntry::id), std::vector<int64_t>{1});
  EXPECT_EQ(request.records[1].size(), 0u);
  EXPECT_EQ(Column(request.common, &HashedEntry::id), std::vector<int64_t>{42});
}

TEST(DecodeErrorTest, NamesTheFieldAndOffset) {
  EXPECT_EQ(DecodeError(std::string("\x08\x00\x0c\x00\x00\x00\x01\x00", 8)),
            "record 0: DataRecord: unknown field id 12 (i32) at byte 0");
  EXPECT_EQ(DecodeError(std::string("\x0d\x00\x01\x0a\x0a\x00\x00\x00\x00\x00", 10)),
            "record 0: field binaryFeatures (id 1): expected set, found map at byte 0");
  EXPECT_EQ(DecodeError(std::string("\x0d\x00\x02\x0a\x0a\x00\x00\x00\x00\x00", 10)),
            "record 0: continuousFeatures: expected map<i64, double>, found map<i64, i64> at byte 3");
  // A list of 2^31 - 1 elements in a 40-byte record: refused before any allocation.
  EXPECT_EQ(DecodeError(std::string("\x0e\x00\x01\x0a\x7f\xff\xff\xff", 8) + std::string(32, '\0')),
            "record 0: binaryFeatures: 2147483647 elements cannot fit in the 32 bytes left at byte 3");
  EXPECT_EQ(DecodeError(std::string("\x0e\x00\x01\x0a\xff\xff\xff\xfe", 8)),
            "record 0: binaryFeatures: negative element count -2 at byte 3");
  EXPECT_EQ(DecodeError(std::string("\x0d\x00\x04\x0a\x0b\x00\x00\x00\x01", 9) + std::string(8, '\0') +
                        std::string("\x00\x00\x10\x00" "ab", 6)),
            "record 0: string length 4096 exceeds the 2 bytes left at byte 17");
  EXPECT_EQ(DecodeError(std::string("\x0e\x00", 2)),
            "record 0: truncated data: an i16 needs 2 bytes, 1 left at byte 1");
}

TEST(DecodeTest, ZeroBytesAreAnEmptyRecordAsInTheOriginal) {
  DecodeOptions options({}, {}, {7}, {8});
  const DataRecord record = Decode("", options);
  EXPECT_TRUE(record.binary.empty());
  EXPECT_TRUE(record.continuous.empty());
  ASSERT_EQ(record.labels.size(), 1u);
  EXPECT_TRUE(std::isnan(record.labels[0]));
  EXPECT_EQ(record.weights, (std::vector<double>{0.0}));
}

TEST(DecodeErrorTest, TensorsAreStrict) {
  auto tensor_record = [](const std::string& tensor) {
    return std::string("\x0d\x00\x08\x0a\x0c\x00\x00\x00\x01", 9) + std::string(8, '\0') + tensor +
           std::string(1, '\0');
  };
  EXPECT_NE(DecodeError(tensor_record(std::string("\x0c\x00\x08\x00\x00", 5)))
                .find("BinaryTensor is not supported"), std::string::npos);
  // A RawTypedTensor of BYTE.
  EXPECT_NE(DecodeError(tensor_record(std::string("\x0c\x00\x01\x08\x00\x01\x00\x00\x00\x06"
                                                  "\x0b\x00\x02\x00\x00\x00\x00\x00\x00", 19)))
                .find("unsupported dataType 6 (BYTE)"), std::string::npos);
  // An Int32Tensor whose shape does not match its 1 element.
  EXPECT_NE(DecodeError(tensor_record(std::string("\x0c\x00\x03\x0f\x00\x01\x08\x00\x00\x00\x01"
                                                  "\x00\x00\x00\x05\x0f\x00\x02\x0a\x00\x00\x00\x01"
                                                  "\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00", 34)))
                .find("Int32Tensor: shape holds 2 elements but the tensor has 1"), std::string::npos);
}

TEST(BatchPredictionResponseTest, OneRecordOfPredictionsPerRow) {
  const double values[] = {0.5, 1.5, 2.5, 3.5};
  const int32_t dense_values[] = {1, 2, 3, 4, 5, 6};
  DenseTensor dense;
  dense.type = TensorType::kInt32;
  dense.shape = {2, 3};
  dense.data = dense_values;
  const std::string bytes =
      EncodeBatchPredictionResponse({7, 8}, PredictionMatrix{values, true, 2, 2}, {9}, {dense});
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "response");
  const auto header = reader.ReadFieldHeader();
  EXPECT_EQ(header.id, 1);
  ASSERT_EQ(reader.ReadListHeader(kThriftStruct, "predictions"), 2);
  for (int row = 0; row < 2; ++row) {
    DataRecord record;
    record.Decode(&reader, DecodeOptions());
    ASSERT_EQ(record.continuous.size(), 2u);
    EXPECT_EQ(record.continuous[0].id, 7);
    EXPECT_EQ(record.continuous[1].value, values[2 * row + 1]);
    ASSERT_EQ(record.tensors.size(), 1u);
    const RawTensor& tensor = record.tensors[0].value;
    EXPECT_EQ(tensor.type, TensorType::kInt32);
    EXPECT_EQ(tensor.shape, std::vector<int64_t>{3});
    EXPECT_FALSE(tensor.big_endian);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(tensor.data), tensor.byte_length),
              std::string(reinterpret_cast<const char*>(dense_values + 3 * row), 12));
  }
  EXPECT_EQ(reader.ReadFieldHeader().type, kThriftStop);
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_THROW(EncodeBatchPredictionResponse({7}, PredictionMatrix{values, true, 2, 2}, {}, {}), Error);
  DenseTensor short_tensor = dense;
  short_tensor.shape = {3, 2};
  EXPECT_THROW(EncodeBatchPredictionResponse({7, 8}, PredictionMatrix{values, true, 2, 2}, {9}, {short_tensor}),
               Error);
}

TEST(DecodeOptionsTest, RejectsMismatchedKeepCodesAndBadModes) {
  EXPECT_THROW(DecodeOptions({1, 2}, {0}, {}, {}), Error);
  EXPECT_THROW(DecodeOptions({}, {}, {}, {}, 2), Error);
}

}  // namespace
}  // namespace twml
