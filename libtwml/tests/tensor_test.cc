// Tensors inside records (tensor.h): the GeneralTensor / SparseTensor decoders over each union
// member, the RawTypedTensor encoder, the element types and their sizes, and the errors on
// malformed tensors (offsets included).
#include "twml/tensor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "twml/error.h"
#include "twml/thrift.h"

namespace twml {
namespace {

// GeneralTensor union field ids and tensor.thrift DataType values, as on the wire.
constexpr int16_t kRawTypedTensor = 1, kStringTensor = 2, kInt32Tensor = 3, kInt64Tensor = 4,
                  kFloatTensor = 5, kDoubleTensor = 6, kBoolTensor = 7, kBinaryTensor = 8;
constexpr int32_t kWireFloat = 0, kWireInt64 = 3, kWireString = 5, kWireByte = 6;

RawTensor Decode(const std::string& bytes, size_t* consumed = nullptr) {
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "tensor");
  RawTensor tensor = DecodeGeneralTensor(&reader);
  if (consumed != nullptr) *consumed = reader.offset();
  return tensor;
}

std::string DecodeError(const std::string& bytes) {
  try {
    Decode(bytes);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kThrift);
    return error.what();
  }
  ADD_FAILURE() << "decoded a malformed tensor";
  return "";
}

std::string SparseDecodeError(const std::string& bytes) {
  try {
    ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "tensor");
    DecodeSparseTensor(&reader);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kThrift);
    return error.what();
  }
  ADD_FAILURE() << "decoded a malformed sparse tensor";
  return "";
}

// A list tensor ({1: list<T>, 2: shape}) of the union member `member`, with optional shape.
template <typename Write>
std::string ListTensor(int16_t member, uint8_t element_type, size_t count, Write write_elements,
                       const std::vector<int64_t>* shape) {
  std::string bytes;
  ThriftWriter writer(&bytes);
  writer.WriteFieldHeader(kThriftStruct, member);
  writer.WriteFieldHeader(kThriftList, 1);
  writer.WriteListHeader(element_type, count);
  write_elements(&writer);
  if (shape != nullptr) {
    writer.WriteFieldHeader(kThriftList, 2);
    writer.WriteListHeader(kThriftI64, shape->size());
    for (int64_t dim : *shape) writer.WriteI64(dim);
  }
  writer.WriteStop();
  writer.WriteStop();
  return bytes;
}

// A RawTypedTensor {1: dataType, 2: content, 3: shape (optional)}.
std::string RawTyped(int32_t data_type, const std::string& content, const std::vector<int64_t>* shape) {
  std::string bytes;
  ThriftWriter writer(&bytes);
  writer.WriteFieldHeader(kThriftStruct, kRawTypedTensor);
  writer.WriteFieldHeader(kThriftI32, 1);
  writer.WriteI32(data_type);
  writer.WriteFieldHeader(kThriftString, 2);
  writer.WriteString(content);
  if (shape != nullptr) {
    writer.WriteFieldHeader(kThriftList, 3);
    writer.WriteListHeader(kThriftI64, shape->size());
    for (int64_t dim : *shape) writer.WriteI64(dim);
  }
  writer.WriteStop();
  writer.WriteStop();
  return bytes;
}

int64_t BigEndianI64At(const RawTensor& tensor, size_t i) {
  uint64_t bits;
  std::memcpy(&bits, tensor.data + 8 * i, 8);
  return static_cast<int64_t>(__builtin_bswap64(bits));
}

TEST(TensorTypeTest, NamesAndElementSizes) {
  const std::vector<std::pair<TensorType, std::string>> names = {
      {TensorType::kFloat32, "float32"}, {TensorType::kFloat64, "float64"}, {TensorType::kInt32, "int32"},
      {TensorType::kInt64, "int64"},     {TensorType::kInt8, "int8"},       {TensorType::kUInt8, "uint8"},
      {TensorType::kBool, "bool"},       {TensorType::kString, "string"}};
  for (const auto& [type, name] : names) EXPECT_EQ(TensorTypeName(type), name);
  // The numbering is the original's twml_type.
  EXPECT_EQ(static_cast<int>(TensorType::kFloat32), 1);
  EXPECT_EQ(static_cast<int>(TensorType::kString), 8);
  EXPECT_EQ(TensorElementSize(TensorType::kFloat64), 8u);
  EXPECT_EQ(TensorElementSize(TensorType::kInt64), 8u);
  EXPECT_EQ(TensorElementSize(TensorType::kFloat32), 4u);
  EXPECT_EQ(TensorElementSize(TensorType::kInt32), 4u);
  EXPECT_EQ(TensorElementSize(TensorType::kUInt8), 1u);
  EXPECT_EQ(TensorElementSize(TensorType::kBool), 1u);
  EXPECT_EQ(TensorElementSize(TensorType::kString), 1u);
}

