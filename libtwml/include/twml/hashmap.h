// The int64 -> int64 lookup table of the Hashmap op (reference §5.9).
#ifndef TWML_HASHMAP_H_
#define TWML_HASHMAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace twml {

// An immutable int64 -> int64 map.
class Int64Map {
 public:
  // Maps keys[i] to values[i]; when a key repeats, its last value wins (as khash's
  // put-then-assign did in the original).
  Int64Map(const int64_t* keys, const int64_t* values, size_t size);

  // values[i] = the value of keys[i] and mask[i] = 1 if the key is in the map, else
  // values[i] = keys[i] and mask[i] = 0. `values` may alias `keys`.
  void Lookup(const int64_t* keys, size_t size, int64_t* values, int8_t* mask) const;

  size_t size() const { return map_.size(); }

 private:
  std::unordered_map<int64_t, int64_t> map_;
};

// An Int64Map built on first use from the tables passed then, and kept for every later call:
// the Hashmap kernel receives the tables as inputs on every run but builds its map once.
// Thread-safe: concurrent first calls build the map once, and lookups need no lock.
class LazyInt64Map {
 public:
  // The map, built from keys/values if no earlier call built it (later tables are ignored).
  // Throws twml::Error when keys_size != values_size; the map then stays unbuilt, so a later
  // call with valid tables builds it.
  const Int64Map& Get(const int64_t* keys, size_t keys_size, const int64_t* values,
                      size_t values_size);

 private:
  std::mutex mutex_;
  std::unique_ptr<const Int64Map> map_;  // set once, under mutex_
};

}  // namespace twml

#endif  // TWML_HASHMAP_H_
