// The discretizers and calibration of reference §5.5-5.7: MDL / PercentileDiscretizer,
// PercentileDiscretizerBinIndices, PercentileDiscretizerV2, HashingDiscretizer and
// IsotonicCalibration, over plain arrays.
//
// Setup functions (the BinTable and FeatureIndexMap constructors, the Check* functions and
// PercentileDiscretize) validate their input and throw twml::Error (kSize) naming the field and
// offset. The per-element functions that the kernels shard over threads (PercentileDiscretizeV2,
// HashingDiscretize, IsotonicCalibrate) never throw: they assume that validation passed.
//
// Divergences from the original libtwml, chosen deliberately (reference §14.5):
// - 2^output_bits is computed in 64 bits (the original shifted a 32-bit int, so output_bits >= 31
//   misbehaved); output_bits outside 1..63 is rejected, and so is output_bits > 32 with the
//   32-bit hash of HashingDiscretizer, whose `x >> (32 - output_bits)` would shift by a negative
//   amount.
// - MDL / PercentileDiscretizer / PercentileDiscretizerBinIndices left the new key of an
//   uncalibrated input (key -1) unwritten, i.e. uninitialised memory; here it is the key itself,
//   -1, so that the output is deterministic. Keys other than -1 and 0..n_features-1 are rejected.
// - Boundaries must be non-empty and non-decreasing (no NaN): the original read out of bounds
//   on an empty feature and could loop forever on unsorted boundaries.
// Kept on purpose for bit parity: the NEAREST search's tie behaviour on interior boundaries
// (see BinSearch) and PercentileDiscretizerV2's unsigned modulo for negative uncalibrated ids.
#ifndef TWML_DISCRETIZER_H_
#define TWML_DISCRETIZER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace twml {

// Throws unless xs[0..n) is non-empty and non-decreasing (NaN fails the comparison, so it is
// rejected too). `field` and `offset` name the array in the message: element i is reported as
// field[offset + i]. Instantiated for float and double.
template <typename T>
void CheckBoundaries(const T* xs, int64_t n, const char* field, int64_t offset);

// The original's shared "interpolation" search (NEAREST mode) over sorted xs[0..n), n >= 1:
// 0 if val <= xs[0], n - 1 if val >= xs[n - 1], else a bisection that stops at the first middle
// with xs[middle] <= val <= xs[middle + 1]. A value equal to an interior boundary therefore lands
// in the bin below or above it depending on the bisection path (with xs = 0,1,2,3,4, val 1 gives
// 1 but val 3 gives 2): replicated exactly for bit parity with models trained by the original.
// A NaN val gives 0.
template <typename T>
int64_t BinSearch(const T* xs, int64_t n, T val) {
  if (!(val > xs[0])) {
    // val <= xs[0], or NaN: the original's bisection ends at 0 for NaN as well.
    return 0;
  }
  int64_t left = 0;
  int64_t right = n - 1;
  if (val >= xs[right]) return right;
  // Invariant for sorted xs: xs[left] < val < xs[right], so the loop stops with
  // right == left + 1 at the latest. `right - left > 1` (rather than the original's
  // `left < right`) gives the same result for sorted xs and guarantees termination.
  while (right - left > 1) {
    const int64_t middle = (left + right) / 2;
    if (xs[middle] <= val && val <= xs[middle + 1]) return middle;
    if (val > xs[middle]) {
      left = middle;
    } else {
      right = middle;
    }
  }
  return left;
}

// LINEAR mode (isotonic calibration): the same search, then linear interpolation between
// (xs[left], ys[left]) and (xs[left + 1], ys[left + 1]) in T's precision, in the original's
// form ratio * (ys[left + 1] - ys[left]) + ys[left], so results are bit-identical to it (the
// algebraically equal ratio * ys[left + 1] + (1 - ratio) * ys[left] differs by 1-2 ulp). At
// either end, or between equal xs, ys[left].
template <typename T>
T Interpolate(const T* xs, const T* ys, int64_t n, T val) {
  const int64_t left = BinSearch(xs, n, val);
  if (left == n - 1 || !(val > xs[0]) || xs[left] == xs[left + 1]) return ys[left];
  const T ratio = (val - xs[left]) / (xs[left + 1] - xs[left]);
  return ratio * (ys[left + 1] - ys[left]) + ys[left];
}