TEST(RawTensorTest, NumElementsIsTheShapeProductOrMinusOneOnOverflow) {
  RawTensor tensor;
  EXPECT_EQ(tensor.num_elements(), 1);  // a scalar
  tensor.shape = {2, 3};
  EXPECT_EQ(tensor.num_elements(), 6);
  tensor.shape = {0, std::numeric_limits<int64_t>::max()};
  EXPECT_EQ(tensor.num_elements(), 0);
  tensor.shape = {std::numeric_limits<int64_t>::max(), 2};
  EXPECT_EQ(tensor.num_elements(), -1);
}

TEST(EncodeGeneralTensorTest, RawTypedTensorBytesAndRoundTrip) {
  const float values[3] = {1.0f, -2.5f, 0.0f};
  std::string bytes;
  ThriftWriter writer(&bytes);
  EncodeGeneralTensor(TensorType::kFloat32, {3, 1}, values, {}, &writer);
  // {1: RawTypedTensor {1: FLOAT, 2: 12 little-endian bytes, 3: [3, 1]}}.
  std::string expected("\x0c\x00\x01" "\x08\x00\x01\x00\x00\x00\x00" "\x0b\x00\x02\x00\x00\x00\x0c", 17);
  expected.append(reinterpret_cast<const char*>(values), sizeof(values));
  expected.append("\x0f\x00\x03\x0a\x00\x00\x00\x02", 8);
  expected.append(std::string("\0\0\0\0\0\0\0\x03", 8) + std::string("\0\0\0\0\0\0\0\x01", 8));
  expected.append(std::string("\0\0", 2));
  EXPECT_EQ(bytes, expected);

  size_t consumed = 0;
  const RawTensor tensor = Decode(bytes, &consumed);
  EXPECT_EQ(consumed, bytes.size());
  EXPECT_EQ(tensor.type, TensorType::kFloat32);
  EXPECT_EQ(tensor.shape, (std::vector<int64_t>{3, 1}));
  EXPECT_FALSE(tensor.big_endian);
  ASSERT_EQ(tensor.byte_length, sizeof(values));
  EXPECT_EQ(std::memcmp(tensor.data, values, sizeof(values)), 0);
  // The view points into the input bytes, not a copy.
  EXPECT_GE(tensor.data, reinterpret_cast<const uint8_t*>(bytes.data()));
  EXPECT_LT(tensor.data, reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size());
}

TEST(EncodeGeneralTensorTest, EveryEncodableTypeRoundTrips) {
  const double f64[2] = {0.5, -1e300};
  const int32_t i32[2] = {-7, 1 << 30};
  const int64_t i64[2] = {std::numeric_limits<int64_t>::min(), 42};
  const uint8_t u8[2] = {0, 255};
  const uint8_t b[2] = {1, 0};
  const struct {
    TensorType type;
    const void* data;
  } cases[] = {{TensorType::kFloat64, f64},
               {TensorType::kInt32, i32},
               {TensorType::kInt64, i64},
               {TensorType::kUInt8, u8},
               {TensorType::kBool, b}};
  for (const auto& c : cases) {
    std::string bytes;
    ThriftWriter writer(&bytes);
    EncodeGeneralTensor(c.type, {2}, c.data, {}, &writer);
    const RawTensor tensor = Decode(bytes);
    SCOPED_TRACE(TensorTypeName(c.type));
    EXPECT_EQ(tensor.type, c.type);
    EXPECT_EQ(tensor.shape, (std::vector<int64_t>{2}));
    ASSERT_EQ(tensor.byte_length, 2 * TensorElementSize(c.type));
    EXPECT_EQ(std::memcmp(tensor.data, c.data, tensor.byte_length), 0);
  }
}

