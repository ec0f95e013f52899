// Data specs serialized as Thrift (data.thrift's FeatureMetaInfoList): the feature ids, names and
// types of a dataset, which twml reads to name features.
#ifndef TWML_DATA_SPEC_H_
#define TWML_DATA_SPEC_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "twml/thrift.h"

namespace twml {

// One FeatureMetaInfo; each field is optional on the wire. The name views the reader's bytes.
struct FeatureMetaInfo {
  std::optional<int64_t> id;          // featureId (1)
  std::optional<std::string_view> name;  // fullFeatureName (2), raw bytes
  std::optional<int32_t> type;        // featureType (3), the FeatureType enum's value
};

// Decodes a FeatureMetaInfoList struct at the reader's position. As generated Thrift code does,
// unknown fields are skipped (ThriftReader::Skip, bounded by the bytes present); a known field of
// the wrong type is an error naming it and its offset. Validating the values (known types,
// UTF-8 names) is the caller's.
std::vector<FeatureMetaInfo> DecodeFeatureMetaInfoList(ThriftReader* reader);

}  // namespace twml

#endif  // TWML_DATA_SPEC_H_
