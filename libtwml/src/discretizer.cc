#include "twml/discretizer.h"

#include <algorithm>
#include <string>

#include "twml/error.h"

namespace twml {
namespace {

[[noreturn]] void Fail(const std::string& message) { throw Error(ErrorCode::kSize, message); }

std::string Element(const char* field, int64_t index) {
  return std::string(field) + "[" + std::to_string(index) + "]";
}

constexpr uint64_t kHash32Multiplier = 2654435761ULL;
constexpr uint64_t kHash64Multiplier = 14695981039346656039ULL;

// Shared by both hashes; unsigned arithmetic wraps mod 2^64 as in the original.
int64_t MultiplicativeHash(uint64_t id, int64_t bucket, int64_t output_bits, uint64_t multiplier,
                           int width) {
  uint64_t x = id * multiplier;
  x += static_cast<uint64_t>(bucket);
  x *= multiplier;
  x >>= (width - output_bits);
  return static_cast<int64_t>(x & ((uint64_t{1} << output_bits) - 1));
}

}  // namespace

template <typename T>
void CheckBoundaries(const T* xs, int64_t n, const char* field, int64_t offset) {
  if (n <= 0) {
    Fail(std::string(field) + " has an empty run of boundaries at offset " +
         std::to_string(offset) + "; every feature needs at least one");
  }
  if (!(xs[0] == xs[0])) Fail(Element(field, offset) + " is NaN; boundaries must be sorted");
  for (int64_t i = 1; i < n; ++i) {
    // Written as !(a >= b) so that a NaN fails too.
    if (!(xs[i] >= xs[i - 1])) {
      Fail(Element(field, offset + i) + " = " + std::to_string(xs[i]) + " is less than " +
           Element(field, offset + i - 1) + " = " + std::to_string(xs[i - 1]) +
           " (or NaN); boundaries must be non-decreasing");
    }
  }
}

template <typename T>
BinTable<T>::BinTable(const int64_t* bin_ids, int64_t n_bin_ids, const T* bin_vals,
                      int64_t n_bin_vals, const int64_t* offsets, int64_t n_features)
    : bin_ids_(bin_ids),
      bin_vals_(bin_vals),
      n_bins_(n_bin_vals),
      offsets_(offsets),
      n_features_(n_features) {
  if (n_bin_ids != n_bin_vals) {
    Fail("bin_ids has " + std::to_string(n_bin_ids) + " elements but bin_vals has " +
         std::to_string(n_bin_vals) + "; they must match");
  }
  for (int64_t j = 0; j < n_features; ++j) {
    const int64_t begin = offsets[j];
    const int64_t end = j + 1 < n_features ? offsets[j + 1] : n_bin_vals;
    if (begin < 0 || begin >= n_bin_vals) {
      Fail(Element("feature_offsets", j) + " = " + std::to_string(begin) +
           " is out of range [0, " + std::to_string(n_bin_vals) + ") of bin_vals");
    }
    if (end <= begin) {
      Fail(Element("feature_offsets", j + 1) + " = " + std::to_string(end) +
           " is not greater than " + Element("feature_offsets", j) + " = " +
           std::to_string(begin) + "; offsets must be strictly increasing");
    }
  }
  // Boundaries only after every offset is known to be valid, so that a bad offset is reported
  // as such rather than as the unsorted run it would otherwise delimit.
  for (int64_t j = 0; j < n_features; ++j) {
    const int64_t begin = offsets[j];
    const int64_t end = j + 1 < n_features ? offsets[j + 1] : n_bin_vals;
    CheckBoundaries(bin_vals + begin, end - begin, "bin_vals", begin);
  }
}

template <typename T>
void PercentileDiscretize(const BinTable<T>& table, const int64_t* keys, const T* vals,
                          int64_t size, bool local_index, int64_t* new_keys, T* new_vals) {
  for (int64_t i = 0; i < size; ++i) {
    const int64_t key = keys[i];
    if (key == -1) {
      // The original left new_keys[i] uninitialised; the key itself is deterministic.
      new_keys[i] = -1;
      new_vals[i] = vals[i];
      continue;
    }
    if (key < 0 || key >= table.num_features()) {
      Fail(Element("keys", i) + " = " + std::to_string(key) + " is not a feature index in [0, " +
           std::to_string(table.num_features()) + ") nor -1 (not calibrated)");
    }
    new_keys[i] = local_index ? table.LocalIndex(key, vals[i]) : table.BinId(key, vals[i]);
    new_vals[i] = 1;
  }
}

FeatureIndexMap::FeatureIndexMap(const int64_t* ids, const int64_t* indices, int64_t size,
                                 int64_t n_features, RepeatedIds repeated) {
  // Capacity: the smallest power of two >= 2 * size (at least 2), so probes stay short and an
  // empty slot always ends them.
  int bits = 1;
  while ((int64_t{1} << bits) < 2 * size) ++bits;
  slots_.assign(size_t{1} << bits, Entry());
  mask_ = (uint64_t{1} << bits) - 1;
  shift_ = 64 - bits;
  for (int64_t i = 0; i < size; ++i) {
    const int64_t index = indices ? indices[i] : i;
    if (index < 0 || index >= n_features) {
      Fail(Element("feature_indices", i) + " = " + std::to_string(index) +
           " is out of range [0, " + std::to_string(n_features) + ") of the calibrated features");
    }
    max_index_ = std::max(max_index_, index);
    uint64_t slot = Slot(ids[i]);
    while (slots_[slot].index >= 0 && slots_[slot].id != ids[i]) slot = (slot + 1) & mask_;
    if (slots_[slot].index >= 0) {
      if (repeated == RepeatedIds::kError) {
        Fail(Element("feature_ids", i) + " = " + std::to_string(ids[i]) +
             " repeats an earlier id; feature ids must be unique");
      }
      ++repeated_ids_;
    }
    slots_[slot].id = ids[i];
    slots_[slot].index = index;
  }
}

uint64_t OutputSpace(int64_t output_bits) {
  if (output_bits < 1 || output_bits > 63) {
    Fail("output_bits = " + std::to_string(output_bits) + " must be in [1, 63]");
  }
  return uint64_t{1} << output_bits;
}

uint64_t UncalibratedModulus(int64_t output_bits, int64_t total_bins) {
  const uint64_t space = OutputSpace(output_bits);
  if (static_cast<uint64_t>(total_bins) >= space) {
    Fail("2^output_bits = " + std::to_string(space) + " must exceed the " +
         std::to_string(total_bins) + " bins of bin_ids, which take the lowest keys");
  }
  return space - static_cast<uint64_t>(total_bins);
}

template <typename T>
void PercentileDiscretizeV2(const BinTable<T>& table, const FeatureIndexMap& map,
                            uint64_t modulus, const int64_t* ids, const T* vals, int64_t begin,
                            int64_t end, int64_t* new_keys, T* new_vals) {
  const uint64_t total_bins = static_cast<uint64_t>(table.total_bins());
  for (int64_t i = begin; i < end; ++i) {
    const int64_t j = map.Find(ids[i]);
    if (j >= 0) {
      new_keys[i] = table.BinId(j, vals[i]);
      new_vals[i] = 1;
    } else {
      // Unsigned, as the original: a negative id wraps to 2^64 + id before the modulo.
      new_keys[i] = static_cast<int64_t>(static_cast<uint64_t>(ids[i]) % modulus + total_bins);
      new_vals[i] = vals[i];
    }
  }
}

HashingOptions ParseHashingOptions(int64_t options, int64_t output_bits, std::string* fallback) {
  OutputSpace(output_bits);
  const int64_t search = options & 3;
  const int64_t hash = options >> 2;  // negative for negative options: reserved too
  const bool search_reserved = search == 3;
  const bool hash_reserved = hash != 0 && hash != 1;
  if (fallback != nullptr) fallback->clear();
  if (search_reserved || hash_reserved) {
    const std::string what = "options = " + std::to_string(options) +
                             (fallback == nullptr ? " is invalid" : " holds reserved values") +
                             ": bits [1:0] choose the search (0 lower bound, 1 linear, 2 upper "
                             "bound) and bits [4:2] the hash (0 32-bit, 1 64-bit)";
    if (fallback == nullptr) Fail(what);
    *fallback = what + "; as in the original, the" +
                (search_reserved ? std::string(" search falls back to lower bound") : "") +
                (search_reserved && hash_reserved ? " and the" : "") +
                (hash_reserved ? std::string(" hash falls back to 32-bit") : "");
  }
  HashingOptions parsed;
  parsed.search = search_reserved ? HashSearch::kLowerBound : static_cast<HashSearch>(search);
  parsed.hash64 = hash == 1;
  if (!parsed.hash64 && output_bits > 32) {
    Fail("output_bits = " + std::to_string(output_bits) +
         " exceeds the 32 bits of the 32-bit hash; use options with the 64-bit hash (4)");
  }
  return parsed;
}

int64_t Hash32(uint64_t id, int64_t bucket, int64_t output_bits) {
  return MultiplicativeHash(id, bucket, output_bits, kHash32Multiplier, 32);
}

int64_t Hash64(uint64_t id, int64_t bucket, int64_t output_bits) {
  return MultiplicativeHash(id, bucket, output_bits, kHash64Multiplier, 64);
}

template <typename T>
void CheckHashingBins(const T* bin_vals, int64_t size, int64_t n_features, int64_t n_bin) {
  if (n_bin < 1) Fail("n_bin = " + std::to_string(n_bin) + " must be at least 1");
  // Compared by division so that a huge n_bin cannot overflow the product.
  if (size % n_bin != 0 || size / n_bin != n_features) {
    Fail("bin_vals has " + std::to_string(size) + " elements but must have n_bin * " +
         "len(feature_ids) = " + std::to_string(n_bin) + " * " + std::to_string(n_features) +
         " elements");
  }
  for (int64_t j = 0; j < n_features; ++j) {
    CheckBoundaries(bin_vals + j * n_bin, n_bin, "bin_vals", j * n_bin);
  }
}

namespace {

// The first position of boundaries[0..n) (n >= 1) whose element fails goes_right, i.e. the count
// of leading elements for which it holds (a monotone predicate over sorted boundaries). The
// bisection always takes ceil(log2 n) halving steps and picks the half with a conditional move:
// input values are random, so a branch on the comparison mispredicts half of the time.
template <typename T, typename GoesRight>
int64_t BranchlessPartition(const T* boundaries, int64_t n, GoesRight goes_right) {
  const T* base = boundaries;
  int64_t len = n;
  while (len > 1) {
    const int64_t half = len / 2;
    base = goes_right(base[half]) ? base + half : base;
    len -= half;
  }
  return (base - boundaries) + (goes_right(*base) ? 1 : 0);
}

}  // namespace

template <typename T>
int64_t HashBucket(const T* boundaries, int64_t n_bin, T val, HashSearch search) {
  if (n_bin <= 0) return 0;
  switch (search) {
    case HashSearch::kLinear: {
      int64_t i = 0;
      while (i < n_bin && boundaries[i] < val) ++i;
      return i;
    }
    case HashSearch::kUpperBound:
      // std::upper_bound's test, !(val < x): a NaN value goes past every boundary as there.
      return BranchlessPartition(boundaries, n_bin, [val](T x) { return !(val < x); });
    case HashSearch::kLowerBound:
    default:
      return BranchlessPartition(boundaries, n_bin, [val](T x) { return x < val; });
  }
}

template <typename T>
void HashingDiscretize(const FeatureIndexMap& map, const T* bin_vals, int64_t n_bin,
                       const HashingOptions& options, int64_t output_bits, const int64_t* ids,
                       const T* vals, int64_t begin, int64_t end, int64_t* new_keys, T* new_vals) {
  const uint64_t mask = (uint64_t{1} << output_bits) - 1;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t j = map.Find(ids[i]);
    if (j >= 0) {
      const int64_t bucket = HashBucket(bin_vals + j * n_bin, n_bin, vals[i], options.search);
      const uint64_t id = static_cast<uint64_t>(ids[i]);
      new_keys[i] = options.hash64 ? Hash64(id, bucket, output_bits)
                                   : Hash32(id, bucket, output_bits);
      new_vals[i] = 1;
    } else {
      new_keys[i] = static_cast<int64_t>(static_cast<uint64_t>(ids[i]) & mask);
      new_vals[i] = vals[i];
    }
  }
}

