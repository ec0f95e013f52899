// What the getter ops read from a decoded batch, without TensorFlow: each getter's projection
// of the batch's records (reference §5.1-5.4), so that its rules are unit-tested and sanitized
// here and the kernels only unpack inputs, call these and allocate outputs.
//
// A batch is its rows' records and one record common to every row: a BatchPredictionRequest's
// commonFeatures (empty for a batch of DataRecords). The per-type and hashed getters read each
// row's common entries and then its own; the dense *AsTensor getters read the rows' own records
// only, as the original's did; a tensor feature is a row's own, else the common record's.
#ifndef TWML_RECORD_VIEWS_H_
#define TWML_RECORD_VIEWS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "twml/data_record.h"
#include "twml/id_map.h"
#include "twml/tensor.h"

namespace twml {

// Calls fn(row, record) for each row's common record and then its own.
template <typename Record, typename Fn>
void ForEachRowRecord(const std::vector<Record>& rows, const Record& common, Fn&& fn) {
  for (size_t row = 0; row < rows.size(); ++row) {
    fn(static_cast<int64_t>(row), common);
    fn(static_cast<int64_t>(row), rows[row]);
  }
}

// Flattened entries: the row of each, its key, its value and, for kinds that have one, its name.
template <typename Value>
struct FeatureColumns {
  std::vector<int64_t> rows;
  std::vector<int64_t> keys;
  std::vector<Value> values;
  std::vector<std::string_view> names;

  void Add(int64_t row, int64_t key, Value value) {
    rows.push_back(row);
    keys.push_back(key);
    values.push_back(value);
  }
  void Add(int64_t row, int64_t key, Value value, std::string_view name) {
    Add(row, key, value);
    names.push_back(name);
  }
};

enum class FeatureKind { kBinary, kContinuous, kDiscrete, kString, kSparseBinary, kSparseContinuous };

// The entries of `kind` whose feature id `keep` holds (GetBinaryFeatures ... ): values as float
// (binary, string and sparse binary 1; NaN continuous values were dropped by the decoder), names
// for string (the string), sparse binary and sparse continuous (the name). Not for kDiscrete.
FeatureColumns<float> KeptFeatures(FeatureKind kind, const std::vector<DataRecord>& rows,
                                   const DataRecord& common, const IdMap& keep);
// The discrete entries whose feature id `keep` holds, with their raw int64 values.
FeatureColumns<int64_t> KeptDiscreteFeatures(const std::vector<DataRecord>& rows,
                                             const DataRecord& common, const IdMap& keep);

// One sparse feature's entries in each row's own record (GetSparse{Binary,Continuous}AsTensor):
// key = feature_id, the names, values (1 for binary).
FeatureColumns<float> SparseFeatureOfRows(const std::vector<DataRecord>& rows, int64_t feature_id,
                                          bool continuous);

// GetHashedFeaturesAsSparseTensor(V2): the hashed (row, key, value) entries (reference §2.6's
// keys) of the features that both type_keep[type] (types in the order binary, continuous,
// discrete, string, sparse binary, sparse continuous) and `keep` hold; per row common then own,
// in that type order. A sparse continuous name's key is FeatureId(name) when `hash_names_alone`
// (decode mode 0 of V2), else MixStringIdAndValue(id, name). Throws twml::Error for a name
// FeatureId cannot hash.
FeatureColumns<float> HashedFeatures(const std::vector<DataRecord>& rows, const DataRecord& common,
                                     const std::array<IdMap, 6>& type_keep, const IdMap& keep,
                                     bool hash_names_alone);

// The columns of a dense getter: feature_ids[c] fills column c; an id may fill several columns.
class DenseColumns {
 public:
  explicit DenseColumns(const std::vector<int64_t>& feature_ids);
  int64_t size() const { return static_cast<int64_t>(next_.size()); }
  // Calls fn(column) for each column of `id` (none when it has none).
  template <typename Fn>
  void ForEachColumn(int64_t id, Fn&& fn) const {
    const int64_t* first = first_.Find(id);
    if (first == nullptr) return;
    for (int64_t column = *first; column >= 0; column = next_[static_cast<size_t>(column)]) fn(column);
  }

 private:
  IdMap first_;                // id -> its first column
  std::vector<int64_t> next_;  // column -> the next column of the same id, or -1
};

// Calls fn(row, column, value) for each value of kKind (not sparse) in each row's own record
// (the *AsTensor getters): value is 1.0f for binary, the float for continuous, the int64 for
// discrete and the string_view for string features. A repeated key was already resolved by the
// decoder, so each (row, column) is set at most once.
template <FeatureKind kKind, typename Fn>
void ForEachDenseValue(const std::vector<DataRecord>& rows, const DenseColumns& columns, Fn&& fn) {
  static_assert(kKind != FeatureKind::kSparseBinary && kKind != FeatureKind::kSparseContinuous,
                "sparse features have no dense getters");
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto row = static_cast<int64_t>(r);
    const DataRecord& record = rows[r];
    auto each = [&](int64_t id, const auto& value) {
      columns.ForEachColumn(id, [&](int64_t column) { fn(row, column, value); });
    };
    if constexpr (kKind == FeatureKind::kBinary) {
      for (int64_t id : record.binary) each(id, 1.0f);
    } else if constexpr (kKind == FeatureKind::kContinuous) {
      for (const auto& f : record.continuous) each(f.id, static_cast<float>(f.value));
    } else if constexpr (kKind == FeatureKind::kDiscrete) {
      for (const auto& f : record.discrete) each(f.id, f.value);
    } else {
      for (const auto& f : record.strings) each(f.id, f.value);
    }
  }
}

