#include "twml/substrings.h"

#include <set>

#include "twml/error.h"

namespace twml {
namespace {

bool IsContinuationByte(char byte) { return (static_cast<unsigned char>(byte) & 0xC0) == 0x80; }

}  // namespace

void CheckSubstringLengths(int64_t min_n, int64_t max_n) {
  if (min_n < 1 || max_n < min_n) {
    throw Error(ErrorCode::kSize, "min_n = " + std::to_string(min_n) + " and max_n = " +
                                      std::to_string(max_n) +
                                      " must satisfy 1 <= min_n <= max_n");
  }
}

std::string GetSubstrings(std::string_view word, int64_t min_n, int64_t max_n, SubstringUnit unit) {
  const bool characters = unit == SubstringUnit::kCharacter;
  CheckSubstringLengths(min_n, max_n);
  std::string bracketed;
  bracketed.reserve(word.size() + 2);
  bracketed.append("<").append(word).append(">");
  std::set<std::string> grams{std::string(word), bracketed};
  size_t budget = word.size() + 1 + bracketed.size() + 1;
  const size_t size = bracketed.size();
  for (size_t start = 0; start < size; ++start) {
    if (characters && IsContinuationByte(bracketed[start])) continue;
    size_t end = start;
    for (int64_t n = 1; n <= max_n && end < size; ++n) {
      ++end;
      while (characters && end < size && IsContinuationByte(bracketed[end])) ++end;
      if (n < min_n) continue;
      budget += end - start + 1;
      if (budget > kMaxSubstringBytes) {
        throw Error(ErrorCode::kSize,
                    "the substrings of a " + std::to_string(word.size()) + "-byte word of " +
                        std::to_string(min_n) + ".." + std::to_string(max_n) +
                        (characters ? " characters" : " bytes") + " take more than " + std::to_string(kMaxSubstringBytes) +
                        " bytes; lower max_n or shorten the word");
      }
      grams.emplace(bracketed, start, end - start);
    }
  }
  std::string joined;
  joined.reserve(budget);
  for (auto gram = grams.begin(); gram != grams.end(); ++gram) {
    if (gram != grams.begin()) joined.push_back(';');
    joined.append(*gram);
  }
  return joined;
}

}  // namespace twml
