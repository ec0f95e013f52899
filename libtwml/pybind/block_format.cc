// Block-format files for Python: encoding, reading (any compression) and the side-file writer,
// plus the gzip/lzop encoders and decoders the tests make fixtures with.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "twml/batch_prediction_request.h"
#include "twml/block_format.h"
#include "twml/byte_source.h"
#include "twml/compression.h"
#include "twml/error.h"
#include "twml/gzip.h"
#include "twml/lzop.h"

namespace py = pybind11;

namespace twml {
namespace {

std::string_view View(const py::bytes& bytes) {
  char* data = nullptr;
  py::ssize_t size = 0;
  PYBIND11_BYTES_AS_STRING_AND_SIZE(bytes.ptr(), &data, &size);
  return std::string_view(data, static_cast<size_t>(size));
}

py::bytes Bytes(std::string_view view) { return py::bytes(view.data(), view.size()); }

// An iterator over the records of one file.
class PyBlockFileReader {
 public:
  PyBlockFileReader(const std::string& path, const std::string& compression, size_t buffer_size,
                    bool skip_corrupt = false)
      : path_(path), reader_(OpenBlockFile(path, compression, buffer_size)) {
    reader_->set_skip_corrupt(skip_corrupt);
  }

  py::bytes Next() {
    std::string_view record;
    if (!reader_->Next(&record)) throw py::stop_iteration();
    return Bytes(record);
  }

  // Up to `count` records; fewer only at the end. The reading and decompression run without the
  // GIL, so a Python thread that reads files overlaps with others that compute.
  py::list ReadBatch(size_t count) {
    // The records' bytes, back to back (a record's view dies with its block), and their ends.
    std::string bytes;
    std::vector<size_t> ends;
    ends.reserve(count);
    {
      py::gil_scoped_release release;
      std::string_view record;
      try {
        while (ends.size() < count && reader_->Next(&record)) {
          bytes.append(record.data(), record.size());
          ends.push_back(bytes.size());
        }
      } catch (const Error&) {
        // The records before the damage come first; the reader raises the same error again on
        // the next call.
        if (ends.empty()) throw;
      }
    }
    py::list out(ends.size());
    size_t begin = 0;
    for (size_t i = 0; i < ends.size(); ++i) {
      out[i] = py::bytes(bytes.data() + begin, ends[i] - begin);
      begin = ends[i];
    }
    return out;
  }

  // Up to `count` records packed straight into the bytes of one BatchPredictionRequest, and how
  // many: for callers that need the records only as a request (no per-record Python objects).
  py::tuple ReadRequest(size_t count) {
    std::string request;
    size_t records = 0;
    {
      py::gil_scoped_release release;
      BatchPredictionRequestBuilder builder;
      std::string_view record;
      try {
        while (builder.size() < count && reader_->Next(&record)) builder.Add(record);
      } catch (const Error&) {
        if (builder.size() == 0) throw;  // as ReadBatch: the records before the damage first
      }
      records = builder.size();
      request = builder.Finish();
    }
    return py::make_tuple(py::bytes(request), records);
  }

  const std::string& path() const { return path_; }
  const BlockReader& reader() const { return *reader_; }

 private:
  std::string path_;
  std::unique_ptr<BlockReader> reader_;
};

// BlockWriter with an explicit close(): Python's garbage collector would close it at some
// unknown time, and the file stays open until then.
class PyBlockWriter {
 public:
  PyBlockWriter(const std::string& path, int records_per_block)
      : writer_(std::make_unique<BlockWriter>(path, records_per_block)) {}

  BlockWriter& writer() {
    if (writer_ == nullptr) throw Error(ErrorCode::kIO, "the BlockWriter is closed");
    return *writer_;
  }
  void Close() { writer_.reset(); }

