#include "twml/tensor.h"

#include <limits>

namespace twml {
namespace {

// tensor.thrift's DataType values.
enum WireDataType : int32_t {
  kWireFloat = 0,
  kWireDouble = 1,
  kWireInt32 = 2,
  kWireInt64 = 3,
  kWireUInt8 = 4,
  kWireString = 5,
  kWireByte = 6,
  kWireBool = 7,
};

// GeneralTensor union field ids.
enum GeneralTensorField : int16_t {
  kRawTypedTensor = 1,
  kStringTensor = 2,
  kInt32Tensor = 3,
  kInt64Tensor = 4,
  kFloatTensor = 5,
  kDoubleTensor = 6,
  kBoolTensor = 7,
  kBinaryTensor = 8,
};

std::vector<int64_t> ReadShape(ThriftReader* reader, const char* tensor) {
  const int32_t rank = reader->ReadListHeader(kThriftI64, tensor);
  std::vector<int64_t> shape(static_cast<size_t>(rank));
  for (auto& dim : shape) {
    dim = reader->ReadI64();
    if (dim < 0) reader->Fail(std::string(tensor) + ": negative dimension " + std::to_string(dim));
  }
  return shape;
}

// The product of `shape`, or -1 if it overflows.
int64_t ShapeProduct(const std::vector<int64_t>& shape) {
  int64_t product = 1;
  for (int64_t dim : shape) {
    if (dim != 0 && product > std::numeric_limits<int64_t>::max() / dim) return -1;
    product *= dim;
  }
  return product;
}

void CheckShape(const ThriftReader& reader, const std::vector<int64_t>& shape, int64_t count,
                const char* tensor) {
  const int64_t product = ShapeProduct(shape);
  if (product != count) {
    reader.Fail(std::string(tensor) + ": shape holds " + std::to_string(product) +
                " elements but the tensor has " + std::to_string(count));
  }
}

[[noreturn]] void FailUnknownField(const ThriftReader& reader, const char* tensor, int16_t id) {
  reader.Fail(std::string(tensor) + ": unknown field id " + std::to_string(id));
}

// Int32Tensor, Int64Tensor, FloatTensor, DoubleTensor, BoolTensor: {1: list<T>, 2: shape}.
RawTensor ReadListTensor(ThriftReader* reader, uint8_t element_type, TensorType type,
                         const char* tensor) {
  RawTensor result;
  result.type = type;
  result.big_endian = true;
  bool have_values = false;
  bool have_shape = false;
  int64_t count = 0;
  for (;;) {
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) break;
    if (header.id == 1) {
      reader->ExpectFieldType(header, kThriftList, tensor);
      count = reader->ReadListHeader(element_type, tensor);
      result.byte_length = static_cast<size_t>(count) * ThriftMinimumSize(element_type);
      result.data = reader->ReadBytes(result.byte_length, tensor);
      have_values = true;
    } else if (header.id == 2) {
      reader->ExpectFieldType(header, kThriftList, tensor);
      result.shape = ReadShape(reader, tensor);
      have_shape = true;
    } else {
      FailUnknownField(*reader, tensor, header.id);
    }
  }
  if (!have_values) reader->Fail(std::string(tensor) + ": missing required field 1");
  if (!have_shape) result.shape = {count};
  CheckShape(*reader, result.shape, count, tensor);
  return result;
}

RawTensor ReadStringTensor(ThriftReader* reader) {
  constexpr const char* kTensor = "StringTensor";
  RawTensor result;
  result.type = TensorType::kString;
  bool have_values = false;
  bool have_shape = false;
  for (;;) {
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) break;
    if (header.id == 1) {
      reader->ExpectFieldType(header, kThriftList, kTensor);
      const int32_t count = reader->ReadListHeader(kThriftString, kTensor);
      result.data = reader->cursor();
      result.strings.resize(static_cast<size_t>(count));
      for (auto& value : result.strings) value = reader->ReadString();
      result.byte_length = static_cast<size_t>(reader->cursor() - result.data);
      have_values = true;
    } else if (header.id == 2) {
      reader->ExpectFieldType(header, kThriftList, kTensor);
      result.shape = ReadShape(reader, kTensor);
      have_shape = true;
    } else {
      FailUnknownField(*reader, kTensor, header.id);
    }
  }
  if (!have_values) reader->Fail("StringTensor: missing required field 1 (strings)");
  const auto count = static_cast<int64_t>(result.strings.size());
  if (!have_shape) result.shape = {count};
  CheckShape(*reader, result.shape, count, kTensor);
  return result;
}

