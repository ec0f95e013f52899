// MurmurHash3, x64 128-bit variant: the hash behind twml's feature ids.
#ifndef TWML_MURMUR_HASH3_H_
#define TWML_MURMUR_HASH3_H_

#include <cstddef>
#include <cstdint>

namespace twml {

struct Hash128 {
  uint64_t h1;
  uint64_t h2;
};

// Hashes `length` bytes at `data`; blocks are read as little-endian 64-bit words on any host.
Hash128 MurmurHash3X64_128(const void* data, size_t length, uint32_t seed);

}  // namespace twml

#endif  // TWML_MURMUR_HASH3_H_
