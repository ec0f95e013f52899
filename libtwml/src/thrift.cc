#include "twml/thrift.h"

#include <cstring>
#include <limits>

namespace twml {

std::string ThriftTypeName(uint8_t type) {
  switch (type) {
    case kThriftStop: return "stop";
    case kThriftBool: return "bool";
    case kThriftByte: return "byte";
    case kThriftDouble: return "double";
    case kThriftI16: return "i16";
    case kThriftI32: return "i32";
    case kThriftI64: return "i64";
    case kThriftString: return "string";
    case kThriftStruct: return "struct";
    case kThriftMap: return "map";
    case kThriftSet: return "set";
    case kThriftList: return "list";
  }
  return "type " + std::to_string(type);
}

void ThriftReader::Fail(const std::string& message) const { FailAt(offset(), message); }

void ThriftReader::FailAt(size_t at, const std::string& message) const {
  std::string full(context_);
  if (index_ >= 0) full += " " + std::to_string(index_);
  if (!full.empty()) full += ": ";
  full += message + " at byte " + std::to_string(at);
  throw Error(ErrorCode::kThrift, full);
}

void ThriftReader::FailTruncated(size_t bytes, const char* what) const {
  Fail(std::string("truncated data: ") + what + " needs " + std::to_string(bytes) + " bytes, " +
       std::to_string(remaining()) + " left");
}

void ThriftReader::FailStringLength(size_t at, int32_t length) const {
  if (length < 0) FailAt(at, "negative string length " + std::to_string(length));
  FailAt(at, "string length " + std::to_string(length) + " exceeds the " + std::to_string(remaining()) +
                 " bytes left");
}

const uint8_t* ThriftReader::ReadBytes(size_t size, const char* what) {
  Require(size, what);
  const uint8_t* start = cursor_;
  cursor_ += size;
  return start;
}

void ThriftReader::FailFieldType(const FieldHeader& header, uint8_t expected, const char* field) const {
  FailAt(offset() - 3, std::string("field ") + field + " (id " + std::to_string(header.id) + "): expected " +
                           ThriftTypeName(expected) + ", found " + ThriftTypeName(header.type));
}

void ThriftReader::FailCount(size_t header_offset, int32_t count, const char* field) const {
  if (count < 0) {
    FailAt(header_offset, std::string(field) + ": negative element count " + std::to_string(count));
  }
  FailAt(header_offset, std::string(field) + ": " + std::to_string(count) + " elements cannot fit in the " +
                            std::to_string(remaining()) + " bytes left");
}

void ThriftReader::FailListType(size_t at, uint8_t expected, uint8_t found, const char* field) const {
  FailAt(at, std::string(field) + ": expected elements of type " + ThriftTypeName(expected) + ", found " +
                 ThriftTypeName(found));
}

void ThriftReader::FailMapTypes(size_t at, uint8_t key_type, uint8_t value_type, uint8_t key, uint8_t value,
                                const char* field) const {
  FailAt(at, std::string(field) + ": expected map<" + ThriftTypeName(key_type) + ", " +
                 ThriftTypeName(value_type) + ">, found map<" + ThriftTypeName(key) + ", " +
                 ThriftTypeName(value) + ">");
}

void ThriftReader::Skip(uint8_t type, const char* field, int depth) {
  const size_t at = offset();
  if (depth > kMaxSkipDepth) {
    FailAt(at, std::string(field) + ": containers nested more than " + std::to_string(kMaxSkipDepth) + " deep");
  }
  switch (type) {
    case kThriftBool:
    case kThriftByte:
    case kThriftI16:
    case kThriftI32:
    case kThriftDouble:
    case kThriftI64:
      ReadBytes(ThriftMinimumSize(type), "a value");
      return;
    case kThriftString:
      ReadString();
      return;
    case kThriftStruct:
      for (;;) {
        const FieldHeader header = ReadFieldHeader();
        if (header.type == kThriftStop) return;
        Skip(header.type, field, depth + 1);
      }
    case kThriftList:
    case kThriftSet: {
      const uint8_t element = ReadByte();
      if (ThriftMinimumSize(element) == 0) FailAt(at, std::string(field) + ": elements of " + ThriftTypeName(element));
      const int32_t count = ReadCount(ThriftMinimumSize(element), field, at);
      for (int32_t i = 0; i < count; ++i) Skip(element, field, depth + 1);
      return;
    }
    case kThriftMap: {
      const uint8_t key = ReadByte();
      const uint8_t value = ReadByte();
      if (ThriftMinimumSize(key) == 0 || ThriftMinimumSize(value) == 0) {
        FailAt(at, std::string(field) + ": map<" + ThriftTypeName(key) + ", " + ThriftTypeName(value) + ">");
      }
      const int32_t count = ReadCount(ThriftMinimumSize(key) + ThriftMinimumSize(value), field, at);
      for (int32_t i = 0; i < count; ++i) {
        Skip(key, field, depth + 1);
        Skip(value, field, depth + 1);
      }
      return;
    }
  }
  FailAt(at, std::string(field) + ": " + ThriftTypeName(type) + " is not a Thrift value type");
}

void ThriftWriter::WriteBigEndian(uint64_t value, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out_->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void ThriftWriter::WriteDouble(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  WriteBigEndian(bits, 8);
}

int32_t ThriftWriter::CheckedCount(size_t count) {
  if (count > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw Error(ErrorCode::kSize, "cannot write a Thrift container of " + std::to_string(count) +
                                      " elements (at most 2^31 - 1)");
  }
  return static_cast<int32_t>(count);
}

void ThriftWriter::WriteString(std::string_view value) {
  WriteI32(CheckedCount(value.size()));
  out_->append(value.data(), value.size());
}

void ThriftWriter::WriteListHeader(uint8_t element_type, size_t count) {
  WriteByte(element_type);
  WriteI32(CheckedCount(count));
}

void ThriftWriter::WriteMapHeader(uint8_t key_type, uint8_t value_type, size_t count) {
  WriteByte(key_type);
  WriteByte(value_type);
  WriteI32(CheckedCount(count));
}

}  // namespace twml
