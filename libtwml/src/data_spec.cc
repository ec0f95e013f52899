#include "twml/data_spec.h"

namespace twml {
namespace {

FeatureMetaInfo DecodeFeatureMetaInfo(ThriftReader* reader) {
  FeatureMetaInfo info;
  for (;;) {
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) return info;
    switch (header.id) {
      case 1:
        reader->ExpectFieldType(header, kThriftI64, "featureId");
        info.id = reader->ReadI64();
        break;
      case 2:
        reader->ExpectFieldType(header, kThriftString, "fullFeatureName");
        info.name = reader->ReadString();
        break;
      case 3:
        reader->ExpectFieldType(header, kThriftI32, "featureType");
        info.type = reader->ReadI32();
        break;
      default:
        reader->Skip(header.type, "FeatureMetaInfo: unknown field");
    }
  }
}

}  // namespace

std::vector<FeatureMetaInfo> DecodeFeatureMetaInfoList(ThriftReader* reader) {
  std::vector<FeatureMetaInfo> contents;
  for (;;) {
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) return contents;
    if (header.id == 1) {
      reader->ExpectFieldType(header, kThriftList, "contents");
      const int32_t count = reader->ReadListHeader(kThriftStruct, "contents");
      contents.clear();
      contents.reserve(static_cast<size_t>(count));
      for (int32_t i = 0; i < count; ++i) contents.push_back(DecodeFeatureMetaInfo(reader));
    } else {
      reader->Skip(header.type, "FeatureMetaInfoList: unknown field");
    }
  }
}

}  // namespace twml
