#include "twml/hashing.h"

#include <algorithm>
#include <string>

#include "twml/murmur_hash3.h"
#include "twml/utf16.h"

namespace twml {
namespace {

constexpr uint32_t kFeatureIdSeed = 0;
// Names up to this many UTF-8 bytes hash from a stack buffer; longer ones from the heap.
constexpr size_t kStackNameBytes = 256;

// The h1 of MurmurHash3 over `prefix` followed by UTF-16LE(utf8).
uint64_t HashUtf16(std::string_view prefix, std::string_view utf8, Utf8Decoding decoding) {
  char stack[8 + 2 * kStackNameBytes];
  std::string heap;
  char* buffer = stack;
  if (utf8.size() > kStackNameBytes) {
    heap.resize(prefix.size() + 2 * utf8.size());
    buffer = heap.data();
  }
  std::copy(prefix.begin(), prefix.end(), buffer);
  const size_t size = prefix.size() + EncodeUtf16Le(utf8, buffer + prefix.size(), decoding);
  return MurmurHash3X64_128(buffer, size, kFeatureIdSeed).h1;
}

}  // namespace

int64_t FeatureId(std::string_view utf8_name, Utf8Decoding decoding) {
  const size_t split = utf8_name.find('#');
  if (split == std::string_view::npos || split == 0) {
    return static_cast<int64_t>(HashUtf16("", utf8_name, decoding));
  }
  const uint64_t prefix_hash = HashUtf16("", utf8_name.substr(0, split), decoding);
  char prefix[8];
  for (int byte = 0; byte < 8; ++byte) prefix[byte] = static_cast<char>((prefix_hash >> (8 * byte)) & 0xff);
  return static_cast<int64_t>(HashUtf16(std::string_view(prefix, 8), utf8_name.substr(split + 1), decoding));
}

}  // namespace twml
