// Fuzz target: DataRecord decoding, with every feature kept and with a keep map. Run by the
// in-repo driver as //libtwml/tests:data_record_fuzz_test (see fuzz_driver.h), or by libFuzzer.
//
// Besides "no crash, no unbounded allocation, only twml::Error", a record that decodes must
// re-encode (when it has no list tensors, which the encoder does not write) to bytes that decode
// to the same entries.
#include <cstdlib>

#include "libtwml/tests/fuzz/fuzz_driver.h"
#include "libtwml/tests/fuzz/record_seeds.h"

namespace {

bool HasListTensors(const twml::DataRecord& record) {
  for (const auto& tensor : record.tensors) {
    if (tensor.value.big_endian) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> FuzzSeedCorpus() { return twml::RecordSeeds(); }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  twml::DecodeOptions keep_all;
  keep_all.keep_all = true;
  twml::DataRecord record;
  twml::ThriftReader reader(data, size, "fuzz record");
  record.Decode(&reader, keep_all);  // a twml::Error here is a rejection

  twml::DataRecord filtered;
  twml::ThriftReader filtered_reader(data, size, "fuzz record");
  filtered.Decode(&filtered_reader, twml::FuzzDecodeOptions(0));
  if (filtered.sparse_binary.size() > record.sparse_binary.size()) std::abort();

  if (!HasListTensors(record)) {
    const std::string encoded = twml::EncodeDataRecord(record);
    twml::DataRecord again;
    twml::ThriftReader again_reader(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size(),
                                    "re-encoded");
    again.Decode(&again_reader, keep_all);
    if (again.binary != record.binary || again.continuous.size() != record.continuous.size() ||
        again.strings.size() != record.strings.size() ||
        again.sparse_binary.size() != record.sparse_binary.size() ||
        again.sparse_continuous.size() != record.sparse_continuous.size() ||
        again.tensors.size() != record.tensors.size()) {
      std::abort();
    }
  }
  return 0;
}
