#include "twml/byte_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "twml/error.h"

namespace twml {

void ByteSource::Fail(const std::string& what, uint64_t offset) const {
  throw Error(ErrorCode::kIO, name_ + ": " + what + " at byte " + std::to_string(offset));
}

size_t ReadFully(ByteSource* source, uint8_t* buffer, size_t size) {
  size_t total = 0;
  while (total < size) {
    const size_t count = source->Read(buffer + total, size - total);
    if (count == 0) break;
    total += count;
  }
  return total;
}

FileByteSource::FileByteSource(const std::string& path) : ByteSource(path) {
  do {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) {
    throw Error(ErrorCode::kIO, "cannot open '" + path + "': " + std::strerror(errno));
  }
}

FileByteSource::~FileByteSource() { close(fd_); }

size_t FileByteSource::ReadSome(uint8_t* buffer, size_t size) {
  // read(2) transfers at most 0x7ffff000 bytes at a time on Linux anyway.
  const size_t want = std::min<size_t>(size, 1 << 30);
  while (true) {
    const ssize_t count = read(fd_, buffer, want);
    if (count >= 0) return static_cast<size_t>(count);
    if (errno != EINTR) Fail(std::string("read failed: ") + std::strerror(errno), offset());
  }
}

size_t MemoryByteSource::ReadSome(uint8_t* buffer, size_t size) {
  const size_t count = std::min({size, max_read_, data_.size() - position_});
  std::memcpy(buffer, data_.data() + position_, count);
  position_ += count;
  return count;
}

}  // namespace twml
