// The block format of twml's record files (reference §4), derived from elephant-bird's
// BinaryBlockWriter/Reader.
//
// A file is a sequence of blocks, each
//   16-byte sync marker | int32 little-endian length L | L bytes of a protobuf SerializedBlock:
//   field 1 (varint) version = 1, field 2 (bytes) proto_class_name, repeated field 3 (bytes) the
//   records, normally Thrift-serialized DataRecords.
// Files may be gzip- or lzop-compressed as a whole (compression.h).
#ifndef TWML_BLOCK_FORMAT_H_
#define TWML_BLOCK_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "twml/byte_source.h"
#include "twml/error.h"

namespace twml {

inline constexpr uint8_t kBlockMarker[16] = {0x29, 0xd8, 0xd5, 0x06, 0x58, 0xcd, 0x4c, 0x29,
                                             0xb2, 0xbc, 0x57, 0x99, 0x21, 0x71, 0xbd, 0xff};
// The original reader keeps the class name in a 1024-byte C string.
constexpr size_t kMaxClassNameSize = 1023;

// One block: marker, length, payload, byte for byte as the original writer makes it (tags as
// single bytes, LEB128 varints). Throws twml::Error(kSize) for a class name longer than
// kMaxClassNameSize or a payload that does not fit the int32 length.
std::string EncodeBlock(std::string_view class_name, const std::vector<std::string_view>& records);

// The proto_class_name of blocks of DataRecords.
inline constexpr std::string_view kDataRecordClassName = "com.twitter.ml.api.DataRecord";

// Reads the records of a block file in file order, as the original BlockFormatReader does: it
// scans for the next sync marker, skips blocks whose length is <= 0, and parses the payload:
// tag 1 (version, must be 1), tag 2 (class name, at most 1023 bytes), then tag-3 records until
// the length is used up. Tags are single bytes and, as in the original, a tag byte is refused
// only if both its field number and its wire type are wrong. Varints have at most 10 bytes.
//
// Damage is never silent, and never costs a record that is intact:
//   - A damaged block (truncated, a length that runs past the data, a field that overruns the
//     block, a bad tag) first yields its complete records before the damage (in a block of
//     DataRecords, up to the first that does not decode: the damage may start inside a record
//     whose length field is intact), then throws twml::Error(kIO) naming the reader, the block's
//     byte offset and the problem.
//   - Bytes that belong to no block (between or after blocks, e.g. a block whose sync marker has
//     a flipped bit) are an error naming their offset and count. The original skipped them
//     silently; valid files have none.
//   - A non-empty stream without any sync marker (not a block file) is an error.
//   - An error of the source (a corrupt gzip or lzop stream) is raised only when the reader
//     needs bytes beyond it, so every record decompressed before the corruption is delivered,
//     whatever the buffer sizes.
// Once it has thrown, the reader throws the same error again. Memory is bounded by the data
// actually present: a declared length is never allocated before the bytes arrive.
//
// Skip mode (set_skip_corrupt(true), off by default) is for salvaging damaged files: instead of
// throwing, a damaged block is dropped after its intact records (counted in skipped_blocks()),
// bytes outside blocks are counted (skipped_bytes()), and records of DataRecord blocks that do
// not decode (every check of the decoders) are dropped and counted (skipped_records()). After a
// damaged block the reader resynchronises by scanning for the next sync marker from the byte
// after the bad block's marker, or after its last intact record (not after its declared length,
// which may be the corrupt part), so blocks that a bad length field swallowed are still found. An error of the source itself
// cannot be resynchronised, since nothing after it can be decoded: it ends the data, counted as
// one skipped block. A stream without any block is still an error. last_skip_message() is the
// error the last skip would have thrown, naming the file, block, record and byte offset. The
// rescan re-reads the bytes of a bad block, so a pathological file of many markers with huge
// lengths costs time quadratic in its size (memory stays bounded by the data present).
class BlockReader {
 public:
  static constexpr size_t kDefaultBufferSize = 64 << 10;

  // `name` names the reader in error messages (normally the file's path). `buffer_size` is the
  // size of the reads from `source` (at least 64).
  BlockReader(std::unique_ptr<ByteSource> source, std::string name,
              size_t buffer_size = kDefaultBufferSize);

  // The next record into `record`; false at the end of the data.
  bool Next(std::string* record);
  // The same, as a view that stays valid until the next call.
  bool Next(std::string_view* record);

  const std::string& name() const { return name_; }
  // Offset of the sync marker of the block the last record came from (in the decompressed
  // stream for compressed files).
  uint64_t block_offset() const { return block_offset_; }
  // That block's proto_class_name.
  const std::string& class_name() const { return class_name_; }
  // Records returned so far.
  uint64_t records_read() const { return records_read_; }

