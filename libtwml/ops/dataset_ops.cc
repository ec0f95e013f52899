// Dataset ops: BlockFormatDatasetV2 (reference §4, §5.10), the records of block files as a
// tf.data dataset of scalar strings.
//
// Files are opened through TF's filesystem layer (tensorflow::Env), so every filesystem TF knows
// works; the bytes go through the core's decompressors and BlockReader, which do all the
// parsing.
#include <algorithm>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core_status.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/platform/env.h"
#include "tensorflow/core/platform/file_system.h"
#include "tensorflow/core/platform/logging.h"
#include "twml/block_format.h"
#include "twml/byte_source.h"
#include "twml/compression.h"

namespace twml {
namespace {

using tensorflow::data::DatasetBase;
using tensorflow::data::DatasetContext;
using tensorflow::data::DatasetIterator;
using tensorflow::data::DatasetOpKernel;
using tensorflow::data::IteratorBase;
using tensorflow::data::IteratorContext;
using tensorflow::data::IteratorStateReader;
using tensorflow::data::IteratorStateWriter;
using tensorflow::data::SerializationContext;
using tensorflow::DataTypeVector;
using tensorflow::DT_STRING;
using tensorflow::mutex;
using tensorflow::mutex_lock;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::PartialTensorShape;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::tstring;

constexpr char kOpName[] = "BlockFormatDatasetV2";
// buffer_size 0 picks this; larger requests are capped, since a buffer is allocated per file
// and per stage (file reads, gzip input).
constexpr int64_t kDefaultBufferSize = 256 << 10;
constexpr int64_t kMaxBufferSize = 64 << 20;

REGISTER_OP("BlockFormatDatasetV2")
    .Input("filenames: string")
    .Input("compression_type: string")
    .Input("buffer_size: int64")
    .Output("handle: variant")
    // An attr with a default, not an input: graphs saved before it existed still load.
    .Attr("skip_corrupt: bool = false")
    // Source datasets must not be constant-folded: TF marks its own (TFRecordDataset) the same
    // way, and so did the original.
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle unused;
      TF_RETURN_IF_ERROR(c->WithRankAtMost(c->input(0), 1, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 0, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 0, &unused));
      c->set_output(0, c->Scalar());
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
A dataset of the records of block-format files (twml's DataRecord files), one scalar string per
record, the files read one after the other in the order given.

filenames: string scalar or vector, the files (any filesystem TensorFlow knows).
compression_type: "auto" (by extension: .gz is gzip, .lzo is lzop, no extension is
  uncompressed unless the data starts with gzip or lzop magic bytes, any other extension is an
  error), "" (uncompressed), "gz" or "lzo". lzo and the magic bytes are extensions of the
  original, which had no lzo support.
buffer_size: bytes per read buffer, >= 0 (0: 256 KiB; at most 64 MiB).
skip_corrupt: without it a damaged file is DataLoss, after every intact record before the
  damage (also bytes outside blocks, and a file without any block). With it, damaged blocks
  are dropped after their intact records, DataRecords that do not decode are dropped, bytes
  outside blocks are skipped, and the reader resynchronises at the next sync marker; a file
  with anything skipped logs a warning naming it, the counts and the last damage (block and
  byte offset). A corrupt compressed stream ends its file. An extension of the original.
handle: the dataset (a variant), e.g. for tf.data.experimental.from_variant.
)doc");

// A file opened through TF's filesystem layer, as a core ByteSource. A failed read is thrown as
// twml::Error like any other source's, and its Status is kept so that the kernel can report the
// filesystem's own error code rather than DataLoss.
class TfFileByteSource : public ByteSource {
 public:
  TfFileByteSource(std::unique_ptr<tensorflow::RandomAccessFile> file, const std::string& name)
      : ByteSource(name), file_(std::move(file)) {}

  const Status& status() const { return status_; }

