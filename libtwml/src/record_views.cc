#include "twml/record_views.h"

#include "twml/error.h"
#include "twml/hashing.h"

namespace twml {

FeatureColumns<float> KeptFeatures(FeatureKind kind, const std::vector<DataRecord>& rows,
                                   const DataRecord& common, const IdMap& keep) {
  FeatureColumns<float> columns;
  ForEachRowRecord(rows, common, [&](int64_t row, const DataRecord& record) {
    switch (kind) {
      case FeatureKind::kBinary:
        for (int64_t id : record.binary) {
          if (keep.Contains(id)) columns.Add(row, id, 1.0f);
        }
        break;
      case FeatureKind::kContinuous:
        for (const auto& f : record.continuous) {
          if (keep.Contains(f.id)) columns.Add(row, f.id, static_cast<float>(f.value));
        }
        break;
      case FeatureKind::kString:
        for (const auto& f : record.strings) {
          if (keep.Contains(f.id)) columns.Add(row, f.id, 1.0f, f.value);
        }
        break;
      case FeatureKind::kSparseBinary:
        for (const auto& f : record.sparse_binary) {
          if (keep.Contains(f.id)) columns.Add(row, f.id, 1.0f, f.name);
        }
        break;
      case FeatureKind::kSparseContinuous:
        for (const auto& f : record.sparse_continuous) {
          if (keep.Contains(f.id)) columns.Add(row, f.id, static_cast<float>(f.value), f.name);
        }
        break;
      case FeatureKind::kDiscrete:
        throw Error(ErrorCode::kType, "KeptFeatures: discrete values are int64, see KeptDiscreteFeatures");
    }
  });
  return columns;
}

FeatureColumns<int64_t> KeptDiscreteFeatures(const std::vector<DataRecord>& rows, const DataRecord& common,
                                             const IdMap& keep) {
  FeatureColumns<int64_t> columns;
  ForEachRowRecord(rows, common, [&](int64_t row, const DataRecord& record) {
    for (const auto& f : record.discrete) {
      if (keep.Contains(f.id)) columns.Add(row, f.id, f.value);
    }
  });
  return columns;
}

FeatureColumns<float> SparseFeatureOfRows(const std::vector<DataRecord>& rows, int64_t feature_id,
                                          bool continuous) {
  FeatureColumns<float> columns;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto row = static_cast<int64_t>(r);
    if (continuous) {
      for (const auto& f : rows[r].sparse_continuous) {
        if (f.id == feature_id) columns.Add(row, f.id, static_cast<float>(f.value), f.name);
      }
    } else {
      for (const auto& f : rows[r].sparse_binary) {
        if (f.id == feature_id) columns.Add(row, f.id, 1.0f, f.name);
      }
    }
  }
  return columns;
}

FeatureColumns<float> HashedFeatures(const std::vector<DataRecord>& rows, const DataRecord& common,
                                     const std::array<IdMap, 6>& type_keep, const IdMap& keep,
                                     bool hash_names_alone) {
  auto kept = [&](size_t type, int64_t id) { return type_keep[type].Contains(id) && keep.Contains(id); };
  FeatureColumns<float> columns;
  ForEachRowRecord(rows, common, [&](int64_t row, const DataRecord& record) {
    for (int64_t id : record.binary) {
      if (kept(0, id)) columns.Add(row, id, 1.0f);
    }
    for (const auto& f : record.continuous) {
      if (kept(1, f.id)) columns.Add(row, f.id, static_cast<float>(f.value));
    }
    for (const auto& f : record.discrete) {
      if (kept(2, f.id)) columns.Add(row, MixDiscreteIdAndValue(f.id, f.value), 1.0f);
    }
    for (const auto& f : record.strings) {
      if (kept(3, f.id)) columns.Add(row, MixStringIdAndValue(f.id, f.value), 1.0f);
    }
    for (const auto& f : record.sparse_binary) {
      if (kept(4, f.id)) columns.Add(row, MixStringIdAndValue(f.id, f.name), 1.0f);
    }
    for (const auto& f : record.sparse_continuous) {
      if (!kept(5, f.id)) continue;
      const int64_t key = hash_names_alone ? FeatureId(f.name, Utf8Decoding::kOriginal)
                                           : MixStringIdAndValue(f.id, f.name);
      columns.Add(row, key, static_cast<float>(f.value));
    }
  });
  return columns;
}

DenseColumns::DenseColumns(const std::vector<int64_t>& feature_ids) : next_(feature_ids.size(), -1) {
  for (auto column = static_cast<int64_t>(feature_ids.size()) - 1; column >= 0; --column) {
    const int64_t id = feature_ids[static_cast<size_t>(column)];
    if (const int64_t* later = first_.Find(id)) next_[static_cast<size_t>(column)] = *later;
    first_.Insert(id, column);
  }
}

namespace {

std::string KindName(const RawTensor& tensor) {
  return std::string(TensorTypeName(tensor.type)) + (tensor.big_endian ? " (list)" : " (raw)");
}

}  // namespace

void CheckSameKind(const RawTensor& first, const RawTensor& tensor, int64_t row, int64_t id) {
  if (tensor.type != first.type || tensor.big_endian != first.big_endian) {
    throw Error(ErrorCode::kType, "tensor feature " + std::to_string(id) + ": row " + std::to_string(row) +
                                      " holds " + KindName(tensor) + " but row 0 holds " + KindName(first));
  }
}

}  // namespace twml
