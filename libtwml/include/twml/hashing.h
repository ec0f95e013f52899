// Feature-id hashing and the key-mixing functions of hashed decoding (reference §2.6, §3).
#ifndef TWML_HASHING_H_
#define TWML_HASHING_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "twml/utf16.h"

namespace twml {

// The 64-bit id of a feature name: the first 8 bytes (little-endian, signed) of
// MurmurHash3_x64_128 with seed 0 over the name's UTF-16LE code units. A name with a '#' after
// its first byte hashes in two stages: the prefix before the first '#' is hashed, and its h1
// (8 little-endian bytes) followed by the UTF-16LE suffix after the '#' is hashed again.
// Equals Guava's murmur3_128(0).hashUnencodedChars(name).asLong() for names without '#'.
// Throws twml::Error for invalid UTF-8 (see AppendUtf16Le; `decoding` says which UTF-8 is valid).
int64_t FeatureId(std::string_view utf8_name, Utf8Decoding decoding = Utf8Decoding::kStrict);

// Key of a discrete feature's value: id XOR ((17 + value) * 2654435761), wrapping in 64 bits.
inline int64_t MixDiscreteIdAndValue(int64_t id, int64_t value) {
  const uint64_t mixed = (17 + static_cast<uint64_t>(value)) * 2654435761ULL;
  return static_cast<int64_t>(static_cast<uint64_t>(id) ^ mixed);
}

// Key of a string value: id XOR h, where h is the Java-style 32-bit hash h = 31 * h + byte over
// the raw bytes (as 0..255), sign-extended to 64 bits.
inline int64_t MixStringIdAndValue(int64_t id, std::string_view bytes) {
  uint32_t hash = 0;
  for (unsigned char byte : bytes) hash = 31 * hash + byte;
  const int64_t extended = static_cast<int32_t>(hash);
  return static_cast<int64_t>(static_cast<uint64_t>(id) ^ static_cast<uint64_t>(extended));
}

}  // namespace twml

#endif  // TWML_HASHING_H_
