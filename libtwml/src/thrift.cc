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

size_t ThriftMinimumSize(uint8_t type) {
  switch (type) {
    case kThriftBool:
    case kThriftByte:
    case kThriftStruct:  // just its STOP byte
      return 1;
    case kThriftI16: return 2;
    case kThriftI32:
    case kThriftString:  // its length
      return 4;
    case kThriftDouble:
    case kThriftI64:
      return 8;
    case kThriftSet:
    case kThriftList:  // element type + count
      return 5;
    case kThriftMap:  // key type + value type + count
      return 6;
  }
  return 0;
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

std::string_view ThriftReader::ReadString() {
  const size_t at = offset();
  const int32_t length = ReadI32();
  if (length < 0) FailAt(at, "negative string length " + std::to_string(length));
  if (static_cast<size_t>(length) > remaining()) {
    FailAt(at, "string length " + std::to_string(length) + " exceeds the " +
                   std::to_string(remaining()) + " bytes left");
  }
  std::string_view value(reinterpret_cast<const char*>(cursor_), static_cast<size_t>(length));
  cursor_ += length;
  return value;
}

const uint8_t* ThriftReader::ReadBytes(size_t size, const char* what) {
  Require(size, what);
  const uint8_t* start = cursor_;
  cursor_ += size;
  return start;
}

ThriftReader::FieldHeader ThriftReader::ReadFieldHeader() {
  const uint8_t type = ReadByte();
  if (type == kThriftStop) return {type, 0};
  return {type, ReadI16()};
}

void ThriftReader::ExpectFieldType(const FieldHeader& header, uint8_t expected,
                                   const char* field) const {
  if (header.type != expected) {
    FailAt(offset() - 3, std::string("field ") + field + " (id " + std::to_string(header.id) +
                             "): expected " + ThriftTypeName(expected) + ", found " +
                             ThriftTypeName(header.type));
  }
}

int32_t ThriftReader::ReadCount(size_t min_element_size, const char* field, size_t header_offset) {
  const int32_t count = ReadI32();
  if (count < 0) {
    FailAt(header_offset, std::string(field) + ": negative element count " + std::to_string(count));
  }
  // Every element takes at least min_element_size bytes: a count the data cannot hold is
  // rejected here, before any caller reserves memory for it.
  if (min_element_size > 0 &&
      static_cast<uint64_t>(count) > remaining() / min_element_size) {
    FailAt(header_offset, std::string(field) + ": " + std::to_string(count) +
                              " elements cannot fit in the " + std::to_string(remaining()) +
                              " bytes left");
  }
  return count;
}

int32_t ThriftReader::ReadListHeader(uint8_t element_type, const char* field) {
  const size_t at = offset();
  const uint8_t type = ReadByte();
  if (type != element_type) {
    FailAt(at, std::string(field) + ": expected elements of type " + ThriftTypeName(element_type) +
                   ", found " + ThriftTypeName(type));
  }
  return ReadCount(ThriftMinimumSize(type), field, at);
}

int32_t ThriftReader::ReadSetHeader(uint8_t element_type, const char* field) {
  return ReadListHeader(element_type, field);
}

int32_t ThriftReader::ReadMapHeader(uint8_t key_type, uint8_t value_type, const char* field) {
  const size_t at = offset();
  const uint8_t key = ReadByte();
  const uint8_t value = ReadByte();
  if (key != key_type || value != value_type) {
    FailAt(at, std::string(field) + ": expected map<" + ThriftTypeName(key_type) + ", " +
                   ThriftTypeName(value_type) + ">, found map<" + ThriftTypeName(key) + ", " +
                   ThriftTypeName(value) + ">");
  }
  return ReadCount(ThriftMinimumSize(key) + ThriftMinimumSize(value), field, at);
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
