#include "twml/block_format.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "twml/compression.h"
#include "twml/data_record.h"

namespace twml {
namespace {

constexpr size_t kMarkerSize = sizeof(kBlockMarker);
constexpr size_t kLengthSize = 4;
constexpr size_t kMinBufferSize = 64;
constexpr size_t kMaxVarintSize = 10;

// SerializedBlock's tags, written as single bytes (tag << 3 | wire type).
constexpr uint8_t kVersionTag = 1;
constexpr uint8_t kClassNameTag = 2;
constexpr uint8_t kRecordTag = 3;
constexpr uint8_t kWireVarint = 0;
constexpr uint8_t kWireLengthDelimited = 2;
constexpr uint32_t kBlockVersion = 1;

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendTag(uint8_t tag, uint8_t wire_type, std::string* out) {
  out->push_back(static_cast<char>((tag << 3) | wire_type));
}

void AppendBytesField(uint8_t tag, std::string_view bytes, std::string* out) {
  AppendTag(tag, kWireLengthDelimited, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

// The fields that start every block: version and class name.
std::string BlockHeader(std::string_view class_name) {
  if (class_name.size() > kMaxClassNameSize) {
    throw Error(ErrorCode::kSize, "class name of " + std::to_string(class_name.size()) +
                                      " bytes exceeds the block format's limit of " +
                                      std::to_string(kMaxClassNameSize));
  }
  std::string header;
  AppendTag(kVersionTag, kWireVarint, &header);
  AppendVarint(kBlockVersion, &header);
  AppendBytesField(kClassNameTag, class_name, &header);
  return header;
}

void AppendMarkerAndLength(size_t payload_size, std::string* out) {
  if (payload_size > INT32_MAX) {
    throw Error(ErrorCode::kSize, "block payload of " + std::to_string(payload_size) +
                                      " bytes does not fit the format's int32 length");
  }
  out->append(reinterpret_cast<const char*>(kBlockMarker), kMarkerSize);
  for (int shift = 0; shift < 32; shift += 8) {
    out->push_back(static_cast<char>((payload_size >> shift) & 0xff));
  }
}

std::string Hex8(uint8_t byte) {
  static const char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[byte >> 4] + kDigits[byte & 15];
}

std::string SystemError(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

}  // namespace

std::string EncodeBlock(std::string_view class_name,
                        const std::vector<std::string_view>& records) {
  std::string payload = BlockHeader(class_name);
  for (const std::string_view record : records) AppendBytesField(kRecordTag, record, &payload);
  std::string block;
  AppendMarkerAndLength(payload.size(), &block);
  block += payload;
  return block;
}

// ---------------------------------------------------------------------------------------------
// BlockReader

BlockReader::BlockReader(std::unique_ptr<ByteSource> source, std::string name,
                         size_t buffer_size)
    : source_(std::move(source)),
      name_(std::move(name)),
      buffer_(std::max(buffer_size, kMinBufferSize)),
      read_offset_(source_->offset()) {}

bool BlockReader::Next(std::string* record) {
  std::string_view view;
  if (!Next(&view)) return false;
  record->assign(view.data(), view.size());
  return true;
}

bool BlockReader::Next(std::string_view* record) {
  if (error_ != nullptr) throw *error_;
  while (!ended_) {
    try {
      if (NextInBlock(record)) return true;
      break;
    } catch (const Error& error) {
      if (!skip_corrupt_) {
        error_ = std::make_unique<Error>(error);
        throw;
      }
      SkipBlock(error);
    }
  }
  if (blocks_found_ == 0 && Position() > 0) {
    // Not a block file at all (an image, zeros, compressed data under a raw name...): reading
    // it as no records would lose data silently, skip mode or not.
    error_ = std::make_unique<Error>(
        ErrorCode::kIO, name_ + ": no block in its " + std::to_string(Position()) + " " +
                            (source_->decompressed() ? "decompressed " : "") +
                            "bytes: not a block file (no sync marker)");
    throw *error_;
  }
  return false;
}

void BlockReader::SkipBlock(const Error& error) {
  ++skipped_blocks_;
  last_skip_message_ = error.what();
  // The complete records before the damage were delivered (ReadBlock salvages them).
  records_.clear();
  next_record_ = 0;
  deferred_error_.reset();
  uint64_t restart = block_offset_ + kMarkerSize;
  const uint64_t consumed = Position() - restart;
  // A failed source cannot be read past its error. The consumed-bytes check is defensive: a
  // failure is only ever thrown before the length field or after the payload bytes read.
  if (source_failed_ || (consumed != 0 && consumed != kLengthSize + payload_.size())) {
    ended_ = true;
    return;
  }
  // Everything after the bad block's marker is scanned again, or after its salvaged records
  // when it had some (so no byte is delivered twice): the length field and payload read so
  // far, the buffered bytes, and what is left of an earlier rescan.
  std::string bytes;
  if (consumed != 0) {
    if (salvaged_end_ > 0) {
      restart += kLengthSize + salvaged_end_;
      bytes.assign(payload_, salvaged_end_, std::string::npos);
    } else {
      for (size_t i = 0; i < kLengthSize; ++i) {
        bytes.push_back(static_cast<char>((length_bits_ >> (8 * i)) & 0xff));
      }
      bytes += payload_;
    }
  }
  salvaged_end_ = 0;
  bytes.append(reinterpret_cast<const char*>(buffer_.data() + begin_), end_ - begin_);
  bytes.append(rescan_, rescan_pos_, std::string::npos);
  rescan_ = std::move(bytes);
  rescan_pos_ = 0;
  dropped_until_ = std::max(dropped_until_, Position());
  begin_ = end_ = 0;
  read_offset_ = restart;
  payload_.clear();
  parsed_ = false;
}

bool BlockReader::NextInBlock(std::string_view* record) {
  while (next_record_ == records_.size()) {
    if (deferred_error_ != nullptr) {
      // The salvaged records of a damaged block are out: now the damage.
      const Error error = *deferred_error_;
      deferred_error_.reset();
      records_.clear();
      next_record_ = 0;
      throw error;
    }
    if (!ReadBlock()) return false;
  }
  *record = records_[next_record_++];
  ++records_read_;
  return true;
}

std::string BlockReader::At(uint64_t offset) const {
  return (source_->decompressed() ? "decompressed byte " : "byte ") + std::to_string(offset);
}

void BlockReader::Fail(const std::string& kind, const std::string& what) const {
  throw Error(ErrorCode::kIO, name_ + ": " + kind + " block at " + At(block_offset_) + ": " + what);
}

void BlockReader::FailTruncated(const std::string& what) const {
  // The data ended early because the source failed: its error says why.
  if (source_error_ != nullptr) throw *source_error_;
  Fail("truncated", what);
}

void BlockReader::NoteSkippedBytes(uint64_t offset, uint64_t count) {
  // Bytes of a dropped block that the rescan found no marker in are part of that block's
  // damage, already counted: not bytes outside blocks.
  if (offset < dropped_until_) {
    const uint64_t dropped = std::min(count, dropped_until_ - offset);
    offset += dropped;
    count -= dropped;
  }
  if (count == 0) return;
  const std::string message = name_ + ": " + std::to_string(count) + " bytes at " + At(offset) +
                              " are not part of any block (a damaged sync marker or block, or "
                              "bytes that do not belong in a block file)";
  if (!skip_corrupt_) throw Error(ErrorCode::kIO, message);
  skipped_bytes_ += count;
  last_skip_message_ = message;
}

// The source's own offset is ahead of the stream while a rescan replays bytes, so the reader
// keeps its own.
uint64_t BlockReader::Position() const { return read_offset_ - (end_ - begin_); }

size_t BlockReader::ReadMore(uint8_t* out, size_t size) {
  if (rescan_pos_ < rescan_.size()) {
    const size_t count = std::min(size, rescan_.size() - rescan_pos_);
    std::memcpy(out, rescan_.data() + rescan_pos_, count);
    rescan_pos_ += count;
    if (rescan_pos_ == rescan_.size()) {
      rescan_.clear();
      rescan_.shrink_to_fit();
      rescan_pos_ = 0;
    }
    return count;
  }
  if (source_ended_) return 0;
  size_t count = 0;
  try {
    count = source_->Read(out, size);
  } catch (const Error& error) {
    // The data ends here. Everything read before stays usable: the error is raised when the
    // reader needs bytes beyond it, so no record read before the damage is lost, whatever the
    // buffer sizes. Skip mode cannot resynchronise on a broken stream.
    source_failed_ = true;
    source_ended_ = true;
    source_error_ = std::make_unique<Error>(error);
    return 0;
  }
  if (count == 0) source_ended_ = true;
  return count;
}

size_t BlockReader::Fill(size_t want) {
  if (end_ - begin_ >= want) return end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  while (end_ < want) {
    const size_t count = ReadMore(buffer_.data() + end_, buffer_.size() - end_);
    if (count == 0) break;
    end_ += count;
    read_offset_ += count;
  }
  return end_ - begin_;
}

bool BlockReader::FindMarker() {
  const uint64_t start_offset = Position();
  uint64_t skipped = 0;  // bytes before the marker: not part of any block
  while (true) {
    if (Fill(kMarkerSize) < kMarkerSize) {
      skipped += end_ - begin_;  // trailing bytes without a marker: the end of the data
      begin_ = end_;
      if (source_error_ != nullptr) throw *source_error_;
      // A file without any block is reported as such by Next().
      if (blocks_found_ > 0) NoteSkippedBytes(start_offset, skipped);
      return false;
    }
    const uint8_t* start = buffer_.data() + begin_;
    const auto* found = static_cast<const uint8_t*>(
        memmem(start, end_ - begin_, kBlockMarker, kMarkerSize));
    if (found != nullptr) {
      skipped += static_cast<uint64_t>(found - start);
      NoteSkippedBytes(start_offset, skipped);
      begin_ += static_cast<size_t>(found - start);
      block_offset_ = Position();
      begin_ += kMarkerSize;
      ++blocks_found_;
      return true;
    }
    // Keep the last bytes: they may be the start of a marker that the next read completes.
    skipped += (end_ - begin_) - (kMarkerSize - 1);
    begin_ = end_ - (kMarkerSize - 1);
  }
}

bool BlockReader::ReadBlock() {
  records_.clear();
  next_record_ = 0;
  while (true) {
    if (!FindMarker()) return false;
    payload_.clear();
    parsed_ = false;
    block_class_name_ = {};
    try {
      if (Fill(kLengthSize) < kLengthSize) FailTruncated("the data ends inside its length field");
      uint32_t length_bits = 0;
      for (size_t i = 0; i < kLengthSize; ++i) {
        length_bits |= static_cast<uint32_t>(buffer_[begin_ + i]) << (8 * i);
      }
      begin_ += kLengthSize;
      length_bits_ = length_bits;
      const auto length = static_cast<int32_t>(length_bits);
      if (length <= 0) continue;  // the original skips such blocks

      // Read the payload as it arrives, so that a length larger than the data costs no more
      // memory than the data that is there.
      const auto size = static_cast<size_t>(length);
      while (payload_.size() < size) {
        if (begin_ == end_ && Fill(1) == 0) {
          FailTruncated("its length field declares " + std::to_string(size) +
                        " bytes, but the data ends after " + std::to_string(payload_.size()));
        }
        const size_t take = std::min(end_ - begin_, size - payload_.size());
        payload_.append(reinterpret_cast<const char*>(buffer_.data() + begin_), take);
        begin_ += take;
      }
      ParsePayload();
    } catch (const Error& error) {
      // A damaged block: its complete records before the damage (those that parse from its
      // bytes) are delivered first, the error after them.
      if (!parsed_ && !payload_.empty()) {
        const std::string class_name = class_name_;  // only a good block names the class
        try {
          ParsePayload();
        } catch (const Error&) {
        }
        class_name_ = class_name;
      }
      // The record the damage starts in can still parse as a record field (its length intact,
      // its bytes not): in a block of DataRecords, the salvage stops at the first record that
      // does not decode.
      if (block_class_name_ == kDataRecordClassName) {
        size_t valid = 0;
        while (valid < records_.size() && DataRecordError(records_[valid]).empty()) ++valid;
        records_.resize(valid);
      }
      if (records_.empty()) throw;
      deferred_error_ = std::make_unique<Error>(error);
      salvaged_end_ = static_cast<size_t>(records_.back().data() + records_.back().size() - payload_.data());
    }
    if (skip_corrupt_) DropInvalidRecords();
    return true;
  }
}

std::string BlockReader::DataRecordError(std::string_view record) {
  try {
    ThriftReader reader(reinterpret_cast<const uint8_t*>(record.data()), record.size());
    CheckDataRecord(&reader);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

void BlockReader::DropInvalidRecords() {
  if (block_class_name_ != kDataRecordClassName) return;
  const uint64_t payload_offset = block_offset_ + kMarkerSize + kLengthSize;
  size_t kept = 0;
  for (size_t i = 0; i < records_.size(); ++i) {
    const std::string_view record = records_[i];
    const std::string error = DataRecordError(record);
    if (error.empty()) {
      records_[kept++] = record;
      continue;
    }
    ++skipped_records_;
    const uint64_t offset = payload_offset + static_cast<uint64_t>(record.data() - payload_.data());
    last_skip_message_ = name_ + ": record " + std::to_string(i + 1) + " of the block at " +
                         At(block_offset_) + " (its bytes at " + At(offset) +
                         ") is not a valid DataRecord: " + error;
  }
  records_.resize(kept);
}

void BlockReader::ParsePayload() {
  parsed_ = true;
  const auto* data = reinterpret_cast<const uint8_t*>(payload_.data());
  const size_t size = payload_.size();
  // Offsets in messages are stream offsets; the payload starts after marker and length.
  const uint64_t payload_offset = block_offset_ + kMarkerSize + kLengthSize;
  size_t pos = 0;
  auto at = [&](size_t payload_pos) { return At(payload_offset + payload_pos); };

  // Field names are made only for messages: `record` is the 1-based record number, or 0.
  auto field_name = [](const char* field, size_t record) {
    return record == 0 ? std::string(field) : "record " + std::to_string(record);
  };
  auto read_tag = [&](uint8_t tag, uint8_t wire_type, const char* field, size_t record) {
    if (pos == size) Fail("corrupt", "the block ends before its " + field_name(field, record));
    const uint8_t byte = data[pos];
    if ((byte >> 3) != tag && (byte & 7) != wire_type) {
      Fail("corrupt", "expected the " + field_name(field, record) + " (tag " +
                          std::to_string(tag) + ") at " + at(pos) + ", found " + Hex8(byte));
    }
    ++pos;
  };
  auto read_varint = [&](const char* field, size_t record) {
    const size_t start = pos;
    uint64_t value = 0;
    for (size_t i = 0; i < kMaxVarintSize; ++i) {
      if (pos == size) {
        Fail("corrupt", "the varint of the " + field_name(field, record) + " at " + at(start) +
                            " runs past the end of the block");
      }
      const uint8_t byte = data[pos++];
      value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) return value;
    }
    Fail("corrupt", "the varint of the " + field_name(field, record) + " at " + at(start) +
                        " is longer than 10 bytes");
  };
  auto read_bytes = [&](const char* field, size_t record) {
    const size_t start = pos;
    const uint64_t length = read_varint(field, record);
    if (length > size - pos) {
      Fail("corrupt", "the " + field_name(field, record) + " at " + at(start) + " declares " +
                          std::to_string(length) + " bytes, but only " +
                          std::to_string(size - pos) + " are left in the block");
    }
    const std::string_view bytes(payload_.data() + pos, static_cast<size_t>(length));
    pos += static_cast<size_t>(length);
    return bytes;
  };

  read_tag(kVersionTag, kWireVarint, "version field", 0);
  const uint64_t version = read_varint("version field", 0);
  if (version != kBlockVersion) {
    Fail("corrupt", "unsupported version " + std::to_string(version) + " (expected 1)");
  }
  read_tag(kClassNameTag, kWireLengthDelimited, "class name", 0);
  const size_t name_start = pos;
  const std::string_view class_name = read_bytes("class name", 0);
  if (class_name.size() > kMaxClassNameSize) {
    Fail("corrupt", "the class name at " + at(name_start) + " has " +
                        std::to_string(class_name.size()) + " bytes, more than the limit of " +
                        std::to_string(kMaxClassNameSize));
  }
  block_class_name_ = class_name;
  for (size_t record = 1; pos < size; ++record) {
    read_tag(kRecordTag, kWireLengthDelimited, "record", record);
    records_.push_back(read_bytes("record", record));
  }
  // Only a good block names the class: a block dropped in skip mode must not change it.
  class_name_.assign(class_name.data(), class_name.size());
}

std::unique_ptr<BlockReader> OpenBlockFile(const std::string& path,
                                           std::string_view compression_type,
                                           size_t buffer_size) {
  const Compression compression = ResolveCompression(compression_type, path, [&] {
    FileByteSource head_source(path);
    std::string head(16, '\0');
    head.resize(ReadFully(&head_source, reinterpret_cast<uint8_t*>(head.data()), head.size()));
    return head;
  });
  return std::make_unique<BlockReader>(
      Decompress(std::make_unique<FileByteSource>(path), compression, buffer_size), path,
      buffer_size);
}

// ---------------------------------------------------------------------------------------------
// BlockWriter

BlockWriter::BlockWriter(std::string path, int records_per_block)
    : path_(std::move(path)), side_path_(path_ + ".block"), records_per_block_(records_per_block) {
  if (records_per_block <= 0) {
    throw Error(ErrorCode::kSize,
                "records_per_block must be positive, not " + std::to_string(records_per_block));
  }
  output_ = std::fopen(path_.c_str(), "ab");
  if (output_ == nullptr) throw Error(ErrorCode::kIO, SystemError("cannot open", path_));
}

BlockWriter::~BlockWriter() { std::fclose(output_); }

void BlockWriter::Write(std::string_view class_name, std::string_view record) {
  if (record.size() > INT32_MAX) {
    throw Error(ErrorCode::kSize, "a record of " + std::to_string(record.size()) +
                                      " bytes does not fit a block");
  }
  const std::string header = BlockHeader(class_name);  // validates before anything is written
  FILE* side = std::fopen(side_path_.c_str(), "ab");
  if (side == nullptr) throw Error(ErrorCode::kIO, SystemError("cannot open", side_path_));
  struct stat info;
  if (fstat(fileno(side), &info) != 0) {
    const std::string message = SystemError("cannot stat", side_path_);
    std::fclose(side);
    throw Error(ErrorCode::kIO, message);
  }
  // A new side file starts the block with its header fields.
  std::string bytes = info.st_size == 0 ? header : std::string();
  AppendBytesField(kRecordTag, record, &bytes);
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), side) == bytes.size();
  if (!written || std::fclose(side) != 0) {
    throw Error(ErrorCode::kIO, SystemError("cannot write", side_path_));
  }
  if (++records_in_block_ % records_per_block_ == 0) Flush();
}

void BlockWriter::Flush() {
  FILE* side = std::fopen(side_path_.c_str(), "rb");
  if (side == nullptr) {
    if (errno == ENOENT) return;  // nothing written since the last block
    throw Error(ErrorCode::kIO, SystemError("cannot open", side_path_));
  }
  std::unique_ptr<FILE, int (*)(FILE*)> closer(side, &std::fclose);
  struct stat info;
  if (fstat(fileno(side), &info) != 0) {
    throw Error(ErrorCode::kIO, SystemError("cannot stat", side_path_));
  }
  const auto size = static_cast<size_t>(info.st_size);
  if (size > 0) {
    std::string head;
    AppendMarkerAndLength(size, &head);
    if (std::fwrite(head.data(), 1, head.size(), output_) != head.size()) {
      throw Error(ErrorCode::kIO, SystemError("cannot write", path_));
    }
    char chunk[64 << 10];
    size_t copied = 0;
    while (copied < size) {
      const size_t count = std::fread(chunk, 1, std::min(sizeof(chunk), size - copied), side);
      if (count == 0) {
        throw Error(ErrorCode::kIO, "cannot read '" + side_path_ + "': it has " +
                                        std::to_string(copied) + " bytes, " +
                                        std::to_string(size) + " expected");
      }
      if (std::fwrite(chunk, 1, count, output_) != count) {
        throw Error(ErrorCode::kIO, SystemError("cannot write", path_));
      }
      copied += count;
    }
    if (std::fflush(output_) != 0) throw Error(ErrorCode::kIO, SystemError("cannot write", path_));
  }
  closer.reset();
  if (std::remove(side_path_.c_str()) != 0) {
    throw Error(ErrorCode::kIO, SystemError("cannot remove", side_path_));
  }
  records_in_block_ = 0;
}

}  // namespace twml
