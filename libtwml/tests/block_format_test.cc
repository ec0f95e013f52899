#include "twml/block_format.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "twml/byte_source.h"
#include "twml/compression.h"
#include "twml/error.h"
#include "twml/gzip.h"
#include "twml/lzop.h"

namespace twml {
namespace {

const std::string kMarker(reinterpret_cast<const char*>(kBlockMarker), sizeof(kBlockMarker));
const char kClass[] = "com.twitter.ml.api.DataRecord";
// Blocks of test records that are not DataRecords (skip mode checks DataRecord blocks' records).
const char kBytesClass[] = "test.Bytes";

std::string Le32(uint32_t value) {
  std::string out;
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(value >> shift));
  return out;
}

std::string Be32(uint32_t value) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
  return out;
}

// A block made by hand, for payloads the encoder refuses to make.
std::string RawBlock(const std::string& payload) {
  return kMarker + Le32(static_cast<uint32_t>(payload.size())) + payload;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

std::unique_ptr<BlockReader> MemoryReader(const std::string& data, size_t max_read = SIZE_MAX,
                                          size_t buffer_size = BlockReader::kDefaultBufferSize) {
  return std::make_unique<BlockReader>(std::make_unique<MemoryByteSource>(data, "mem", max_read),
                                       "test.rec", buffer_size);
}

std::vector<std::string> ReadAll(BlockReader* reader) {
  std::vector<std::string> records;
  std::string record;
  while (reader->Next(&record)) records.push_back(record);
  return records;
}

std::vector<std::string> ReadAll(const std::string& data, size_t max_read = SIZE_MAX,
                                 size_t buffer_size = BlockReader::kDefaultBufferSize) {
  return ReadAll(MemoryReader(data, max_read, buffer_size).get());
}

// The message of the twml::Error that `fn` throws; fails the test if it throws none or another
// code than `code`.
std::string ErrorOf(const std::function<void()>& fn, ErrorCode code = ErrorCode::kIO) {
  try {
    fn();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no twml::Error thrown";
  return "";
}

std::string ReadError(const std::string& data) {
  return ErrorOf([&] { ReadAll(data); });
}

std::string Decompressed(std::unique_ptr<ByteSource> source) {
  std::string out;
  uint8_t chunk[1000];
  while (size_t count = source->Read(chunk, sizeof(chunk))) {
    out.append(reinterpret_cast<const char*>(chunk), count);
  }
  return out;
}

std::string Gunzip(const std::string& data, size_t max_read = SIZE_MAX) {
  return Decompressed(std::make_unique<GzipByteSource>(
      std::make_unique<MemoryByteSource>(data, "x.gz", max_read), 4096));
}

std::string Unlzop(const std::string& data, size_t max_read = SIZE_MAX) {
  return Decompressed(
      std::make_unique<LzopByteSource>(std::make_unique<MemoryByteSource>(data, "x.lzo", max_read)));
}

// Pseudo-random bytes that LZO cannot compress, and text that it can.
std::string Noise(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  for (char& c : out) {
    seed = seed * 1664525 + 1013904223;
    c = static_cast<char>(seed >> 24);
  }
  return out;
}

std::string Text(size_t size) {
  std::string out;
  for (int i = 0; out.size() < size; ++i) out += "record " + std::to_string(i % 97) + "; ";
  out.resize(size);
  return out;
}

// --- Encoding: reference §4 ---------------------------------------------------------------------

// The published writer with records_per_block=2 and records 0b 00, XYZ, Q.
std::string ReferenceFile() {
  const std::string header = std::string("\x08\x01\x12\x1d", 4) + kClass;
  return kMarker + Le32(42) + header + std::string("\x1a\x02\x0b\x00", 4) + "\x1a\x03XYZ" +
         kMarker + Le32(36) + header + "\x1a\x01Q";
}

TEST(EncodeBlockTest, MatchesTheReferenceExampleByteForByte) {
  const std::string expected = ReferenceFile();
  ASSERT_EQ(expected.size(), 2 * 20 + 42 + 36u);
  EXPECT_EQ(EncodeBlock(kClass, {std::string("\x0b\x00", 2), "XYZ"}) + EncodeBlock(kClass, {"Q"}),
            expected);
}

TEST(EncodeBlockTest, UsesMultiByteVarintsForLongRecords) {
  const std::string record(300, 'r');
  const std::string block = EncodeBlock("c", {record});
  // 300 = 0xac 0x02 as a varint.
  EXPECT_EQ(block, RawBlock(std::string("\x08\x01\x12\x01" "c\x1a\xac\x02", 8) + record));
}

TEST(EncodeBlockTest, RejectsClassNamesTheReaderCannotRead) {
  EXPECT_NO_THROW(EncodeBlock(std::string(1023, 'c'), {}));
  EXPECT_EQ(ErrorOf([] { EncodeBlock(std::string(1024, 'c'), {}); }, ErrorCode::kSize),
            "class name of 1024 bytes exceeds the block format's limit of 1023");
}

TEST(BlockWriterTest, WritesTheReferenceExample) {
  const std::string path = TempPath("reference.rec");
  std::remove(path.c_str());
  {
    BlockWriter writer(path, 2);
    writer.Write(kClass, std::string("\x0b\x00", 2));
    writer.Write(kClass, "XYZ");
    writer.Write(kClass, "Q");
    writer.Flush();
  }
  EXPECT_EQ(ReadFile(path), ReferenceFile());
  EXPECT_FALSE(Exists(path + ".block"));
}

TEST(BlockWriterTest, BuffersInTheSideFileAndDoesNotFlushOnDestruction) {
  const std::string path = TempPath("side.rec");
  std::remove(path.c_str());
  std::remove((path + ".block").c_str());
  {
    BlockWriter writer(path, 3);
    EXPECT_EQ(writer.side_path(), path + ".block");
    writer.Write(kClass, "a");
    writer.Write(kClass, "b");
    // The records are in the side file, a block payload without marker and length.
    EXPECT_EQ(ReadFile(path + ".block"),
              EncodeBlock(kClass, {"a", "b"}).substr(20));
    EXPECT_EQ(ReadFile(path), "");
  }
  // Destruction wrote no block and kept the records.
  EXPECT_EQ(ReadFile(path), "");
  EXPECT_TRUE(Exists(path + ".block"));
  {
    // A new writer continues the block (its header is not repeated) and appends to the file.
    BlockWriter writer(path, 3);
    writer.Write(kClass, "c");  // the first record of this writer: no block yet
    EXPECT_EQ(ReadFile(path), "");
    writer.Flush();
    writer.Flush();  // nothing left: no empty block
  }
  EXPECT_EQ(ReadFile(path), EncodeBlock(kClass, {"a", "b", "c"}));
  EXPECT_FALSE(Exists(path + ".block"));
  {
    BlockWriter writer(path, 2);
    writer.Write("other.Class", "d");
    writer.Write("other.Class", "e");  // a full block: flushed
    EXPECT_FALSE(Exists(path + ".block"));
  }
  EXPECT_EQ(ReadFile(path),
            EncodeBlock(kClass, {"a", "b", "c"}) + EncodeBlock("other.Class", {"d", "e"}));
}

TEST(BlockWriterTest, AppendsToAnExistingFile) {
  const std::string path = TempPath("append.rec");
  WriteFile(path, "existing bytes");
  {
    BlockWriter writer(path, 100);
    writer.Write(kBytesClass, "x");
    writer.Flush();
  }
  EXPECT_EQ(ReadFile(path), "existing bytes" + EncodeBlock(kBytesClass, {"x"}));
  // The leading bytes are not a block: an error, or skipped and counted in skip mode.
  EXPECT_EQ(ErrorOf([&] { ReadAll(OpenBlockFile(path, "").get()); }),
            path + ": 14 bytes at byte 0 are not part of any block (a damaged sync marker or "
                   "block, or bytes that do not belong in a block file)");
  auto reader = OpenBlockFile(path, "");
  reader->set_skip_corrupt(true);
  EXPECT_EQ(ReadAll(reader.get()), std::vector<std::string>{"x"});
  EXPECT_EQ(reader->skipped_bytes(), 14u);
}

TEST(BlockWriterTest, ReportsBadArguments) {
  EXPECT_EQ(ErrorOf([] { BlockWriter(TempPath("zero.rec"), 0); }, ErrorCode::kSize),
            "records_per_block must be positive, not 0");
  EXPECT_EQ(ErrorOf([] { BlockWriter("/nonexistent-dir/x.rec", 1); }),
            "cannot open '/nonexistent-dir/x.rec': No such file or directory");
}

// --- Reading ------------------------------------------------------------------------------------

TEST(BlockReaderTest, ReadsTheReferenceExample) {
  auto reader = MemoryReader(ReferenceFile());
  std::string record;
  ASSERT_TRUE(reader->Next(&record));
  EXPECT_EQ(record, std::string("\x0b\x00", 2));
  EXPECT_EQ(reader->block_offset(), 0u);
  EXPECT_EQ(reader->class_name(), kClass);
  ASSERT_TRUE(reader->Next(&record));
  EXPECT_EQ(record, "XYZ");
  ASSERT_TRUE(reader->Next(&record));
  EXPECT_EQ(record, "Q");
  EXPECT_EQ(reader->block_offset(), 62u);
  EXPECT_FALSE(reader->Next(&record));
  EXPECT_FALSE(reader->Next(&record));
  EXPECT_EQ(reader->records_read(), 3u);
}

TEST(BlockReaderTest, RoundTripsManyBlocksWithAnyReadSize) {
  std::string data;
  std::vector<std::string> expected;
  for (int block = 0; block < 20; ++block) {
    std::vector<std::string> records;
    for (int i = 0; i < block % 7; ++i) {
      records.push_back(block == 3 && i == 1 ? std::string() : Text(1 + block * 37 + i));
    }
    data += EncodeBlock(kClass, {records.begin(), records.end()});
    expected.insert(expected.end(), records.begin(), records.end());
  }
  EXPECT_EQ(ReadAll(data), expected);
  for (size_t max_read : {1, 2, 5, 17, 100}) {
    for (size_t buffer : {64, 100, 4096}) {
      EXPECT_EQ(ReadAll(data, max_read, buffer), expected) << max_read << " " << buffer;
    }
  }
}

TEST(BlockReaderTest, JunkOutsideBlocksIsAnErrorOrSkippedAndCounted) {
  // Junk that contains prefixes of the marker, so that a naive scan would lose sync.
  const std::string junk = kMarker.substr(0, 7) + "junk" + kMarker.substr(0, 15) + "\x29";
  const std::string a = EncodeBlock(kBytesClass, {"a"});
  const std::string data = a + junk + junk + EncodeBlock(kBytesClass, {"b", "c"}) + junk +
                           kMarker.substr(0, 15);
  // Without skip mode: the records before the junk, then an error naming its offset and size.
  auto reader = MemoryReader(data, 3, 64);
  std::string record;
  ASSERT_TRUE(reader->Next(&record));
  EXPECT_EQ(record, "a");
  EXPECT_EQ(ErrorOf([&] { reader->Next(&record); }),
            "test.rec: " + std::to_string(2 * junk.size()) + " bytes at byte " +
                std::to_string(a.size()) +
                " are not part of any block (a damaged sync marker or block, or bytes that do "
                "not belong in a block file)");
  // In skip mode every record, and every junk byte counted, whatever the read sizes.
  for (const size_t max_read : {size_t{3}, SIZE_MAX}) {
    auto skipping = MemoryReader(junk + data, max_read, 64);
    skipping->set_skip_corrupt(true);
    EXPECT_EQ(ReadAll(skipping.get()), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(skipping->skipped_bytes(), 4 * junk.size() + 15);
    EXPECT_EQ(skipping->skipped_blocks(), 0u);
  }
}

TEST(BlockReaderTest, AFlippedBitInASyncMarkerIsNotSilent) {
  std::string b = EncodeBlock(kBytesClass, {"b1", "b2"});
  b[3] ^= 0x10;
  const std::string data = EncodeBlock(kBytesClass, {"a"}) + b + EncodeBlock(kBytesClass, {"c"});
  EXPECT_NE(ReadError(data).find(std::to_string(b.size()) + " bytes at byte "), std::string::npos);
  auto reader = MemoryReader(data);
  reader->set_skip_corrupt(true);
  EXPECT_EQ(ReadAll(reader.get()), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(reader->skipped_bytes(), b.size());
}

TEST(BlockReaderTest, SkipsBlocksWithLengthZeroOrNegative) {
  const std::string data = kMarker + Le32(0) + EncodeBlock(kClass, {"a"}) + kMarker +
                           Le32(0xffffffff) + EncodeBlock(kClass, {"b"}) + kMarker +
                           Le32(0x80000000);
  EXPECT_EQ(ReadAll(data), (std::vector<std::string>{"a", "b"}));
}

TEST(BlockReaderTest, EmptyInputsHaveNoRecords) {
  EXPECT_TRUE(ReadAll("").empty());
  EXPECT_TRUE(ReadAll(EncodeBlock(kClass, {})).empty());
}

TEST(BlockReaderTest, DataWithoutAnyBlockIsAnErrorEvenInSkipMode) {
  const std::string message = "test.rec: no block in its 14 bytes: not a block file (no sync marker)";
  EXPECT_EQ(ReadError("no marker here"), message);
  auto reader = MemoryReader("no marker here");
  reader->set_skip_corrupt(true);
  EXPECT_EQ(ErrorOf([&] { ReadAll(reader.get()); }), message);
}

TEST(BlockReaderTest, TagChecksAreAsLenientAsTheOriginal) {
  // 0x0a is tag 1 with wire type 2 and 0x10 is tag 2 with wire type 0: the original accepts a
  // tag byte when either half matches.
  const std::string payload = std::string("\x0a\x01\x10\x01" "c\x1a\x01x", 8);
  EXPECT_EQ(ReadAll(RawBlock(payload)), std::vector<std::string>{"x"});
}

TEST(BlockReaderTest, TruncatedBlockNamesTheOffset) {
  const std::string good = EncodeBlock(kClass, {"a"});
  const std::string block = EncodeBlock(kClass, {"hello", "world"});
  EXPECT_EQ(ReadError(good + block.substr(0, block.size() - 3)),
            "test.rec: truncated block at byte 56: its length field declares 47 bytes, but the "
            "data ends after 44");
  EXPECT_EQ(ReadError(good + kMarker + "\x05\x00"),
            "test.rec: truncated block at byte 56: the data ends inside its length field");
}

TEST(BlockReaderTest, LengthBeyondTheDataIsAnErrorWithoutAllocatingIt) {
  // 2 GiB - 1 declared, 10 bytes present.
  EXPECT_EQ(ReadError(kMarker + Le32(0x7fffffff) + std::string(10, 'x')),
            "test.rec: truncated block at byte 0: its length field declares 2147483647 bytes, "
            "but the data ends after 10");
}

TEST(BlockReaderTest, BadVersionIsAnError) {
  EXPECT_EQ(ReadError(RawBlock(std::string("\x08\x02\x12\x01" "c", 5))),
            "test.rec: corrupt block at byte 0: unsupported version 2 (expected 1)");
  EXPECT_EQ(ReadError(RawBlock(std::string("\x1a\x01", 2))),
            "test.rec: corrupt block at byte 0: expected the version field (tag 1) at byte 20, "
            "found 0x1a");
}

TEST(BlockReaderTest, OverlongClassNameIsAnError) {
  const std::string name(1024, 'n');
  EXPECT_EQ(ReadError(RawBlock(std::string("\x08\x01\x12\x80\x08", 5) + name)),
            "test.rec: corrupt block at byte 0: the class name at byte 23 has 1024 bytes, more "
            "than the limit of 1023");
}

TEST(BlockReaderTest, BadVarintsAreErrors) {
  const std::string header = std::string("\x08\x01\x12\x01" "c", 5);
  EXPECT_EQ(ReadError(RawBlock(header + "\x1a" + std::string(10, '\xff') + "\x01")),
            "test.rec: corrupt block at byte 0: the varint of the record 1 at byte 26 is longer "
            "than 10 bytes");
  EXPECT_EQ(ReadError(RawBlock(header + "\x1a\x80\x80")),
            "test.rec: corrupt block at byte 0: the varint of the record 1 at byte 26 runs past "
            "the end of the block");
  EXPECT_EQ(ReadError(RawBlock("\x08" + std::string(10, '\xff') + "\x01")),
            "test.rec: corrupt block at byte 0: the varint of the version field at byte 21 is "
            "longer than 10 bytes");
}

TEST(BlockReaderTest, FieldsThatOverrunTheBlockAreErrors) {
  const std::string header = std::string("\x08\x01\x12\x01" "c", 5);
  EXPECT_EQ(ReadError(RawBlock(header + "\x1a\x01x\x1a\x05xy")),
            "test.rec: corrupt block at byte 0: the record 2 at byte 29 declares 5 bytes, but "
            "only 2 are left in the block");
  EXPECT_EQ(ReadError(RawBlock(std::string("\x08\x01\x12\x09" "c", 5))),
            "test.rec: corrupt block at byte 0: the class name at byte 23 declares 9 bytes, but "
            "only 1 are left in the block");
  EXPECT_EQ(ReadError(RawBlock(std::string("\x08\x01", 2))),
            "test.rec: corrupt block at byte 0: the block ends before its class name");
  // A record's declared length may not reach into the next block.
  EXPECT_EQ(ReadError(RawBlock(header + "\x1a\x0f") + EncodeBlock(kClass, {"next"})),
            "test.rec: corrupt block at byte 0: the record 1 at byte 26 declares 15 bytes, but "
            "only 0 are left in the block");
}

TEST(BlockReaderTest, AnErrorComesAfterTheIntactRecordsOfItsBlockAndRepeats) {
  const std::string data = EncodeBlock(kClass, {"a"}) +
                           RawBlock(std::string("\x08\x01\x12\x01" "c\x1a\x01x\x1a\x09", 10));
  auto reader = MemoryReader(data);
  std::string record;
  ASSERT_TRUE(reader->Next(&record));
  EXPECT_EQ(record, "a");
  ASSERT_TRUE(reader->Next(&record));
  EXPECT_EQ(record, "x");  // record 1 of the damaged block is intact
  const std::string first = ErrorOf([&] { reader->Next(&record); });
  EXPECT_NE(first.find("record 2"), std::string::npos) << first;
  EXPECT_EQ(ErrorOf([&] { reader->Next(&record); }), first);
}

TEST(BlockReaderTest, SalvageOfADataRecordBlockStopsAtTheFirstRecordThatDoesNotDecode) {
  // Records: an empty DataRecord, then one holding the start of the damage, then junk.
  const std::string header = std::string("\x08\x01\x12\x1d", 4) + kClass;
  const std::string payload = header + std::string("\x1a\x01\x00", 3) + std::string("\x1a\x02\x0f\x00", 4) +
                              std::string("\x00junk", 5);
  auto reader = MemoryReader(RawBlock(payload));
  std::string record;
  ASSERT_TRUE(reader->Next(&record));
  EXPECT_EQ(record, std::string("\x00", 1));
  EXPECT_NE(ErrorOf([&] { reader->Next(&record); }).find("corrupt block at byte 0"), std::string::npos);
}

TEST(BlockReaderTest, ATruncatedLastRecordCostsOnlyThatRecord) {
  // Ten records in one block, the last one cut: the nine intact records, then the error.
  std::vector<std::string> records;
  for (int i = 0; i < 10; ++i) records.push_back("record " + std::to_string(i));
  const std::string data = EncodeBlock(kBytesClass, {records.begin(), records.end()});
  const std::string cut = data.substr(0, data.size() - 3);
  const std::vector<std::string> intact(records.begin(), records.begin() + 9);
  auto reader = MemoryReader(cut);
  std::string record;
  for (const std::string& expected : intact) {
    ASSERT_TRUE(reader->Next(&record));
    EXPECT_EQ(record, expected);
  }
  EXPECT_NE(ErrorOf([&] { reader->Next(&record); }).find("truncated block at byte 0"), std::string::npos);
  // The same through gzip, whatever the buffer sizes.
  const std::string path = TempPath("cut_last_record.gz");
  WriteFile(path, GzipCompress(cut));
  for (const size_t buffer : {size_t{64}, size_t{4096}, size_t{1} << 20}) {
    auto gz = OpenBlockFile(path, "auto", buffer);
    for (const std::string& expected : intact) {
      ASSERT_TRUE(gz->Next(&record));
      EXPECT_EQ(record, expected);
    }
    EXPECT_NE(ErrorOf([&] { gz->Next(&record); }).find("truncated block"), std::string::npos);
    auto skipping = OpenBlockFile(path, "auto", buffer);
    skipping->set_skip_corrupt(true);
    EXPECT_EQ(ReadAll(skipping.get()), intact);
    EXPECT_EQ(skipping->skipped_blocks(), 1u);
  }
}

TEST(BlockReaderTest, RecordsBeforeABadGzipTrailerDoNotDependOnBufferSizes) {
  std::vector<std::string> records;
  for (int i = 0; i < 1000; ++i) records.push_back(Noise(40, i));
  std::string data;
  for (int block = 0; block < 20; ++block) {
    data += EncodeBlock(kBytesClass, std::vector<std::string_view>(records.begin() + block * 50,
                                                                   records.begin() + block * 50 + 50));
  }
  std::string gz = GzipCompress(data);
  gz[gz.size() - 6] ^= 0x01;  // the trailer's CRC32
  const std::string path = TempPath("bad_crc.gz");
  WriteFile(path, gz);
  for (const size_t buffer : {size_t{64} << 10, size_t{256} << 10, size_t{1} << 20}) {
    auto reader = OpenBlockFile(path, "auto", buffer);
    reader->set_skip_corrupt(true);
    EXPECT_EQ(ReadAll(reader.get()), records) << buffer;
    EXPECT_EQ(reader->skipped_blocks(), 1u);
    EXPECT_NE(reader->last_skip_message().find("incorrect data check"), std::string::npos)
        << reader->last_skip_message();
  }
}

TEST(BlockReaderTest, CompressedDataIsFoundByItsMagicBytes) {
  const std::string data = EncodeBlock(kBytesClass, {"a", "b"});
  const std::string gz_path = TempPath("gzip_without_extension");
  WriteFile(gz_path, GzipCompress(data));
  EXPECT_EQ(ReadAll(OpenBlockFile(gz_path).get()), (std::vector<std::string>{"a", "b"}));
  const std::string lzo_path = TempPath("lzop_without_extension");
  WriteFile(lzo_path, LzopCompress(data));
  EXPECT_EQ(ReadAll(OpenBlockFile(lzo_path).get()), (std::vector<std::string>{"a", "b"}));
  // Asked for raw explicitly, it is read raw: not a block file.
  EXPECT_NE(ErrorOf([&] { ReadAll(OpenBlockFile(gz_path, "").get()); }).find("no block in its"),
            std::string::npos);
}

TEST(BlockReaderTest, MissingFileNamesThePath) {
  const std::string path = TempPath("does-not-exist.rec");
  EXPECT_EQ(ErrorOf([&] { OpenBlockFile(path, ""); }),
            "cannot open '" + path + "': No such file or directory");
}

// --- Compression --------------------------------------------------------------------------------

TEST(CompressionTest, ResolvesTypesAndExtensions) {
  EXPECT_EQ(ResolveCompression("", "a.gz"), Compression::kNone);
  EXPECT_EQ(ResolveCompression("gz", "a"), Compression::kGzip);
  EXPECT_EQ(ResolveCompression("lzo", "a.gz"), Compression::kLzo);
  EXPECT_EQ(ResolveCompression("auto", "dir/part-0.gz"), Compression::kGzip);
  EXPECT_EQ(ResolveCompression("auto", "dir/part-0.lzo"), Compression::kLzo);
  EXPECT_EQ(ResolveCompression("auto", "dir.v2/part-0"), Compression::kNone);
  EXPECT_EQ(ResolveCompression("auto", "part."), Compression::kNone);
  EXPECT_EQ(ErrorOf([] { ResolveCompression("auto", "d/x.txt"); }, ErrorCode::kType),
            "Unknown extension 'txt' of 'd/x.txt': compression_type \"auto\" reads .gz files as "
            "gzip, .lzo files as lzop and files without an extension as uncompressed; pass "
            "compression_type \"\" to read this file uncompressed");
  EXPECT_EQ(ErrorOf([] { ResolveCompression("GZIP", "x.gz"); }, ErrorCode::kType),
            "unknown compression_type 'GZIP': expected \"auto\" (by file extension), \"\" "
            "(none), \"gz\" (gzip) or \"lzo\" (lzop)");
  EXPECT_STREQ(CompressionName(Compression::kLzo), "lzo");
}

TEST(GzipTest, RoundTripsThroughFilesAndTheReader) {
  const std::string data = ReferenceFile() + EncodeBlock(kClass, {Text(100000), "z"});
  const std::string gz = GzipCompress(data);
  EXPECT_EQ(gz.substr(0, 3), "\x1f\x8b\x08");
  EXPECT_EQ(Gunzip(gz), data);
  EXPECT_EQ(Gunzip(gz, 1), data);
  const std::string path = TempPath("records.gz");
  WriteFile(path, gz);
  const std::vector<std::string> records = ReadAll(OpenBlockFile(path, "auto", 100).get());
  EXPECT_EQ(records, (std::vector<std::string>{std::string("\x0b\x00", 2), "XYZ", "Q",
                                               Text(100000), "z"}));
  EXPECT_EQ(ReadAll(OpenBlockFile(path, "gz").get()), records);
  EXPECT_TRUE(Gunzip("").empty());
}

TEST(GzipTest, ReadsConcatenatedMembers) {
  const std::string first = EncodeBlock(kClass, {"a", "b"});
  const std::string second = EncodeBlock(kClass, {"c"});
  const std::string gz = GzipCompress(first) + GzipCompress(second, 9) + GzipCompress("", 1);
  EXPECT_EQ(Gunzip(gz), first + second);
  EXPECT_EQ(Gunzip(gz, 3), first + second);
  const std::string path = TempPath("concatenated.gz");
  WriteFile(path, gz);
  EXPECT_EQ(ReadAll(OpenBlockFile(path).get()), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(GzipTest, CorruptDataIsAnErrorWithTheOffset) {
  const std::string data = Text(5000);
  std::string gz = GzipCompress(data);
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 1;  // the CRC32 in the trailer
  EXPECT_EQ(ErrorOf([&] { Gunzip(bad_crc); }),
            "x.gz: corrupt gzip data in member 1 (incorrect data check) at byte " +
                std::to_string(gz.size() - 4));
  EXPECT_EQ(ErrorOf([&] { Gunzip(gz.substr(0, gz.size() / 2)); }),
            "x.gz: truncated gzip data: the input ends inside member 1 at byte " +
                std::to_string(gz.size() / 2));
  EXPECT_EQ(ErrorOf([&] { Gunzip(gz + "trailing garbage"); }),
            "x.gz: corrupt gzip data in member 2 (incorrect header check) at byte " +
                std::to_string(gz.size() + 2));
  std::string bad_block = gz;
  bad_block[10] = static_cast<char>(0xff);  // a reserved deflate block type
  EXPECT_EQ(ErrorOf([&] { Gunzip(bad_block); }),
            "x.gz: corrupt gzip data in member 1 (invalid block type) at byte 11");
}

TEST(GzipTest, CorruptFileIsAnErrorOfTheBlockReader) {
  const std::string path = TempPath("corrupt.gz");
  WriteFile(path, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff garbage", 19));
  EXPECT_EQ(ErrorOf([&] { ReadAll(OpenBlockFile(path).get()); }),
            path + ": corrupt gzip data in member 1 (invalid block type) at byte 11");
  // Block errors in a compressed file give offsets in the decompressed stream.
  WriteFile(path, GzipCompress(kMarker + Le32(100)));
  EXPECT_EQ(ErrorOf([&] { ReadAll(OpenBlockFile(path).get()); }),
            path + ": truncated block at decompressed byte 0: its length field declares 100 "
                   "bytes, but the data ends after 0");
}

TEST(LzopTest, RoundTripsCompressibleAndIncompressibleBlocks) {
  const std::string data = Text(300000) + Noise(70000, 1) + Text(10);
  for (const bool crc : {false, true}) {
    for (const bool checksum_compressed : {false, true}) {
      LzopOptions options;
      options.crc32 = crc;
      options.checksum_compressed = checksum_compressed;
      const std::string lzo = LzopCompress(data, options);
      EXPECT_LT(lzo.size(), data.size());
      EXPECT_EQ(Unlzop(lzo), data);
      EXPECT_EQ(Unlzop(lzo, 7), data);
    }
  }
  EXPECT_EQ(Unlzop(LzopCompress("")), "");
  EXPECT_EQ(Unlzop(""), "");
  LzopOptions small;
  small.block_size = 10;
  EXPECT_EQ(Unlzop(LzopCompress(Text(1000), small)), Text(1000));
}

TEST(LzopTest, WritesTheLzopToolsHeader) {
  const std::string lzo = LzopCompress("hello");
  // magic, version 1.040, lib version, version needed 0.940, method 1 (lzo1x_1), level 5,
  // flags (Unix, adler32 of data and of compressed data), mode 0100644, mtime 0, no name.
  const std::string head = std::string("\x89LZO\x00\x0d\x0a\x1a\x0a\x10\x40", 11);
  EXPECT_EQ(lzo.substr(0, 11), head);
  EXPECT_EQ(lzo.substr(13, 21), std::string("\x09\x40\x01\x05\x03\x00\x00\x03\x00\x00\x81\xa4"
                                            "\x00\x00\x00\x00\x00\x00\x00\x00\x00", 21));
  const uint32_t sum = adler32(1, reinterpret_cast<const Bytef*>(lzo.data() + 9), 25);
  EXPECT_EQ(lzo.substr(34, 4), Be32(sum));
  // "hello" does not shrink: stored, with its adler32 only, then the end marker.
  EXPECT_EQ(lzo.substr(38), Be32(5) + Be32(5) +
                                Be32(adler32(1, reinterpret_cast<const Bytef*>("hello"), 5)) +
                                "hello" + Be32(0));
}

TEST(LzopTest, ReadsFilesThroughTheBlockReader) {
  const std::string path = TempPath("records.lzo");
  const std::string data = ReferenceFile() + EncodeBlock(kClass, {Text(70000)});
  WriteFile(path, LzopCompress(data));
  const std::vector<std::string> expected = {std::string("\x0b\x00", 2), "XYZ", "Q", Text(70000)};
  EXPECT_EQ(ReadAll(OpenBlockFile(path).get()), expected);
  EXPECT_EQ(ReadAll(OpenBlockFile(path, "lzo", 100).get()), expected);
}

TEST(LzopTest, ReadsConcatenatedFilesButNotTrailingGarbage) {
  const std::string lzo = LzopCompress("first ") + LzopCompress("second");
  EXPECT_EQ(Unlzop(lzo), "first second");
  EXPECT_EQ(ErrorOf([&] { Unlzop(LzopCompress("x") + "garbage!!"); }),
            "x.lzo: unexpected data after the end of the lzop stream at byte 55");
}

TEST(LzopTest, ReadsAndChecksAHeaderExtraField) {
  // lzop's F_H_EXTRA_FIELD: length, bytes and their own checksum after the header checksum.
  const std::string lzo = LzopCompress("payload");
  std::string header = lzo.substr(0, 34);
  header[20] = static_cast<char>(header[20] | 0x40);
  std::string extra = Be32(5) + "extra";
  const auto sum = [](const std::string& bytes) {
    return Be32(adler32(1, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
  };
  const std::string with_extra =
      header + sum(header.substr(9)) + extra + sum(extra) + lzo.substr(38);
  EXPECT_EQ(Unlzop(with_extra), "payload");
  std::string bad = with_extra;
  bad[45] ^= 1;  // in "extra"
  EXPECT_EQ(ErrorOf([&] { Unlzop(bad); }), "x.lzo: lzop extra field checksum mismatch at byte 38");
}

class LzopCorruptionTest : public ::testing::Test {
 protected:
  // Header: 9 magic + 25 fields + 4 checksum; then the first block at byte 38.
  static constexpr size_t kFirstBlock = 38;
  const std::string data_ = Text(5000);
  const std::string lzo_ = LzopCompress(data_);
};

TEST_F(LzopCorruptionTest, BadChecksumsAreErrors) {
  std::string bad = lzo_;
  bad[kFirstBlock + 8] ^= 1;  // adler32 of the uncompressed data
  EXPECT_TRUE(StartsWith(ErrorOf([&] { Unlzop(bad); }),
                         "x.lzo: adler32 checksum mismatch in the lzop block: 0x"));
  EXPECT_NE(ErrorOf([&] { Unlzop(bad); }).find("at byte 38"), std::string::npos);

  bad = lzo_;
  bad[kFirstBlock + 12] ^= 1;  // adler32 of the compressed data
  EXPECT_NE(ErrorOf([&] { Unlzop(bad); })
                .find("x.lzo: adler32 (compressed data) checksum mismatch in the lzop block"),
            std::string::npos);

  bad = lzo_;
  bad[kFirstBlock + 20] ^= 0x40;  // compressed data: caught by its checksum first
  EXPECT_NE(ErrorOf([&] { Unlzop(bad); }).find("(compressed data) checksum mismatch"),
            std::string::npos);

  bad = lzo_;
  bad[22] ^= 1;  // the mode, covered by the header checksum
  EXPECT_TRUE(StartsWith(ErrorOf([&] { Unlzop(bad); }), "x.lzo: lzop header checksum mismatch: 0x"));
}

TEST_F(LzopCorruptionTest, CorruptDataWithoutChecksumsIsStillAnError) {
  LzopOptions options;
  options.checksum_compressed = false;
  std::string bad = LzopCompress(data_, options);
  bad[kFirstBlock + 12 + 30] ^= 0x55;
  const std::string error = ErrorOf([&] { Unlzop(bad); });
  EXPECT_TRUE(StartsWith(error, "x.lzo: ")) << error;
  EXPECT_NE(error.find("at byte 38"), std::string::npos) << error;
}

TEST_F(LzopCorruptionTest, TruncationIsAnError) {
  EXPECT_EQ(ErrorOf([&] { Unlzop(lzo_.substr(0, lzo_.size() - 4)); }),
            "x.lzo: truncated lzop file: the input ends in a block's size at byte " +
                std::to_string(lzo_.size() - 4));
  EXPECT_EQ(ErrorOf([&] { Unlzop(lzo_.substr(0, 100)); }),
            "x.lzo: truncated lzop block: " + std::to_string(lzo_.size() - 4 - 54) +
                " bytes of data declared, 46 present at byte 54");
  EXPECT_EQ(ErrorOf([&] { Unlzop(lzo_.substr(0, 20)); }),
            "x.lzo: truncated lzop file: the input ends in the flags at byte 17");
  EXPECT_EQ(ErrorOf([&] { Unlzop("\x89LZ"); }), "x.lzo: not an lzop file (no lzop magic) at byte 0");
  EXPECT_EQ(ErrorOf([&] { Unlzop("plain text, not lzop"); }),
            "x.lzo: not an lzop file (no lzop magic) at byte 0");
}

TEST_F(LzopCorruptionTest, HugeDeclaredBlocksAreRejectedBeforeAllocating) {
  const std::string header = lzo_.substr(0, kFirstBlock);
  EXPECT_EQ(ErrorOf([&] { Unlzop(header + Be32(0x80000000) + Be32(100) + "xxxx"); }),
            "x.lzo: lzop block of 2147483648 uncompressed bytes exceeds lzop's limit of 67108864 "
            "at byte 38");
  EXPECT_EQ(ErrorOf([&] { Unlzop(header + Be32(64 << 20) + Be32((64 << 20) - 1) + "xxxxxxxx"); }),
            "x.lzo: truncated lzop block: 67108863 bytes of data declared, 0 present at byte 54");
  EXPECT_EQ(ErrorOf([&] { Unlzop(header + Be32(100) + Be32(101) + "xxxxxxxx"); }),
            "x.lzo: lzop block has an invalid compressed size of 101 for 100 uncompressed bytes "
            "at byte 38");
  EXPECT_EQ(ErrorOf([&] { Unlzop(header + Be32(0xffffffff)); }),
            "x.lzo: split lzop files are not supported at byte 38");
}

TEST_F(LzopCorruptionTest, DeclaredSizeMustMatchTheData) {
  // A valid compressed block that declares more output than it holds.
  LzopOptions options;
  options.checksum_compressed = false;
  std::string lzo = LzopCompress(data_, options);
  const uint32_t compressed = (uint8_t(lzo[42]) << 24) | (uint8_t(lzo[43]) << 16) |
                              (uint8_t(lzo[44]) << 8) | uint8_t(lzo[45]);
  ASSERT_LT(compressed, data_.size());
  lzo.replace(kFirstBlock, 4, Be32(60 << 20));
  EXPECT_EQ(ErrorOf([&] { Unlzop(lzo); }),
            "x.lzo: lzop block decompressed to 5000 bytes, 62914560 declared at byte 38");
}

TEST_F(LzopCorruptionTest, UnsupportedHeadersAreErrors) {
  std::string bad = lzo_;
  bad[15] = 0x1c;  // method NRV1A
  EXPECT_EQ(ErrorOf([&] { Unlzop(bad); }),
            "x.lzo: unsupported lzop compression method 28 at byte 0");
}

// --- Skip mode: corrupt blocks are dropped and counted --------------------------------------

struct Skipped {
  std::vector<std::string> records;
  uint64_t blocks = 0;
  uint64_t records_skipped = 0;
  std::string message;
};

Skipped ReadSkipping(const std::string& data, size_t max_read = SIZE_MAX,
                     size_t buffer_size = BlockReader::kDefaultBufferSize) {
  auto reader = MemoryReader(data, max_read, buffer_size);
  reader->set_skip_corrupt(true);
  Skipped result;
  result.records = ReadAll(reader.get());
  EXPECT_FALSE(reader->Next(&result.message));  // stays at the end
  result.blocks = reader->skipped_blocks();
  result.records_skipped = reader->skipped_records();
  result.message = reader->last_skip_message();
  return result;
}

// Blocks A (a1 a2), B (b1 b2 b3) and C (c1), and B's offset in their concatenation.
struct ThreeBlocks {
  std::string a = EncodeBlock(kBytesClass, {"a1", "a2"});
  std::string b = EncodeBlock(kBytesClass, {"b1", "b2", "b3"});
  std::string c = EncodeBlock(kBytesClass, {"c1"});
  std::string All() const { return a + b + c; }
  // Offset in B of its record `n` (1-based) tag byte: each record is tag, length 2, 2 bytes.
  size_t RecordTag(int n) const { return b.size() - 4 * (4 - n); }
};

TEST(BlockReaderSkipTest, IsOffByDefault) {
  ThreeBlocks blocks;
  auto reader = MemoryReader(blocks.All());
  EXPECT_FALSE(reader->skip_corrupt());
  EXPECT_EQ(ReadAll(reader.get()), (std::vector<std::string>{"a1", "a2", "b1", "b2", "b3", "c1"}));
  EXPECT_EQ(reader->skipped_blocks(), 0u);
  EXPECT_EQ(reader->last_skip_message(), "");
}

TEST(BlockReaderSkipTest, JunkInsideABlockDropsOnlyThatBlockAfterItsIntactRecords) {
  ThreeBlocks blocks;
  blocks.b[blocks.RecordTag(2)] = static_cast<char>(0xff);  // neither tag 3 nor wire type 2
  const std::string data = blocks.All();
  const std::string error = ReadError(data);  // the default still throws
  for (const size_t max_read : {size_t{1}, size_t{5}, SIZE_MAX}) {
    const Skipped skipped = ReadSkipping(data, max_read, 64);
    EXPECT_EQ(skipped.records, (std::vector<std::string>{"a1", "a2", "b1", "c1"}));
    EXPECT_EQ(skipped.blocks, 1u);
    EXPECT_EQ(skipped.records_skipped, 0u);
    EXPECT_EQ(skipped.message, error);
    EXPECT_TRUE(StartsWith(skipped.message,
                           "test.rec: corrupt block at byte " + std::to_string(blocks.a.size())))
        << skipped.message;
  }
}

TEST(BlockReaderSkipTest, TruncatedLastBlockDeliversItsCompleteRecords) {
  ThreeBlocks blocks;
  const std::string data = blocks.a + blocks.b.substr(0, blocks.b.size() - 1);
  const Skipped skipped = ReadSkipping(data);
  EXPECT_EQ(skipped.records, (std::vector<std::string>{"a1", "a2", "b1", "b2"}));  // b3 is cut
  EXPECT_EQ(skipped.blocks, 1u);
  EXPECT_EQ(skipped.records_skipped, 0u);
  EXPECT_TRUE(StartsWith(skipped.message, "test.rec: truncated block at byte ")) << skipped.message;
  // Cut inside the length field: nothing of the block is knowable.
  const Skipped in_length = ReadSkipping(blocks.a + kMarker + "\x05");
  EXPECT_EQ(in_length.records, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(in_length.blocks, 1u);
  EXPECT_EQ(in_length.records_skipped, 0u);
}

TEST(BlockReaderSkipTest, DataRecordsThatDoNotDecodeAreDroppedAndNamed) {
  const std::string stop("\x00", 1);
  const std::string data = EncodeBlock(kClass, {stop, "\x0f\x00\x01", stop});
  // Without skip mode the reader hands out bytes: decoding them is the decoder's error.
  EXPECT_EQ(ReadAll(data).size(), 3u);
  const Skipped skipped = ReadSkipping(data);
  EXPECT_EQ(skipped.records, (std::vector<std::string>{stop, stop}));
  EXPECT_EQ(skipped.records_skipped, 1u);
  EXPECT_EQ(skipped.blocks, 0u);
  EXPECT_TRUE(StartsWith(skipped.message, "test.rec: record 2 of the block at byte 0 (its bytes at byte 58) "
                                          "is not a valid DataRecord: "))
      << skipped.message;
}

TEST(BlockReaderSkipTest, BadVersionDropsTheBlock) {
  ThreeBlocks blocks;
  blocks.b[sizeof(kBlockMarker) + 4 + 1] = 2;  // the version varint
  const Skipped skipped = ReadSkipping(blocks.All());
  EXPECT_EQ(skipped.records, (std::vector<std::string>{"a1", "a2", "c1"}));
  EXPECT_EQ(skipped.blocks, 1u);
  EXPECT_EQ(skipped.records_skipped, 0u);  // the header is bad: its records are not knowable
  EXPECT_NE(skipped.message.find("unsupported version 2"), std::string::npos) << skipped.message;
}

TEST(BlockReaderSkipTest, HugeLengthIsResynchronisedAtTheNextMarker) {
  ThreeBlocks blocks;
  // B's length now swallows C: the rescan from B's marker must still find C.
  blocks.b.replace(sizeof(kBlockMarker), 4, Le32(0x7fffffff));
  const std::string data = blocks.All() + "tail";
  for (const size_t max_read : {size_t{3}, SIZE_MAX}) {
    const Skipped skipped = ReadSkipping(data, max_read, 64);
    // B's own records parse (and are delivered); C's marker does not, and C is found again.
    EXPECT_EQ(skipped.records, (std::vector<std::string>{"a1", "a2", "b1", "b2", "b3", "c1"}));
    EXPECT_EQ(skipped.blocks, 1u);
    EXPECT_EQ(skipped.records_skipped, 0u);
    EXPECT_NE(skipped.message.find("declares 2147483647 bytes"), std::string::npos)
        << skipped.message;
  }
  // Several bad blocks in a row, each swallowing the rest, and junk around them.
  const std::string bad = kMarker + Le32(1000);
  const Skipped many = ReadSkipping("x" + bad + bad + blocks.a + bad + "y" + blocks.c);
  EXPECT_EQ(many.records, (std::vector<std::string>{"a1", "a2", "c1"}));
  EXPECT_EQ(many.blocks, 3u);
}

TEST(BlockReaderSkipTest, ACorruptGzipStreamEndsTheFile) {
  std::string data;
  std::vector<std::string> expected;
  for (int block = 0; block < 200; ++block) {
    std::vector<std::string> records;
    for (int i = 0; i < 10; ++i) records.push_back(Noise(50, block * 10 + i));
    expected.insert(expected.end(), records.begin(), records.end());
    data += EncodeBlock(kBytesClass, std::vector<std::string_view>(records.begin(), records.end()));
  }
  const std::string gz = GzipCompress(data);
  const std::string path = TempPath("skip_corrupt.gz");
  WriteFile(path, gz.substr(0, gz.size() / 2));
  EXPECT_NE(ErrorOf([&] { ReadAll(OpenBlockFile(path).get()); }).find("truncated gzip data"),
            std::string::npos);
  auto reader = OpenBlockFile(path, "auto", 4096);
  reader->set_skip_corrupt(true);
  const std::vector<std::string> records = ReadAll(reader.get());
  ASSERT_GT(records.size(), 0u);
  ASSERT_LT(records.size(), expected.size());
  EXPECT_EQ(records, std::vector<std::string>(expected.begin(), expected.begin() + records.size()));
  EXPECT_EQ(reader->skipped_blocks(), 1u);
  EXPECT_EQ(reader->skipped_records(), 0u);
  EXPECT_EQ(reader->last_skip_message().find(path + ": truncated gzip data"), 0u)
      << reader->last_skip_message();
  std::string record;
  EXPECT_FALSE(reader->Next(&record));
}

}  // namespace
}  // namespace twml
