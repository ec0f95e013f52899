#include "twml/discretizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "twml/error.h"

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

// --- The shared search ------------------------------------------------------------------------

TEST(BinSearchTest, EndsClampAndInteriorValuesFindTheirBin) {
  const std::vector<double> xs = {0, 1, 2, 3, 4};
  EXPECT_EQ(BinSearch(xs.data(), 5, -10.0), 0);
  EXPECT_EQ(BinSearch(xs.data(), 5, 0.0), 0);
  EXPECT_EQ(BinSearch(xs.data(), 5, 0.5), 0);
  EXPECT_EQ(BinSearch(xs.data(), 5, 1.5), 1);
  EXPECT_EQ(BinSearch(xs.data(), 5, 2.5), 2);
  EXPECT_EQ(BinSearch(xs.data(), 5, 3.5), 3);
  EXPECT_EQ(BinSearch(xs.data(), 5, 4.0), 4);
  EXPECT_EQ(BinSearch(xs.data(), 5, 99.0), 4);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(BinSearch(xs.data(), 5, nan), 0);
  const std::vector<float> one = {7};
  EXPECT_EQ(BinSearch(one.data(), 1, 6.0f), 0);
  EXPECT_EQ(BinSearch(one.data(), 1, 8.0f), 0);
}

TEST(BinSearchTest, InteriorTiesFollowTheBisectionPath) {
  // The original stops at the first middle with xs[middle] <= val <= xs[middle + 1]: val 2 and
  // 3 are both caught at middle 2 (so 3 lands in the bin below it), val 1 at middle 1.
  const std::vector<double> xs = {0, 1, 2, 3, 4};
  EXPECT_EQ(BinSearch(xs.data(), 5, 1.0), 1);
  EXPECT_EQ(BinSearch(xs.data(), 5, 2.0), 2);
  EXPECT_EQ(BinSearch(xs.data(), 5, 3.0), 2);
  // Repeated boundaries: the first middle in the run that brackets val.
  const std::vector<double> dup = {0, 1, 1, 1, 5};
  EXPECT_EQ(BinSearch(dup.data(), 5, 1.0), 2);
  EXPECT_EQ(BinSearch(dup.data(), 5, 3.0), 3);
}

TEST(InterpolateTest, IsotonicReferenceValues) {
  const std::vector<double> xs = {0.1, 0.5, 0.9};
  const std::vector<double> ys = {0, 0.4, 1};
  EXPECT_DOUBLE_EQ(Interpolate(xs.data(), ys.data(), 3, 0.05), 0.0);
  EXPECT_DOUBLE_EQ(Interpolate(xs.data(), ys.data(), 3, 0.3), 0.2);
  EXPECT_DOUBLE_EQ(Interpolate(xs.data(), ys.data(), 3, 0.7), 0.7);
  EXPECT_DOUBLE_EQ(Interpolate(xs.data(), ys.data(), 3, 0.95), 1.0);
  EXPECT_DOUBLE_EQ(Interpolate(xs.data(), ys.data(), 3, 0.1), 0.0);
  EXPECT_DOUBLE_EQ(Interpolate(xs.data(), ys.data(), 3, 0.9), 1.0);
  EXPECT_DOUBLE_EQ(Interpolate(xs.data(), ys.data(), 3, 0.5), 0.4);
}

TEST(InterpolateTest, EqualXsAndSingleBinGiveTheLeftY) {
  const std::vector<float> xs = {0, 1, 1, 2};
  const std::vector<float> ys = {0, 10, 20, 30};
  EXPECT_FLOAT_EQ(Interpolate(xs.data(), ys.data(), 4, 1.0f), 10.0f);  // left = 1, xs equal
  EXPECT_FLOAT_EQ(Interpolate(xs.data(), ys.data(), 4, 0.5f), 5.0f);
  const std::vector<float> one_x = {3};
  const std::vector<float> one_y = {0.25};
  EXPECT_FLOAT_EQ(Interpolate(one_x.data(), one_y.data(), 1, 100.0f), 0.25f);
}

TEST(CheckBoundariesTest, RejectsEmptyUnsortedAndNaN) {
  const std::vector<double> bad = {0, 2, 1};
  ExpectError([&] { CheckBoundaries(bad.data(), 3, "xs", 10); }, "xs[12] = 1");
  ExpectError([&] { CheckBoundaries(bad.data(), 0, "xs", 4); }, "empty run of boundaries at offset 4");
  const std::vector<double> nan = {std::nan(""), 1};
  ExpectError([&] { CheckBoundaries(nan.data(), 2, "xs", 0); }, "xs[0] is NaN");
  const std::vector<double> ok = {1, 1, 2};
  CheckBoundaries(ok.data(), 3, "xs", 0);
}

