// IdMap (id_map.h): the open-addressing map from feature ids to values that the decoders look
// every id up in (keep codes, label and weight columns).
#include "twml/id_map.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "twml/error.h"

namespace twml {
namespace {

TEST(IdMapTest, AnEmptyMapFindsNothing) {
  const IdMap map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.Find(0), nullptr);
  EXPECT_FALSE(map.Contains(std::numeric_limits<int64_t>::min()));
  EXPECT_TRUE(IdMap(std::vector<int64_t>{}, std::vector<int64_t>{}).empty());
  EXPECT_TRUE(IdMap::Positions({}).empty());
}

TEST(IdMapTest, FindsInsertsOverwritesAndGrows) {
  IdMap map;
  EXPECT_EQ(map.Find(5), nullptr);
  for (int64_t i = -500; i < 500; ++i) map.Insert(i * 7919, i);
  EXPECT_EQ(map.size(), 1000u);
  EXPECT_FALSE(map.empty());
  for (int64_t i = -500; i < 500; ++i) ASSERT_EQ(*map.Find(i * 7919), i);
  EXPECT_EQ(map.Find(1), nullptr);
  map.Insert(0, 42);  // a key inserted again keeps its last value
  EXPECT_EQ(*map.Find(0), 42);
  EXPECT_EQ(map.size(), 1000u);
}

TEST(IdMapTest, ExtremeAndCollidingKeys) {
  // Keys that differ only in their high bits, or only in bits the multiplicative hash shifts
  // away, land on nearby slots: every one is still found, and absent neighbours are not.
  std::vector<int64_t> keys = {0, -1, 1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  for (int shift = 1; shift < 63; ++shift) keys.push_back(int64_t{1} << shift);
  for (int64_t i = 1; i <= 64; ++i) keys.push_back(i << 48);
  IdMap map;
  for (size_t i = 0; i < keys.size(); ++i) map.Insert(keys[i], static_cast<int64_t>(i));
  ASSERT_EQ(map.size(), keys.size() - 7);  // 1 << 48, 1 << 49, ..., 1 << 54 appear twice
  for (size_t i = 0; i < keys.size(); ++i) {
    const int64_t* value = map.Find(keys[i]);
    ASSERT_NE(value, nullptr) << keys[i];
    EXPECT_EQ(keys[*value], keys[i]);
  }
  EXPECT_FALSE(map.Contains(3));
  EXPECT_FALSE(map.Contains(std::numeric_limits<int64_t>::min() + 1));
  EXPECT_FALSE(map.Contains(65LL << 48));
}

TEST(IdMapTest, AgreesWithStdMapOnRandomOperations) {
  std::mt19937_64 random(7);
  std::map<int64_t, int64_t> reference;
  IdMap map;
  for (int step = 0; step < 20000; ++step) {
    // Keys from a small range, so that many inserts overwrite.
    const int64_t key = static_cast<int64_t>(random() % 5000) * 0x100000001LL - 2500;
    const int64_t value = static_cast<int64_t>(random());
    map.Insert(key, value);
    reference[key] = value;
  }
  ASSERT_EQ(map.size(), reference.size());
  for (const auto& [key, value] : reference) ASSERT_EQ(*map.Find(key), value) << key;
  for (int probe = 0; probe < 1000; ++probe) {
    const int64_t key = static_cast<int64_t>(random());
    EXPECT_EQ(map.Contains(key), reference.count(key) > 0);
  }
}

TEST(IdMapTest, ConstructorsPairKeysWithValuesOrPositions) {
  const IdMap map({10, 20, 10}, {1, 2, 3});  // a key given twice keeps its last value
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(*map.Find(10), 3);
  EXPECT_EQ(*map.Find(20), 2);
  const IdMap positions = IdMap::Positions({9, 8, 9});
  EXPECT_EQ(*positions.Find(9), 2);
  EXPECT_EQ(*positions.Find(8), 1);
  // Copies are independent.
  IdMap copy = map;
  copy.Insert(30, 4);
  EXPECT_TRUE(copy.Contains(30));
  EXPECT_FALSE(map.Contains(30));
}

TEST(IdMapTest, MismatchedSizesAreASizeError) {
  try {
    IdMap({1, 2}, {1});
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kSize);
    EXPECT_STREQ(error.what(), "2 keys but 1 values");
  }
}

}  // namespace
}  // namespace twml
