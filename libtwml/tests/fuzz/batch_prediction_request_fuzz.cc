// Fuzz target: BatchPredictionRequest decoding into DataRecords and HashedDataRecords. Run by
// the in-repo driver as //libtwml/tests:batch_prediction_request_fuzz_test, or by libFuzzer.
#include <cstdlib>

#include "libtwml/tests/fuzz/fuzz_driver.h"
#include "libtwml/tests/fuzz/record_seeds.h"
#include "twml/batch_prediction_request.h"

std::vector<std::string> FuzzSeedCorpus() {
  const auto records = twml::RecordSeeds();
  return {twml::SeedRequest(records, records[0]), twml::SeedRequest({records[1]}, records[2]),
          twml::SeedRequest({}, records[3])};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  twml::BatchPredictionRequest<twml::DataRecord> request;
  twml::ThriftReader reader(data, size, "fuzz request");
  request.Decode(&reader, twml::FuzzDecodeOptions(0));
  twml::BatchPredictionRequest<twml::HashedDataRecord> hashed;
  twml::ThriftReader hashed_reader(data, size, "fuzz request");
  hashed.Decode(&hashed_reader, twml::FuzzDecodeOptions(1));
  if (hashed.records.size() != request.records.size()) std::abort();
  return 0;
}
