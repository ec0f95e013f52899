// Hashed decoding of DataRecords (reference §2.6): a record becomes flat parallel arrays of
// (feature id, hashed key, value, code, type), ready to feed sparse layers.
#ifndef TWML_HASHED_DATA_RECORD_H_
#define TWML_HASHED_DATA_RECORD_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <string_view>
#include <vector>

#include "twml/data_record.h"
#include "twml/hashing.h"

namespace twml {

// The `types` of hashed entries: the DataRecord field each came from.
enum HashedFeatureType : uint8_t {
  kHashedBinary = 1,
  kHashedContinuous = 2,
  kHashedDiscrete = 3,
  kHashedString = 4,
  kHashedSparseBinary = 5,
  kHashedSparseContinuous = 6,
};

// One hashed feature value.
struct HashedEntry {
  int64_t id;     // raw feature id ("ukey")
  int64_t key;    // hashed key
  double value;
  int64_t code;   // keep-map code of the feature
  uint8_t type;   // HashedFeatureType
};

// FeatureId(name) of recently seen names found in data, decoded as the original did
// (Utf8Decoding::kOriginal): sparse-continuous value names (topics, languages...) repeat across
// the records of a batch, and a lookup here costs a fraction of the UTF-16 conversion and
// MurmurHash3 of FeatureId. A direct-mapped table of short names.
class FeatureIdCache {
 public:
  // FeatureId(name, kOriginal); throws as FeatureId does (failures are not cached).
  int64_t Get(std::string_view name) {
    const size_t size = name.size();
    if (size > kMaxName) return FeatureId(name, Utf8Decoding::kOriginal);
    // Names of up to 16 bytes are their first and last (up to) 8 bytes and their size.
    uint64_t head = 0, tail = 0;
    if (size >= 8) {
      std::memcpy(&head, name.data(), 8);
      std::memcpy(&tail, name.data() + size - 8, 8);
    } else {
      for (size_t i = 0; i < size; ++i) head |= static_cast<uint64_t>(static_cast<uint8_t>(name[i])) << (8 * i);
    }
    const uint64_t mixed = (head ^ (tail * 0xC2B2AE3D27D4EB4FULL) ^ size) * 0x9E3779B97F4A7C15ULL;
    Slot& slot = slots_[mixed >> (64 - kSlotBits)];
    if (slot.head == head && slot.tail == tail && slot.size == size) return slot.id;
    const int64_t id = FeatureId(name, Utf8Decoding::kOriginal);
    slot = {head, tail, size, id};
    return id;
  }

 private:
  static constexpr size_t kMaxName = 16;
  static constexpr int kSlotBits = 6;
  struct Slot {
    uint64_t head = 0;
    uint64_t tail = 0;
    size_t size = kMaxName + 1;  // no cached name has this size: empty
    int64_t id = 0;
  };

  Slot slots_[size_t{1} << kSlotBits];
};

// Flat columns of the hashed entries of many records (a batch), appended record after record,
// in storage that a subclass provides (the TF decode op: tensors its getters output without
// copying). Values are stored as float, the type the getters output.
class HashedColumns {
 public:
  virtual ~HashedColumns() = default;

  size_t size() const { return size_; }
  const int64_t* ukeys() const { return ukeys_; }
  const int64_t* keys() const { return keys_; }
  const float* values() const { return values_; }
  const int8_t* types() const { return types_; }

  // Makes room for `count` more entries.
  void Reserve(size_t count) {
    if (capacity_ - size_ < count) Reallocate(std::max(size_ + count, 2 * capacity_));
  }
  // FeatureId of sparse-continuous value names, for the whole batch.
  FeatureIdCache feature_ids;

  // The index of the entry at or after `begin` with this type and id (and key, when
  // `match_key`), or -1.
  int64_t Find(size_t begin, uint8_t type, int64_t id, int64_t key, bool match_key) const {
    for (size_t i = begin; i < size_; ++i) {
      if (types_[i] == static_cast<int8_t>(type) && ukeys_[i] == id && (!match_key || keys_[i] == key)) {
        return static_cast<int64_t>(i);
      }
    }
    return -1;
  }
  // Replaces the key and value of entry `index`.
  void Set(size_t index, int64_t key, double value) {
    keys_[index] = key;
    values_[index] = static_cast<float>(value);
  }

  // Appends an entry; a Reserve must have made room for it.
  void Append(int64_t ukey, int64_t key, double value, uint8_t type) {
    ukeys_[size_] = ukey;
    keys_[size_] = key;
    values_[size_] = static_cast<float>(value);
    types_[size_] = static_cast<int8_t>(type);
    ++size_;
  }

 protected:
  // Points the four columns at storage for `capacity` (> size()) entries that holds the
  // current size() entries, and sets capacity_.
  virtual void Reallocate(size_t capacity) = 0;

  int64_t* ukeys_ = nullptr;
  int64_t* keys_ = nullptr;
  float* values_ = nullptr;
  int8_t* types_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// A decoded, hashed record. Only features in the keep map become entries, in wire order, each
// key once (a repeated key keeps its first place and, for maps, its last value; see
// repeated_keys.h):
//   binary             key = id                           value 1
//   continuous         key = id                           value (NaN skipped)
//   discrete           key = MixDiscreteIdAndValue(id, v)  value 1
//   string             key = MixStringIdAndValue(id, s)    value 1
//   sparse binary      key = MixStringIdAndValue(id, s)    value 1, one entry per name
//   sparse continuous  key = FeatureId(name) (decode_mode 0, names decoded as the original
//                      does, see Utf8Decoding) or MixStringIdAndValue(id, name) (decode_mode 1),
//                      value v, one entry per name (NaN skipped, after its name is hashed)
// Labels and weights come only from binary and continuous features that are not kept.
// Blobs are skipped; tensors are kept as views into the serialized bytes.
//
// Entries allocate from `memory` (default: the heap): records of a batch that share one
// std::pmr::monotonic_buffer_resource cost a few large allocations instead of one per record.
struct HashedDataRecord {
  explicit HashedDataRecord(std::pmr::memory_resource* memory = std::pmr::get_default_resource())
      : entries(memory), labels(memory), weights(memory) {}

  std::pmr::vector<HashedEntry> entries;
  std::vector<Feature<RawTensor>> tensors;
  std::vector<Feature<RawSparseTensor>> sparse_tensors;
  std::pmr::vector<double> labels;   // one per label feature; NaN where missing
  std::pmr::vector<double> weights;  // one per weight feature; 0 where missing

  // Decode the struct at the reader's position, replacing the record's contents (errors as
  // DataRecord::Decode).
  void Decode(ThriftReader* reader, const DecodeOptions& options);
  // The same, but the entries are appended to `columns` (`entries` stays empty): labels,
  // weights and tensors still go to the record.
  void Decode(ThriftReader* reader, const DecodeOptions& options, HashedColumns* columns);
  // Empty the record, with missing labels and weights for `options`' label and weight features.
  void Reset(const DecodeOptions& options);
  size_t size() const { return entries.size(); }
  size_t num_labels() const { return labels.size(); }
};

}  // namespace twml

#endif  // TWML_HASHED_DATA_RECORD_H_
