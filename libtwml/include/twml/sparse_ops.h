// The sparse helpers of reference §5.9: FeatureMask, FeatureExtractor, FixedLengthTensor(V2),
// PartitionSparseTensorMod and Compress/DecompressSampleIds, over plain arrays. The Hashmap op's
// table is in twml/hashmap.h.
//
// Functions that size an output validate their input and throw twml::Error (kSize) naming the
// field and offset; the functions that fill the output assume that validation passed.
#ifndef TWML_SPARSE_OPS_H_
#define TWML_SPARSE_OPS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace twml {

// When an output's length is implied by the data (a last id + 1) rather than by the input's
// length, it may exceed the input's element count by at most this much: e.g. an id vector
// [2147483646] would otherwise ask for 2^31 counts. 2^16 rows of slack covers the empty rows
// of any realistic batch (a batch where only a few rows have values).
constexpr int64_t kMaxImpliedGap = int64_t{1} << 16;

// Throws unless the implied length last_id + 1 <= input_length + kMaxImpliedGap. `what` names
// the implied length in the message.
void CheckImpliedLength(int64_t last_id, int64_t input_length, const char* what);

// FeatureMask: whether each element is one of a fixed list of values.
class FeatureMasker {
 public:
  explicit FeatureMasker(const std::vector<int64_t>& list_keep)
      : keep_(list_keep.begin(), list_keep.end()) {}

  // mask[i] = keep[i] is in list_keep. Instantiated for int64_t and int8_t.
  template <typename T>
  void Apply(const T* keep, size_t size, bool* mask) const;

 private:
  std::unordered_set<int64_t> keep_;
};

// FeatureExtractor: the number of true entries of mask, i.e. each output's length.
size_t CountTrue(const bool* mask, size_t size);

// FeatureExtractor: copies the in[i] whose mask[i] is set to out, in order. `out` holds
// CountTrue(mask, size) elements.
template <typename T>
void CompactByMask(const bool* mask, size_t size, const T* in, T* out) {
  for (size_t i = 0; i < size; ++i) {
    if (mask[i]) *out++ = in[i];
  }
}

// FixedLengthTensor's output is [batch_size, length].
struct FixedLengthShape {
  int64_t batch_size;
  int64_t length;
};

// Validates FixedLengthTensor's segment ids (non-negative, non-decreasing) and sizes its output.
// batch_size < 0 means "implied": last segment id + 1 (0 without ids), bounded by
// CheckImpliedLength; otherwise it is FixedLengthTensorV2's batch_size and must be at least
// the last segment id + 1. length is max_length if >= 0, else the longest run of equal ids.
// Instantiated for int32_t and int64_t ids.
template <typename Index>
FixedLengthShape FixedLengthTensorShape(const Index* segment_ids, int64_t size,
                                        int64_t max_length, int64_t batch_size);

// Fills output ([shape.batch_size * shape.length], row-major) with pad_value, then copies each
// segment's values to its row in order, dropping those past shape.length. segment_ids must have
// passed FixedLengthTensorShape, which returned `shape`. A template over Value so that kernels
// can use TF's own string type.
template <typename Index, typename Value>
void FillFixedLengthTensor(const Index* segment_ids, const Value* values, int64_t size,
                           const Value& pad_value, const FixedLengthShape& shape, Value* output) {
  std::fill(output, output + shape.batch_size * shape.length, pad_value);
  int64_t column = 0;
  for (int64_t i = 0; i < size; ++i) {
    column = (i > 0 && segment_ids[i] == segment_ids[i - 1]) ? column + 1 : 0;
    if (column < shape.length) {
      output[static_cast<int64_t>(segment_ids[i]) * shape.length + column] = values[i];
    }
  }
}

// PartitionSparseTensorMod: validates the keys (indices[2 * i + 1], all non-negative) and
// returns how many of the size entries fall into each of num_partitions partitions
// (key mod num_partitions). indices is [size, 2] row-major (id, key).
std::vector<int64_t> PartitionSizes(const int64_t* indices, int64_t size, int64_t num_partitions);

// Writes entry i to partition p = key mod P, keeping the input order: out_indices[p] gets
// (id, key / P) and out_values[p] the value. Each out_indices[p] holds 2 * sizes[p] elements
// and out_values[p] sizes[p], as PartitionSizes returned. Instantiated for float and double.
template <typename T>
void PartitionSparseTensorMod(const int64_t* indices, const T* values, int64_t size,
                              const std::vector<int64_t*>& out_indices,
                              const std::vector<T*>& out_values);

// CompressSampleIds: validates ids (non-negative, non-decreasing; at most INT32_MAX of them so
// that every count fits) and returns the output length, last id + 1 (0 without ids), bounded by
// CheckImpliedLength.
int64_t CompressedLength(const int32_t* ids, int64_t size);

// counts[j] = number of ids equal to j; counts holds CompressedLength(ids, size) elements.
void CompressSampleIds(const int32_t* ids, int64_t size, int32_t* counts);

// DecompressSampleIds: validates counts (non-negative) and returns the output length, their
// sum, which must fit in int32 like every count of CompressSampleIds.
int64_t DecompressedLength(const int32_t* counts, int64_t size);

// Writes each index i counts[i] times, in order; ids holds DecompressedLength(...) elements.
void DecompressSampleIds(const int32_t* counts, int64_t size, int32_t* ids);

}  // namespace twml

#endif  // TWML_SPARSE_OPS_H_
