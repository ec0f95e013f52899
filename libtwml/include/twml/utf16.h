// Strict UTF-8 to UTF-16 conversion, as feature-id hashing needs it.
#ifndef TWML_UTF16_H_
#define TWML_UTF16_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace twml {

// Which UTF-8 a conversion accepts.
enum class Utf8Decoding {
  // Valid UTF-8 only: names users write (FeatureId of a configured feature name).
  kStrict,
  // What the original's converter accepted, for names found in data (sparse-continuous value
  // names hashed while decoding), whose keys trained models depend on: as kStrict, but an
  // overlong encoding (e.g. C0 80 for U+0000) is decoded to its code point.
  kOriginal,
};

// Appends the UTF-16 code units of `utf8` to `out`, one byte pair per unit in little-endian
// order (the memory order the original hashes on little-endian hosts). Code points above U+FFFF
// become surrogate pairs.
//
// Throws twml::Error (kType) naming the byte offset for invalid UTF-8: a stray continuation byte,
// a lead byte above 0xF7, a truncated sequence, an overlong encoding (kStrict only), a surrogate
// code point (U+D800..U+DFFF) or a code point above U+10FFFF.
void AppendUtf16Le(std::string_view utf8, std::string* out,
                   Utf8Decoding decoding = Utf8Decoding::kStrict);

// The same into a caller's buffer of at least 2 * utf8.size() bytes (UTF-16 never needs more);
// returns the number of bytes written.
size_t EncodeUtf16Le(std::string_view utf8, char* out, Utf8Decoding decoding = Utf8Decoding::kStrict);

}  // namespace twml

#endif  // TWML_UTF16_H_