RawTensor ReadRawTypedTensor(ThriftReader* reader) {
  constexpr const char* kTensor = "RawTypedTensor";
  RawTensor result;
  bool have_type = false;
  bool have_content = false;
  bool have_shape = false;
  int32_t data_type = 0;
  for (;;) {
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) break;
    if (header.id == 1) {
      reader->ExpectFieldType(header, kThriftI32, "RawTypedTensor.dataType");
      data_type = reader->ReadI32();
      have_type = true;
    } else if (header.id == 2) {
      reader->ExpectFieldType(header, kThriftString, "RawTypedTensor.content");
      const std::string_view content = reader->ReadString();
      result.data = reinterpret_cast<const uint8_t*>(content.data());
      result.byte_length = content.size();
      have_content = true;
    } else if (header.id == 3) {
      reader->ExpectFieldType(header, kThriftList, "RawTypedTensor.shape");
      result.shape = ReadShape(reader, kTensor);
      have_shape = true;
    } else {
      FailUnknownField(*reader, kTensor, header.id);
    }
  }
  if (!have_type) reader->Fail("RawTypedTensor: missing required field 1 (dataType)");
  if (!have_content) reader->Fail("RawTypedTensor: missing required field 2 (content)");
  switch (data_type) {
    case kWireFloat: result.type = TensorType::kFloat32; break;
    case kWireDouble: result.type = TensorType::kFloat64; break;
    case kWireInt32: result.type = TensorType::kInt32; break;
    case kWireInt64: result.type = TensorType::kInt64; break;
    case kWireUInt8: result.type = TensorType::kUInt8; break;
    case kWireString: result.type = TensorType::kString; break;
    case kWireBool: result.type = TensorType::kBool; break;
    default:
      reader->Fail("RawTypedTensor: unsupported dataType " + std::to_string(data_type) +
                   (data_type == kWireByte ? " (BYTE)" : ""));
  }
  if (result.type == TensorType::kString) {
    // Raw string content is opaque bytes, with no element size to derive a shape from or to
    // check one against: only its emptiness must agree with the shape's element count.
    if (!have_shape) reader->Fail("RawTypedTensor: a STRING tensor needs a shape");
    int64_t elements = 1;
    for (int64_t dim : result.shape) elements = dim == 0 ? 0 : elements;
    if ((elements == 0) != (result.byte_length == 0)) {
      reader->Fail("RawTypedTensor: a STRING tensor's shape holds " +
                   std::string(elements == 0 ? "no elements" : "elements") + " but its content has " +
                   std::to_string(result.byte_length) + " bytes");
    }
    return result;
  }
  const size_t element_size = TensorElementSize(result.type);
  if (result.byte_length % element_size != 0) {
    reader->Fail("RawTypedTensor: " + std::to_string(result.byte_length) +
                 " content bytes are not a whole number of " + TensorTypeName(result.type) +
                 " elements");
  }
  const auto count = static_cast<int64_t>(result.byte_length / element_size);
  if (!have_shape) result.shape = {count};
  CheckShape(*reader, result.shape, count, kTensor);
  return result;
}

void ExpectUnionEnd(ThriftReader* reader, const char* union_name) {
  const size_t at = reader->offset();
  if (reader->ReadFieldHeader().type != kThriftStop) {
    reader->FailAt(at, std::string(union_name) + ": a union must hold exactly one field");
  }
}

}  // namespace

const char* TensorTypeName(TensorType type) {
  switch (type) {
    case TensorType::kFloat32: return "float32";
    case TensorType::kFloat64: return "float64";
    case TensorType::kInt32: return "int32";
    case TensorType::kInt64: return "int64";
    case TensorType::kInt8: return "int8";
    case TensorType::kUInt8: return "uint8";
    case TensorType::kBool: return "bool";
    case TensorType::kString: return "string";
  }
  return "unknown";
}

size_t TensorElementSize(TensorType type) {
  switch (type) {
    case TensorType::kFloat64:
    case TensorType::kInt64:
      return 8;
    case TensorType::kFloat32:
    case TensorType::kInt32:
      return 4;
    default:
      return 1;
  }
}

int64_t RawTensor::num_elements() const { return ShapeProduct(shape); }