TEST(EncodeGeneralTensorTest, StringsBecomeAStringTensor) {
  std::string bytes;
  ThriftWriter writer(&bytes);
  EncodeGeneralTensor(TensorType::kString, {1, 3}, nullptr, {"a", "", "xyz"}, &writer);
  EXPECT_EQ(bytes.substr(0, 3), std::string("\x0c\x00\x02", 3));  // GeneralTensor.stringTensor
  const RawTensor tensor = Decode(bytes);
  EXPECT_EQ(tensor.type, TensorType::kString);
  EXPECT_EQ(tensor.shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(tensor.strings, (std::vector<std::string_view>{"a", "", "xyz"}));
  EXPECT_EQ(tensor.num_elements(), 3);
  // byte_length spans the list's strings: three 4-byte lengths and 4 characters.
  EXPECT_EQ(tensor.byte_length, 16u);
}

TEST(EncodeGeneralTensorTest, RejectsInt8AndShapesThatOverflow) {
  std::string bytes;
  ThriftWriter writer(&bytes);
  const int8_t values[1] = {1};
  try {
    EncodeGeneralTensor(TensorType::kInt8, {1}, values, {}, &writer);
    ADD_FAILURE() << "encoded int8";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kType);
    EXPECT_STREQ(error.what(), "cannot encode a tensor of type int8");
  }
  try {
    EncodeGeneralTensor(TensorType::kInt32, {std::numeric_limits<int64_t>::max(), 4}, values, {}, &writer);
    ADD_FAILURE() << "encoded an overflowing shape";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kSize);
  }
  EXPECT_TRUE(bytes.empty());  // nothing written before the errors
}

TEST(DecodeGeneralTensorTest, ListTensorsAreBigEndianViewsWithADefaultShape) {
  auto int64s = [](ThriftWriter* w) {
    w->WriteI64(-3);
    w->WriteI64(1LL << 40);
  };
  // Decoded tensors are views: the bytes must outlive them.
  const std::string int64_bytes = ListTensor(kInt64Tensor, kThriftI64, 2, int64s, nullptr);
  const RawTensor tensor = Decode(int64_bytes);
  EXPECT_EQ(tensor.type, TensorType::kInt64);
  EXPECT_TRUE(tensor.big_endian);
  EXPECT_EQ(tensor.shape, (std::vector<int64_t>{2}));  // no shape field: one dimension
  ASSERT_EQ(tensor.byte_length, 16u);
  EXPECT_EQ(BigEndianI64At(tensor, 0), -3);
  EXPECT_EQ(BigEndianI64At(tensor, 1), 1LL << 40);

  // FloatTensor and DoubleTensor both hold doubles on the wire: both decode as float64.
  auto doubles = [](ThriftWriter* w) {
    for (double v : {1.0, 2.0, 3.0, 4.0}) w->WriteDouble(v);
  };
  const std::vector<int64_t> shape = {2, 2};
  for (int16_t member : {kFloatTensor, kDoubleTensor}) {
    const RawTensor t = Decode(ListTensor(member, kThriftDouble, 4, doubles, &shape));
    EXPECT_EQ(t.type, TensorType::kFloat64);
    EXPECT_EQ(t.shape, shape);
    EXPECT_EQ(t.byte_length, 32u);
  }
  auto int32s = [](ThriftWriter* w) { w->WriteI32(5); };
  EXPECT_EQ(Decode(ListTensor(kInt32Tensor, kThriftI32, 1, int32s, nullptr)).type, TensorType::kInt32);
  auto bools = [](ThriftWriter* w) {
    w->WriteBool(true);
    w->WriteBool(false);
  };
  const std::string bool_bytes = ListTensor(kBoolTensor, kThriftBool, 2, bools, nullptr);
  const RawTensor flags = Decode(bool_bytes);
  EXPECT_EQ(flags.type, TensorType::kBool);
  EXPECT_EQ(flags.byte_length, 2u);
  EXPECT_EQ(flags.data[0], 1);
  // An empty list with shape [0, 3] is a valid empty tensor.
  const std::vector<int64_t> empty_shape = {0, 3};
  const RawTensor empty = Decode(ListTensor(kInt32Tensor, kThriftI32, 0, [](ThriftWriter*) {}, &empty_shape));
  EXPECT_EQ(empty.num_elements(), 0);
  EXPECT_EQ(empty.byte_length, 0u);
}

