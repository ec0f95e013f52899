#include "twml/compression.h"

#include <string>
#include <utility>

#include "twml/error.h"
#include "twml/gzip.h"
#include "twml/lzop.h"

namespace twml {
namespace {

// The text after the last '.' of the basename, "" if it has none (TF's io::Extension).
std::string_view Extension(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view basename = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = basename.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : basename.substr(dot + 1);
}

}  // namespace

const char* CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kLzo:
      return "lzo";
  }
  return "unknown";
}

Compression ResolveCompression(std::string_view compression_type, std::string_view path) {
  std::string_view type = compression_type;
  if (type == "auto") {
    type = Extension(path);
    if (type != "" && type != "gz" && type != "lzo") {
      throw Error(ErrorCode::kType,
                  "Unknown extension '" + std::string(type) + "' of '" + std::string(path) +
                      "': compression_type \"auto\" reads .gz files as gzip, .lzo files as lzop "
                      "and files without an extension as uncompressed; pass compression_type "
                      "\"\" to read this file uncompressed");
    }
  }
  if (type == "") return Compression::kNone;
  if (type == "gz") return Compression::kGzip;
  if (type == "lzo") return Compression::kLzo;
  throw Error(ErrorCode::kType,
              "unknown compression_type '" + std::string(compression_type) +
                  "': expected \"auto\" (by file extension), \"\" (none), \"gz\" (gzip) or "
                  "\"lzo\" (lzop)");
}

Compression ResolveCompression(std::string_view compression_type, std::string_view path,
                               const std::function<std::string()>& read_head) {
  const Compression compression = ResolveCompression(compression_type, path);
  if (compression != Compression::kNone || compression_type != "auto") return compression;
  static constexpr std::string_view kGzipMagic("\x1f\x8b", 2);
  static constexpr std::string_view kLzopMagic("\x89LZO\x00\r\n\x1a\n", 9);
  const std::string head = read_head();
  if (std::string_view(head).substr(0, kGzipMagic.size()) == kGzipMagic) return Compression::kGzip;
  if (std::string_view(head).substr(0, kLzopMagic.size()) == kLzopMagic) return Compression::kLzo;
  return Compression::kNone;
}

std::unique_ptr<ByteSource> Decompress(std::unique_ptr<ByteSource> source,
                                       Compression compression, size_t buffer_size) {
  switch (compression) {
    case Compression::kNone:
      return source;
    case Compression::kGzip:
      return std::make_unique<GzipByteSource>(std::move(source), buffer_size);
    case Compression::kLzo:
      return std::make_unique<LzopByteSource>(std::move(source));
  }
  return source;
}

}  // namespace twml
