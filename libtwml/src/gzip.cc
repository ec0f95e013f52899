#include "twml/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <utility>
#include <vector>

#include "twml/error.h"

namespace twml {
namespace {

// zlib's windowBits for "gzip wrapper only" (RFC 1952), as TF's ZlibInputStream uses for GZIP.
constexpr int kGzipWindowBits = 16 + MAX_WBITS;
// zlib counts in uInt (32 bits): never hand it more than this at once.
constexpr size_t kMaxZlibChunk = 1u << 30;
constexpr size_t kMinBufferSize = 4 << 10;
constexpr size_t kMaxBufferSize = 64 << 20;

}  // namespace

struct GzipByteSource::State {
  z_stream stream{};
  std::vector<uint8_t> input;
  bool in_member = false;  // a member has started and its end has not been seen yet
  uint64_t members_done = 0;
  // An error found by the inflate call that also produced the last bytes returned: raised by
  // the next read, so that those bytes are delivered first.
  std::string pending_error;
  uint64_t pending_offset = 0;
};

GzipByteSource::GzipByteSource(std::unique_ptr<ByteSource> input, size_t buffer_size)
    : ByteSource(input->name()), input_(std::move(input)), state_(new State) {
  state_->input.resize(std::clamp(buffer_size, kMinBufferSize, kMaxBufferSize));
  if (inflateInit2(&state_->stream, kGzipWindowBits) != Z_OK) {
    throw Error(ErrorCode::kUnknown, name() + ": cannot initialise zlib");
  }
}

GzipByteSource::~GzipByteSource() { inflateEnd(&state_->stream); }

bool GzipByteSource::Refill() {
  const size_t count = input_->Read(state_->input.data(), state_->input.size());
  state_->stream.next_in = state_->input.data();
  state_->stream.avail_in = static_cast<uInt>(count);
  return count > 0;
}

uint64_t GzipByteSource::CompressedOffset() const {
  return input_->offset() - state_->stream.avail_in;
}

size_t GzipByteSource::ReadSome(uint8_t* buffer, size_t size) {
  z_stream& stream = state_->stream;
  if (!state_->pending_error.empty()) Fail(state_->pending_error, state_->pending_offset);
  const uInt want = static_cast<uInt>(std::min(size, kMaxZlibChunk));
  while (true) {
    if (stream.avail_in == 0 && !Refill()) {
      if (state_->in_member) {
        Fail("truncated gzip data: the input ends inside member " +
                 std::to_string(state_->members_done + 1),
             CompressedOffset());
      }
      return 0;
    }
    if (!state_->in_member) {
      // More input after a member's end must be another member (concatenated gzip files).
      if (state_->members_done > 0 && inflateReset(&stream) != Z_OK) {
        Fail("cannot reset zlib", CompressedOffset());
      }
      state_->in_member = true;
    }
    stream.next_out = buffer;
    stream.avail_out = want;
    const uInt available_before = stream.avail_in;
    const int result = inflate(&stream, Z_NO_FLUSH);
    const size_t produced = want - stream.avail_out;
    if (result == Z_STREAM_END) {
      state_->in_member = false;
      ++state_->members_done;
    } else if (result != Z_OK && result != Z_BUF_ERROR) {
      std::string why = result == Z_NEED_DICT  ? "it needs a preset dictionary"
                        : result == Z_MEM_ERROR ? "out of memory"
                        : stream.msg != nullptr ? stream.msg
                                                : "zlib error " + std::to_string(result);
      const std::string what =
          "corrupt gzip data in member " + std::to_string(state_->members_done + 1) + " (" + why + ")";
      if (produced == 0) Fail(what, CompressedOffset());
      state_->pending_error = what;
      state_->pending_offset = CompressedOffset();
      return produced;
    }
    if (produced > 0) return produced;
    // zlib consumes input or produces output whenever it can; guard against a stall anyway,
    // since looping here forever would hang the reader.
    if (result != Z_STREAM_END && stream.avail_in > 0 && stream.avail_in == available_before) {
      Fail("gzip decoder made no progress", CompressedOffset());
    }
  }
}

std::string GzipCompress(std::string_view data, int level) {
  z_stream stream{};
  if (deflateInit2(&stream, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error(ErrorCode::kUnknown, "cannot initialise zlib for gzip level " +
                                         std::to_string(level));
  }
  std::string out;
  const auto* next = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  uint8_t chunk[64 << 10];
  int result = Z_OK;
  while (result != Z_STREAM_END) {
    const size_t take = std::min(left, kMaxZlibChunk);
    stream.next_in = const_cast<Bytef*>(next);
    stream.avail_in = static_cast<uInt>(take);
    const int flush = take == left ? Z_FINISH : Z_NO_FLUSH;
    do {
      stream.next_out = chunk;
      stream.avail_out = sizeof(chunk);
      result = deflate(&stream, flush);
      out.append(reinterpret_cast<const char*>(chunk), sizeof(chunk) - stream.avail_out);
    } while (stream.avail_out == 0 || (flush == Z_FINISH && result != Z_STREAM_END));
    next += take - stream.avail_in;
    left -= take - stream.avail_in;
  }
  deflateEnd(&stream);
  return out;
}

}  // namespace twml