// --- MDL / PercentileDiscretizer ------------------------------------------------------------

TEST(PercentileDiscretizeTest, BinIdsLocalIndicesAndUncalibratedKeys) {
  const std::vector<double> bin_vals = {-1e30, 1, 2, 3, 0, 10, 20, 30};
  const std::vector<int64_t> bin_ids = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<int64_t> offsets = {0, 4};
  const BinTable<double> table(bin_ids.data(), 8, bin_vals.data(), 8, offsets.data(), 2);
  EXPECT_EQ(table.num_features(), 2);
  EXPECT_EQ(table.total_bins(), 8);
  const std::vector<int64_t> keys = {0, 0, 0, 1, -1, 1};
  const std::vector<double> vals = {0.5, 1.0, 9, -1, 7, 25};
  std::vector<int64_t> new_keys(6, 42);
  std::vector<double> new_vals(6);
  PercentileDiscretize(table, keys.data(), vals.data(), 6, false, new_keys.data(), new_vals.data());
  EXPECT_EQ(new_keys, (std::vector<int64_t>{1, 2, 4, 5, -1, 7}));
  EXPECT_EQ(new_vals, (std::vector<double>{1, 1, 1, 1, 7, 1}));
  PercentileDiscretize(table, keys.data(), vals.data(), 6, true, new_keys.data(), new_vals.data());
  EXPECT_EQ(new_keys, (std::vector<int64_t>{0, 1, 3, 0, -1, 2}));
}

TEST(PercentileDiscretizeTest, RejectsBadKeysAndTables) {
  const std::vector<float> bin_vals = {0, 1, 2, 3};
  const std::vector<int64_t> bin_ids = {1, 2, 3, 4};
  const std::vector<int64_t> offsets = {0, 2};
  const BinTable<float> table(bin_ids.data(), 4, bin_vals.data(), 4, offsets.data(), 2);
  const std::vector<int64_t> keys = {0, 2};
  const std::vector<float> vals = {0, 0};
  std::vector<int64_t> new_keys(2);
  std::vector<float> new_vals(2);
  ExpectError([&] { PercentileDiscretize(table, keys.data(), vals.data(), 2, false,
                                         new_keys.data(), new_vals.data()); },
              "keys[1] = 2 is not a feature index in [0, 2)");
  ExpectError([&] { BinTable<float>(bin_ids.data(), 3, bin_vals.data(), 4, offsets.data(), 2); },
              "bin_ids has 3 elements but bin_vals has 4");
  const std::vector<int64_t> out_of_range = {0, 4};
  ExpectError([&] { BinTable<float>(bin_ids.data(), 4, bin_vals.data(), 4, out_of_range.data(), 2); },
              "feature_offsets[1] = 4 is out of range [0, 4)");
  const std::vector<int64_t> decreasing = {2, 1};
  ExpectError([&] { BinTable<float>(bin_ids.data(), 4, bin_vals.data(), 4, decreasing.data(), 2); },
              "offsets must be strictly increasing");
  const std::vector<float> unsorted = {0, 1, 3, 2};
  ExpectError([&] { BinTable<float>(bin_ids.data(), 4, unsorted.data(), 4, offsets.data(), 2); },
              "bin_vals[3] = 2");
}

// --- PercentileDiscretizerV2 ----------------------------------------------------------------