TEST(DecodeGeneralTensorTest, RawTypedTensorChecksContentAgainstTypeAndShape) {
  const std::vector<int64_t> two = {2};
  EXPECT_EQ(Decode(RawTyped(kWireInt64, std::string(16, '\1'), nullptr)).shape, two);
  EXPECT_NE(DecodeError(RawTyped(kWireInt64, std::string(12, '\0'), nullptr))
                .find("RawTypedTensor: 12 content bytes are not a whole number of int64 elements"),
            std::string::npos);
  EXPECT_NE(DecodeError(RawTyped(kWireFloat, std::string(12, '\0'), &two))
                .find("RawTypedTensor: shape holds 2 elements but the tensor has 3"),
            std::string::npos);
  EXPECT_NE(DecodeError(RawTyped(kWireByte, "", nullptr)).find("unsupported dataType 6 (BYTE)"),
            std::string::npos);
  EXPECT_NE(DecodeError(RawTyped(99, "", nullptr)).find("unsupported dataType 99"), std::string::npos);
  // Raw STRING content is opaque: it needs a shape, and only its emptiness is checked.
  EXPECT_NE(DecodeError(RawTyped(kWireString, "ab", nullptr)).find("a STRING tensor needs a shape"),
            std::string::npos);
  const RawTensor raw_string = Decode(RawTyped(kWireString, "abc", &two));
  EXPECT_EQ(raw_string.type, TensorType::kString);
  EXPECT_EQ(raw_string.byte_length, 3u);
  const std::vector<int64_t> none = {0};
  EXPECT_NE(DecodeError(RawTyped(kWireString, "abc", &none))
                .find("a STRING tensor's shape holds no elements but its content has 3 bytes"),
            std::string::npos);
  EXPECT_NE(DecodeError(RawTyped(kWireString, "", &two))
                .find("a STRING tensor's shape holds elements but its content has 0 bytes"),
            std::string::npos);
}

TEST(DecodeGeneralTensorTest, MalformedUnionsAndFieldsNameTheProblemAndOffset) {
  EXPECT_EQ(DecodeError(std::string("\0", 1)), "tensor: GeneralTensor: empty union at byte 0");
  EXPECT_EQ(DecodeError(std::string("\x0c\x00\x08\x00\x00", 5)),
            "tensor: GeneralTensor: BinaryTensor is not supported at byte 0");
  EXPECT_EQ(DecodeError(std::string("\x0c\x00\x09\x00\x00", 5)),
            "tensor: GeneralTensor: unknown union field id 9 at byte 0");
  EXPECT_NE(DecodeError(std::string("\x08\x00\x01\x00\x00\x00\x00", 7)).find("GeneralTensor"),
            std::string::npos);  // a member that is not a struct

  auto one_int = [](ThriftWriter* w) { w->WriteI32(1); };
  // Two members in one union: the second field header is the error's offset.
  std::string two_members = ListTensor(kInt32Tensor, kThriftI32, 1, one_int, nullptr);
  two_members.pop_back();  // the union's STOP
  const size_t second = two_members.size();
  two_members += ListTensor(kInt32Tensor, kThriftI32, 1, one_int, nullptr);
  EXPECT_EQ(DecodeError(two_members),
            "tensor: GeneralTensor: a union must hold exactly one field at byte " + std::to_string(second));

  // No values field; an unknown field; a list of the wrong element type; a negative dimension.
  EXPECT_NE(DecodeError(std::string("\x0c\x00\x03\x00\x00", 5)).find("Int32Tensor: missing required field 1"),
            std::string::npos);
  EXPECT_NE(DecodeError(std::string("\x0c\x00\x03\x08\x00\x07\x00\x00\x00\x00\x00\x00", 12))
                .find("Int32Tensor: unknown field id 7"),
            std::string::npos);
  EXPECT_NE(DecodeError(ListTensor(kInt32Tensor, kThriftI64, 1, [](ThriftWriter* w) { w->WriteI64(1); }, nullptr))
                .find("Int32Tensor"),
            std::string::npos);
  const std::vector<int64_t> negative = {-1};
  EXPECT_NE(DecodeError(ListTensor(kInt32Tensor, kThriftI32, 1, one_int, &negative)).find("negative dimension -1"),
            std::string::npos);
  const std::vector<int64_t> wrong = {2};
  EXPECT_NE(DecodeError(ListTensor(kInt32Tensor, kThriftI32, 1, one_int, &wrong))
                .find("Int32Tensor: shape holds 2 elements but the tensor has 1"),
            std::string::npos);
  EXPECT_NE(DecodeError(std::string("\x0c\x00\x02\x00\x00", 5))
                .find("StringTensor: missing required field 1 (strings)"),
            std::string::npos);
  EXPECT_NE(DecodeError(std::string("\x0c\x00\x01\x0b\x00\x02\x00\x00\x00\x00\x00\x00", 12))
                .find("RawTypedTensor: missing required field 1 (dataType)"),
            std::string::npos);
}

