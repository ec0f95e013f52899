#include "twml/hashmap.h"

#include <string>

#include "twml/error.h"

namespace twml {

Int64Map::Int64Map(const int64_t* keys, const int64_t* values, size_t size) {
  map_.reserve(size);
  for (size_t i = 0; i < size; ++i) map_[keys[i]] = values[i];
}

void Int64Map::Lookup(const int64_t* keys, size_t size, int64_t* values, int8_t* mask) const {
  for (size_t i = 0; i < size; ++i) {
    const int64_t key = keys[i];
    const auto found = map_.find(key);
    const bool hit = found != map_.end();
    values[i] = hit ? found->second : key;
    mask[i] = hit ? 1 : 0;
  }
}

const Int64Map& LazyInt64Map::Get(const int64_t* keys, size_t keys_size, const int64_t* values,
                                  size_t values_size) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (map_ == nullptr) {
    if (keys_size != values_size) {
      throw Error(ErrorCode::kSize, "hash_keys has " + std::to_string(keys_size) +
                                        " elements but hash_values has " +
                                        std::to_string(values_size) + "; they must match");
    }
    map_ = std::make_unique<const Int64Map>(keys, values, keys_size);
  }
  // The map never changes once built, so callers may read it after the lock is released.
  return *map_;
}

}  // namespace twml
