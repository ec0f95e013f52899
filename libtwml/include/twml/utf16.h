// Strict UTF-8 to UTF-16 conversion, as feature-id hashing needs it.
#ifndef TWML_UTF16_H_
#define TWML_UTF16_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace twml {

// Appends the UTF-16 code units of `utf8` to `out`, one byte pair per unit in little-endian
// order (the memory order the original hashes on little-endian hosts). Code points above U+FFFF
// become surrogate pairs.
//
// Throws twml::Error (kType) naming the byte offset for invalid UTF-8: a stray continuation byte,
// a lead byte above 0xF7, a truncated sequence, an overlong encoding, a surrogate code point
// (U+D800..U+DFFF) or a code point above U+10FFFF.
void AppendUtf16Le(std::string_view utf8, std::string* out);

// The same into a caller's buffer of at least 2 * utf8.size() bytes (UTF-16 never needs more);
// returns the number of bytes written.
size_t EncodeUtf16Le(std::string_view utf8, char* out);

}  // namespace twml

#endif  // TWML_UTF16_H_
