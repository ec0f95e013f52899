#include <gtest/gtest.h>

#include <string>

#include "twml/error.h"
#include "twml/hashing.h"
#include "twml/murmur_hash3.h"
#include "twml/utf16.h"

namespace twml {
namespace {

struct NamedId {
  const char* name;
  int64_t id;
};

// Reference §3: computed with the original's published sources.
constexpr NamedId kReferenceIds[] = {
    {"a", -7591212652331886403LL},
    {"hello", -1283840835669994617LL},
    {"feature_name", -6130134633430579101LL},
    {"ebd.has_diff_lang", 2086305051125082499LL},
    {"encoded_tweet_features.favorite_count", -2252401347066370027LL},
    {"meta.record_weight/type=earlybird", 246440449334722850LL},
    {"recap.engagement.is_clicked", 3425338249656043418LL},
    {"timelines.earlybird_score", -5842831742955753074LL},
    {"user.id#12345", -5876197895707553035LL},
    {"a#b", -3734086814676416176LL},
    {"#abc", 7313499529890467548LL},
    {"caf\xc3\xa9", -3710658968225833163LL},
};

TEST(FeatureIdTest, MatchesReferenceVectors) {
  for (const auto& expected : kReferenceIds) {
    EXPECT_EQ(FeatureId(expected.name), expected.id) << expected.name;
  }
}

TEST(FeatureIdTest, HashSplitUsesFirstHashAfterPositionZero) {
  // Only the first '#' splits; later ones belong to the suffix.
  std::string prefix_utf16;
  AppendUtf16Le("user.id", &prefix_utf16);
  const uint64_t prefix_hash = MurmurHash3X64_128(prefix_utf16.data(), prefix_utf16.size(), 0).h1;
  std::string data(reinterpret_cast<const char*>(&prefix_hash), 8);  // little-endian host
  AppendUtf16Le("1#2", &data);
  EXPECT_EQ(FeatureId("user.id#1#2"),
            static_cast<int64_t>(MurmurHash3X64_128(data.data(), data.size(), 0).h1));
  EXPECT_NE(FeatureId("user.id#1#2"), FeatureId("user.id#1"));
}

TEST(FeatureIdTest, LongNamesHashLikeShortOnes) {
  // The original switched to a heap buffer past ~1023 UTF-16 units; the result must not change.
  const std::string name(5000, 'x');
  std::string utf16;
  AppendUtf16Le(name, &utf16);
  EXPECT_EQ(FeatureId(name), static_cast<int64_t>(MurmurHash3X64_128(utf16.data(), utf16.size(), 0).h1));
}

TEST(FeatureIdTest, EmptyNameIsTheHashOfNothing) {
  EXPECT_EQ(FeatureId(""), 0);  // MurmurHash3 of zero bytes with seed 0 is all zeros
}

TEST(MurmurHash3Test, EveryTailLengthDiffers) {
  // Each of the 0..32 prefixes of a string takes a different path through the tail switch.
  const std::string data = "The quick brown fox jumps over the lazy dog";
  Hash128 previous = MurmurHash3X64_128(data.data(), 0, 0);
  for (size_t length = 1; length <= 32; ++length) {
    const Hash128 hash = MurmurHash3X64_128(data.data(), length, 0);
    EXPECT_NE(hash.h1, previous.h1) << length;
    previous = hash;
  }
}

TEST(MurmurHash3Test, KnownVector) {
  // MurmurHash3_x64_128("The quick brown fox jumps over the lazy dog", seed 0), as published
  // for the reference implementation: h1 = e34bbc7bbc071b6c, h2 = 7a433ca9c49a9347.
  const std::string data = "The quick brown fox jumps over the lazy dog";
  const Hash128 hash = MurmurHash3X64_128(data.data(), data.size(), 0);
  EXPECT_EQ(hash.h1, 0xe34bbc7bbc071b6cULL);
  EXPECT_EQ(hash.h2, 0x7a433ca9c49a9347ULL);
}

TEST(Utf16Test, EncodesBmpAndSupplementaryCodePoints) {
  std::string out;
  AppendUtf16Le("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", &out);  // a, é, €, U+1F600
  const std::string expected("a\0\xe9\0\xac\x20\x3d\xd8\x00\xde", 10);
  EXPECT_EQ(out, expected);
}

void ExpectInvalid(const std::string& utf8, const std::string& message_part) {
  std::string out;
  try {
    AppendUtf16Le(utf8, &out);
    ADD_FAILURE() << "accepted invalid UTF-8, expected: " << message_part;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kType);
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

TEST(Utf16Test, RejectsInvalidUtf8WithItsOffset) {
  ExpectInvalid("ab\x80", "at byte 2 of a 3-byte string: continuation byte without a lead byte");
  ExpectInvalid("\xf8\x80\x80\x80\x80", "at byte 0 of a 5-byte string: lead byte above 0xF7");
  ExpectInvalid("x\xe2\x82", "at byte 1 of a 3-byte string: truncated multi-byte sequence");
  ExpectInvalid("\xc3(", "at byte 1 of a 2-byte string: expected a continuation byte");
  ExpectInvalid("\xc0\xaf", "at byte 0 of a 2-byte string: overlong encoding");
  ExpectInvalid("\xed\xa0\x80", "surrogate code point");
  ExpectInvalid("\xf4\x90\x80\x80", "code point above U+10FFFF");
}

TEST(FeatureIdTest, InvalidUtf8IsAnError) {
  EXPECT_THROW(FeatureId("bad\xff"), Error);
  EXPECT_THROW(FeatureId("prefix#bad\xff"), Error);
  EXPECT_THROW(FeatureId("bad\xff#suffix"), Error);
}

TEST(MixTest, MatchesReferenceVectors) {
  EXPECT_EQ(MixDiscreteIdAndValue(123, 7), 63706458339LL);
  EXPECT_EQ(MixStringIdAndValue(123, "abc"), 96281);
}

TEST(MixTest, WrapsAroundAndSignExtends) {
  // Bytes are unsigned: "\xff" hashes to 255; a hash past 2^31 is sign-extended before the XOR.
  EXPECT_EQ(MixStringIdAndValue(0, "\xff"), 255);
  EXPECT_EQ(MixStringIdAndValue(0, "zzzzzz"), -685785664);
  EXPECT_EQ(MixDiscreteIdAndValue(0, INT64_MAX),
            static_cast<int64_t>((static_cast<uint64_t>(INT64_MAX) + 17) * 2654435761ULL));
}

}  // namespace
}  // namespace twml
