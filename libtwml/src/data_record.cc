#include "twml/data_record.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "twml/data_record_parser.h"
#include "twml/hashing.h"
#include "twml/repeated_keys.h"

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

namespace {

// Keeps every entry of the reference's DataRecord rules (§2.6) in a DataRecord, each key once
// (repeated_keys.h): a repeated set element is dropped, a repeated map key keeps its last value
// in the place of its first.
class DataRecordVisitor {
 public:
  DataRecordVisitor(DataRecord* record, const DecodeOptions& options)
      : record_(*record), options_(options), seen_(ThreadRepeatFilter()) {
    seen_.NextRecord();
  }

  void Binary(int64_t id) {
    if (!Repeated(kBinaryFeatures, id, record_.binary)) record_.binary.push_back(id);
    if (const int64_t* column = options_.labels.Find(id)) record_.labels[*column] = 1.0;
  }
  void Continuous(int64_t id, double value) {
    if (!std::isnan(value)) Put(kContinuousFeatures, id, value, record_.continuous);
    if (const int64_t* column = options_.labels.Find(id)) {
      record_.labels[*column] = value;
    } else if (const int64_t* weight_column = options_.weights.Find(id)) {
      record_.weights[*weight_column] = value;
    }
  }
  void Discrete(int64_t id, int64_t value) { Put(kDiscreteFeatures, id, value, record_.discrete); }
  void String(int64_t id, std::string_view value) { Put(kStringFeatures, id, value, record_.strings); }
  void SparseBinary(int64_t id, std::string_view name) {
    if (!Kept(id)) return;
    if (seen_.MaybeSeen(RepeatFilter::Key(kSparseBinaryFeatures, id, MixStringIdAndValue(0, name))) &&
        FindSparse(record_.sparse_binary, id, name)) {
      return;
    }
    record_.sparse_binary.push_back({id, name, true});
  }
  void SparseContinuous(int64_t id, std::string_view name, double value, size_t /*name_offset*/) {
    if (!Kept(id) || std::isnan(value)) return;
    if (seen_.MaybeSeen(RepeatFilter::Key(kSparseContinuousFeatures, id, MixStringIdAndValue(0, name)))) {
      if (auto* entry = FindSparse(record_.sparse_continuous, id, name)) {
        entry->value = value;
        return;
      }
    }
    record_.sparse_continuous.push_back({id, name, value});
  }
  void Blob(int64_t id, std::string_view value) {
    if (Kept(id)) Put(kBlobFeatures, id, value, record_.blobs);
  }
  void Tensor(int64_t id, RawTensor tensor) { Put(kTensors, id, std::move(tensor), record_.tensors); }
  void SparseTensor(int64_t id, RawSparseTensor tensor) {
    Put(kSparseTensors, id, std::move(tensor), record_.sparse_tensors);
  }

 private:
  bool Kept(int64_t id) const { return options_.keep_all || options_.keep.Contains(id); }

  // Whether the set `ids` already holds `id`.
  bool Repeated(uint8_t field, int64_t id, const std::vector<int64_t>& ids) {
    if (!seen_.MaybeSeen(RepeatFilter::Key(field, id))) return false;
    for (int64_t seen_id : ids) {
      if (seen_id == id) return true;
    }
    return false;
  }
  // map[id] = value.
  template <typename Value>
  void Put(uint8_t field, int64_t id, Value value, std::vector<Feature<Value>>& map) {
    if (seen_.MaybeSeen(RepeatFilter::Key(field, id))) {
      if (Feature<Value>* entry = FindById(map, id)) {
        entry->value = std::move(value);
        return;
      }
    }
    map.push_back({id, std::move(value)});
  }
  template <typename Value>
  static SparseFeature<Value>* FindSparse(std::vector<SparseFeature<Value>>& entries, int64_t id,
                                          std::string_view name) {
    for (auto& entry : entries) {
      if (entry.id == id && entry.name == name) return &entry;
    }
    return nullptr;
  }

  DataRecord& record_;
  const DecodeOptions& options_;
  RepeatFilter& seen_;
};

}  // namespace

void DataRecord::Decode(ThriftReader* reader, const DecodeOptions& options) {
  Reset(options);
  DataRecordVisitor visitor(this, options);
  ParseDataRecord(reader, &visitor);
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

namespace {

struct CheckOnly {
  void Binary(int64_t) {}
  void Continuous(int64_t, double) {}
  void Discrete(int64_t, int64_t) {}
  void String(int64_t, std::string_view) {}
  void SparseBinary(int64_t, std::string_view) {}
  void SparseContinuous(int64_t, std::string_view, double, size_t) {}
  void Blob(int64_t, std::string_view) {}
  void Tensor(int64_t, const RawTensor&) {}
  void SparseTensor(int64_t, const RawSparseTensor&) {}
};

}  // namespace

void CheckDataRecord(ThriftReader* reader) {
  CheckOnly check;
  ParseDataRecord(reader, &check);
}

void RetainFeatures(const IdMap& keep, DataRecord* record) {
  auto erase_unkept = [&](auto& entries) {
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const auto& entry) { return !keep.Contains(entry.id); }),
                  entries.end());
  };
  record->binary.erase(std::remove_if(record->binary.begin(), record->binary.end(),
                                      [&](int64_t id) { return !keep.Contains(id); }),
                       record->binary.end());
  erase_unkept(record->continuous);
  erase_unkept(record->discrete);
  erase_unkept(record->strings);
  erase_unkept(record->sparse_binary);
  erase_unkept(record->sparse_continuous);
  erase_unkept(record->blobs);
  erase_unkept(record->tensors);
  erase_unkept(record->sparse_tensors);
}

void SetContinuous(int64_t id, double value, DataRecord* record) {
  if (Feature<double>* entry = FindById(record->continuous, id)) {
    entry->value = value;
  } else {
    record->continuous.push_back({id, value});
  }
}

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
