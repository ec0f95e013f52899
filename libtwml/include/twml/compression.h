// Which decompression a block file needs: BlockFormatDatasetV2's `compression_type` (reference
// §4), resolved per file.
#ifndef TWML_COMPRESSION_H_
#define TWML_COMPRESSION_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "twml/byte_source.h"

namespace twml {

enum class Compression { kNone, kGzip, kLzo };

// "none", "gzip" or "lzo".
const char* CompressionName(Compression compression);

// The compression of the file `path` for a `compression_type` of:
//   ""     none;   "gz"  gzip;   "lzo"  lzop;
//   "auto" by the extension of the file's basename (the text after its last '.'): "gz" is gzip,
//          "lzo" is lzop, no extension is none, and any other extension is an error
//          ("Unknown extension", as in the original). (The overload below also reads a file
//          without an extension whose data starts with gzip or lzop magic as compressed.)
// The original had no lzo support at all ("lzo" and ".lzo" were errors although the trainers
// list *.lzo files by default); reading lzop files is a deliberate extension. Like the original
// op, the values are case-sensitive. Throws twml::Error(kType) for anything else, listing what is
// accepted.
Compression ResolveCompression(std::string_view compression_type, std::string_view path);

// As above, and then, for "auto" and a file without an extension, by the file's first bytes,
// which `read_head` returns (called only in that case): gzip (1f 8b) or lzop (89 'LZO' 00 0d 0a
// 1a 0a) magic means a compressed file that lacks its extension. A block file starts with its
// sync marker, so the magic is never mistaken for one.
Compression ResolveCompression(std::string_view compression_type, std::string_view path,
                               const std::function<std::string()>& read_head);

// `source`'s content decompressed as `compression` says (`source` itself for kNone).
// `buffer_size` is the compressed-input buffer of gzip.
std::unique_ptr<ByteSource> Decompress(std::unique_ptr<ByteSource> source,
                                       Compression compression, size_t buffer_size = 64 << 10);

}  // namespace twml

#endif  // TWML_COMPRESSION_H_