template <typename T>
void CheckIsotonic(const T* xs, int64_t num_labels, int64_t num_bins) {
  if (num_bins < 1) Fail("xs and ys have no bins; each label needs at least one");
  for (int64_t j = 0; j < num_labels; ++j) {
    CheckBoundaries(xs + j * num_bins, num_bins, "xs", j * num_bins);
  }
}

template <typename T>
void IsotonicCalibrate(const T* input, int64_t num_labels, const T* xs, const T* ys,
                       int64_t num_bins, int64_t begin, int64_t end, T* output) {
  for (int64_t r = begin; r < end; ++r) {
    for (int64_t j = 0; j < num_labels; ++j) {
      const int64_t i = r * num_labels + j;
      output[i] = Interpolate(xs + j * num_bins, ys + j * num_bins, num_bins, input[i]);
    }
  }
}

#define TWML_INSTANTIATE_DISCRETIZER(T)                                                        \
  template void CheckBoundaries<T>(const T*, int64_t, const char*, int64_t);                   \
  template class BinTable<T>;                                                                  \
  template void PercentileDiscretize<T>(const BinTable<T>&, const int64_t*, const T*, int64_t, \
                                        bool, int64_t*, T*);                                   \
  template void PercentileDiscretizeV2<T>(const BinTable<T>&, const FeatureIndexMap&,          \
                                          uint64_t, const int64_t*, const T*, int64_t,         \
                                          int64_t, int64_t*, T*);                              \
  template void CheckHashingBins<T>(const T*, int64_t, int64_t, int64_t);                      \
  template int64_t HashBucket<T>(const T*, int64_t, T, HashSearch);                            \
  template void HashingDiscretize<T>(const FeatureIndexMap&, const T*, int64_t,                \
                                     const HashingOptions&, int64_t, const int64_t*, const T*, \
                                     int64_t, int64_t, int64_t*, T*);                          \
  template void CheckIsotonic<T>(const T*, int64_t, int64_t);                                  \
  template void IsotonicCalibrate<T>(const T*, int64_t, const T*, const T*, int64_t, int64_t,  \
                                     int64_t, T*)

TWML_INSTANTIATE_DISCRETIZER(float);
TWML_INSTANTIATE_DISCRETIZER(double);

#undef TWML_INSTANTIATE_DISCRETIZER

}  // namespace twml
