// Byte streams that the block-format reader and the decompressors read from.
//
// A ByteSource delivers a stream of bytes in order and keeps count of them, so that every error
// about the data can name the source and the byte offset at which it went wrong. Sources stack:
// a FileByteSource reads a file, a GzipByteSource (gzip.h) or LzopByteSource (lzop.h) wraps
// another source and delivers its decompressed bytes.
#ifndef TWML_BYTE_SOURCE_H_
#define TWML_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace twml {

class ByteSource {
 public:
  // `name` names the source in error messages, normally the file's path.
  explicit ByteSource(std::string name) : name_(std::move(name)) {}
  virtual ~ByteSource() = default;
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  // Reads up to `size` bytes into `buffer` and returns how many it read: fewer than asked is
  // not the end, 0 (for size > 0) is. Throws twml::Error(kIO), naming the source and the byte
  // offset, when the data cannot be read or is corrupt.
  size_t Read(uint8_t* buffer, size_t size) {
    if (size == 0) return 0;
    const size_t count = ReadSome(buffer, size);
    offset_ += count;
    return count;
  }

  const std::string& name() const { return name_; }

  // How many bytes Read has delivered: the offset of the next byte of this stream.
  uint64_t offset() const { return offset_; }

  // Whether this stream is the decompressed content of a file, so that its offsets are not
  // offsets in the file (error messages say so).
  virtual bool decompressed() const { return false; }

 protected:
  // Reads 1..size bytes, or 0 at the end of the stream; `size` is never 0.
  virtual size_t ReadSome(uint8_t* buffer, size_t size) = 0;

  // Throws twml::Error(kIO) "<name>: <what> at byte <offset>".
  [[noreturn]] void Fail(const std::string& what, uint64_t offset) const;

 private:
  std::string name_;
  uint64_t offset_ = 0;
};

// Reads until `size` bytes or the end of the stream; returns how many it read.
size_t ReadFully(ByteSource* source, uint8_t* buffer, size_t size);

// A local file, read with POSIX read(2).
class FileByteSource : public ByteSource {
 public:
  // Throws twml::Error(kIO) naming `path` and the system's reason when it cannot be opened.
  explicit FileByteSource(const std::string& path);
  ~FileByteSource() override;

 protected:
  size_t ReadSome(uint8_t* buffer, size_t size) override;

 private:
  int fd_ = -1;
};

// Bytes held in memory (tests, fuzzing, Python). `max_read` caps the bytes one Read returns, so
// that tests can make a reader cope with short reads.
class MemoryByteSource : public ByteSource {
 public:
  explicit MemoryByteSource(std::string data, std::string name = "<memory>",
                            size_t max_read = std::numeric_limits<size_t>::max())
      : ByteSource(std::move(name)), data_(std::move(data)), max_read_(max_read > 0 ? max_read : 1) {}

 protected:
  size_t ReadSome(uint8_t* buffer, size_t size) override;

 private:
  std::string data_;
  size_t position_ = 0;
  size_t max_read_;
};

}  // namespace twml

#endif  // TWML_BYTE_SOURCE_H_