// The calibration of MDL and the percentile discretizers: feature j's boundaries are
// bin_vals[offsets[j] .. offsets[j + 1]) (the last feature's run to the end), with their ids
// at the same positions of bin_ids. The table refers to the caller's arrays.
template <typename T>
class BinTable {
 public:
  // Validates: bin_ids and bin_vals have the same size; 0 <= offsets[0] < offsets[1] < ... <
  // n_bins (every feature has at least one bin); each feature's boundaries are sorted.
  BinTable(const int64_t* bin_ids, int64_t n_bin_ids, const T* bin_vals, int64_t n_bin_vals,
           const int64_t* offsets, int64_t n_features);

  int64_t num_features() const { return n_features_; }
  int64_t total_bins() const { return n_bins_; }

  // The bin of val within feature j (0 <= j < num_features()), 0-based within the feature.
  int64_t LocalIndex(int64_t j, T val) const {
    const int64_t begin = offsets_[j];
    const int64_t end = j + 1 < n_features_ ? offsets_[j + 1] : n_bins_;
    return BinSearch(bin_vals_ + begin, end - begin, val);
  }

  // bin_ids of that bin.
  int64_t BinId(int64_t j, T val) const { return bin_ids_[offsets_[j] + LocalIndex(j, val)]; }

 private:
  const int64_t* bin_ids_;
  const T* bin_vals_;
  int64_t n_bins_;
  const int64_t* offsets_;
  int64_t n_features_;
};

// MDL / PercentileDiscretizer (local_index false) and PercentileDiscretizerBinIndices (true).
// keys are feature indices: for 0 <= key < num_features, new_key = the bin id (or the local bin
// index) of val and new_val = 1; for key -1 (not calibrated) new_key = -1 and new_val = val.
// Throws on any other key.
template <typename T>
void PercentileDiscretize(const BinTable<T>& table, const int64_t* keys, const T* vals,
                          int64_t size, bool local_index, int64_t* new_keys, T* new_vals);

// Raw feature id -> position (HashingDiscretizer) or calibrated feature index
// (PercentileDiscretizerV2).
//
// An open-addressing table (power-of-two capacity, at most half full, Fibonacci hashing, linear
// probing) with ids and indices side by side: the discretizers look up every input element, and
// std::unordered_map's modulo by a prime plus its node chase cost more than the rest of their work.
class FeatureIndexMap {
 public:
  // What a repeated id means: an error (new calibrations), or the last index wins, as the
  // original did (calibrations it saved may hold them).
  enum class RepeatedIds { kError, kLastWins };

  // Maps ids[i] to indices[i], or to i when indices is null. Throws on an index outside
  // [0, n_features), and on a repeated id unless `repeated` is kLastWins.
  FeatureIndexMap(const int64_t* ids, const int64_t* indices, int64_t size, int64_t n_features,
                  RepeatedIds repeated = RepeatedIds::kError);

  // How many ids repeated an earlier one (kLastWins).
  int64_t repeated_ids() const { return repeated_ids_; }

  // The largest index (-1 when empty): PercentileDiscretizerV2's kernel builds the map once from
  // its attrs, with n_features = INT64_MAX, and checks this against each call's feature count.
  int64_t max_index() const { return max_index_; }

  // The index of id, or -1 if it is not calibrated.
  int64_t Find(int64_t id) const {
    for (uint64_t slot = Slot(id);; slot = (slot + 1) & mask_) {
      const Entry& entry = slots_[slot];
      if (entry.index < 0) return -1;  // an empty slot ends the probe
      if (entry.id == id) return entry.index;
    }
  }

 private:
  struct Entry {
    int64_t id = 0;
    int64_t index = -1;  // -1: empty
  };
  uint64_t Slot(int64_t id) const {
    return (static_cast<uint64_t>(id) * 0x9E3779B97F4A7C15ULL) >> shift_;
  }

