#include "twml/utf16.h"

#include "twml/error.h"

namespace twml {
namespace {

[[noreturn]] void ThrowInvalidUtf8(std::string_view utf8, size_t offset, const char* why) {
  throw Error(ErrorCode::kType, "invalid UTF-8 at byte " + std::to_string(offset) + " of a " +
                                    std::to_string(utf8.size()) + "-byte string: " + why);
}

inline char* AppendUnit(uint16_t unit, char* out) {
  out[0] = static_cast<char>(unit & 0xff);
  out[1] = static_cast<char>(unit >> 8);
  return out + 2;
}

}  // namespace

void AppendUtf16Le(std::string_view utf8, std::string* out, Utf8Decoding decoding) {
  const size_t start = out->size();
  out->resize(start + 2 * utf8.size());
  out->resize(start + EncodeUtf16Le(utf8, out->data() + start, decoding));
}

size_t EncodeUtf16Le(std::string_view utf8, char* const begin, Utf8Decoding decoding) {
  char* out = begin;
  size_t i = 0;
  while (i < utf8.size()) {
    const unsigned char lead = static_cast<unsigned char>(utf8[i]);
    if (lead < 0x80) {
      out = AppendUnit(lead, out);
      ++i;
      continue;
    }
    size_t continuation_count;
    uint32_t code_point;
    uint32_t smallest;  // the smallest code point that needs this many bytes
    if (lead < 0xC0) {
      ThrowInvalidUtf8(utf8, i, "continuation byte without a lead byte");
    } else if (lead < 0xE0) {
      continuation_count = 1, code_point = lead & 0x1F, smallest = 0x80;
    } else if (lead < 0xF0) {
      continuation_count = 2, code_point = lead & 0x0F, smallest = 0x800;
    } else if (lead < 0xF8) {
      continuation_count = 3, code_point = lead & 0x07, smallest = 0x10000;
    } else {
      ThrowInvalidUtf8(utf8, i, "lead byte above 0xF7");
    }
    if (utf8.size() - i <= continuation_count) {
      ThrowInvalidUtf8(utf8, i, "truncated multi-byte sequence");
    }
    for (size_t k = 1; k <= continuation_count; ++k) {
      const unsigned char byte = static_cast<unsigned char>(utf8[i + k]);
      if ((byte & 0xC0) != 0x80) ThrowInvalidUtf8(utf8, i + k, "expected a continuation byte");
      code_point = (code_point << 6) | (byte & 0x3F);
    }
    if (code_point < smallest && decoding == Utf8Decoding::kStrict) {
      ThrowInvalidUtf8(utf8, i, "overlong encoding");
    }
    if (code_point >= 0xD800 && code_point <= 0xDFFF) {
      ThrowInvalidUtf8(utf8, i, "surrogate code point");
    }
    if (code_point > 0x10FFFF) ThrowInvalidUtf8(utf8, i, "code point above U+10FFFF");
    if (code_point < 0x10000) {
      out = AppendUnit(static_cast<uint16_t>(code_point), out);
    } else {
      const uint32_t offset = code_point - 0x10000;
      out = AppendUnit(static_cast<uint16_t>(0xD800 + (offset >> 10)), out);
      out = AppendUnit(static_cast<uint16_t>(0xDC00 + (offset & 0x3FF)), out);
    }
    i += continuation_count + 1;
  }
  return static_cast<size_t>(out - begin);
}

}  // namespace twml
