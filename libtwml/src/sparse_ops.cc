#include "twml/sparse_ops.h"

#include <limits>
#include <string>

#include "twml/error.h"

namespace twml {
namespace {

[[noreturn]] void Fail(const std::string& message) { throw Error(ErrorCode::kSize, message); }

std::string Element(const char* field, int64_t index) {
  return std::string(field) + "[" + std::to_string(index) + "]";
}

// The shared checks of sorted row ids (FixedLengthTensor's segment ids, CompressSampleIds'
// sample ids): non-negative and non-decreasing. Returns the last id, or -1 without ids.
template <typename Index>
int64_t CheckSortedIds(const Index* ids, int64_t size, const char* field, const char* what) {
  for (int64_t i = 0; i < size; ++i) {
    if (ids[i] < 0) {
      Fail(Element(field, i) + " = " + std::to_string(ids[i]) + " is negative; " + what +
           " must be non-negative and non-decreasing");
    }
    if (i > 0 && ids[i] < ids[i - 1]) {
      Fail(Element(field, i) + " = " + std::to_string(ids[i]) + " is less than " +
           Element(field, i - 1) + " = " + std::to_string(ids[i - 1]) + "; " + what +
           " must be non-negative and non-decreasing");
    }
  }
  return size > 0 ? static_cast<int64_t>(ids[size - 1]) : -1;
}

}  // namespace

void CheckImpliedLength(int64_t last_id, int64_t input_length, const char* what) {
  // Compared as last_id >= ... so that last_id = INT64_MAX cannot overflow.
  if (last_id >= input_length + kMaxImpliedGap) {
    Fail(std::string(what) + " = " + std::to_string(static_cast<uint64_t>(last_id) + 1) +
         " exceeds the input's " + std::to_string(input_length) + " elements by more than " +
         std::to_string(kMaxImpliedGap) + "; ids that sparse are refused rather than allocated");
  }
}

template <typename T>
void FeatureMasker::Apply(const T* keep, size_t size, bool* mask) const {
  for (size_t i = 0; i < size; ++i) mask[i] = keep_.count(static_cast<int64_t>(keep[i])) > 0;
}

template void FeatureMasker::Apply<int64_t>(const int64_t*, size_t, bool*) const;
template void FeatureMasker::Apply<int8_t>(const int8_t*, size_t, bool*) const;

size_t CountTrue(const bool* mask, size_t size) {
  return static_cast<size_t>(std::count(mask, mask + size, true));
}

template <typename Index>
FixedLengthShape FixedLengthTensorShape(const Index* segment_ids, int64_t size,
                                        int64_t max_length, int64_t batch_size) {
  const int64_t last = CheckSortedIds(segment_ids, size, "segment_ids", "segment ids");
  FixedLengthShape shape{batch_size, max_length};
  if (batch_size < 0) {
    CheckImpliedLength(last, size, "batch size (last segment id + 1)");
    shape.batch_size = last + 1;
  } else if (batch_size <= last) {
    Fail("batch_size = " + std::to_string(batch_size) + " but the last segment id is " +
         std::to_string(last) + "; batch_size must be at least the last segment id + 1");
  }
  if (max_length < 0) {
    int64_t run = 0;
    shape.length = 0;
    for (int64_t i = 0; i < size; ++i) {
      run = (i > 0 && segment_ids[i] == segment_ids[i - 1]) ? run + 1 : 1;
      shape.length = std::max(shape.length, run);
    }
  }
  if (shape.length > 0 && shape.batch_size > std::numeric_limits<int64_t>::max() / shape.length) {
    Fail("the output [" + std::to_string(shape.batch_size) + ", " + std::to_string(shape.length) +
         "] has more than 2^63 - 1 elements");
  }
  return shape;
}

template FixedLengthShape FixedLengthTensorShape<int32_t>(const int32_t*, int64_t, int64_t,
                                                          int64_t);
template FixedLengthShape FixedLengthTensorShape<int64_t>(const int64_t*, int64_t, int64_t,
                                                          int64_t);

std::vector<int64_t> PartitionSizes(const int64_t* indices, int64_t size,
                                    int64_t num_partitions) {
  if (num_partitions <= 0) {
    Fail("num_partitions = " + std::to_string(num_partitions) + " must be positive");
  }
  std::vector<int64_t> sizes(num_partitions, 0);
  for (int64_t i = 0; i < size; ++i) {
    const int64_t key = indices[2 * i + 1];
    // A negative key has no partition under C++'s truncating % (the original wrote out of
    // bounds), and a floored mod would give it a negative index within its partition.
    if (key < 0) {
      Fail("indices[" + std::to_string(i) + ", 1] = " + std::to_string(key) +
           " is a negative key; PartitionSparseTensorMod needs non-negative keys");
    }
    ++sizes[key % num_partitions];
  }
  return sizes;
}

template <typename T>
void PartitionSparseTensorMod(const int64_t* indices, const T* values, int64_t size,
                              const std::vector<int64_t*>& out_indices,
                              const std::vector<T*>& out_values) {
  const int64_t num_partitions = static_cast<int64_t>(out_indices.size());
  std::vector<int64_t> filled(num_partitions, 0);
  for (int64_t i = 0; i < size; ++i) {
    const int64_t key = indices[2 * i + 1];
    const int64_t partition = key % num_partitions;
    const int64_t slot = filled[partition]++;
    out_indices[partition][2 * slot] = indices[2 * i];
    out_indices[partition][2 * slot + 1] = key / num_partitions;
    out_values[partition][slot] = values[i];
  }
}

template void PartitionSparseTensorMod<float>(const int64_t*, const float*, int64_t,
                                              const std::vector<int64_t*>&,
                                              const std::vector<float*>&);
template void PartitionSparseTensorMod<double>(const int64_t*, const double*, int64_t,
                                               const std::vector<int64_t*>&,
                                               const std::vector<double*>&);

int64_t CompressedLength(const int32_t* ids, int64_t size) {
  if (size > std::numeric_limits<int32_t>::max()) {
    Fail("input has " + std::to_string(size) + " sample ids; an int32 count holds at most " +
         std::to_string(std::numeric_limits<int32_t>::max()));
  }
  const int64_t last = CheckSortedIds(ids, size, "input", "sample ids");
  CheckImpliedLength(last, size, "output length (last sample id + 1)");
  return last + 1;
}

void CompressSampleIds(const int32_t* ids, int64_t size, int32_t* counts) {
  std::fill(counts, counts + (size > 0 ? ids[size - 1] + int64_t{1} : 0), 0);
  for (int64_t i = 0; i < size; ++i) ++counts[ids[i]];
}

int64_t DecompressedLength(const int32_t* counts, int64_t size) {
  // Each output is an int32 index into counts.
  if (size - 1 > std::numeric_limits<int32_t>::max()) {
    Fail("input has " + std::to_string(size) + " counts; int32 sample ids index at most " +
         std::to_string(int64_t{std::numeric_limits<int32_t>::max()} + 1));
  }
  int64_t total = 0;
  for (int64_t i = 0; i < size; ++i) {
    if (counts[i] < 0) {
      Fail(Element("input", i) + " = " + std::to_string(counts[i]) +
           " is negative; counts must be non-negative");
    }
    total += counts[i];
    // Checked per element: a long input of large counts could otherwise overflow int64.
    if (total > std::numeric_limits<int32_t>::max()) {
      Fail("the counts up to " + Element("input", i) + " add up to " + std::to_string(total) +
           " sample ids, more than the int32 maximum " +
           std::to_string(std::numeric_limits<int32_t>::max()));
    }
  }
  return total;
}

void DecompressSampleIds(const int32_t* counts, int64_t size, int32_t* ids) {
  for (int64_t i = 0; i < size; ++i) ids = std::fill_n(ids, counts[i], static_cast<int32_t>(i));
}

}  // namespace twml
