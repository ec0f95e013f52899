// Fuzz target: the Thrift decoders that Python hands untrusted bytes to through pybind — data
// specs (FeatureMetaInfoList, whose unknown fields are skipped with ThriftReader::Skip) and
// BatchPredictionResponses. Run by the in-repo driver as
// //libtwml/tests:data_spec_and_response_fuzz_test, or by libFuzzer.
//
// Besides "no crash, no unbounded allocation, only twml::Error", it checks that what decodes
// re-encodes into bytes that decode to the same thing.
#include <cstdlib>
#include <string>
#include <vector>

#include "libtwml/tests/fuzz/fuzz_driver.h"
#include "libtwml/tests/fuzz/record_seeds.h"
#include "twml/batch_prediction_response.h"
#include "twml/data_spec.h"

namespace {

struct Feature {
  int64_t id;
  std::string name;
  int32_t type;
};

std::string DataSpec(const std::vector<Feature>& features, bool unknown_field) {
  std::string out;
  twml::ThriftWriter writer(&out);
  writer.WriteFieldHeader(twml::kThriftList, 1);
  writer.WriteListHeader(twml::kThriftStruct, features.size());
  for (const Feature& feature : features) {
    writer.WriteFieldHeader(twml::kThriftI64, 1);
    writer.WriteI64(feature.id);
    writer.WriteFieldHeader(twml::kThriftString, 2);
    writer.WriteString(feature.name);
    writer.WriteFieldHeader(twml::kThriftI32, 3);
    writer.WriteI32(feature.type);
    if (unknown_field) {  // a nested container the decoder must skip
      writer.WriteFieldHeader(twml::kThriftMap, 9);
      writer.WriteMapHeader(twml::kThriftString, twml::kThriftList, 1);
      writer.WriteString("k");
      writer.WriteListHeader(twml::kThriftDouble, 2);
      writer.WriteDouble(1.5);
      writer.WriteDouble(-2);
    }
    writer.WriteStop();
  }
  writer.WriteStop();
  return out;
}

std::vector<Feature> DecodeSpec(const uint8_t* data, size_t size) {
  twml::ThriftReader reader(data, size, "fuzz data spec");
  std::vector<Feature> features;
  for (const auto& info : twml::DecodeFeatureMetaInfoList(&reader)) {
    features.push_back({info.id.value_or(0), std::string(info.name.value_or("")), info.type.value_or(0)});
  }
  return features;
}

// Whether the input decodes as a data spec; what decodes must survive a re-encoding.
bool DataSpecAccepted(const uint8_t* data, size_t size) {
  std::vector<Feature> features;
  try {
    features = DecodeSpec(data, size);
  } catch (const twml::Error&) {
    return false;
  }
  const std::string again = DataSpec(features, false);
  const auto decoded = DecodeSpec(reinterpret_cast<const uint8_t*>(again.data()), again.size());
  if (decoded.size() != features.size()) std::abort();
  for (size_t i = 0; i < decoded.size(); ++i) {
    if (decoded[i].id != features[i].id || decoded[i].name != features[i].name ||
        decoded[i].type != features[i].type) {
      std::abort();
    }
  }
  return true;
}

bool ResponseAccepted(const uint8_t* data, size_t size) {
  twml::DecodeOptions options;
  options.keep_all = true;
  twml::ThriftReader reader(data, size, "fuzz response");
  try {
    const auto rows = twml::DecodeBatchPredictionResponse(&reader, options);
    // Every row takes at least its STOP byte.
    if (rows.size() > size) std::abort();
  } catch (const twml::Error&) {
    return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> FuzzSeedCorpus() {
  const twml::PredictionMatrix none;
  const float values[] = {0.25f, 0.5f, 0.75f, 1.0f};
  twml::PredictionMatrix predictions;
  predictions.data = values;
  predictions.rows = 2;
  predictions.columns = 2;
  return {
      DataSpec({{1, "a", 1}, {-7, "user.id#12345", 2}}, false),
      DataSpec({{5, "caf\xc3\xa9", 6}}, true),
      twml::EncodeBatchPredictionResponse({7, 8}, predictions, {}, {}),
      twml::EncodeBatchPredictionResponse({}, none, {}, {}),
  };
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool spec = DataSpecAccepted(data, size);
  const bool response = ResponseAccepted(data, size);
  return spec || response ? 0 : -1;
}
