// Fuzz target: the gzip and lzop framing (GzipByteSource, LzopByteSource). Every input is
// decoded both as gzip and as lzop. Run by the in-repo driver as
// //libtwml/tests:framing_fuzz_test (see fuzz_driver.h), or by libFuzzer.
//
// Each decoder runs twice, with large reads and with reads of a few bytes on both sides, and
// must give the same bytes and the same success either way (lzop also the same error).
// Decompression bombs are cut at 8 MiB of output per decode.
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "libtwml/tests/fuzz/fuzz_driver.h"
#include "twml/block_format.h"
#include "twml/byte_source.h"
#include "twml/error.h"
#include "twml/gzip.h"
#include "twml/lzop.h"

namespace {

constexpr size_t kMaxOutput = 8 << 20;

struct Result {
  std::string output;
  std::string error;
};

template <typename Decoder>
Result Decode(const std::string& input, size_t max_read, size_t chunk) {
  Result result;
  try {
    Decoder decoder(std::make_unique<twml::MemoryByteSource>(input, "fuzz", max_read));
    std::vector<uint8_t> buffer(chunk);
    while (result.output.size() < kMaxOutput) {
      const size_t count = decoder.Read(buffer.data(), buffer.size());
      if (count == 0) break;
      if (count > buffer.size()) std::abort();
      result.output.append(reinterpret_cast<const char*>(buffer.data()), count);
    }
  } catch (const twml::Error& error) {
    if (error.code() != twml::ErrorCode::kIO) std::abort();
    result.error = error.what();
  }
  if (result.output.size() > kMaxOutput) result.output.resize(kMaxOutput);
  return result;
}

template <typename Decoder>
bool Check(const std::string& input, bool same_errors, const char* name) {
  const Result whole = Decode<Decoder>(input, SIZE_MAX, 64 << 10);
  const Result pieces = Decode<Decoder>(input, 1 + input.size() % 5, 1 + input.size() % 13);
  const bool differ = whole.error.empty() != pieces.error.empty() ||
                      (whole.error.empty() && whole.output != pieces.output) ||
                      (same_errors && whole.error != pieces.error);
  if (differ) {
    std::fprintf(stderr, "framing_fuzz: %s results differ with the read size: '%s' vs '%s'\n",
                 name, whole.error.c_str(), pieces.error.c_str());
    std::abort();
  }
  return whole.error.empty() && !whole.output.empty();
}

// An lzop header with an extra field (lzop's F_H_EXTRA_FIELD), which LzopCompress never writes.
std::string WithExtraField(const std::string& lzo, const std::string& extra) {
  constexpr size_t kHeaderEnd = 34;  // magic (9) + fields (25); the checksum follows
  std::string out = lzo.substr(0, kHeaderEnd);
  out[20] = static_cast<char>(out[20] | 0x40);
  const auto* fields = reinterpret_cast<const Bytef*>(out.data() + 9);
  auto append_be32 = [&out](uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
  };
  append_be32(static_cast<uint32_t>(adler32(1, fields, kHeaderEnd - 9)));
  const size_t extra_start = out.size();
  append_be32(static_cast<uint32_t>(extra.size()));
  out += extra;
  append_be32(static_cast<uint32_t>(adler32(
      1, reinterpret_cast<const Bytef*>(out.data() + extra_start), out.size() - extra_start)));
  return out + lzo.substr(kHeaderEnd + 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  // gzip error offsets depend on how much input zlib had buffered: compare success only.
  const bool gzip_ok = Check<twml::GzipByteSource>(input, false, "gzip");
  const bool lzop_ok = Check<twml::LzopByteSource>(input, true, "lzop");
  // Inputs that decode to something are the ones worth mutating further.
  return gzip_ok || lzop_ok ? 0 : -1;
}

std::vector<std::string> FuzzSeedCorpus() {
  const char* kClass = "com.twitter.ml.api.DataRecord";
  std::string text;
  for (int i = 0; i < 40; ++i) text += "record " + std::to_string(i % 7) + "; ";
  const std::string records =
      twml::EncodeBlock(kClass, {std::string("\x0b\x00", 2), "XYZ"}) +
      twml::EncodeBlock(kClass, {text});
  std::string noise(200, '\0');
  uint32_t state = 7;
  for (char& c : noise) c = static_cast<char>((state = state * 1664525 + 1013904223) >> 24);

  twml::LzopOptions small_blocks;
  small_blocks.block_size = 64;
  twml::LzopOptions crc;
  crc.crc32 = true;
  twml::LzopOptions no_compressed_sum;
  no_compressed_sum.checksum_compressed = false;

  std::string named_gzip = twml::GzipCompress(records);
  named_gzip[3] = 0x08;  // FNAME: a file name follows the 10-byte header
  named_gzip.insert(10, std::string("part-00000\0", 11));

  return {
      "",
      twml::GzipCompress(records),
      twml::GzipCompress(records, 1),
      twml::GzipCompress(records, 9) + twml::GzipCompress("second member"),
      twml::GzipCompress(""),
      twml::GzipCompress(noise),
      named_gzip,
      twml::LzopCompress(records),
      twml::LzopCompress(records + noise, small_blocks),
      twml::LzopCompress(records, crc),
      twml::LzopCompress(text, no_compressed_sum),
      twml::LzopCompress("") + twml::LzopCompress("x"),
      WithExtraField(twml::LzopCompress(text), "extra"),
  };
}