  // Skip mode (see above); set it before the first Next().
  void set_skip_corrupt(bool skip) { skip_corrupt_ = skip; }
  bool skip_corrupt() const { return skip_corrupt_; }
  // Skip mode: damaged blocks dropped so far (after their intact records), records of
  // DataRecord blocks dropped because they do not decode, and bytes outside any block.
  uint64_t skipped_blocks() const { return skipped_blocks_; }
  uint64_t skipped_records() const { return skipped_records_; }
  uint64_t skipped_bytes() const { return skipped_bytes_; }
  // The error message of the last dropped block; empty when none was dropped.
  const std::string& last_skip_message() const { return last_skip_message_; }

 private:
  bool NextInBlock(std::string_view* record);
  // Reads and parses the next block with a positive length; false at the end of the data.
  bool ReadBlock();
  bool FindMarker();
  // Makes at least `want` (<= the buffer size) bytes available, unless the data ends first;
  // returns how many are available.
  size_t Fill(size_t want);
  // Reads from the bytes queued for a rescan, then from the source; 0 only at the end.
  size_t ReadMore(uint8_t* out, size_t size);
  // Stream offset of the next unconsumed byte.
  uint64_t Position() const;
  void ParsePayload();
  // Skip mode: drops (and counts) the records of a DataRecord block that do not decode.
  void DropInvalidRecords();
  // Why `record` does not decode as a DataRecord, or "" when it does.
  static std::string DataRecordError(std::string_view record);
  // Throws the source's error if it ended the data, else a "truncated" error.
  [[noreturn]] void FailTruncated(const std::string& what) const;
  // `count` bytes from `offset` belong to no block: an error, or counted in skip mode.
  void NoteSkippedBytes(uint64_t offset, uint64_t count);
  // Skip mode: counts the failed block and queues its bytes after its marker for a rescan.
  void SkipBlock(const Error& error);
  [[noreturn]] void Fail(const std::string& kind, const std::string& what) const;
  std::string At(uint64_t offset) const;

  std::unique_ptr<ByteSource> source_;
  std::string name_;
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0;  // buffer_[begin_, end_) is read but not consumed
  size_t end_ = 0;
  bool source_ended_ = false;
  bool source_failed_ = false;  // the source threw: nothing after it can be read
  uint64_t read_offset_ = 0;  // stream offset of buffer_[end_]
  // Skip mode: bytes of a dropped block that are read again before the source, from rescan_pos_.
  std::string rescan_;
  size_t rescan_pos_ = 0;
  uint64_t dropped_until_ = 0;  // stream offset of the end of the last dropped block's bytes

  uint64_t block_offset_ = 0;
  std::string class_name_;
  uint32_t length_bits_ = 0;  // the current block's length field
  std::string payload_;  // the current block's payload
  bool parsed_ = false;  // ParsePayload ran on payload_
  std::string_view block_class_name_;  // view into payload_, once parsed
  std::vector<std::string_view> records_;  // views into payload_
  size_t next_record_ = 0;
  uint64_t records_read_ = 0;
  uint64_t blocks_found_ = 0;  // sync markers found
  std::unique_ptr<Error> error_;  // the error thrown, thrown again by every later call
  std::unique_ptr<Error> deferred_error_;  // the current block's damage, after its records
  size_t salvaged_end_ = 0;  // with a deferred error: the payload offset after its last record
  std::unique_ptr<Error> source_error_;  // the source's error, which ended the data

  bool skip_corrupt_ = false;
  bool ended_ = false;  // skip mode: the source failed, the data ends
  uint64_t skipped_blocks_ = 0;
  uint64_t skipped_records_ = 0;
  uint64_t skipped_bytes_ = 0;
  std::string last_skip_message_;
};

// A reader of the file `path` with the compression that `compression_type` gives for it
// (ResolveCompression). Throws twml::Error: kIO when the file cannot be opened (naming it and
// the reason), kType for a bad compression_type.
std::unique_ptr<BlockReader> OpenBlockFile(const std::string& path,
                                           std::string_view compression_type = "auto",
                                           size_t buffer_size = BlockReader::kDefaultBufferSize);

// Writes block files with the original BlockFormatWriter's semantics (reference §4): records
// are appended to the side file `<path>.block` (which starts with the version and class-name
// fields of the block), and every `records_per_block` records, or on Flush(), the side file
// becomes one block appended to `path` and is deleted. The destructor does not flush: records
// written since the last block stay in the side file, and the next writer of the same path
// continues that block. I/O failures throw twml::Error(kIO) naming the file.
class BlockWriter {
 public:
  // Opens (creates) `path` for appending. records_per_block must be positive.
  explicit BlockWriter(std::string path, int records_per_block = 100);
  ~BlockWriter();
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  // Adds a record; `class_name` goes into the block's header when it starts the side file.
  void Write(std::string_view class_name, std::string_view record);
  // Appends the side file's records, if any, to the file as one block.
  void Flush();

  const std::string& path() const { return path_; }
  const std::string& side_path() const { return side_path_; }

 private:
  std::string path_;
  std::string side_path_;
  int records_per_block_;
  int64_t records_in_block_ = 0;  // written by this writer since its last block
  FILE* output_ = nullptr;
};

}  // namespace twml

#endif  // TWML_BLOCK_FORMAT_H_
