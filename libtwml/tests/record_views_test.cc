// The getters' projections of a decoded batch (record_views.h), without TensorFlow. IdMap and the
// DataRecord wire walk have their own tests (id_map_test.cc, data_record_parser_test.cc).
#include "twml/record_views.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "twml/error.h"
#include "twml/hashing.h"
#include "twml/id_map.h"

namespace twml {
namespace {

// Row 0: binary {1, 2}, continuous {3: 0.5}, discrete {4: 7}, string {5: "s"},
// sparse binary {6: [a, b]}, sparse continuous {8: {n: 1.5}}. Row 1: binary {2}. Common: binary
// {1}, continuous {3: 9}.
struct Batch {
  std::vector<DataRecord> rows = std::vector<DataRecord>(2);
  DataRecord common;
  Batch() {
    DataRecord& a = rows[0];
    a.binary = {1, 2};
    a.continuous = {{3, 0.5}};
    a.discrete = {{4, 7}};
    a.strings = {{5, "s"}};
    a.sparse_binary = {{6, "a", true}, {6, "b", true}};
    a.sparse_continuous = {{8, "n", 1.5}};
    rows[1].binary = {2};
    common.binary = {1};
    common.continuous = {{3, 9.0}};
  }
};

IdMap Keep(const std::vector<int64_t>& ids) { return IdMap(ids, ids); }

TEST(KeptFeaturesTest, CommonThenOwnPerRowFilteredByKeep) {
  Batch batch;
  const auto binary = KeptFeatures(FeatureKind::kBinary, batch.rows, batch.common, Keep({1}));
  EXPECT_EQ(binary.rows, (std::vector<int64_t>{0, 0, 1}));  // row 0: common 1, own 1; row 1: common 1
  EXPECT_EQ(binary.keys, (std::vector<int64_t>{1, 1, 1}));
  const auto continuous = KeptFeatures(FeatureKind::kContinuous, batch.rows, batch.common, Keep({3}));
  EXPECT_EQ(continuous.values, (std::vector<float>{9, 0.5, 9}));
  const auto strings = KeptFeatures(FeatureKind::kString, batch.rows, batch.common, Keep({5}));
  EXPECT_EQ(strings.names, (std::vector<std::string_view>{"s"}));
  const auto sparse = KeptFeatures(FeatureKind::kSparseBinary, batch.rows, batch.common, Keep({6}));
  EXPECT_EQ(sparse.names, (std::vector<std::string_view>{"a", "b"}));
  const auto discrete = KeptDiscreteFeatures(batch.rows, batch.common, Keep({4}));
  EXPECT_EQ(discrete.values, (std::vector<int64_t>{7}));
  EXPECT_THROW(KeptFeatures(FeatureKind::kDiscrete, batch.rows, batch.common, Keep({4})), Error);
}

TEST(SparseFeatureOfRowsTest, OwnRecordsOnly) {
  Batch batch;
  batch.common.sparse_binary = {{6, "common", true}};
  const auto binary = SparseFeatureOfRows(batch.rows, 6, false);
  EXPECT_EQ(binary.names, (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(binary.values, (std::vector<float>{1, 1}));
  const auto continuous = SparseFeatureOfRows(batch.rows, 8, true);
  EXPECT_EQ(continuous.values, (std::vector<float>{1.5}));
  EXPECT_TRUE(SparseFeatureOfRows(batch.rows, 99, true).rows.empty());
}

TEST(HashedFeaturesTest, KeysByTypeAndDecodeMode) {
  Batch batch;
  std::array<IdMap, 6> types;
  types[0] = Keep({2});
  types[2] = Keep({4});
  types[3] = Keep({5});
  types[4] = Keep({6});
  types[5] = Keep({8});
  const IdMap keep = Keep({2, 4, 5, 6, 8});
  const auto mixed = HashedFeatures(batch.rows, batch.common, types, keep, false);
  EXPECT_EQ(mixed.rows, (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(mixed.keys, (std::vector<int64_t>{2, MixDiscreteIdAndValue(4, 7), MixStringIdAndValue(5, "s"),
                                              MixStringIdAndValue(6, "a"), MixStringIdAndValue(6, "b"),
                                              MixStringIdAndValue(8, "n"), 2}));
  const auto by_name = HashedFeatures(batch.rows, batch.common, types, keep, true);
  EXPECT_EQ(by_name.keys[5], FeatureId("n"));
  // Kept by type but not by the decoder's keep map: nothing.
  EXPECT_TRUE(HashedFeatures(batch.rows, batch.common, types, Keep({}), false).rows.empty());
}

TEST(DenseColumnsTest, ARepeatedIdFillsEveryColumn) {
  Batch batch;
  const DenseColumns columns({3, 1, 3});
  std::vector<std::vector<float>> out(2, std::vector<float>(3, -1));
  ForEachDenseValue<FeatureKind::kContinuous>(batch.rows, columns, [&](int64_t row, int64_t column, float value) {
    out[static_cast<size_t>(row)][static_cast<size_t>(column)] = value;
  });
  // The common record's 3: 9 is not read: dense getters read rows' own records.
  EXPECT_EQ(out, (std::vector<std::vector<float>>{{0.5, -1, 0.5}, {-1, -1, -1}}));
  EXPECT_EQ(columns.size(), 3);
}

TEST(CollectTensorsTest, OwnBeforeCommonAndKindChecks) {
  const float a[2] = {1, 2}, b[2] = {3, 4};
  RawTensor ta{TensorType::kFloat32, {2}, reinterpret_cast<const uint8_t*>(a), 8, false, {}};
  RawTensor tb{TensorType::kFloat32, {2}, reinterpret_cast<const uint8_t*>(b), 8, false, {}};
  std::vector<DataRecord> rows(2);
  DataRecord common;
  rows[0].tensors = {{7, ta}};
  common.tensors = {{7, tb}};
  const TensorColumn column = CollectTensors(rows, common, 7, true, true, nullptr);
  EXPECT_EQ(column.rows[0], &rows[0].tensors[0].value);
  EXPECT_EQ(column.rows[1], &common.tensors[0].value);  // row 1 falls back to the common record
  EXPECT_THROW(CollectTensors(rows, DataRecord(), 7, true, false, nullptr), Error);  // row 1 lacks it
  EXPECT_EQ(CollectTensors(rows, DataRecord(), 7, false, false, nullptr).rows[1], nullptr);
  rows[1].tensors = {{7, ta}};
  rows[1].tensors[0].value.type = TensorType::kInt32;
  try {
    CheckSameKind(ta, rows[1].tensors[0].value, 1, 7);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), "tensor feature 7: row 1 holds int32 (raw) but row 0 holds float32 (raw)");
  }
  const std::vector<int64_t> shape = {3};
  EXPECT_THROW(CollectTensors(rows, common, 7, false, true, &shape), Error);
}

}  // namespace
}  // namespace twml