  std::vector<Entry> slots_;
  uint64_t mask_ = 0;
  int shift_ = 63;
  int64_t max_index_ = -1;
  int64_t repeated_ids_ = 0;
};

// Validates output_bits (1..63) and returns 2^output_bits as a 64-bit value.
uint64_t OutputSpace(int64_t output_bits);

// PercentileDiscretizerV2: validates output_bits and that 2^output_bits > total_bins, and
// returns the modulus 2^output_bits - total_bins of uncalibrated ids.
uint64_t UncalibratedModulus(int64_t output_bits, int64_t total_bins);

// PercentileDiscretizerV2 over elements [begin, end): a calibrated id (map.Find(id) = j >= 0)
// gives (table.BinId(j, val), 1); any other id gives ((uint64)id mod modulus + total_bins, val),
// the unsigned modulo of the original, so negative ids wrap (-5 with 22 bits and 8 bins: 131).
template <typename T>
void PercentileDiscretizeV2(const BinTable<T>& table, const FeatureIndexMap& map,
                            uint64_t modulus, const int64_t* ids, const T* vals, int64_t begin,
                            int64_t end, int64_t* new_keys, T* new_vals);

// HashingDiscretizer's `options`: bits [1:0] choose the bucket search, bits [4:2] the hash.
enum class HashSearch { kLowerBound = 0, kLinear = 1, kUpperBound = 2 };
struct HashingOptions {
  HashSearch search = HashSearch::kLowerBound;
  bool hash64 = false;
};

// Validates options (search 0..2, hash 0 or 1, no other bits) together with output_bits (1..63,
// and at most 32 for the 32-bit hash). With `fallback` non-null, reserved values are not errors:
// each field falls back to its default (lower bound, 32-bit hash) as in the original, and
// *fallback says so (empty when nothing fell back); graphs the original saved may hold them.
HashingOptions ParseHashingOptions(int64_t options, int64_t output_bits,
                                   std::string* fallback = nullptr);

// The hashes of a (feature id, bucket), all arithmetic mod 2^64:
// x = id * C; x += bucket; x *= C; x >>= (W - output_bits); key = x & (2^output_bits - 1), with
// C = 2654435761, W = 32 (Hash32) or C = 14695981039346656039, W = 64 (Hash64).
int64_t Hash32(uint64_t id, int64_t bucket, int64_t output_bits);
int64_t Hash64(uint64_t id, int64_t bucket, int64_t output_bits);

// Validates HashingDiscretizer's boundaries: bin_vals holds n_bin >= 1 sorted boundaries for
// each of n_features features.
template <typename T>
void CheckHashingBins(const T* bin_vals, int64_t size, int64_t n_features, int64_t n_bin);

// The bucket of val among boundaries[0..n_bin): the count of boundaries < val (lower bound and
// linear scan) or <= val (upper bound), in [0, n_bin].
template <typename T>
int64_t HashBucket(const T* boundaries, int64_t n_bin, T val, HashSearch search);

// HashingDiscretizer over elements [begin, end): feature id at position j = map.Find(id) >= 0
// gives (hash(id, bucket of val among bin_vals[j * n_bin, (j + 1) * n_bin)), 1); any other id
// gives (id & (2^output_bits - 1), val).
template <typename T>
void HashingDiscretize(const FeatureIndexMap& map, const T* bin_vals, int64_t n_bin,
                       const HashingOptions& options, int64_t output_bits, const int64_t* ids,
                       const T* vals, int64_t begin, int64_t end, int64_t* new_keys, T* new_vals);

// IsotonicCalibration: validates xs/ys, each [num_labels, num_bins] row-major with num_bins >= 1
// and every row of xs sorted.
template <typename T>
void CheckIsotonic(const T* xs, int64_t num_labels, int64_t num_bins);

// Rows [begin, end) of input [batch, num_labels]: output[r, j] = Interpolate(xs[j], ys[j],
// input[r, j]).
template <typename T>
void IsotonicCalibrate(const T* input, int64_t num_labels, const T* xs, const T* ys,
                       int64_t num_bins, int64_t begin, int64_t end, T* output);

}  // namespace twml

#endif  // TWML_DISCRETIZER_H_