RawTensor DecodeGeneralTensor(ThriftReader* reader) {
  const size_t at = reader->offset();
  const auto header = reader->ReadFieldHeader();
  if (header.type == kThriftStop) reader->FailAt(at, "GeneralTensor: empty union");
  reader->ExpectFieldType(header, kThriftStruct, "GeneralTensor");
  RawTensor result;
  switch (header.id) {
    case kRawTypedTensor: result = ReadRawTypedTensor(reader); break;
    case kStringTensor: result = ReadStringTensor(reader); break;
    case kInt32Tensor:
      result = ReadListTensor(reader, kThriftI32, TensorType::kInt32, "Int32Tensor");
      break;
    case kInt64Tensor:
      result = ReadListTensor(reader, kThriftI64, TensorType::kInt64, "Int64Tensor");
      break;
    case kFloatTensor:  // floats travel as doubles
      result = ReadListTensor(reader, kThriftDouble, TensorType::kFloat64, "FloatTensor");
      break;
    case kDoubleTensor:
      result = ReadListTensor(reader, kThriftDouble, TensorType::kFloat64, "DoubleTensor");
      break;
    case kBoolTensor:
      result = ReadListTensor(reader, kThriftBool, TensorType::kBool, "BoolTensor");
      break;
    case kBinaryTensor:
      reader->FailAt(at, "GeneralTensor: BinaryTensor is not supported");
    default:
      reader->FailAt(at, "GeneralTensor: unknown union field id " + std::to_string(header.id));
  }
  ExpectUnionEnd(reader, "GeneralTensor");
  return result;
}

RawSparseTensor DecodeSparseTensor(ThriftReader* reader) {
  const size_t at = reader->offset();
  const auto header = reader->ReadFieldHeader();
  if (header.type == kThriftStop) reader->FailAt(at, "SparseTensor: empty union");
  if (header.id != 1) {
    reader->FailAt(at, "SparseTensor: unknown union field id " + std::to_string(header.id));
  }
  reader->ExpectFieldType(header, kThriftStruct, "SparseTensor.cooSparseTensor");
  RawSparseTensor result;
  bool have[4] = {false, false, false, false};
  for (;;) {
    const auto field = reader->ReadFieldHeader();
    if (field.type == kThriftStop) break;
    if (field.id == 1) {
      reader->ExpectFieldType(field, kThriftList, "COOSparseTensor.denseShape");
      result.dense_shape = ReadShape(reader, "COOSparseTensor.denseShape");
    } else if (field.id == 2) {
      reader->ExpectFieldType(field, kThriftStruct, "COOSparseTensor.indices");
      result.indices = ReadListTensor(reader, kThriftI64, TensorType::kInt64, "COOSparseTensor.indices");
    } else if (field.id == 3) {
      reader->ExpectFieldType(field, kThriftStruct, "COOSparseTensor.values");
      result.values = DecodeGeneralTensor(reader);
    } else {
      FailUnknownField(*reader, "COOSparseTensor", field.id);
    }
    have[field.id] = true;
  }
  for (int id = 1; id <= 3; ++id) {
    if (!have[id]) {
      reader->Fail("COOSparseTensor: missing required field " + std::to_string(id));
    }
  }
  ExpectUnionEnd(reader, "SparseTensor");
  return result;
}

void EncodeGeneralTensor(TensorType type, const std::vector<int64_t>& shape, const void* data,
                         const std::vector<std::string_view>& strings, ThriftWriter* writer) {
  auto write_shape = [&](int16_t field_id) {
    writer->WriteFieldHeader(kThriftList, field_id);
    writer->WriteListHeader(kThriftI64, shape.size());
    for (int64_t dim : shape) writer->WriteI64(dim);
  };
  if (type == TensorType::kString) {
    writer->WriteFieldHeader(kThriftStruct, kStringTensor);
    writer->WriteFieldHeader(kThriftList, 1);
    writer->WriteListHeader(kThriftString, strings.size());
    for (auto value : strings) writer->WriteString(value);
    write_shape(2);
    writer->WriteStop();
    writer->WriteStop();
    return;
  }
  int32_t wire_type;
  switch (type) {
    case TensorType::kFloat32: wire_type = kWireFloat; break;
    case TensorType::kFloat64: wire_type = kWireDouble; break;
    case TensorType::kInt32: wire_type = kWireInt32; break;
    case TensorType::kInt64: wire_type = kWireInt64; break;
    case TensorType::kUInt8: wire_type = kWireUInt8; break;
    case TensorType::kBool: wire_type = kWireBool; break;
    default:
      throw Error(ErrorCode::kType,
                  std::string("cannot encode a tensor of type ") + TensorTypeName(type));
  }
  const int64_t count = ShapeProduct(shape);
  if (count < 0) throw Error(ErrorCode::kSize, "tensor shape overflows int64");
  writer->WriteFieldHeader(kThriftStruct, kRawTypedTensor);
  writer->WriteFieldHeader(kThriftI32, 1);
  writer->WriteI32(wire_type);
  writer->WriteFieldHeader(kThriftString, 2);
  writer->WriteString(std::string_view(static_cast<const char*>(data),
                                       static_cast<size_t>(count) * TensorElementSize(type)));
  write_shape(3);
  writer->WriteStop();
  writer->WriteStop();
}

}  // namespace twml
