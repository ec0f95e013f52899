#include "twml/murmur_hash3.h"

namespace twml {
namespace {

constexpr uint64_t kC1 = 0x87c37b91114253d5ULL;
constexpr uint64_t kC2 = 0x4cf5ad432745937fULL;

inline uint64_t RotateLeft(uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

inline uint64_t LoadLittleEndian64(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

inline uint64_t FinalMix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

inline uint64_t ScrambleK1(uint64_t k1) { return RotateLeft(k1 * kC1, 31) * kC2; }
inline uint64_t ScrambleK2(uint64_t k2) { return RotateLeft(k2 * kC2, 33) * kC1; }

}  // namespace

Hash128 MurmurHash3X64_128(const void* data, size_t length, uint32_t seed) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  const size_t num_blocks = length / 16;
  uint64_t h1 = seed;
  uint64_t h2 = seed;

  for (size_t i = 0; i < num_blocks; ++i) {
    const uint8_t* block = bytes + 16 * i;
    h1 ^= ScrambleK1(LoadLittleEndian64(block));
    h1 = RotateLeft(h1, 27) + h2;
    h1 = h1 * 5 + 0x52dce729;
    h2 ^= ScrambleK2(LoadLittleEndian64(block + 8));
    h2 = RotateLeft(h2, 31) + h1;
    h2 = h2 * 5 + 0x38495ab5;
  }

  // The 0..15 trailing bytes fill k1 (bytes 0-7) and k2 (bytes 8-14) little-endian.
  const uint8_t* tail = bytes + 16 * num_blocks;
  const size_t tail_length = length % 16;
  uint64_t k1 = 0;
  uint64_t k2 = 0;
  for (size_t i = tail_length; i > 8; --i) k2 = (k2 << 8) | tail[i - 1];
  for (size_t i = tail_length < 8 ? tail_length : 8; i > 0; --i) k1 = (k1 << 8) | tail[i - 1];
  if (tail_length > 8) h2 ^= ScrambleK2(k2);
  if (tail_length > 0) h1 ^= ScrambleK1(k1);

  h1 ^= length;
  h2 ^= length;
  h1 += h2;
  h2 += h1;
  h1 = FinalMix(h1);
  h2 = FinalMix(h2);
  h1 += h2;
  h2 += h1;
  return {h1, h2};
}

}  // namespace twml
