#include "twml/lzop.h"

#include <lzo/lzo1x.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "twml/error.h"

namespace twml {
namespace {

constexpr uint8_t kMagic[9] = {0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a};

// Header flags, as lzop's conf.h defines them.
constexpr uint32_t kAdler32D = 0x00000001;
constexpr uint32_t kAdler32C = 0x00000002;
constexpr uint32_t kExtraField = 0x00000040;
constexpr uint32_t kCrc32D = 0x00000100;
constexpr uint32_t kCrc32C = 0x00000200;
constexpr uint32_t kMultipart = 0x00000400;
constexpr uint32_t kFilter = 0x00000800;
constexpr uint32_t kHeaderCrc32 = 0x00001000;
constexpr uint32_t kFlagMask = 0x00003fff;
constexpr uint32_t kOsMask = 0xff000000;
constexpr uint32_t kCharsetMask = 0x00f00000;
constexpr uint32_t kReservedFlags = ~(kFlagMask | kOsMask | kCharsetMask);
constexpr uint32_t kOsUnix = 0x03000000;

// lzop's own version, and the oldest format it (and we) can read.
constexpr uint16_t kLzopVersion = 0x1040;
constexpr uint16_t kOldestVersion = 0x0900;
// From this version on the header has version_needed_to_extract, level and mtime_high.
constexpr uint16_t kVersionWithLevel = 0x0940;

// The LZO1X methods; lzop's other methods (NRV, zlib) need code that lzop never shipped.
constexpr uint8_t kMethodLzo1x1 = 1;
constexpr uint8_t kMethodLzo1x1_15 = 2;
constexpr uint8_t kMethodLzo1x999 = 3;

constexpr uint32_t kSplitFileMarker = 0xffffffff;

// LZO1X produces at most ~255 bytes per compressed byte (runs are extended by zero bytes worth
// 255 each). The output buffer starts at this bound so that a small corrupt block cannot make
// the reader allocate its declared 64 MiB; a valid block that needs more is decoded again with
// the full declared size.
size_t LikelyOutputBound(size_t compressed_size) { return compressed_size * 256 + 4096; }

void EnsureLzoInitialised() {
  static const int status = lzo_init();
  if (status != LZO_E_OK) {
    throw Error(ErrorCode::kUnknown, "liblzo2 failed to initialise (lzo_init returned " +
                                         std::to_string(status) + ")");
  }
}

std::string Hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

uint32_t Adler32(const uint8_t* data, size_t size) {
  return static_cast<uint32_t>(adler32_z(1, data, size));
}

uint32_t Crc32(const uint8_t* data, size_t size) {
  return static_cast<uint32_t>(crc32_z(0, data, size));
}

void AppendBigEndian(uint64_t value, int bytes, std::string* out) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

}  // namespace

struct LzopByteSource::State {
  bool started = false;  // the first header has been read
  bool ended = false;    // the end of the whole stream has been reached
  uint32_t flags = 0;
  std::vector<uint8_t> compressed;
  std::unique_ptr<uint8_t[]> output;
  size_t output_capacity = 0;
  const uint8_t* block = nullptr;  // the current block's uncompressed bytes
  size_t block_size = 0;
  size_t block_position = 0;
};

LzopByteSource::LzopByteSource(std::unique_ptr<ByteSource> input)
    : ByteSource(input->name()), input_(std::move(input)), state_(new State) {
  EnsureLzoInitialised();
}

LzopByteSource::~LzopByteSource() = default;

namespace {

// Reads the big-endian fields of an lzop file, keeping the bytes that a checksum covers.
class HeaderReader {
 public:
  HeaderReader(ByteSource* input, std::string* covered) : input_(input), covered_(covered) {}

  uint64_t Read(int bytes, const char* field) {
    uint8_t data[4];
    Bytes(data, bytes, field);
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | data[i];
    return value;
  }

  void Bytes(uint8_t* data, size_t size, const char* field) {
    const uint64_t offset = input_->offset();
    if (ReadFully(input_, data, size) != size) {
      throw Error(ErrorCode::kIO, input_->name() + ": truncated lzop file: the input ends in " +
                                      field + " at byte " + std::to_string(offset));
    }
    if (covered_ != nullptr) covered_->append(reinterpret_cast<const char*>(data), size);
  }