TEST(PercentileDiscretizeV2Test, ReferenceCase) {
  const std::vector<double> bin_vals = {-1e30, 1, 2, 3, 0, 10, 20, 30};
  const std::vector<int64_t> bin_ids = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<int64_t> offsets = {0, 4};
  const BinTable<double> table(bin_ids.data(), 8, bin_vals.data(), 8, offsets.data(), 2);
  const std::vector<int64_t> feature_ids = {100, 200};
  const std::vector<int64_t> feature_indices = {0, 1};
  const FeatureIndexMap map(feature_ids.data(), feature_indices.data(), 2, 2);
  const uint64_t modulus = UncalibratedModulus(22, 8);
  EXPECT_EQ(modulus, (uint64_t{1} << 22) - 8);
  const std::vector<int64_t> ids = {100, 100, 100, 200, 300, -5};
  const std::vector<double> vals = {0.5, 1.0, 9, -1, 7, 2};
  std::vector<int64_t> new_keys(6);
  std::vector<double> new_vals(6);
  // Two ranges, as the kernel's shards would call it.
  PercentileDiscretizeV2(table, map, modulus, ids.data(), vals.data(), 0, 3, new_keys.data(),
                         new_vals.data());
  PercentileDiscretizeV2(table, map, modulus, ids.data(), vals.data(), 3, 6, new_keys.data(),
                         new_vals.data());
  EXPECT_EQ(new_keys, (std::vector<int64_t>{1, 2, 4, 5, 308, 131}));
  EXPECT_EQ(new_vals, (std::vector<double>{1, 1, 1, 1, 7, 2}));
}

TEST(PercentileDiscretizeV2Test, OutputBitsIn64BitsAndValidation) {
  EXPECT_EQ(UncalibratedModulus(40, 8), (uint64_t{1} << 40) - 8);
  EXPECT_EQ(UncalibratedModulus(63, 0), uint64_t{1} << 63);
  ExpectError([] { UncalibratedModulus(0, 1); }, "output_bits = 0 must be in [1, 63]");
  ExpectError([] { UncalibratedModulus(64, 1); }, "output_bits = 64 must be in [1, 63]");
  ExpectError([] { UncalibratedModulus(3, 8); }, "must exceed the 8 bins");
  const std::vector<int64_t> ids = {5, 5};
  ExpectError([&] { FeatureIndexMap(ids.data(), nullptr, 2, 2); }, "feature_ids[1] = 5 repeats");
  const FeatureIndexMap last_wins(ids.data(), nullptr, 2, 2, FeatureIndexMap::RepeatedIds::kLastWins);
  EXPECT_EQ(last_wins.Find(5), 1);
  EXPECT_EQ(last_wins.repeated_ids(), 1);
  const std::vector<int64_t> indices = {0, 3};
  const std::vector<int64_t> two = {5, 6};
  ExpectError([&] { FeatureIndexMap(two.data(), indices.data(), 2, 2); },
              "feature_indices[1] = 3 is out of range [0, 2)");
}

// --- HashingDiscretizer ---------------------------------------------------------------------

TEST(HashingDiscretizerTest, HashReferenceValues) {
  EXPECT_EQ(Hash32(12345, 0, 22), 1060204);
  EXPECT_EQ(Hash32(12345, 3, 22), 448263);
  EXPECT_EQ(Hash32(static_cast<uint64_t>(int64_t{-7}), 2, 20), 250357);
  EXPECT_EQ(Hash64(12345, 0, 22), 359362);
  EXPECT_EQ(Hash64(12345, 3, 22), 1995191);
}

TEST(HashingDiscretizerTest, BucketSearches) {
  const std::vector<float> b = {1, 2, 2, 3};
  for (HashSearch s : {HashSearch::kLowerBound, HashSearch::kLinear}) {
    EXPECT_EQ(HashBucket(b.data(), 4, 0.5f, s), 0);
    EXPECT_EQ(HashBucket(b.data(), 4, 1.0f, s), 0);
    EXPECT_EQ(HashBucket(b.data(), 4, 2.0f, s), 1);
    EXPECT_EQ(HashBucket(b.data(), 4, 9.0f, s), 4);
  }
  EXPECT_EQ(HashBucket(b.data(), 4, 1.0f, HashSearch::kUpperBound), 1);
  EXPECT_EQ(HashBucket(b.data(), 4, 2.0f, HashSearch::kUpperBound), 3);
  EXPECT_EQ(HashBucket(b.data(), 4, 3.0f, HashSearch::kUpperBound), 4);
}

std::vector<int64_t> HashingReferenceKeys(int64_t options) {
  const std::vector<double> bin_vals = {1, 2, 3, 0, 10, 20};
  CheckHashingBins(bin_vals.data(), 6, 2, 3);
  const std::vector<int64_t> feature_ids = {100, 200};
  const FeatureIndexMap map(feature_ids.data(), nullptr, 2, 2);
  const HashingOptions parsed = ParseHashingOptions(options, 22);
  const std::vector<int64_t> ids = {100, 100, 100, 200, 300, -5};
  const std::vector<double> vals = {0.5, 1.0, 9, -1, 7, 2};
  std::vector<int64_t> new_keys(6);
  std::vector<double> new_vals(6);
  HashingDiscretize(map, bin_vals.data(), 3, parsed, 22, ids.data(), vals.data(), 0, 6,
                    new_keys.data(), new_vals.data());
  EXPECT_EQ(new_vals, (std::vector<double>{1, 1, 1, 1, 7, 2}));
  return new_keys;
}