// A row's tensor feature `id` (tensors or sparse_tensors, by `field`): its own record's, else the
// common record's; nullptr when neither has it.
template <typename Value, typename Record>
const Value* FindRowFeature(const std::vector<Feature<Value>> Record::*field, const Record& own,
                            const Record& common, int64_t id) {
  for (const Record* record : {&own, &common}) {
    for (const auto& feature : record->*field) {
      if (feature.id == id) return &feature.value;
    }
  }
  return nullptr;
}

// Throws twml::Error unless row `row`'s tensor of feature `id` has the type and byte order of the
// first row's: a getter outputs one type for the whole batch.
void CheckSameKind(const RawTensor& first, const RawTensor& tensor, int64_t row, int64_t id);

// A dense tensor feature across a batch (GetTensors*): per row the tensor or nullptr, and the
// first row's tensor (nullptr when no row has it).
struct TensorColumn {
  std::vector<const RawTensor*> rows;
  const RawTensor* first = nullptr;
};
// Finds feature `id` in every row, checking that each tensor found is of the first one's kind and,
// with `same_shape`, of its shape and size (or of `required_shape`, when not null). With
// `required`, a row without it is an error naming the row. Throws twml::Error.
template <typename Record>
TensorColumn CollectTensors(const std::vector<Record>& rows, const Record& common, int64_t id,
                            bool required, bool same_shape, const std::vector<int64_t>* required_shape) {
  TensorColumn column;
  column.rows.reserve(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto row = static_cast<int64_t>(r);
    const RawTensor* tensor = FindRowFeature(&Record::tensors, rows[r], common, id);
    column.rows.push_back(tensor);
    if (tensor == nullptr) {
      if (required) {
        throw Error(ErrorCode::kSize, "row " + std::to_string(row) + " has no tensor feature " + std::to_string(id));
      }
      continue;
    }
    if (column.first == nullptr) column.first = tensor;
    CheckSameKind(*column.first, *tensor, row, id);
    if (required_shape != nullptr && same_shape && tensor->shape != *required_shape) {
      throw Error(ErrorCode::kSize, "tensor feature " + std::to_string(id) + ": row " + std::to_string(row) +
                                        " does not have default_shape");
    }
    if (required_shape == nullptr && same_shape &&
        (tensor->shape != column.first->shape || tensor->byte_length != column.first->byte_length)) {
      throw Error(ErrorCode::kSize, "tensor feature " + std::to_string(id) + ": row " + std::to_string(row) +
                                        " differs in shape or size from row 0");
    }
  }
  return column;
}

// A sparse tensor feature across a batch (GetSparseTensors*): the row of each entry, the
// concatenated raw bytes of the indices and of the values, and the first row's tensor.
struct SparseTensorColumn {
  std::vector<int64_t> entry_rows;
  std::string indices;
  std::string values;
  const RawSparseTensor* first = nullptr;
};
// Rows without the feature contribute nothing; every tensor found must have the first one's
// dense shape and values kind, and rank * entries index values. Throws twml::Error.
template <typename Record>
SparseTensorColumn CollectSparseTensors(const std::vector<Record>& rows, const Record& common, int64_t id) {
  SparseTensorColumn column;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto row = static_cast<int64_t>(r);
    const RawSparseTensor* tensor = FindRowFeature(&Record::sparse_tensors, rows[r], common, id);
    if (tensor == nullptr) continue;
    if (column.first == nullptr) column.first = tensor;
    const std::string where = "sparse tensor feature " + std::to_string(id) + ": row " + std::to_string(row);
    if (tensor->dense_shape != column.first->dense_shape) {
      throw Error(ErrorCode::kSize, where + " has a different dense shape from the first row");
    }
    CheckSameKind(column.first->values, tensor->values, row, id);
    const auto rank = static_cast<int64_t>(tensor->dense_shape.size());
    const int64_t entries = rank > 0 ? tensor->indices.num_elements() / rank : 0;
    if (rank == 0 || entries * rank != tensor->indices.num_elements() ||
        entries != tensor->values.num_elements()) {
      throw Error(ErrorCode::kSize, where + " has " + std::to_string(tensor->indices.num_elements()) +
                                        " index values and " + std::to_string(tensor->values.num_elements()) +
                                        " values for rank " + std::to_string(rank));
    }
    column.entry_rows.insert(column.entry_rows.end(), static_cast<size_t>(entries), row);
    column.indices.append(reinterpret_cast<const char*>(tensor->indices.data), tensor->indices.byte_length);
    column.values.append(reinterpret_cast<const char*>(tensor->values.data), tensor->values.byte_length);
  }
  return column;
}

}  // namespace twml

#endif  // TWML_RECORD_VIEWS_H_