 private:
  ByteSource* input_;
  std::string* covered_;
};

}  // namespace

void LzopByteSource::ReadHeader() {
  const uint64_t start = input_->offset() - sizeof(kMagic);
  const uint64_t header_offset = input_->offset();
  std::string covered;
  HeaderReader header(input_.get(), &covered);
  const auto version = static_cast<uint16_t>(header.Read(2, "the version"));
  header.Read(2, "the library version");
  if (version < kOldestVersion) Fail("unsupported lzop format version " + Hex32(version), start);
  if (version >= kVersionWithLevel) {
    const auto needed = static_cast<uint16_t>(header.Read(2, "the version needed to extract"));
    if (needed > kLzopVersion || needed < kOldestVersion) {
      Fail("unsupported lzop file: it needs lzop version " + Hex32(needed) + " to extract",
           start);
    }
  }
  const auto method = static_cast<uint8_t>(header.Read(1, "the method"));
  if (version >= kVersionWithLevel) header.Read(1, "the level");
  const auto flags = static_cast<uint32_t>(header.Read(4, "the flags"));
  if (method != kMethodLzo1x1 && method != kMethodLzo1x1_15 && method != kMethodLzo1x999) {
    Fail("unsupported lzop compression method " + std::to_string(method), start);
  }
  if ((flags & kReservedFlags) != 0) Fail("unknown lzop header flags " + Hex32(flags), start);
  if ((flags & kMultipart) != 0) Fail("multi-part lzop files are not supported", start);
  if ((flags & kFilter) != 0 && header.Read(4, "the filter") != 0) {
    Fail("lzop filters are not supported", start);
  }
  header.Read(4, "the mode");
  header.Read(4, "the mtime");
  if (version >= kVersionWithLevel) header.Read(4, "the mtime (high bits)");
  uint8_t name[255];
  header.Bytes(name, header.Read(1, "the name length"), "the name");

  const bool crc = (flags & kHeaderCrc32) != 0;
  auto checksum = [crc](const std::string& bytes) {
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    return crc ? Crc32(data, bytes.size()) : Adler32(data, bytes.size());
  };
  HeaderReader unchecked(input_.get(), nullptr);
  const auto expected = static_cast<uint32_t>(unchecked.Read(4, "the header checksum"));
  if (checksum(covered) != expected) {
    Fail("lzop header checksum mismatch: " + Hex32(checksum(covered)) + " computed, " +
             Hex32(expected) + " stored",
         header_offset);
  }
  if ((flags & kExtraField) != 0) {
    // Skipped in pieces, so that a huge declared length costs no memory, only the bytes that
    // are really there.
    const uint64_t extra_offset = input_->offset();
    std::string length_bytes;
    HeaderReader extra(input_.get(), &length_bytes);
    uint64_t left = extra.Read(4, "the extra field length");
    uint32_t sum = crc ? Crc32(nullptr, 0) : Adler32(nullptr, 0);
    auto update = [&](const uint8_t* data, size_t size) {
      sum = crc ? static_cast<uint32_t>(crc32_z(sum, data, size))
                : static_cast<uint32_t>(adler32_z(sum, data, size));
    };
    update(reinterpret_cast<const uint8_t*>(length_bytes.data()), length_bytes.size());
    uint8_t chunk[4096];
    while (left > 0) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(left, sizeof(chunk)));
      unchecked.Bytes(chunk, take, "the extra field");
      update(chunk, take);
      left -= take;
    }
    const auto stored = static_cast<uint32_t>(unchecked.Read(4, "the extra field checksum"));
    if (sum != stored) Fail("lzop extra field checksum mismatch", extra_offset);
  }
  state_->flags = flags;
}

