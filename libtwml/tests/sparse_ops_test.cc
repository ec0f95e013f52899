#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "twml/error.h"
#include "twml/hashmap.h"
#include "twml/sparse_ops.h"

namespace twml {
namespace {

void ExpectError(const std::function<void()>& fn, const std::string& message_part) {
  try {
    fn();
    ADD_FAILURE() << "no error, expected: " << message_part;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kSize);
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

// --- Hashmap -------------------------------------------------------------------------------

TEST(Int64MapTest, MapsFoundKeysAndPassesOthersThrough) {
  const std::vector<int64_t> keys = {10, -3, 7};
  const std::vector<int64_t> values = {100, 30, -70};
  const Int64Map map(keys.data(), values.data(), keys.size());
  const std::vector<int64_t> queries = {7, 8, -3, 10, 10, INT64_MIN};
  std::vector<int64_t> out(queries.size());
  std::vector<int8_t> mask(queries.size());
  map.Lookup(queries.data(), queries.size(), out.data(), mask.data());
  EXPECT_EQ(out, (std::vector<int64_t>{-70, 8, 30, 100, 100, INT64_MIN}));
  EXPECT_EQ(mask, (std::vector<int8_t>{1, 0, 1, 1, 1, 0}));
}

TEST(Int64MapTest, LastValueOfARepeatedKeyWins) {
  const std::vector<int64_t> keys = {1, 2, 1};
  const std::vector<int64_t> values = {10, 20, 11};
  const Int64Map map(keys.data(), values.data(), keys.size());
  EXPECT_EQ(map.size(), 2u);
  int64_t out = 0;
  int8_t mask = 0;
  const int64_t key = 1;
  map.Lookup(&key, 1, &out, &mask);
  EXPECT_EQ(out, 11);
  EXPECT_EQ(mask, 1);
}

TEST(Int64MapTest, EmptyMapAndEmptyQueries) {
  const Int64Map map(nullptr, nullptr, 0);
  EXPECT_EQ(map.size(), 0u);
  map.Lookup(nullptr, 0, nullptr, nullptr);
  int64_t key = 5;
  int8_t mask = 1;
  map.Lookup(&key, 1, &key, &mask);  // in place
  EXPECT_EQ(key, 5);
  EXPECT_EQ(mask, 0);
}

TEST(LazyInt64MapTest, FirstTablesWinAndLaterOnesAreIgnored) {
  LazyInt64Map lazy;
  const std::vector<int64_t> keys = {1}, values = {2};
  const std::vector<int64_t> other_keys = {1, 3}, other_values = {9, 9};
  const Int64Map& first = lazy.Get(keys.data(), keys.size(), values.data(), values.size());
  const Int64Map& second =
      lazy.Get(other_keys.data(), other_keys.size(), other_values.data(), other_values.size());
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(second.size(), 1u);
}

TEST(LazyInt64MapTest, MismatchedTablesAreAnErrorAndLeaveItUnbuilt) {
  LazyInt64Map lazy;
  const std::vector<int64_t> keys = {1, 2}, values = {2};
  ExpectError([&] { lazy.Get(keys.data(), keys.size(), values.data(), values.size()); },
              "hash_keys has 2 elements but hash_values has 1; they must match");
  const Int64Map& map = lazy.Get(keys.data(), 1, values.data(), 1);
  EXPECT_EQ(map.size(), 1u);
}

TEST(LazyInt64MapTest, ConcurrentFirstCallsBuildOneMap) {
  LazyInt64Map lazy;
  std::vector<int64_t> keys(1000), values(1000);
  for (int64_t i = 0; i < 1000; ++i) {
    keys[i] = i;
    values[i] = i * i;
  }
  std::vector<const Int64Map*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&, t] {
      // Each thread offers different tables; exactly one of them must end up in the map.
      const int64_t size = 1000 - static_cast<int64_t>(t);
      const Int64Map& map = lazy.Get(keys.data(), size, values.data(), size);
      int64_t out = 0;
      int8_t mask = 0;
      const int64_t key = 10;
      map.Lookup(&key, 1, &out, &mask);
      EXPECT_EQ(out, 100);
      seen[t] = &map;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Int64Map* map : seen) EXPECT_EQ(map, seen[0]);
  EXPECT_GE(seen[0]->size(), 1000u - seen.size() + 1);
}

// --- FeatureMask, FeatureExtractor ----------------------------------------------------------

TEST(FeatureMaskerTest, MarksKeptValues) {
  const FeatureMasker masker({3, -1, 3, 200});
  const std::vector<int64_t> keep = {3, 4, -1, 200, 0};
  bool mask[5];
  masker.Apply(keep.data(), keep.size(), mask);
  EXPECT_EQ(std::vector<bool>(mask, mask + 5), (std::vector<bool>{true, false, true, true, false}));
}

TEST(FeatureMaskerTest, Int8ComparesByValue) {
  // 200 is not an int8 value, so it matches nothing; -56 (its wrapped bit pattern) must not match.
  const FeatureMasker masker({1, -128, 200});
  const std::vector<int8_t> keep = {1, -128, -56, 127};
  bool mask[4];
  masker.Apply(keep.data(), keep.size(), mask);
  EXPECT_EQ(std::vector<bool>(mask, mask + 4), (std::vector<bool>{true, true, false, false}));
}

TEST(FeatureMaskerTest, EmptyListKeepsNothing) {
  const FeatureMasker masker({});
  const int64_t keep = 0;
  bool mask = true;
  masker.Apply(&keep, 1, &mask);
  EXPECT_FALSE(mask);
  masker.Apply<int64_t>(nullptr, 0, nullptr);
}

TEST(FeatureExtractorTest, CompactsInOrder) {
  const bool mask[] = {true, false, false, true, true};
  const std::vector<double> values = {0.5, 1.5, 2.5, 3.5, 4.5};
  const size_t kept = CountTrue(mask, 5);
  ASSERT_EQ(kept, 3u);
  std::vector<double> out(kept);
  CompactByMask(mask, 5, values.data(), out.data());
  EXPECT_EQ(out, (std::vector<double>{0.5, 3.5, 4.5}));
  EXPECT_EQ(CountTrue(mask, 0), 0u);
  const bool none[] = {false, false};
  EXPECT_EQ(CountTrue(none, 2), 0u);
}

// --- FixedLengthTensor ----------------------------------------------------------------------

template <typename Index, typename Value>
std::vector<Value> Fixed(const std::vector<Index>& ids, const std::vector<Value>& values,
                         const Value& pad, int64_t max_length, int64_t batch_size,
                         FixedLengthShape* shape) {
  *shape = FixedLengthTensorShape(ids.data(), ids.size(), max_length, batch_size);
  std::vector<Value> out(shape->batch_size * shape->length);
  FillFixedLengthTensor(ids.data(), values.data(), ids.size(), pad, *shape, out.data());
  return out;
}

TEST(FixedLengthTensorTest, PadsAndTruncatesRows) {
  FixedLengthShape shape;
  // Row 1 is empty, row 0 is truncated to 2, row 2 is padded.
  const std::vector<int64_t> out = Fixed<int64_t, int64_t>({0, 0, 0, 2}, {1, 2, 3, 4}, -1, 2, -1,
                                                           &shape);
  EXPECT_EQ(shape.batch_size, 3);
  EXPECT_EQ(shape.length, 2);
  EXPECT_EQ(out, (std::vector<int64_t>{1, 2, -1, -1, 4, -1}));
}

TEST(FixedLengthTensorTest, NegativeMaxLengthUsesTheLongestRun) {
  FixedLengthShape shape;
  const std::vector<int32_t> out = Fixed<int32_t, int32_t>({0, 1, 1, 1, 3, 3}, {1, 2, 3, 4, 5, 6},
                                                           0, -1, -1, &shape);
  EXPECT_EQ(shape.batch_size, 4);
  EXPECT_EQ(shape.length, 3);
  EXPECT_EQ(out, (std::vector<int32_t>{1, 0, 0, 2, 3, 4, 0, 0, 0, 5, 6, 0}));
}

TEST(FixedLengthTensorTest, StringsAndAnExplicitBatchSize) {
  FixedLengthShape shape;
  const std::vector<std::string> out = Fixed<int32_t, std::string>(
      {1, 1}, {"a", "b\xc3\xa9"}, "<pad>", 3, 3, &shape);
  EXPECT_EQ(shape.batch_size, 3);
  EXPECT_EQ(shape.length, 3);
  EXPECT_EQ(out, (std::vector<std::string>{"<pad>", "<pad>", "<pad>", "a", "b\xc3\xa9", "<pad>",
                                           "<pad>", "<pad>", "<pad>"}));
}

TEST(FixedLengthTensorTest, EmptyInputs) {
  FixedLengthShape shape;
  EXPECT_TRUE((Fixed<int64_t, int64_t>({}, {}, 7, 4, -1, &shape).empty()));
  EXPECT_EQ(shape.batch_size, 0);
  EXPECT_EQ(shape.length, 4);
  EXPECT_TRUE((Fixed<int64_t, int64_t>({}, {}, 7, -1, -1, &shape).empty()));
  EXPECT_EQ(shape.length, 0);
  // V2 with no values is all padding.
  EXPECT_EQ((Fixed<int64_t, int64_t>({}, {}, 7, 2, 2, &shape)), (std::vector<int64_t>{7, 7, 7, 7}));
  // max_length 0: one empty row per sample.
  EXPECT_TRUE((Fixed<int64_t, int64_t>({0, 1}, {1, 2}, 7, 0, -1, &shape).empty()));
  EXPECT_EQ(shape.batch_size, 2);
  EXPECT_EQ(shape.length, 0);
}

TEST(FixedLengthTensorTest, RejectsUnsortedOrNegativeIds) {
  const std::vector<int64_t> unsorted = {0, 2, 1};
  ExpectError([&] { FixedLengthTensorShape(unsorted.data(), 3, 2, -1); },
              "segment_ids[2] = 1 is less than segment_ids[1] = 2; segment ids must be "
              "non-negative and non-decreasing");
  const std::vector<int32_t> negative = {-1, 0};
  ExpectError([&] { FixedLengthTensorShape(negative.data(), 2, 2, -1); },
              "segment_ids[0] = -1 is negative");
}

TEST(FixedLengthTensorTest, BatchSizeMustCoverTheLastId) {
  const std::vector<int64_t> ids = {0, 4};
  ExpectError([&] { FixedLengthTensorShape(ids.data(), 2, 2, 4); },
              "batch_size = 4 but the last segment id is 4; batch_size must be at least the "
              "last segment id + 1");
  EXPECT_EQ(FixedLengthTensorShape(ids.data(), 2, 2, 5).batch_size, 5);
}

TEST(FixedLengthTensorTest, BoundsTheImpliedBatchSize) {
  const std::vector<int64_t> ok = {kMaxImpliedGap};  // batch = 1 + gap: exactly at the bound
  EXPECT_EQ(FixedLengthTensorShape(ok.data(), 1, 1, -1).batch_size, kMaxImpliedGap + 1);
  const std::vector<int64_t> far = {kMaxImpliedGap + 1};
  ExpectError([&] { FixedLengthTensorShape(far.data(), 1, 1, -1); },
              "batch size (last segment id + 1) = 65538 exceeds the input's 1 elements by more "
              "than 65536");
  const std::vector<int64_t> last = {std::numeric_limits<int64_t>::max()};  // + 1 overflows
  ExpectError([&] { FixedLengthTensorShape(last.data(), 1, 1, -1); },
              "batch size (last segment id + 1) = 9223372036854775808 exceeds");
  // An explicit batch size is the caller's to choose, but its product must fit in int64.
  const int64_t huge = std::numeric_limits<int64_t>::max() / 2;
  ExpectError([&] { FixedLengthTensorShape(far.data(), 1, 3, huge); }, "more than 2^63 - 1");
}

// --- PartitionSparseTensorMod ---------------------------------------------------------------

TEST(PartitionSparseTensorModTest, SplitsByKeyModPartitionsInStableOrder) {
  const std::vector<int64_t> indices = {0, 5, 0, 3, 1, 4, 1, 0, 2, 7, 2, 6};
  const std::vector<float> values = {0.5f, 0.3f, 1.4f, 1.0f, 2.7f, 2.6f};
  const std::vector<int64_t> sizes = PartitionSizes(indices.data(), 6, 3);
  EXPECT_EQ(sizes, (std::vector<int64_t>{3, 2, 1}));
  std::vector<std::vector<int64_t>> out_indices(3);
  std::vector<std::vector<float>> out_values(3);
  std::vector<int64_t*> index_ptrs;
  std::vector<float*> value_ptrs;
  for (int p = 0; p < 3; ++p) {
    out_indices[p].resize(2 * sizes[p]);
    out_values[p].resize(sizes[p]);
    index_ptrs.push_back(out_indices[p].data());
    value_ptrs.push_back(out_values[p].data());
  }
  PartitionSparseTensorMod(indices.data(), values.data(), 6, index_ptrs, value_ptrs);
  // Keys 3, 0, 6 in input order, as (id, key / 3).
  EXPECT_EQ(out_indices[0], (std::vector<int64_t>{0, 1, 1, 0, 2, 2}));
  EXPECT_EQ(out_values[0], (std::vector<float>{0.3f, 1.0f, 2.6f}));
  EXPECT_EQ(out_indices[1], (std::vector<int64_t>{1, 1, 2, 2}));  // keys 4, 7
  EXPECT_EQ(out_values[1], (std::vector<float>{1.4f, 2.7f}));
  EXPECT_EQ(out_indices[2], (std::vector<int64_t>{0, 1}));  // key 5
  EXPECT_EQ(out_values[2], (std::vector<float>{0.5f}));
}

TEST(PartitionSparseTensorModTest, OnePartitionIsTheIdentityAndEmptyInputIsEmpty) {
  const std::vector<int64_t> indices = {3, 9, 1, 0, 1, INT64_MAX};
  const std::vector<double> values = {1, 2, 3};
  ASSERT_EQ(PartitionSizes(indices.data(), 3, 1), (std::vector<int64_t>{3}));
  std::vector<int64_t> out_indices(6);
  std::vector<double> out_values(3);
  PartitionSparseTensorMod(indices.data(), values.data(), 3,
                           std::vector<int64_t*>{out_indices.data()},
                           std::vector<double*>{out_values.data()});
  EXPECT_EQ(out_indices, indices);
  EXPECT_EQ(out_values, values);
  EXPECT_EQ(PartitionSizes(nullptr, 0, 4), (std::vector<int64_t>{0, 0, 0, 0}));
}

TEST(PartitionSparseTensorModTest, RejectsNegativeKeysAndPartitions) {
  const std::vector<int64_t> indices = {0, 1, -5, 2, 1, -3};
  ExpectError([&] { PartitionSizes(indices.data(), 3, 2); },
              "indices[2, 1] = -3 is a negative key; PartitionSparseTensorMod needs "
              "non-negative keys");
  ExpectError([&] { PartitionSizes(indices.data(), 2, 0); }, "num_partitions = 0 must be positive");
}

// --- Compress/DecompressSampleIds -----------------------------------------------------------

std::vector<int32_t> Compress(const std::vector<int32_t>& ids) {
  std::vector<int32_t> counts(CompressedLength(ids.data(), ids.size()));
  CompressSampleIds(ids.data(), ids.size(), counts.data());
  return counts;
}

std::vector<int32_t> Decompress(const std::vector<int32_t>& counts) {
  std::vector<int32_t> ids(DecompressedLength(counts.data(), counts.size()));
  DecompressSampleIds(counts.data(), counts.size(), ids.data());
  return ids;
}

TEST(SampleIdsTest, CompressCountsEachIdIncludingGaps) {
  EXPECT_EQ(Compress({0, 0, 1, 3, 3, 3}), (std::vector<int32_t>{2, 1, 0, 3}));
  EXPECT_EQ(Compress({2}), (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(Compress({}), (std::vector<int32_t>{}));
}

TEST(SampleIdsTest, DecompressRepeatsEachIndex) {
  EXPECT_EQ(Decompress({2, 1, 0, 3}), (std::vector<int32_t>{0, 0, 1, 3, 3, 3}));
  EXPECT_EQ(Decompress({0, 0}), (std::vector<int32_t>{}));
  EXPECT_EQ(Decompress({}), (std::vector<int32_t>{}));
  const std::vector<int32_t> ids = {0, 1, 1, 4, 4, 4, 9};
  EXPECT_EQ(Decompress(Compress(ids)), ids);
}

TEST(SampleIdsTest, CompressRejectsBadIds) {
  const std::vector<int32_t> negative = {-1, 0};
  ExpectError([&] { CompressedLength(negative.data(), 2); },
              "input[0] = -1 is negative; sample ids must be non-negative and non-decreasing");
  const std::vector<int32_t> decreasing = {0, 3, 2};
  ExpectError([&] { CompressedLength(decreasing.data(), 3); },
              "input[2] = 2 is less than input[1] = 3; sample ids must be non-negative and "
              "non-decreasing");
  const std::vector<int32_t> far = {0, std::numeric_limits<int32_t>::max()};
  ExpectError([&] { CompressedLength(far.data(), 2); },
              "output length (last sample id + 1) = 2147483648 exceeds the input's 2 elements "
              "by more than 65536");
}

TEST(SampleIdsTest, DecompressRejectsBadCounts) {
  const std::vector<int32_t> negative = {1, -2};
  ExpectError([&] { DecompressedLength(negative.data(), 2); },
              "input[1] = -2 is negative; counts must be non-negative");
  const std::vector<int32_t> big = {std::numeric_limits<int32_t>::max(), 1};
  ExpectError([&] { DecompressedLength(big.data(), 2); },
              "the counts up to input[1] add up to 2147483648 sample ids, more than the int32 "
              "maximum 2147483647");
}

}  // namespace
}  // namespace twml
