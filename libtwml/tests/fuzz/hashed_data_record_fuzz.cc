// Fuzz target: hashed DataRecord decoding in both decode modes. Run by the in-repo driver as
// //libtwml/tests:hashed_data_record_fuzz_test (see fuzz_driver.h), or by libFuzzer.
#include <cstdlib>

#include "libtwml/tests/fuzz/fuzz_driver.h"
#include "libtwml/tests/fuzz/record_seeds.h"
#include "twml/hashed_data_record.h"

std::vector<std::string> FuzzSeedCorpus() { return twml::RecordSeeds(); }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int mode = 0; mode <= 1; ++mode) {
    twml::HashedDataRecord record;
    twml::ThriftReader reader(data, size, "fuzz record");
    record.Decode(&reader, twml::FuzzDecodeOptions(mode));
    // Every entry has one of the six types and a code of the keep map.
    for (const twml::HashedEntry& entry : record.entries) {
      if (entry.type < 1 || entry.type > 6 || entry.code < 0 || entry.code > 6) std::abort();
    }
    if (record.labels.size() != 2 || record.weights.size() != 1) std::abort();
  }
  return 0;
}
