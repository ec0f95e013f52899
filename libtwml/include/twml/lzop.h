// lzop files (the container of the `lzop` tool and of hadoop-lzo's LzopCodec): decompression as
// a ByteSource, and compression for writing fixtures. Data is LZO1X (liblzo2).
#ifndef TWML_LZOP_H_
#define TWML_LZOP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "twml/byte_source.h"

namespace twml {

// lzop's limit on a block's uncompressed size (MAX_BLOCK_SIZE in lzop's sources).
constexpr uint32_t kLzopMaxBlockSize = 64u << 20;
// The block size lzop writes.
constexpr uint32_t kLzopDefaultBlockSize = 256u << 10;

// The decompressed content of an lzop file read from `input`: the 9-byte magic, a header
// (version, method, flags, mode, mtime, name, header checksum), then blocks of uncompressed size
// (u32 big-endian; 0 ends the stream), compressed size (u32 BE), the checksums the flags ask for
// (adler32/crc32 of the uncompressed and of the compressed data), and the data, stored as is when
// both sizes are equal. Every checksum present is verified. Concatenated lzop files are read one
// after the other (lzop -d does the same); any other data after the end is an error.
//
// Corrupt, truncated or unsupported data throws twml::Error(kIO) naming the input and the byte
// offset of the problem in it. Memory is bounded by the format: a declared block size above
// kLzopMaxBlockSize is rejected before anything is allocated, compressed data is buffered only
// as it arrives, and the output buffer grows to a block's declared size only when its data can
// actually fill it.
class LzopByteSource : public ByteSource {
 public:
  explicit LzopByteSource(std::unique_ptr<ByteSource> input);
  ~LzopByteSource() override;

  bool decompressed() const override { return true; }

 protected:
  size_t ReadSome(uint8_t* buffer, size_t size) override;

 private:
  struct State;

  // Reads a member's header; the input is just past its magic.
  void ReadHeader();
  // Decodes the next block into the state's output; false at the end of the stream.
  bool ReadBlock();

  std::unique_ptr<ByteSource> input_;
  std::unique_ptr<State> state_;
};

// How LzopCompress writes checksums.
struct LzopOptions {
  uint32_t block_size = kLzopDefaultBlockSize;  // uncompressed bytes per block, at most 64 MiB
  bool crc32 = false;             // crc32 instead of adler32 (lzop --crc32), also for the header
  bool checksum_compressed = true;  // also a checksum of each compressed block (F_*_C)
};

// `data` as an lzop file, compressed with lzo1x_1 (the method of `lzop -3`, lzop's default),
// readable by `lzop -d` and by LzopByteSource. Blocks that do not shrink are stored.
std::string LzopCompress(std::string_view data, const LzopOptions& options = LzopOptions());

}  // namespace twml

#endif  // TWML_LZOP_H_
