// gzip (RFC 1952) streams: decompression as a ByteSource, and compression for writing fixtures.
#ifndef TWML_GZIP_H_
#define TWML_GZIP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "twml/byte_source.h"

namespace twml {

// The decompressed content of a gzip stream read from `input`, with zlib. Concatenated gzip
// members (as `cat a.gz b.gz` makes) are read one after the other, like gzip -d does; an empty
// input is an empty stream. Corrupt or truncated data, and anything after the last member that
// is not another member, throws twml::Error(kIO) naming the input and the compressed byte offset.
// Memory is bounded: zlib's state plus `buffer_size` bytes of input buffer.
class GzipByteSource : public ByteSource {
 public:
  explicit GzipByteSource(std::unique_ptr<ByteSource> input, size_t buffer_size = 64 << 10);
  ~GzipByteSource() override;

  bool decompressed() const override { return true; }

 protected:
  size_t ReadSome(uint8_t* buffer, size_t size) override;

 private:
  struct State;

  // Reads more compressed input once the previous input is used up; false at its end.
  bool Refill();
  // Offset in `input_` of the next compressed byte zlib has not consumed.
  uint64_t CompressedOffset() const;

  std::unique_ptr<ByteSource> input_;
  std::unique_ptr<State> state_;
};

// `data` as one gzip member (zlib's deflate at `level`, 0..9), as gzip(1) writes it. For
// fixtures and tests; files written by any gzip tool read the same way.
std::string GzipCompress(std::string_view data, int level = 6);

}  // namespace twml

#endif  // TWML_GZIP_H_