bool LzopByteSource::ReadBlock() {
  State& state = *state_;
  if (!state.started) {
    state.started = true;
    // An empty input is an empty stream, as for gzip and raw files.
    uint8_t first;
    if (input_->Read(&first, 1) == 0) {
      state.ended = true;
      return false;
    }
    uint8_t rest[sizeof(kMagic) - 1];
    const size_t got = ReadFully(input_.get(), rest, sizeof(rest));
    if (first != kMagic[0] || got != sizeof(rest) ||
        std::memcmp(rest, kMagic + 1, sizeof(rest)) != 0) {
      Fail("not an lzop file (no lzop magic)", 0);
    }
    ReadHeader();
  }
  while (true) {
    const uint64_t block_offset = input_->offset();
    HeaderReader fields(input_.get(), nullptr);
    const auto uncompressed_size = static_cast<uint32_t>(fields.Read(4, "a block's size"));
    if (uncompressed_size == 0) {
      // The end of this member: the input ends here, or another lzop file follows.
      uint8_t magic[sizeof(kMagic)];
      const size_t got = ReadFully(input_.get(), magic, sizeof(magic));
      if (got == 0) {
        state.ended = true;
        return false;
      }
      if (got != sizeof(magic) || std::memcmp(magic, kMagic, sizeof(magic)) != 0) {
        Fail("unexpected data after the end of the lzop stream", block_offset + 4);
      }
      ReadHeader();
      continue;
    }
    if (uncompressed_size == kSplitFileMarker) {
      Fail("split lzop files are not supported", block_offset);
    }
    if (uncompressed_size > kLzopMaxBlockSize) {
      Fail("lzop block of " + std::to_string(uncompressed_size) +
               " uncompressed bytes exceeds lzop's limit of " +
               std::to_string(kLzopMaxBlockSize),
           block_offset);
    }
    const auto compressed_size = static_cast<uint32_t>(fields.Read(4, "a block's size"));
    if (compressed_size == 0 || compressed_size > uncompressed_size) {
      Fail("lzop block has an invalid compressed size of " + std::to_string(compressed_size) +
               " for " + std::to_string(uncompressed_size) + " uncompressed bytes",
           block_offset);
    }
    const bool stored = compressed_size == uncompressed_size;
    const uint32_t flags = state.flags;
    uint32_t adler_d = 0, crc_d = 0, adler_c = 0, crc_c = 0;
    if (flags & kAdler32D) adler_d = static_cast<uint32_t>(fields.Read(4, "a block checksum"));
    if (flags & kCrc32D) crc_d = static_cast<uint32_t>(fields.Read(4, "a block checksum"));
    // A stored block's compressed checksums would equal the uncompressed ones: not written.
    if ((flags & kAdler32C) && !stored) {
      adler_c = static_cast<uint32_t>(fields.Read(4, "a block checksum"));
    }
    if ((flags & kCrc32C) && !stored) {
      crc_c = static_cast<uint32_t>(fields.Read(4, "a block checksum"));
    }

    // The data, buffered as it arrives: a truncated file fails before a large declared size
    // has been allocated.
    const uint64_t data_offset = input_->offset();
    std::vector<uint8_t>& data = state.compressed;
    data.clear();
    while (data.size() < compressed_size) {
      const size_t have = data.size();
      data.resize(std::min<size_t>(compressed_size, std::max<size_t>(64 << 10, 2 * have)));
      const size_t got = ReadFully(input_.get(), data.data() + have, data.size() - have);
      if (got != data.size() - have) {
        Fail("truncated lzop block: " + std::to_string(compressed_size) +
                 " bytes of data declared, " + std::to_string(have + got) + " present",
             data_offset);
      }
    }

    auto verify = [&](bool present, uint32_t stored_sum, uint32_t computed, const char* what) {
      if (present && stored_sum != computed) {
        Fail(std::string(what) + " checksum mismatch in the lzop block: " + Hex32(computed) +
                 " computed, " + Hex32(stored_sum) + " stored",
             block_offset);
      }
    };
    if (stored) {
      state.block = data.data();
    } else {
      verify(flags & kAdler32C, adler_c, Adler32(data.data(), data.size()),
             "adler32 (compressed data)");
      verify(flags & kCrc32C, crc_c, Crc32(data.data(), data.size()), "crc32 (compressed data)");
      size_t capacity = std::min<size_t>(uncompressed_size, LikelyOutputBound(compressed_size));
      while (true) {
        if (state.output_capacity < capacity) {
          // Not value-initialised: the decoder writes every byte it reports.
          state.output.reset(new uint8_t[capacity]);
          state.output_capacity = capacity;
        }
        lzo_uint produced = capacity;
        const int result = lzo1x_decompress_safe(data.data(), data.size(), state.output.get(),
                                                 &produced, nullptr);
        if (result == LZO_E_OUTPUT_OVERRUN && capacity < uncompressed_size) {
          capacity = uncompressed_size;
          continue;
        }
        if (result != LZO_E_OK) {
          Fail("corrupt LZO data in the lzop block (liblzo2 error " + std::to_string(result) +
                   ")",
               block_offset);
        }
        if (produced != uncompressed_size) {
          Fail("lzop block decompressed to " + std::to_string(produced) + " bytes, " +
                   std::to_string(uncompressed_size) + " declared",
               block_offset);
        }
        break;
      }
      state.block = state.output.get();
    }
    verify(flags & kAdler32D, adler_d, Adler32(state.block, uncompressed_size), "adler32");
    verify(flags & kCrc32D, crc_d, Crc32(state.block, uncompressed_size), "crc32");
    state.block_size = uncompressed_size;
    state.block_position = 0;
    return true;
  }
}