 protected:
  size_t ReadSome(uint8_t* buffer, size_t size) override {
    tensorflow::StringPiece result;
    const Status status = file_->Read(offset(), size, &result, reinterpret_cast<char*>(buffer));
    // OutOfRange is how a RandomAccessFile says "fewer bytes than asked: the end".
    if (!status.ok() && !tensorflow::errors::IsOutOfRange(status)) {
      status_ = status;
      Fail("read failed (" + status.ToString() + ")", offset());
    }
    if (!result.empty() && result.data() != reinterpret_cast<char*>(buffer)) {
      std::copy(result.begin(), result.end(), reinterpret_cast<char*>(buffer));
    }
    return result.size();
  }

 private:
  std::unique_ptr<tensorflow::RandomAccessFile> file_;
  Status status_;
};

class BlockFormatDatasetOp : public DatasetOpKernel {
 public:
  explicit BlockFormatDatasetOp(OpKernelConstruction* context) : DatasetOpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("skip_corrupt", &skip_corrupt_));
  }

 protected:
  void MakeDataset(OpKernelContext* context, DatasetBase** output) override {
    const Tensor* filenames_tensor;
    OP_REQUIRES_OK(context, context->input("filenames", &filenames_tensor));
    OP_REQUIRES(context, filenames_tensor->dims() <= 1,
                tensorflow::errors::InvalidArgument(
                    "filenames must be a scalar or a vector, not of shape ",
                    filenames_tensor->shape().DebugString()));
    std::vector<std::string> filenames;
    const auto flat = filenames_tensor->flat<tstring>();
    for (int64_t i = 0; i < flat.size(); ++i) filenames.emplace_back(flat(i));
    tstring compression_type;
    OP_REQUIRES_OK(context, tensorflow::data::ParseScalarArgument<tstring>(
                                context, "compression_type", &compression_type));
    int64_t buffer_size = 0;
    OP_REQUIRES_OK(context, tensorflow::data::ParseScalarArgument<int64_t>(
                                context, "buffer_size", &buffer_size));
    OP_REQUIRES(context, buffer_size >= 0,
                tensorflow::errors::InvalidArgument("buffer_size must be >= 0, not ",
                                                    buffer_size));
    // Resolved now, so that a bad compression_type or extension fails when the dataset is
    // made, not in the middle of an epoch.
    for (const std::string& filename : filenames) {
      OP_REQUIRES_OK(context, RunCore([&] { ResolveCompression(compression_type, filename); }));
    }
    *output = new Dataset(context, std::move(filenames),
                          std::move(compression_type), buffer_size, skip_corrupt_);
  }

 private:
  bool skip_corrupt_ = false;

  class Dataset : public DatasetBase {
   public:
    Dataset(OpKernelContext* context, std::vector<std::string> filenames,
            tstring compression_type, int64_t buffer_size,
            bool skip_corrupt)
        : DatasetBase(DatasetContext(context)),
          filenames_(std::move(filenames)),
          compression_type_(std::move(compression_type)),
          buffer_size_(buffer_size),
          skip_corrupt_(skip_corrupt) {}

    std::unique_ptr<IteratorBase> MakeIteratorInternal(const std::string& prefix) const override {
      return std::make_unique<Iterator>(
          Iterator::Params{this, tensorflow::strings::StrCat(prefix, "::", kOpName)});
    }

    const DataTypeVector& output_dtypes() const override {
      static const DataTypeVector* const kDtypes = new DataTypeVector({DT_STRING});
      return *kDtypes;
    }

    const std::vector<PartialTensorShape>& output_shapes() const override {
      static const std::vector<PartialTensorShape>* const kShapes =
          new std::vector<PartialTensorShape>({PartialTensorShape({})});
      return *kShapes;
    }

    std::string DebugString() const override { return "BlockFormatDatasetV2Op::Dataset"; }

    Status InputDatasets(std::vector<const DatasetBase*>* /*inputs*/) const override {
      return tensorflow::OkStatus();
    }

    // Like TFRecordDataset: the files are named by the graph, so there is no state to lose.
    Status CheckExternalState() const override { return tensorflow::OkStatus(); }

