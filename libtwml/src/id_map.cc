#include "twml/id_map.h"

#include "twml/error.h"

namespace twml {

IdMap::IdMap(const std::vector<int64_t>& keys, const std::vector<int64_t>& values) {
  if (keys.size() != values.size()) {
    throw Error(ErrorCode::kSize, std::to_string(keys.size()) + " keys but " +
                                      std::to_string(values.size()) + " values");
  }
  for (size_t i = 0; i < keys.size(); ++i) Insert(keys[i], values[i]);
}

IdMap IdMap::Positions(const std::vector<int64_t>& keys) {
  IdMap map;
  for (size_t i = 0; i < keys.size(); ++i) map.Insert(keys[i], static_cast<int64_t>(i));
  return map;
}

void IdMap::Insert(int64_t key, int64_t value) {
  // Keep the load factor at most 1/2 so probes stay short.
  if (2 * (size_ + 1) > keys_.size()) Grow();
  for (size_t slot = Slot(key);; slot = (slot + 1) & mask_) {
    if (!used_[slot]) {
      used_[slot] = 1;
      keys_[slot] = key;
      values_[slot] = value;
      ++size_;
      return;
    }
    if (keys_[slot] == key) {
      values_[slot] = value;
      return;
    }
  }
}

void IdMap::Grow() {
  const size_t capacity = keys_.empty() ? 16 : 2 * keys_.size();
  std::vector<int64_t> old_keys(capacity), old_values(capacity);
  std::vector<uint8_t> old_used(capacity, 0);
  old_keys.swap(keys_);
  old_values.swap(values_);
  old_used.swap(used_);
  mask_ = capacity - 1;
  shift_ = 64;
  for (size_t c = capacity; c > 1; c >>= 1) --shift_;
  size_ = 0;
  for (size_t i = 0; i < old_keys.size(); ++i) {
    if (old_used[i]) Insert(old_keys[i], old_values[i]);
  }
}

}  // namespace twml
