// GetSubstrings: the n-grams of a word, fastText style (reference §5.10).
#ifndef TWML_SUBSTRINGS_H_
#define TWML_SUBSTRINGS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace twml {

// Most bytes one word's substrings may take (each counted with its ';', before duplicates are
// removed): a word of L characters with max_n >= L has about L^3 / 6 bytes of substrings,
// gigabytes for a 3000-character word.
constexpr size_t kMaxSubstringBytes = size_t{1} << 22;

// Throws twml::Error unless 1 <= min_n <= max_n.
void CheckSubstringLengths(int64_t min_n, int64_t max_n);

// What an n-gram's n counts.
enum class SubstringUnit {
  // Bytes, as the original: an n-gram of a non-ASCII word may split a UTF-8 character. Models
  // trained on the original's tokens need these.
  kByte,
  // Characters: a byte that is not a UTF-8 continuation byte (10xxxxxx) together with the
  // continuation bytes after it, so no n-gram splits a multi-byte character; bytes are not
  // otherwise validated.
  kCharacter,
};

// The set {word, "<word>", every substring of "<word>" of min_n..max_n units}, sorted bytewise
// and joined by ';'. Throws twml::Error for bad lengths (CheckSubstringLengths) or when the
// substrings would exceed kMaxSubstringBytes.
std::string GetSubstrings(std::string_view word, int64_t min_n, int64_t max_n,
                          SubstringUnit unit = SubstringUnit::kByte);

}  // namespace twml

#endif  // TWML_SUBSTRINGS_H_