 private:
  std::unique_ptr<BlockWriter> writer_;
};

}  // namespace

void DefineBlockFormat(py::module_& module) {
  module.def(
      "encode_block",
      [](std::string_view class_name, const std::vector<py::bytes>& records) {
        std::vector<std::string_view> views;
        views.reserve(records.size());
        for (const py::bytes& record : records) views.push_back(View(record));
        return Bytes(EncodeBlock(class_name, views));
      },
      py::arg("class_name"), py::arg("records"),
      "One block of the block format (reference §4): sync marker, little-endian length and the "
      "SerializedBlock payload holding `records` (a list of bytes), byte for byte as the "
      "original writer makes it.");

  py::class_<PyBlockFileReader>(module, "BlockFileReader", R"doc(
The records of a block-format file, as bytes, in file order.

BlockFileReader(path, compression="auto", buffer_size=65536, skip_corrupt=False) is an
iterator. compression is BlockFormatDatasetV2's compression_type: "auto" (by extension: .gz
gzip, .lzo lzop, none without an extension), "" (none), "gz" or "lzo". Corrupt data raises
libtwml.Error naming the file and the byte offset; so does a file that cannot be opened.

Every intact record before damage is delivered before the error; bytes outside blocks and a
file without any block are errors too.

With skip_corrupt=True damage is skipped instead: damaged blocks are dropped after their intact
records, DataRecords that do not decode are dropped, bytes outside blocks are skipped, reading
resynchronises at the next sync marker, and skipped_blocks, skipped_records, skipped_bytes and
last_skip_message (naming file, block, record and byte offset) tell what was lost. A corrupt
gzip or lzop stream ends the file there, as one skipped block.
)doc")
      .def(py::init<const std::string&, const std::string&, size_t, bool>(), py::arg("path"),
           py::arg("compression") = "auto",
           py::arg("buffer_size") = BlockReader::kDefaultBufferSize,
           py::arg("skip_corrupt") = false)
      .def("__iter__", [](PyBlockFileReader& self) -> PyBlockFileReader& { return self; })
      .def("__next__", &PyBlockFileReader::Next)
      .def("read_request", &PyBlockFileReader::ReadRequest, py::arg("count"),
           "(request bytes, n): up to count records packed into one serialized "
           "BatchPredictionRequest, read with the GIL released; n is 0 at the end of the file.")
      .def("read_batch", &PyBlockFileReader::ReadBatch, py::arg("count"),
           "Up to count records as a list of bytes (fewer only at the end of the file), read with "
           "the GIL released; damage raises as iteration does, after the records before it.")
      .def_property_readonly("path", &PyBlockFileReader::path)
      .def_property_readonly(
          "block_offset", [](const PyBlockFileReader& self) { return self.reader().block_offset(); },
          "Byte offset of the block of the last record (in the decompressed stream).")
      .def_property_readonly(
          "class_name",
          [](const PyBlockFileReader& self) { return Bytes(self.reader().class_name()); },
          "proto_class_name of the block of the last record.")
      .def_property_readonly(
          "records_read", [](const PyBlockFileReader& self) { return self.reader().records_read(); })
      .def_property_readonly(
          "skip_corrupt", [](const PyBlockFileReader& self) { return self.reader().skip_corrupt(); })
      .def_property_readonly(
          "skipped_blocks",
          [](const PyBlockFileReader& self) { return self.reader().skipped_blocks(); },
          "Corrupt blocks dropped so far (skip_corrupt mode).")
      .def_property_readonly(
          "skipped_records",
          [](const PyBlockFileReader& self) { return self.reader().skipped_records(); },
          "DataRecords dropped because they do not decode (skip_corrupt mode).")
      .def_property_readonly(
          "skipped_bytes",
          [](const PyBlockFileReader& self) { return self.reader().skipped_bytes(); },
          "Bytes outside any block skipped so far (skip_corrupt mode).")
      .def_property_readonly(
          "last_skip_message",
          [](const PyBlockFileReader& self) { return self.reader().last_skip_message(); },
          "The error of the last skip (block, record or bytes), or \"\".");

  module.def(
      "read_block_file",
      [](const std::string& path, const std::string& compression) {
        py::list records;
        PyBlockFileReader reader(path, compression, BlockReader::kDefaultBufferSize);
        while (true) {
          try {
            records.append(reader.Next());
          } catch (const py::stop_iteration&) {
            return records;
          }
        }
      },
      py::arg("path"), py::arg("compression") = "auto",
      "All records of a block-format file, as a list of bytes (see BlockFileReader).");

  py::class_<PyBlockWriter>(module, "BlockWriter", R"doc(
Writes block-format files like the original BlockFormatWriter (reference §4).

BlockWriter(path, records_per_block=100) opens path for appending. write(class_name, record)
adds a record to the side file <path>.block; every records_per_block records, or on flush(), the
side file becomes one block of path and is deleted. Closing or deleting the writer does NOT
flush: unflushed records stay in the side file, and a later writer of the same path continues
that block.
)doc")
      .def(py::init<const std::string&, int>(), py::arg("path"),
           py::arg("records_per_block") = 100)
      .def(
          "write",
          [](PyBlockWriter& self, std::string_view class_name, const py::bytes& record) {
            self.writer().Write(class_name, View(record));
          },
          py::arg("class_name"), py::arg("record"))
      .def(
          "flush", [](PyBlockWriter& self) { self.writer().Flush(); },
          "Writes the side file's records, if any, as one block.")
      .def("close", &PyBlockWriter::Close, "Closes the file without flushing.")
      .def_property_readonly("path",
                             [](PyBlockWriter& self) { return self.writer().path(); })
      .def_property_readonly("side_path",
                             [](PyBlockWriter& self) { return self.writer().side_path(); });

  module.def(
      "gzip_compress",
      [](const py::bytes& data, int level) { return Bytes(GzipCompress(View(data), level)); },
      py::arg("data"), py::arg("level") = 6, "data as one gzip member, as gzip(1) writes it.");
  module.def(
      "lzop_compress",
      [](const py::bytes& data, uint32_t block_size, bool crc32, bool checksum_compressed) {
        LzopOptions options;
        options.block_size = block_size;
        options.crc32 = crc32;
        options.checksum_compressed = checksum_compressed;
        return Bytes(LzopCompress(View(data), options));
      },
      py::arg("data"), py::arg("block_size") = kLzopDefaultBlockSize, py::arg("crc32") = false,
      py::arg("checksum_compressed") = true,
      "data as an lzop file (lzo1x_1, lzop's default method), readable by `lzop -d`: adler32 "
      "checksums (crc32 if asked), also of the compressed blocks unless checksum_compressed is "
      "false.");
  module.def(
      "decompress",
      [](const py::bytes& data, const std::string& compression) {
        auto source = Decompress(std::make_unique<MemoryByteSource>(std::string(View(data))),
                                 ResolveCompression(compression, ""));
        std::string out;
        char chunk[64 << 10];
        while (const size_t count = source->Read(reinterpret_cast<uint8_t*>(chunk), sizeof(chunk))) {
          out.append(chunk, count);
        }
        return Bytes(out);
      },
      py::arg("data"), py::arg("compression"),
      "data decompressed: compression is \"gz\", \"lzo\" or \"\" (none).");
}

}  // namespace twml