    size_t BufferSize() const {
      const int64_t size = buffer_size_ == 0 ? kDefaultBufferSize : buffer_size_;
      return static_cast<size_t>(std::min(size, kMaxBufferSize));
    }

   protected:
    Status AsGraphDefInternal(SerializationContext* /*context*/, DatasetGraphDefBuilder* builder,
                              tensorflow::Node** output) const override {
      tensorflow::Node* filenames = nullptr;
      TF_RETURN_IF_ERROR(builder->AddVector(filenames_, &filenames));
      tensorflow::Node* compression_type = nullptr;
      TF_RETURN_IF_ERROR(builder->AddScalar(compression_type_, &compression_type));
      tensorflow::Node* buffer_size = nullptr;
      TF_RETURN_IF_ERROR(builder->AddScalar(buffer_size_, &buffer_size));
      // The attr is serialized too, so that a rebuilt dataset (tf.data service, checkpoints
      // with the graph) keeps skipping.
      tensorflow::AttrValue skip_corrupt;
      builder->BuildAttrValue(skip_corrupt_, &skip_corrupt);
      return builder->AddDataset(this, {filenames, compression_type, buffer_size},
                                 {{"skip_corrupt", skip_corrupt}}, output);
    }

   private:
    class Iterator : public DatasetIterator<Dataset> {
     public:
      explicit Iterator(const Params& params) : DatasetIterator<Dataset>(params) {}

      Status GetNextInternal(IteratorContext* context, std::vector<Tensor>* out_tensors,
                             bool* end_of_sequence) override {
        mutex_lock lock(mu_);
        while (true) {
          if (reader_ != nullptr) {
            std::string_view record;
            bool found = false;
            TF_RETURN_IF_ERROR(CallReader([&] { found = reader_->Next(&record); }));
            if (found) {
              Tensor tensor(context->allocator({}), DT_STRING, TensorShape({}));
              tensor.scalar<tstring>()().assign(record.data(), record.size());
              out_tensors->push_back(std::move(tensor));
              *end_of_sequence = false;
              return tensorflow::OkStatus();
            }
            WarnOfSkips();
            CloseFile();
            ++file_index_;
          }
          if (file_index_ == dataset()->filenames_.size()) {
            *end_of_sequence = true;
            return tensorflow::OkStatus();
          }
          TF_RETURN_IF_ERROR(OpenFile(context->env()));
        }
      }

     protected:
      std::shared_ptr<tensorflow::data::model::Node> CreateNode(
          IteratorContext* /*context*/, tensorflow::data::model::Node::Args args) const override {
        return tensorflow::data::model::MakeSourceNode(std::move(args));
      }

      // The position is the file and the number of records read from it: restoring reopens
      // the file and skips them.
      Status SaveInternal(SerializationContext* /*context*/, IteratorStateWriter* writer) override {
        mutex_lock lock(mu_);
        TF_RETURN_IF_ERROR(
            writer->WriteScalar(prefix(), "file_index", static_cast<int64_t>(file_index_)));
        const int64_t records = reader_ != nullptr ? reader_->records_read() : 0;
        return writer->WriteScalar(prefix(), "records_read", records);
      }

      Status RestoreInternal(IteratorContext* context, IteratorStateReader* reader) override {
        mutex_lock lock(mu_);
        int64_t file_index = 0, records = 0;
        TF_RETURN_IF_ERROR(reader->ReadScalar(prefix(), "file_index", &file_index));
        TF_RETURN_IF_ERROR(reader->ReadScalar(prefix(), "records_read", &records));
        const auto file_count = static_cast<int64_t>(dataset()->filenames_.size());
        if (file_index < 0 || file_index > file_count || records < 0 ||
            (file_index == file_count && records > 0)) {
          return tensorflow::errors::DataLoss(kOpName, ": invalid iterator state (file ",
                                              file_index, " of ", file_count, ", record ",
                                              records, ")");
        }
        CloseFile();
        file_index_ = static_cast<size_t>(file_index);
        if (records == 0) return tensorflow::OkStatus();
        TF_RETURN_IF_ERROR(OpenFile(context->env()));
        std::string_view record;
        for (int64_t skipped = 0; skipped < records; ++skipped) {
          bool found = false;
          TF_RETURN_IF_ERROR(CallReader([&] { found = reader_->Next(&record); }));
          if (!found) {
            return tensorflow::errors::DataLoss(
                kOpName, ": cannot restore the iterator: '", dataset()->filenames_[file_index_],
                "' now has ", skipped, " records, the checkpoint was taken after ", records);
          }
        }
        return tensorflow::OkStatus();
      }

