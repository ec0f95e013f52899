// Fuzz target: BlockReader over raw bytes. Run by the in-repo driver as
// //libtwml/tests:block_reader_fuzz_test (see fuzz_driver.h), or by libFuzzer.
//
// Besides "no crash, no unbounded allocation, only twml::Error", it checks that the reader's
// result does not depend on how the source delivers the bytes: the input is read once in large
// reads and once in reads of a few bytes through a minimal buffer, and both must give the same
// records and the same error. It then reads the input in skip mode (set_skip_corrupt), which
// over raw bytes must never throw (but for input without any block), must return records whose
// sizes add up to no more than the input (records are disjoint pieces of it, however often bad
// blocks are rescanned), and must also not depend on the read size, skip counts and message
// included.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "libtwml/tests/fuzz/fuzz_driver.h"
#include "twml/block_format.h"
#include "twml/byte_source.h"
#include "twml/error.h"

namespace {

struct Result {
  std::vector<std::string> records;
  std::string error;
  uint64_t skipped_blocks = 0;
  uint64_t skipped_records = 0;
  uint64_t skipped_bytes = 0;

  bool operator==(const Result& other) const {
    return records == other.records && error == other.error &&
           skipped_blocks == other.skipped_blocks && skipped_records == other.skipped_records &&
           skipped_bytes == other.skipped_bytes;
  }
};

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

Result Read(const std::string& input, size_t max_read, size_t buffer_size,
            bool skip_corrupt = false) {
  Result result;
  twml::BlockReader reader(std::make_unique<twml::MemoryByteSource>(input, "fuzz", max_read),
                           "fuzz.rec", buffer_size);
  reader.set_skip_corrupt(skip_corrupt);
  if (skip_corrupt) {
    // Skip mode must absorb every data error but one: input without any block.
    std::string record;
    size_t total = 0;
    try {
      while (reader.Next(&record)) {
        total += record.size();
        if (total > input.size()) std::abort();
        result.records.push_back(record);
      }
      if (reader.Next(&record)) std::abort();  // the end stays the end
    } catch (const twml::Error& error) {
      if (!StartsWith(error.what(), "fuzz.rec: no block in its ") || !result.records.empty()) std::abort();
      result.error = error.what();
      return result;
    }
    // Each skipped block starts at its own marker.
    if (reader.skipped_blocks() > input.size() / sizeof(twml::kBlockMarker)) std::abort();
    if (reader.skipped_bytes() > input.size()) std::abort();
    const bool skipped = reader.skipped_blocks() + reader.skipped_records() + reader.skipped_bytes() > 0;
    if (skipped == reader.last_skip_message().empty()) std::abort();
    result.error = reader.last_skip_message();
    result.skipped_blocks = reader.skipped_blocks();
    result.skipped_records = reader.skipped_records();
    result.skipped_bytes = reader.skipped_bytes();
    return result;
  }
  try {
    std::string record;
    while (reader.Next(&record)) {
      // Records are pieces of the input: anything larger means the reader invented bytes.
      if (record.size() > input.size()) std::abort();
      result.records.push_back(record);
    }
  } catch (const twml::Error& error) {
    if (error.code() != twml::ErrorCode::kIO) std::abort();
    result.error = error.what();
  }
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const Result whole = Read(input, SIZE_MAX, twml::BlockReader::kDefaultBufferSize);
  const Result pieces = Read(input, 1 + size % 7, 64);
  if (!(whole == pieces)) {
    std::fprintf(stderr, "block_reader_fuzz: results differ with the read size: '%s' vs '%s'\n",
                 whole.error.c_str(), pieces.error.c_str());
    std::abort();
  }
  const Result skipped_whole = Read(input, SIZE_MAX, twml::BlockReader::kDefaultBufferSize, true);
  const Result skipped_pieces = Read(input, 1 + size % 7, 64, true);
  if (!(skipped_whole == skipped_pieces)) {
    std::fprintf(stderr, "block_reader_fuzz: skip mode differs with the read size: '%s' vs '%s'\n",
                 skipped_whole.error.c_str(), skipped_pieces.error.c_str());
    std::abort();
  }
  // Without errors, skip mode reads what the default mode reads, less the DataRecords it finds
  // invalid.
  if (whole.error.empty() &&
      !(skipped_whole.skipped_blocks == 0 && skipped_whole.skipped_bytes == 0 &&
        skipped_whole.records.size() + skipped_whole.skipped_records == whole.records.size() &&
        (skipped_whole.skipped_records > 0 || skipped_whole.records == whole.records))) {
    std::abort();
  }
  // Only inputs that hold records are worth mutating further: the reader skips anything else.
  // (Also keeping inputs that skip mode salvaged records from made the run 1.6x slower and found
  // nothing more: mutations of good inputs reach the rescans anyway.)
  return whole.error.empty() && !whole.records.empty() ? 0 : -1;
}

std::vector<std::string> FuzzSeedCorpus() {
  using twml::EncodeBlock;
  const std::string marker(reinterpret_cast<const char*>(twml::kBlockMarker),
                           sizeof(twml::kBlockMarker));
  const char* kClass = "com.twitter.ml.api.DataRecord";
  const std::string reference = EncodeBlock(kClass, {std::string("\x0b\x00", 2), "XYZ"}) +
                                EncodeBlock(kClass, {"Q"});
  return {
      "",
      reference,
      EncodeBlock("", {}),
      EncodeBlock("c", {"", std::string(200, 'r'), "x"}),
      "junk" + marker.substr(0, 9) + EncodeBlock(kClass, {"a"}) + "pad" + reference + "tail",
      marker + std::string("\0\0\0\0", 4) + marker + "\xff\xff\xff\xff" + reference,
      EncodeBlock(std::string(1023, 'n'), {"z"}),
      // Nearly valid: truncated, and a record that overruns its block.
      reference.substr(0, reference.size() - 5),
      marker + std::string("\x09\x00\x00\x00\x08\x01\x12\x01" "c\x1a\x09" "ab", 13) + reference,
  };
}