TEST(HashingDiscretizerTest, ReferenceCases) {
  EXPECT_EQ(HashingReferenceKeys(0),
            (std::vector<int64_t>{4033013, 4033013, 3421072, 3871722, 300, 4194299}));
  EXPECT_EQ(HashingReferenceKeys(1),
            (std::vector<int64_t>{4033013, 4033013, 3421072, 3871722, 300, 4194299}));
  EXPECT_EQ(HashingReferenceKeys(2),
            (std::vector<int64_t>{4033013, 2430931, 3421072, 3871722, 300, 4194299}));
  EXPECT_EQ(HashingReferenceKeys(4),
            (std::vector<int64_t>{2201140, 2201140, 3836970, 207977, 300, 4194299}));
}

TEST(HashingDiscretizerTest, RejectsBadOptionsBitsAndBins) {
  ExpectError([] { ParseHashingOptions(3, 22); }, "options = 3 is invalid");
  ExpectError([] { ParseHashingOptions(8, 22); }, "options = 8 is invalid");
  // Lenient parsing (graphs the original saved): each reserved field falls back to its default.
  std::string fallback;
  const HashingOptions seven = ParseHashingOptions(7, 22, &fallback);
  EXPECT_EQ(seven.search, HashSearch::kLowerBound);
  EXPECT_TRUE(seven.hash64);
  EXPECT_NE(fallback.find("the search falls back to lower bound"), std::string::npos) << fallback;
  const HashingOptions sixteen = ParseHashingOptions(16, 22, &fallback);
  EXPECT_EQ(sixteen.search, HashSearch::kLowerBound);
  EXPECT_FALSE(sixteen.hash64);
  EXPECT_NE(fallback.find("the hash falls back to 32-bit"), std::string::npos) << fallback;
  ParseHashingOptions(6, 22, &fallback);
  EXPECT_EQ(fallback, "");
  ExpectError([] { ParseHashingOptions(0, 33); }, "exceeds the 32 bits");
  ExpectError([] { ParseHashingOptions(4, 64); }, "output_bits = 64 must be in [1, 63]");
  const HashingOptions wide = ParseHashingOptions(6, 63);
  EXPECT_TRUE(wide.hash64);
  EXPECT_EQ(wide.search, HashSearch::kUpperBound);
  const std::vector<double> bins = {1, 2, 3, 3, 2, 1};
  ExpectError([&] { CheckHashingBins(bins.data(), 5, 2, 3); }, "bin_vals has 5 elements");
  ExpectError([&] { CheckHashingBins(bins.data(), 6, 2, 3); }, "bin_vals[4] = 2");
  ExpectError([&] { CheckHashingBins(bins.data(), 6, 2, 0); }, "n_bin = 0");
}

// --- IsotonicCalibration --------------------------------------------------------------------

TEST(IsotonicCalibrationTest, PerColumnCurves) {
  // Column 0 uses the reference curve, column 1 a curve scaled by 10.
  const std::vector<float> xs = {0.1f, 0.5f, 0.9f, 1, 5, 9};
  const std::vector<float> ys = {0, 0.4f, 1, 0, 4, 10};
  CheckIsotonic(xs.data(), 2, 3);
  const std::vector<float> input = {0.05f, 0.5f, 0.3f, 3, 0.7f, 7, 0.95f, 100};
  std::vector<float> output(8);
  IsotonicCalibrate(input.data(), 2, xs.data(), ys.data(), 3, 0, 4, output.data());
  const std::vector<float> expected = {0, 0, 0.2f, 2, 0.7f, 7, 1, 10};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(output[i], expected[i], 1e-6) << i;
}

TEST(IsotonicCalibrationTest, RejectsUnsortedXsAndNoBins) {
  const std::vector<double> xs = {0, 1, 1, 0};
  ExpectError([&] { CheckIsotonic(xs.data(), 2, 2); }, "xs[3] = 0");
  ExpectError([&] { CheckIsotonic(xs.data(), 2, 0); }, "no bins");
}

}  // namespace
}  // namespace twml
