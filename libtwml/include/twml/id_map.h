// IdMap: a compact open-addressing hash map from int64 feature ids to int64 values.
//
// Decoders look up every feature id of every record in a few small maps (the keep map, label and
// weight maps); this map keeps those lookups to one multiply and a short probe.
#ifndef TWML_ID_MAP_H_
#define TWML_ID_MAP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace twml {

class IdMap {
 public:
  IdMap() = default;

  // Maps keys[i] to values[i]; a key given twice keeps its last value. Sizes must match.
  IdMap(const std::vector<int64_t>& keys, const std::vector<int64_t>& values);

  // Maps keys[i] to i: the position of each id in a list (labels, weights).
  static IdMap Positions(const std::vector<int64_t>& keys);

  void Insert(int64_t key, int64_t value);

  // The value of `key`, or nullptr.
  const int64_t* Find(int64_t key) const {
    if (size_ == 0) return nullptr;
    for (size_t slot = Slot(key);; slot = (slot + 1) & mask_) {
      if (!used_[slot]) return nullptr;
      if (keys_[slot] == key) return &values_[slot];
    }
  }

  bool Contains(int64_t key) const { return Find(key) != nullptr; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  size_t Slot(int64_t key) const {
    return static_cast<size_t>((static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ULL) >> shift_) & mask_;
  }
  void Grow();

  std::vector<int64_t> keys_;
  std::vector<int64_t> values_;
  std::vector<uint8_t> used_;
  size_t size_ = 0;
  size_t mask_ = 0;
  int shift_ = 64;
};

}  // namespace twml

#endif  // TWML_ID_MAP_H_
