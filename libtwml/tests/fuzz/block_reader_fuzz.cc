// Fuzz target: BlockReader over raw bytes. Run by the in-repo driver as
// //libtwml/tests:block_reader_fuzz_test (see fuzz_driver.h), or by libFuzzer.
//
// Besides "no crash, no unbounded allocation, only twml::Error", it checks that the reader's
// result does not depend on how the source delivers the bytes: the input is read once in large
// reads and once in reads of a few bytes through a minimal buffer, and both must give the same
// records and the same error.
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

  bool operator==(const Result& other) const {
    return records == other.records && error == other.error;
  }
};

Result Read(const std::string& input, size_t max_read, size_t buffer_size) {
  Result result;
  twml::BlockReader reader(std::make_unique<twml::MemoryByteSource>(input, "fuzz", max_read),
                           "fuzz.rec", buffer_size);
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
  // Only inputs that hold records are worth mutating further: the reader skips anything else.
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
