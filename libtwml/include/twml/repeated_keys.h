// Repeated keys within one serialized DataRecord.
//
// A canonical writer puts each key in a Thrift set or map once, but non-canonical bytes can hold
// a key twice (a set or map written with a repeat, or a field repeated on the wire). The original
// decoded into hash sets and maps, so it kept each key once: sets deduplicated, maps with the
// last value. Trained models depend on that, so the decoders do the same (reference §2.6 as
// amended in README's migration note).
//
// Finding repeats must cost next to nothing on canonical records, the usual case. RepeatFilter
// answers "certainly new" for nearly every key from a small table of hash stamps; only a
// "maybe seen" (a real repeat, or a rare hash collision) makes the decoder search the entries it
// already holds for the record.
#ifndef TWML_REPEATED_KEYS_H_
#define TWML_REPEATED_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace twml {

class RepeatFilter {
 public:
  RepeatFilter() { std::memset(stamps_, 0, sizeof(stamps_)); }

  // Starts a record: every key is new again.
  void NextRecord() {
    if (++record_ == 0) {  // the stamps wrapped around: forget them all
      std::memset(stamps_, 0, sizeof(stamps_));
      record_ = 1;
    }
  }

  // False if `key` was certainly not seen in this record; true if it may have been. Marks it.
  bool MaybeSeen(uint64_t key) {
    uint8_t& stamp = stamps_[(key * 0x9E3779B97F4A7C15ULL) >> (64 - kSlotBits)];
    if (stamp == record_) return true;
    stamp = record_;
    return false;
  }

  // The filter key of a (kind, id) pair, and of a (kind, id, name hash) triple: `kind` tells the
  // sets and maps of a record apart (e.g. the field id).
  static uint64_t Key(uint8_t kind, int64_t id) {
    return (static_cast<uint64_t>(id) * 0xC2B2AE3D27D4EB4FULL) ^ kind;
  }
  static uint64_t Key(uint8_t kind, int64_t id, int64_t name_hash) {
    return Key(kind, id) ^ (static_cast<uint64_t>(name_hash) * 0x165667B19E3779F9ULL);
  }

 private:
  // 16 KiB of stamps: with ~100 keys a record, a collision every ~30 records.
  static constexpr int kSlotBits = 14;
  uint8_t stamps_[size_t{1} << kSlotBits];
  uint8_t record_ = 1;
};

// The calling thread's filter: decoding one record at a time per thread, the decoders share it
// (allocated once per thread rather than once per record).
inline RepeatFilter& ThreadRepeatFilter() {
  thread_local RepeatFilter filter;
  return filter;
}

// The entry of `entries` (a vector of structs with an `id`) with id `id`, or nullptr.
template <typename Entries>
auto* FindById(Entries& entries, int64_t id) {
  for (auto& entry : entries) {
    if (entry.id == id) return &entry;
  }
  return static_cast<decltype(&entries[0])>(nullptr);
}

}  // namespace twml

#endif  // TWML_REPEATED_KEYS_H_
