#include "twml/hashing.h"

#include <string>

#include "twml/murmur_hash3.h"
#include "twml/utf16.h"

namespace twml {
namespace {

constexpr uint32_t kFeatureIdSeed = 0;

}  // namespace

int64_t FeatureId(std::string_view utf8_name) {
  std::string data;
  const size_t split = utf8_name.find('#');
  if (split != std::string_view::npos && split > 0) {
    std::string prefix;
    AppendUtf16Le(utf8_name.substr(0, split), &prefix);
    const uint64_t prefix_hash = MurmurHash3X64_128(prefix.data(), prefix.size(), kFeatureIdSeed).h1;
    for (int byte = 0; byte < 8; ++byte) {
      data.push_back(static_cast<char>((prefix_hash >> (8 * byte)) & 0xff));
    }
    AppendUtf16Le(utf8_name.substr(split + 1), &data);
  } else {
    AppendUtf16Le(utf8_name, &data);
  }
  return static_cast<int64_t>(MurmurHash3X64_128(data.data(), data.size(), kFeatureIdSeed).h1);
}

}  // namespace twml