     private:
      Status OpenFile(tensorflow::Env* env) TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        const std::string& filename = dataset()->filenames_[file_index_];
        std::unique_ptr<tensorflow::RandomAccessFile> file;
        const Status status = env->NewRandomAccessFile(filename, &file);
        if (!status.ok()) {
          // Keeps the filesystem's code: NotFound for a missing file.
          return Status(status.code(), tensorflow::strings::StrCat(
                                           kOpName, " cannot open '", filename,
                                           "': ", status.message()));
        }
        // With the file's first bytes: a compressed file may lack its extension. A failed read
        // here fails again, and is reported, when the reader reads.
        Compression compression = Compression::kNone;
        TF_RETURN_IF_ERROR(RunCore([&] {
          compression = ResolveCompression(dataset()->compression_type_, filename, [&] {
            std::string head(16, '\0');
            tensorflow::StringPiece result;
            file->Read(0, head.size(), &result, head.data()).IgnoreError();
            return std::string(result);
          });
        }));
        auto source = std::make_unique<TfFileByteSource>(std::move(file), filename);
        file_ = source.get();
        const size_t buffer_size = dataset()->BufferSize();
        return CallReader([&] {
          reader_ = std::make_unique<BlockReader>(Decompress(std::move(source), compression, buffer_size),
                                                  filename, buffer_size);
          // Restoring reads the file again in the same mode, so records_read counts the same
          // records and the saved position stays valid.
          reader_->set_skip_corrupt(dataset()->skip_corrupt_);
        });
      }

      // Once per file, at its end: skip mode must not hide data loss silently.
      void WarnOfSkips() TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        if (reader_ == nullptr || reader_->last_skip_message().empty()) return;
        LOG(WARNING) << kOpName << ": skipped " << reader_->skipped_blocks()
                     << " damaged blocks (after their intact records), "
                     << reader_->skipped_records() << " records that do not decode and "
                     << reader_->skipped_bytes() << " bytes outside blocks in '"
                     << dataset()->filenames_[file_index_] << "'; the last: "
                     << reader_->last_skip_message();
      }

      void CloseFile() TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        reader_.reset();
        file_ = nullptr;
      }

      // Runs core code: a filesystem error keeps its own Status, a twml::Error becomes DataLoss
      // (corrupt data) or InvalidArgument.
      template <typename Fn>
      Status CallReader(Fn&& fn) TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        try {
          fn();
        } catch (const Error& error) {
          if (file_ != nullptr && !file_->status().ok()) {
            return Status(file_->status().code(), error.what());
          }
          return ToStatus(error);
        } catch (const std::bad_alloc&) {
          return tensorflow::errors::ResourceExhausted(kOpName, ": out of memory reading '",
                                                       dataset()->filenames_[file_index_], "'");
        }
        return tensorflow::OkStatus();
      }

      mutex mu_;
      size_t file_index_ TF_GUARDED_BY(mu_) = 0;
      std::unique_ptr<BlockReader> reader_ TF_GUARDED_BY(mu_);
      TfFileByteSource* file_ TF_GUARDED_BY(mu_) = nullptr;  // the source under reader_
    };

    const std::vector<std::string> filenames_;
    const tstring compression_type_;
    const int64_t buffer_size_;
    const bool skip_corrupt_;
  };
};

REGISTER_KERNEL_BUILDER(Name("BlockFormatDatasetV2").Device(tensorflow::DEVICE_CPU),
                        BlockFormatDatasetOp);

}  // namespace
}  // namespace twml
