// Thrift binary protocol (big-endian, no message header): a bounds-checked reader over a byte
// buffer and an appending writer. The record decoders and encoders of libtwml are built on these.
#ifndef TWML_THRIFT_H_
#define TWML_THRIFT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "twml/error.h"

namespace twml {

// Thrift type codes on the wire.
enum ThriftType : uint8_t {
  kThriftStop = 0,
  kThriftBool = 2,
  kThriftByte = 3,
  kThriftDouble = 4,
  kThriftI16 = 6,
  kThriftI32 = 8,
  kThriftI64 = 10,
  kThriftString = 11,
  kThriftStruct = 12,
  kThriftMap = 13,
  kThriftSet = 14,
  kThriftList = 15,
};

// "i64", "map", ... or "type <n>" for codes that are not Thrift types.
std::string ThriftTypeName(uint8_t type);

// The smallest number of bytes a value of `type` occupies on the wire; 0 for non-value types.
inline size_t ThriftMinimumSize(uint8_t type) {
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

// Reads Thrift binary-protocol values from a buffer it does not own. Every read is checked
// against the remaining bytes, and a container's declared element count is checked against the
// smallest size its elements can have, so malformed input fails before anything is allocated.
// Failures throw twml::Error(kThrift) with the reader's context, the field and the byte offset.
class ThriftReader {
 public:
  struct FieldHeader {
    uint8_t type;
    int16_t id;  // 0 for STOP
  };

  // `context` (and `index`, when not negative) prefix every error message, e.g. "record 3: ".
  // The context must outlive the reader; it is formatted only when an error is raised, so
  // decoding a batch costs no string building per record.
  ThriftReader(const uint8_t* data, size_t size, std::string_view context = "", int64_t index = -1)
      : begin_(data), cursor_(data), end_(data + size), context_(context), index_(index) {}

  size_t offset() const { return static_cast<size_t>(cursor_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - cursor_); }
  const uint8_t* cursor() const { return cursor_; }

  uint8_t ReadByte() {
    Require(1, "a byte");
    return *cursor_++;
  }
  bool ReadBool() { return ReadByte() != 0; }
  int16_t ReadI16() { return static_cast<int16_t>(__builtin_bswap16(ReadRaw<uint16_t>("an i16"))); }
  int32_t ReadI32() { return static_cast<int32_t>(__builtin_bswap32(ReadRaw<uint32_t>("an i32"))); }
  int64_t ReadI64() { return static_cast<int64_t>(__builtin_bswap64(ReadRaw<uint64_t>("an i64"))); }
  double ReadDouble() {
    const uint64_t bits = __builtin_bswap64(ReadRaw<uint64_t>("a double"));
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }
  // A string or binary: i32 length, then the bytes, returned as a view into the buffer.
  // Inline (with out-of-line failures): the record decoders call it once per name.
  std::string_view ReadString() {
    const size_t at = offset();
    const int32_t length = ReadI32();
    if (length < 0 || static_cast<size_t>(length) > remaining()) FailStringLength(at, length);
    std::string_view value(reinterpret_cast<const char*>(cursor_), static_cast<size_t>(length));
    cursor_ += length;
    return value;
  }
  // The next `size` raw bytes (e.g. a list of fixed-size elements), as a pointer into the buffer.
  const uint8_t* ReadBytes(size_t size, const char* what);

  FieldHeader ReadFieldHeader() {
    const uint8_t type = ReadByte();
    if (type == kThriftStop) return {type, 0};
    return {type, ReadI16()};
  }

  // Container headers. Each checks the element type(s) the schema demands (`field` names the
  // field in errors) and returns the element count. The checks are inline and the failures out
  // of line, so a decoder's walk over a record makes no calls for them.
  int32_t ReadListHeader(uint8_t element_type, const char* field) {
    const size_t at = offset();
    const uint8_t type = ReadByte();
    if (type != element_type) FailListType(at, element_type, type, field);
    return ReadCount(ThriftMinimumSize(type), field, at);
  }
  int32_t ReadSetHeader(uint8_t element_type, const char* field) {
    return ReadListHeader(element_type, field);
  }
  int32_t ReadMapHeader(uint8_t key_type, uint8_t value_type, const char* field) {
    const size_t at = offset();
    const uint8_t key = ReadByte();
    const uint8_t value = ReadByte();
    if (key != key_type || value != value_type) FailMapTypes(at, key_type, value_type, key, value, field);
    return ReadCount(ThriftMinimumSize(key) + ThriftMinimumSize(value), field, at);
  }

  // The type of a field must be `expected`; otherwise a ThriftInvalidType-style error.
  // Skips a value of `type` (of an unknown field), checking every length and count against the
  // bytes left, as reads do; containers may nest at most kMaxSkipDepth deep. Throws for types
  // that are not Thrift value types.
  void Skip(uint8_t type, const char* field, int depth = 0);
  static constexpr int kMaxSkipDepth = 64;

  void ExpectFieldType(const FieldHeader& header, uint8_t expected, const char* field) const {
    if (header.type != expected) FailFieldType(header, expected, field);
  }

  [[noreturn]] void Fail(const std::string& message) const;
  [[noreturn]] void FailAt(size_t offset, const std::string& message) const;

 private:
  // The next sizeof(T) bytes as they are in memory; the callers swap them from big-endian.
  template <typename T>
  T ReadRaw(const char* what) {
    Require(sizeof(T), what);
    T value;
    std::memcpy(&value, cursor_, sizeof(T));
    cursor_ += sizeof(T);
    return value;
  }
  void Require(size_t bytes, const char* what) {
    if (static_cast<size_t>(end_ - cursor_) < bytes) FailTruncated(bytes, what);
  }
  [[noreturn]] void FailTruncated(size_t bytes, const char* what) const;
  [[noreturn]] void FailStringLength(size_t at, int32_t length) const;
  [[noreturn]] void FailListType(size_t at, uint8_t expected, uint8_t found, const char* field) const;
  [[noreturn]] void FailMapTypes(size_t at, uint8_t key_type, uint8_t value_type, uint8_t key,
                                 uint8_t value, const char* field) const;
  [[noreturn]] void FailFieldType(const FieldHeader& header, uint8_t expected, const char* field) const;
  [[noreturn]] void FailCount(size_t header_offset, int32_t count, const char* field) const;
  int32_t ReadCount(size_t min_element_size, const char* field, size_t header_offset) {
    const int32_t count = ReadI32();
    // Every element takes at least min_element_size bytes: a count the data cannot hold is
    // rejected here, before any caller reserves memory for it.
    if (count < 0 ||
        (min_element_size > 0 && static_cast<uint64_t>(count) > remaining() / min_element_size)) {
      FailCount(header_offset, count, field);
    }
    return count;
  }

  const uint8_t* begin_;
  const uint8_t* cursor_;
  const uint8_t* end_;
  std::string_view context_;
  int64_t index_;
};


// Appends Thrift binary-protocol values to a string.
class ThriftWriter {
 public:
  explicit ThriftWriter(std::string* out) : out_(out) {}

  void WriteByte(uint8_t value) { out_->push_back(static_cast<char>(value)); }
  void WriteBool(bool value) { WriteByte(value ? 1 : 0); }
  void WriteI16(int16_t value) { WriteBigEndian(static_cast<uint16_t>(value), 2); }
  void WriteI32(int32_t value) { WriteBigEndian(static_cast<uint32_t>(value), 4); }
  void WriteI64(int64_t value) { WriteBigEndian(static_cast<uint64_t>(value), 8); }
  void WriteDouble(double value);
  void WriteString(std::string_view value);

  void WriteFieldHeader(uint8_t type, int16_t id) {
    WriteByte(type);
    WriteI16(id);
  }
  void WriteStop() { WriteByte(kThriftStop); }
  void WriteListHeader(uint8_t element_type, size_t count);
  void WriteSetHeader(uint8_t element_type, size_t count) { WriteListHeader(element_type, count); }
  void WriteMapHeader(uint8_t key_type, uint8_t value_type, size_t count);

 private:
  void WriteBigEndian(uint64_t value, int bytes);
  static int32_t CheckedCount(size_t count);

  std::string* out_;
};

}  // namespace twml

#endif  // TWML_THRIFT_H_
