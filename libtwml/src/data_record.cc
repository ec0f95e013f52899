#include "twml/data_record.h"

#include <cmath>
#include <limits>

namespace twml {
namespace {

IdMap KeepMap(const std::vector<int64_t>& keep_features, const std::vector<int64_t>& keep_codes) {
  if (keep_features.size() != keep_codes.size()) {
    throw Error(ErrorCode::kSize, "keep_features has " + std::to_string(keep_features.size()) +
                                      " ids but keep_codes has " +
                                      std::to_string(keep_codes.size()) + " codes");
  }
  return IdMap(keep_features, keep_codes);
}

}  // namespace

DecodeOptions::DecodeOptions(const std::vector<int64_t>& keep_features,
                             const std::vector<int64_t>& keep_codes,
                             const std::vector<int64_t>& label_features,
                             const std::vector<int64_t>& weight_features, int mode)
    : keep(KeepMap(keep_features, keep_codes)),
      labels(IdMap::Positions(label_features)),
      weights(IdMap::Positions(weight_features)),
      decode_mode(mode) {
  if (mode != 0 && mode != 1) {
    throw Error(ErrorCode::kType,
                "decode_mode must be 0 (hash_valname) or 1 (hash_fname_and_valname), not " +
                    std::to_string(mode));
  }
}

void DataRecord::Reset(const DecodeOptions& options) {
  binary.clear();
  continuous.clear();
  discrete.clear();
  strings.clear();
  sparse_binary.clear();
  sparse_continuous.clear();
  blobs.clear();
  tensors.clear();
  sparse_tensors.clear();
  labels.assign(options.labels.size(), std::numeric_limits<double>::quiet_NaN());
  weights.assign(options.weights.size(), 0.0);
}

void DataRecord::Decode(ThriftReader* reader, const DecodeOptions& options) {
  Reset(options);
  for (;;) {
    const size_t field_offset = reader->offset();
    const auto header = reader->ReadFieldHeader();
    if (header.type == kThriftStop) return;
    switch (header.id) {
      case kBinaryFeatures: {
        reader->ExpectFieldType(header, kThriftSet, "binaryFeatures");
        const int32_t count = reader->ReadSetHeader(kThriftI64, "binaryFeatures");
        binary.reserve(binary.size() + static_cast<size_t>(count));
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          binary.push_back(id);
          if (const int64_t* column = options.labels.Find(id)) labels[*column] = 1.0;
        }
        break;
      }
      case kContinuousFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "continuousFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftDouble, "continuousFeatures");
        continuous.reserve(continuous.size() + static_cast<size_t>(count));
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const double value = reader->ReadDouble();
          if (!std::isnan(value)) continuous.push_back({id, value});
          if (const int64_t* column = options.labels.Find(id)) {
            labels[*column] = value;
          } else if (const int64_t* weight_column = options.weights.Find(id)) {
            weights[*weight_column] = value;
          }
        }
        break;
      }
      case kDiscreteFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "discreteFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftI64, "discreteFeatures");
        discrete.reserve(discrete.size() + static_cast<size_t>(count));
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          discrete.push_back({id, reader->ReadI64()});
        }
        break;
      }
      case kStringFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "stringFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftString, "stringFeatures");
        strings.reserve(strings.size() + static_cast<size_t>(count));
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          strings.push_back({id, reader->ReadString()});
        }
        break;
      }
      case kSparseBinaryFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "sparseBinaryFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftSet, "sparseBinaryFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const bool kept = options.keep_all || options.keep.Contains(id);
          const int32_t names = reader->ReadSetHeader(kThriftString, "sparseBinaryFeatures value");
          for (int32_t j = 0; j < names; ++j) {
            const std::string_view name = reader->ReadString();
            if (kept) sparse_binary.push_back({id, name, true});
          }
        }
        break;
      }
      case kSparseContinuousFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "sparseContinuousFeatures");
        const int32_t count =
            reader->ReadMapHeader(kThriftI64, kThriftMap, "sparseContinuousFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const bool kept = options.keep_all || options.keep.Contains(id);
          const int32_t names = reader->ReadMapHeader(kThriftString, kThriftDouble,
                                                      "sparseContinuousFeatures value");
          for (int32_t j = 0; j < names; ++j) {
            const std::string_view name = reader->ReadString();
            const double value = reader->ReadDouble();
            if (kept && !std::isnan(value)) sparse_continuous.push_back({id, name, value});
          }
        }
        break;
      }
      case kBlobFeatures: {
        reader->ExpectFieldType(header, kThriftMap, "blobFeatures");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftString, "blobFeatures");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          const std::string_view blob = reader->ReadString();
          if (options.keep_all || options.keep.Contains(id)) blobs.push_back({id, blob});
        }
        break;
      }
      case kTensors: {
        reader->ExpectFieldType(header, kThriftMap, "tensors");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftStruct, "tensors");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          tensors.push_back({id, DecodeGeneralTensor(reader)});
        }
        break;
      }
      case kSparseTensors: {
        reader->ExpectFieldType(header, kThriftMap, "sparseTensors");
        const int32_t count = reader->ReadMapHeader(kThriftI64, kThriftStruct, "sparseTensors");
        for (int32_t i = 0; i < count; ++i) {
          const int64_t id = reader->ReadI64();
          sparse_tensors.push_back({id, DecodeSparseTensor(reader)});
        }
        break;
      }
      default:
        reader->FailAt(field_offset, "DataRecord: unknown field id " + std::to_string(header.id) +
                                         " (" + ThriftTypeName(header.type) + ")");
    }
  }
}