size_t LzopByteSource::ReadSome(uint8_t* buffer, size_t size) {
  State& state = *state_;
  while (state.block_position == state.block_size) {
    if (state.ended || !ReadBlock()) return 0;
  }
  const size_t count = std::min(size, state.block_size - state.block_position);
  std::memcpy(buffer, state.block + state.block_position, count);
  state.block_position += count;
  return count;
}

std::string LzopCompress(std::string_view data, const LzopOptions& options) {
  if (options.block_size == 0 || options.block_size > kLzopMaxBlockSize) {
    throw Error(ErrorCode::kSize, "lzop block size must be 1.." +
                                      std::to_string(kLzopMaxBlockSize) + ", not " +
                                      std::to_string(options.block_size));
  }
  EnsureLzoInitialised();
  const bool crc = options.crc32;
  uint32_t flags = kOsUnix | (crc ? kCrc32D | kHeaderCrc32 : kAdler32D);
  if (options.checksum_compressed) flags |= crc ? kCrc32C : kAdler32C;

  std::string header;
  AppendBigEndian(kLzopVersion, 2, &header);
  AppendBigEndian(lzo_version() & 0xffff, 2, &header);
  // lzop marks files whose header uses crc32 as needing version 1.01 to extract.
  AppendBigEndian(crc ? 0x1010 : kVersionWithLevel, 2, &header);
  AppendBigEndian(kMethodLzo1x1, 1, &header);
  AppendBigEndian(5, 1, &header);  // the level lzop records for lzo1x_1
  AppendBigEndian(flags, 4, &header);
  AppendBigEndian(0100644, 4, &header);  // mode: a regular file, rw-r--r--
  AppendBigEndian(0, 4, &header);        // mtime, low bits
  AppendBigEndian(0, 4, &header);        // mtime, high bits
  AppendBigEndian(0, 1, &header);        // no name: lzop -d names the output after the file
  const auto* header_bytes = reinterpret_cast<const uint8_t*>(header.data());
  const uint32_t header_sum =
      crc ? Crc32(header_bytes, header.size()) : Adler32(header_bytes, header.size());

  std::string out(reinterpret_cast<const char*>(kMagic), sizeof(kMagic));
  out += header;
  AppendBigEndian(header_sum, 4, &out);

  auto checksum = [crc](const uint8_t* bytes, size_t size) {
    return crc ? Crc32(bytes, size) : Adler32(bytes, size);
  };
  std::vector<uint8_t> work(LZO1X_1_MEM_COMPRESS);
  std::vector<uint8_t> compressed;
  for (size_t start = 0; start < data.size(); start += options.block_size) {
    const size_t size = std::min<size_t>(options.block_size, data.size() - start);
    const auto* block = reinterpret_cast<const uint8_t*>(data.data()) + start;
    // LZO1X's worst-case expansion (lzo's documentation).
    compressed.resize(size + size / 16 + 64 + 3);
    lzo_uint compressed_size = compressed.size();
    if (lzo1x_1_compress(block, size, compressed.data(), &compressed_size, work.data()) !=
        LZO_E_OK) {
      throw Error(ErrorCode::kUnknown, "lzo1x_1_compress failed");
    }
    const bool store = compressed_size >= size;
    AppendBigEndian(size, 4, &out);
    AppendBigEndian(store ? size : compressed_size, 4, &out);
    AppendBigEndian(checksum(block, size), 4, &out);
    if (options.checksum_compressed && !store) {
      AppendBigEndian(checksum(compressed.data(), compressed_size), 4, &out);
    }
    if (store) {
      out.append(reinterpret_cast<const char*>(block), size);
    } else {
      out.append(reinterpret_cast<const char*>(compressed.data()), compressed_size);
    }
  }
  AppendBigEndian(0, 4, &out);
  return out;
}

}  // namespace twml
