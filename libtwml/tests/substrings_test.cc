#include <gtest/gtest.h>

#include <string>

#include "twml/error.h"
#include "twml/substrings.h"

namespace twml {
namespace {

void ExpectError(int64_t min_n, int64_t max_n, const std::string& word,
                 const std::string& message_part) {
  try {
    GetSubstrings(word, min_n, max_n);
    ADD_FAILURE() << "no error, expected: " << message_part;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kSize);
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

TEST(GetSubstringsTest, FastTextExample) {
  EXPECT_EQ(GetSubstrings("where", 3, 3), "<wh;<where>;ere;her;re>;whe;where");
}

TEST(GetSubstringsTest, IncludesSingleBracketsWhenMinNIsOne) {
  // The reference's set contains every substring of "<w>", so "<" and ">" too (fastText itself
  // skips those two).
  EXPECT_EQ(GetSubstrings("ab", 1, 2), "<;<a;<ab>;>;a;ab;b;b>");
}

TEST(GetSubstringsTest, DuplicatesAppearOnce) {
  EXPECT_EQ(GetSubstrings("aaa", 2, 2), "<a;<aaa>;a>;aa;aaa");
}

TEST(GetSubstringsTest, CountsBytesByDefaultAsTheOriginal) {
  // "né" is the bytes 6E C3 A9: 2-byte n-grams split é.
  EXPECT_EQ(GetSubstrings("n\xc3\xa9", 2, 2),
            "<n;<n\xc3\xa9>;n\xc3;n\xc3\xa9;\xa9>;\xc3\xa9");
}

TEST(GetSubstringsTest, CountsCharactersOnRequest) {
  const SubstringUnit kChars = SubstringUnit::kCharacter;
  // "né": é is two bytes (C3 A9) but one character; bytes >= 0x80 sort after ASCII.
  EXPECT_EQ(GetSubstrings("n\xc3\xa9", 2, 2, kChars), "<n;<n\xc3\xa9>;n\xc3\xa9;\xc3\xa9>");
  // U+1F600 (4 bytes) and U+20AC (3 bytes) are one character each.
  EXPECT_EQ(GetSubstrings("\xf0\x9f\x98\x80\xe2\x82\xac", 1, 1, kChars),
            "<;<\xf0\x9f\x98\x80\xe2\x82\xac>;>;\xe2\x82\xac;\xf0\x9f\x98\x80;"
            "\xf0\x9f\x98\x80\xe2\x82\xac");
}

TEST(GetSubstringsTest, LengthsBeyondTheWord) {
  EXPECT_EQ(GetSubstrings("a", 5, 6), "<a>;a");       // "<a>" has only 3 characters
  EXPECT_EQ(GetSubstrings("ab", 4, 10), "<ab>;ab");  // only "<ab>" itself is 4 long
}

TEST(GetSubstringsTest, EmptyWord) {
  EXPECT_EQ(GetSubstrings("", 1, 2), ";<;<>;>");  // "" sorts first, then "<", "<>", ">"
  EXPECT_EQ(GetSubstrings("", 3, 4), ";<>");
}

TEST(GetSubstringsTest, StrayContinuationBytesStayWithThePrecedingCharacter) {
  EXPECT_EQ(GetSubstrings("\x80" "a", 1, 1, SubstringUnit::kCharacter), "<\x80;<\x80" "a>;>;a;\x80" "a");
  EXPECT_EQ(GetSubstrings("\x80" "a", 1, 1), "<;<\x80" "a>;>;a;\x80;\x80" "a");  // bytes
}

TEST(GetSubstringsTest, RejectsBadLengths) {
  ExpectError(0, 3, "w", "min_n = 0 and max_n = 3 must satisfy 1 <= min_n <= max_n");
  ExpectError(3, 2, "w", "min_n = 3 and max_n = 2 must satisfy 1 <= min_n <= max_n");
  EXPECT_THROW(CheckSubstringLengths(-1, -1), Error);
  CheckSubstringLengths(1, 1);
}

TEST(GetSubstringsTest, RefusesQuadraticOutput) {
  // A long word is fine with a small max_n...
  const std::string word(2047, 'x');
  EXPECT_TRUE(GetSubstrings(word, 1, 2) == "<;<x;<" + word + ">;>;x;x>;xx;" + word);
  // ...but with every length its substrings would take about 3000^3 / 6 bytes.
  ExpectError(1, 1 << 20, std::string(3000, 'x'),
              "the substrings of a 3000-byte word of 1..1048576 bytes take more than "
              "4194304 bytes; lower max_n or shorten the word");
}

}  // namespace
}  // namespace twml