TEST(DecodeGeneralTensorTest, EveryTruncationIsAnErrorNotAnOverread) {
  const int64_t values[3] = {1, 2, 3};
  std::string bytes;
  ThriftWriter writer(&bytes);
  EncodeGeneralTensor(TensorType::kInt64, {3}, values, {}, &writer);
  for (size_t size = 0; size < bytes.size(); ++size) {
    // A copy of exactly `size` bytes, so that ASan sees any read past its end.
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    ThriftReader reader(prefix.data(), prefix.size());
    EXPECT_THROW(DecodeGeneralTensor(&reader), Error) << size << " bytes";
  }
}

// A COOSparseTensor {1: denseShape, 2: indices (Int64Tensor), 3: values (GeneralTensor)} in
// the SparseTensor union, with `skip` naming a field to leave out (0: none).
std::string CooTensor(int skip = 0) {
  std::string bytes;
  ThriftWriter writer(&bytes);
  writer.WriteFieldHeader(kThriftStruct, 1);
  if (skip != 1) {
    writer.WriteFieldHeader(kThriftList, 1);
    writer.WriteListHeader(kThriftI64, 2);
    writer.WriteI64(4);
    writer.WriteI64(5);
  }
  if (skip != 2) {
    writer.WriteFieldHeader(kThriftStruct, 2);
    writer.WriteFieldHeader(kThriftList, 1);
    writer.WriteListHeader(kThriftI64, 4);
    for (int64_t v : {0, 1, 3, 4}) writer.WriteI64(v);
    writer.WriteFieldHeader(kThriftList, 2);
    writer.WriteListHeader(kThriftI64, 2);
    writer.WriteI64(2);
    writer.WriteI64(2);
    writer.WriteStop();
  }
  if (skip != 3) {
    writer.WriteFieldHeader(kThriftStruct, 3);
    const float values[2] = {0.25f, 0.75f};
    EncodeGeneralTensor(TensorType::kFloat32, {2}, values, {}, &writer);
  }
  writer.WriteStop();
  writer.WriteStop();
  return bytes;
}

TEST(DecodeSparseTensorTest, CooTensorsDecodeIntoTheirParts) {
  const std::string bytes = CooTensor();
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  const RawSparseTensor tensor = DecodeSparseTensor(&reader);
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_EQ(tensor.dense_shape, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(tensor.indices.type, TensorType::kInt64);
  EXPECT_EQ(tensor.indices.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(BigEndianI64At(tensor.indices, 2), 3);
  EXPECT_EQ(tensor.values.type, TensorType::kFloat32);
  EXPECT_EQ(tensor.values.num_elements(), 2);
}

TEST(DecodeSparseTensorTest, MissingFieldsAndUnknownMembersAreErrors) {
  for (int field = 1; field <= 3; ++field) {
    EXPECT_NE(SparseDecodeError(CooTensor(field))
                  .find("COOSparseTensor: missing required field " + std::to_string(field)),
              std::string::npos);
  }
  EXPECT_EQ(SparseDecodeError(std::string("\0", 1)), "tensor: SparseTensor: empty union at byte 0");
  EXPECT_EQ(SparseDecodeError(std::string("\x0c\x00\x02\x00\x00", 5)),
            "tensor: SparseTensor: unknown union field id 2 at byte 0");
  EXPECT_NE(SparseDecodeError(std::string("\x0c\x00\x01\x08\x00\x05\x00\x00\x00\x00\x00\x00", 12))
                .find("COOSparseTensor: unknown field id 5"),
            std::string::npos);
}

}  // namespace
}  // namespace twml