namespace {

// Groups sparse entries by id, in order of first appearance: a Thrift map holds each key once.
template <typename Entry>
std::vector<std::vector<const Entry*>> GroupById(const std::vector<Entry>& entries) {
  std::vector<std::vector<const Entry*>> groups;
  IdMap group_of;
  for (const Entry& entry : entries) {
    if (const int64_t* group = group_of.Find(entry.id)) {
      groups[static_cast<size_t>(*group)].push_back(&entry);
    } else {
      group_of.Insert(entry.id, static_cast<int64_t>(groups.size()));
      groups.push_back({&entry});
    }
  }
  return groups;
}

}  // namespace

void EncodeDataRecord(const DataRecord& record, ThriftWriter* writer) {
  if (!record.binary.empty()) {
    writer->WriteFieldHeader(kThriftSet, kBinaryFeatures);
    writer->WriteSetHeader(kThriftI64, record.binary.size());
    for (int64_t id : record.binary) writer->WriteI64(id);
  }
  if (!record.continuous.empty()) {
    writer->WriteFieldHeader(kThriftMap, kContinuousFeatures);
    writer->WriteMapHeader(kThriftI64, kThriftDouble, record.continuous.size());
    for (const auto& feature : record.continuous) {
      writer->WriteI64(feature.id);
      writer->WriteDouble(feature.value);
    }
  }
  if (!record.discrete.empty()) {
    writer->WriteFieldHeader(kThriftMap, kDiscreteFeatures);
    writer->WriteMapHeader(kThriftI64, kThriftI64, record.discrete.size());
    for (const auto& feature : record.discrete) {
      writer->WriteI64(feature.id);
      writer->WriteI64(feature.value);
    }
  }
  if (!record.strings.empty()) {
    writer->WriteFieldHeader(kThriftMap, kStringFeatures);
    writer->WriteMapHeader(kThriftI64, kThriftString, record.strings.size());
    for (const auto& feature : record.strings) {
      writer->WriteI64(feature.id);
      writer->WriteString(feature.value);
    }
  }
  if (!record.sparse_binary.empty()) {
    const auto groups = GroupById(record.sparse_binary);
    writer->WriteFieldHeader(kThriftMap, kSparseBinaryFeatures);
    writer->WriteMapHeader(kThriftI64, kThriftSet, groups.size());
    for (const auto& group : groups) {
      writer->WriteI64(group.front()->id);
      writer->WriteSetHeader(kThriftString, group.size());
      for (const auto* entry : group) writer->WriteString(entry->name);
    }
  }
  if (!record.sparse_continuous.empty()) {
    const auto groups = GroupById(record.sparse_continuous);
    writer->WriteFieldHeader(kThriftMap, kSparseContinuousFeatures);
    writer->WriteMapHeader(kThriftI64, kThriftMap, groups.size());
    for (const auto& group : groups) {
      writer->WriteI64(group.front()->id);
      writer->WriteMapHeader(kThriftString, kThriftDouble, group.size());
      for (const auto* entry : group) {
        writer->WriteString(entry->name);
        writer->WriteDouble(entry->value);
      }
    }
  }
  if (!record.blobs.empty()) {
    writer->WriteFieldHeader(kThriftMap, kBlobFeatures);
    writer->WriteMapHeader(kThriftI64, kThriftString, record.blobs.size());
    for (const auto& feature : record.blobs) {
      writer->WriteI64(feature.id);
      writer->WriteString(feature.value);
    }
  }
  if (!record.tensors.empty()) {
    writer->WriteFieldHeader(kThriftMap, kTensors);
    writer->WriteMapHeader(kThriftI64, kThriftStruct, record.tensors.size());
    for (const auto& feature : record.tensors) {
      const RawTensor& tensor = feature.value;
      if (tensor.big_endian && TensorElementSize(tensor.type) > 1) {
        throw Error(ErrorCode::kType, "tensor " + std::to_string(feature.id) +
                                          ": cannot encode a big-endian list tensor as raw bytes");
      }
      writer->WriteI64(feature.id);
      EncodeGeneralTensor(tensor.type, tensor.shape, tensor.data, tensor.strings, writer);
    }
  }
  writer->WriteStop();
}

std::string EncodeDataRecord(const DataRecord& record) {
  std::string out;
  ThriftWriter writer(&out);
  EncodeDataRecord(record, &writer);
  return out;
}

}  // namespace twml
