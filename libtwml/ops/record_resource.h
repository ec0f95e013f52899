// The per-batch resource of the decode ops: decoded records that the getter ops read.
//
// A decode op outputs a scalar resource handle that owns its RecordResource (a ref-counting
// handle): the records live exactly as long as the handle tensor, which keeps the serialized
// input alive too, since records point into it.
#ifndef TWML_OPS_RECORD_RESOURCE_H_
#define TWML_OPS_RECORD_RESOURCE_H_

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <memory_resource>
#include <string>
#include <type_traits>
#include <vector>

#include "core_status.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/tensor.h"
#include "twml/batch_prediction_request.h"
#include "twml/data_record.h"
#include "twml/hashed_data_record.h"

namespace twml {

// HashedColumns in TensorFlow tensors: the getters output slices of them, without copying.
// Each reallocation keeps the tensors' first size() entries.
class TensorHashedColumns : public HashedColumns {
 public:
  // The first size() entries of a column, as a 1-D tensor sharing its buffer.
  tensorflow::Tensor UKeys() const { return Column(ukeys_tensor_, tensorflow::DT_INT64); }
  tensorflow::Tensor Keys() const { return Column(keys_tensor_, tensorflow::DT_INT64); }
  tensorflow::Tensor Values() const { return Column(values_tensor_, tensorflow::DT_FLOAT); }
  tensorflow::Tensor Types() const { return Column(types_tensor_, tensorflow::DT_INT8); }

 protected:
  void Reallocate(size_t capacity) override {
    ukeys_ = Grow<int64_t>(&ukeys_tensor_, tensorflow::DT_INT64, capacity);
    keys_ = Grow<int64_t>(&keys_tensor_, tensorflow::DT_INT64, capacity);
    values_ = Grow<float>(&values_tensor_, tensorflow::DT_FLOAT, capacity);
    types_ = Grow<int8_t>(&types_tensor_, tensorflow::DT_INT8, capacity);
    capacity_ = capacity;
  }

 private:
  template <typename T>
  T* Grow(tensorflow::Tensor* tensor, tensorflow::DataType dtype, size_t capacity) {
    tensorflow::Tensor grown(tensorflow::cpu_allocator(), dtype,
                             tensorflow::TensorShape({static_cast<int64_t>(capacity)}));
    if (!grown.IsInitialized()) {
      throw Error(ErrorCode::kSize, "cannot allocate hashed columns of " + std::to_string(capacity) + " entries");
    }
    T* data = static_cast<T*>(grown.data());
    if (size_ > 0) std::memcpy(data, tensor->data(), size_ * sizeof(T));
    *tensor = std::move(grown);
    return data;
  }
  tensorflow::Tensor Column(const tensorflow::Tensor& tensor, tensorflow::DataType dtype) const {
    // Until the first Reallocate a column is a default Tensor, which is a 0-element DT_FLOAT
    // tensor that counts as initialized: a batch without entries must not output it.
    if (capacity_ == 0) return tensorflow::Tensor(dtype, tensorflow::TensorShape({0}));
    return tensor.Slice(0, static_cast<int64_t>(size_));
  }

  tensorflow::Tensor ukeys_tensor_, keys_tensor_, values_tensor_, types_tensor_;
};

template <typename Record>
class RecordResource : public tensorflow::ResourceBase {
 public:
  std::string DebugString() const override {
    return "twml record batch of " + std::to_string(records.size());
  }

  int64_t batch_size() const { return static_cast<int64_t>(records.size()); }

  // Destroyed last: the records' storage may come from it.
  std::pmr::monotonic_buffer_resource arena{1 << 16};
  tensorflow::Tensor input;                      // the serialized bytes records point into
  std::shared_ptr<const DecodeOptions> options;  // how they were decoded
  std::vector<Record> records;
  Record common;  // a BatchPredictionRequest's common features; empty otherwise
  // HashedDataRecord only: every row's entries (the common ones, then its own) as columns, and
  // the end of each row's entries in them. The records keep labels, weights and tensors.
  TensorHashedColumns columns;
  std::vector<int64_t> row_ends;
};

using DataRecordResource = RecordResource<DataRecord>;
using HashedDataRecordResource = RecordResource<HashedDataRecord>;

// Outputs a handle owning `resource` (takes its reference) as output 0.
template <typename Record>
tensorflow::Status OutputRecordHandle(tensorflow::OpKernelContext* context,
                                      RecordResource<Record>* resource) {
  tensorflow::Tensor* handle = nullptr;
  tensorflow::AllocatorAttributes host;
  host.set_on_host(true);
  tensorflow::Status status = context->allocate_output(0, {}, &handle, host);
  if (!status.ok()) {
    resource->Unref();
    return status;
  }
  handle->scalar<tensorflow::ResourceHandle>()() =
      tensorflow::ResourceHandle::MakeRefCountingHandle(resource, context->device()->name());
  return tensorflow::OkStatus();
}

template <typename Record>
tensorflow::Status LookupRecords(tensorflow::OpKernelContext* context,
                                 tensorflow::core::RefCountPtr<RecordResource<Record>>* resource) {
  return tensorflow::LookupResource(context, tensorflow::HandleFromInput(context, 0), resource);
}

// Reads the attrs the decode ops share (keep_features, keep_codes and, where the op has them,
// label_features, weight_features, decode_mode) into DecodeOptions.
inline tensorflow::Status ReadDecodeOptions(tensorflow::OpKernelConstruction* context,
                                            std::shared_ptr<const DecodeOptions>* options) {
  std::vector<int64_t> keep_features, keep_codes, label_features, weight_features;
  int64_t decode_mode = 0;
  TF_RETURN_IF_ERROR(context->GetAttr("keep_features", &keep_features));
  TF_RETURN_IF_ERROR(context->GetAttr("keep_codes", &keep_codes));
  if (context->HasAttr("label_features")) {
    TF_RETURN_IF_ERROR(context->GetAttr("label_features", &label_features));
  }
  if (context->HasAttr("weight_features")) {
    TF_RETURN_IF_ERROR(context->GetAttr("weight_features", &weight_features));
  }
  if (context->HasAttr("decode_mode")) {
    TF_RETURN_IF_ERROR(context->GetAttr("decode_mode", &decode_mode));
  }
  return RunCore([&] {
    *options = std::make_shared<const DecodeOptions>(keep_features, keep_codes, label_features,
                                                     weight_features, static_cast<int>(decode_mode));
  });
}

// Decodes `input` (one serialized struct per element of a string tensor, or one struct in a
// uint8 tensor) with `decode(reader, index)`; errors name the element.
template <typename DecodeFn>
tensorflow::Status DecodeInput(const tensorflow::Tensor& input, const char* what,
                               DecodeFn&& decode) {
  if (input.dtype() == tensorflow::DT_UINT8) {
    const auto bytes = input.flat<uint8_t>();
    return RunCore([&] {
      ThriftReader reader(bytes.data(), static_cast<size_t>(bytes.size()), what, 0);
      decode(&reader, 0);
    });
  }
  const auto strings = input.flat<tensorflow::tstring>();
  return RunCore([&] {
    for (int64_t i = 0; i < strings.size(); ++i) {
      const tensorflow::tstring& value = strings(i);
      // The records' bytes are scattered on the heap: start loading the next one's head.
      if (i + 1 < strings.size()) __builtin_prefetch(strings(i + 1).data());
      ThriftReader reader(reinterpret_cast<const uint8_t*>(value.data()), value.size(), what, i);
      decode(&reader, static_cast<size_t>(i));
    }
  });
}

// Decodes the one BatchPredictionRequest of `input` (a uint8 vector, or element 0 of a string
// tensor) with `decode(reader)`.
template <typename DecodeFn>
tensorflow::Status DecodeBatchPredictionRequestInput(const tensorflow::Tensor& input,
                                                     DecodeFn&& decode) {
  const char* kWhat = "BatchPredictionRequest";
  if (input.dtype() == tensorflow::DT_UINT8) {
    const auto bytes = input.flat<uint8_t>();
    return RunCore([&] {
      ThriftReader reader(bytes.data(), static_cast<size_t>(bytes.size()), kWhat);
      decode(&reader);
    });
  }
  if (input.NumElements() == 0) {
    return tensorflow::errors::InvalidArgument(
        "expected a serialized BatchPredictionRequest, got an empty string tensor");
  }
  const tensorflow::tstring& value = input.flat<tensorflow::tstring>()(0);
  return RunCore([&] {
    ThriftReader reader(reinterpret_cast<const uint8_t*>(value.data()), value.size(), kWhat);
    decode(&reader);
  });
}

// The decode ops: DecodeDataRecord / DecodeAndHashDataRecord (kRequest false: a string tensor of
// records, or one record in a uint8 vector) and the BatchPredictionRequest decoders (kRequest
// true: one request). Record is DataRecord or HashedDataRecord.
template <typename Record, bool kRequest>
class DecodeRecordsOp : public tensorflow::OpKernel {
 public:
  explicit DecodeRecordsOp(tensorflow::OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, ReadDecodeOptions(context, &options_));
  }

  static constexpr bool kHashed = std::is_same_v<Record, HashedDataRecord>;

  void Compute(tensorflow::OpKernelContext* context) override {
    const tensorflow::Tensor& input = context->input(0);
    auto* resource = new RecordResource<Record>;
    resource->input = input;
    resource->options = options_;
    std::pmr::memory_resource* arena = &resource->arena;
    resource->common = MakeRecord<Record>(arena);
    resource->common.Reset(*options_);
    tensorflow::Status status;
    if constexpr (kRequest) {
      status = DecodeBatchPredictionRequestInput(input, [&](ThriftReader* reader) {
        BatchPredictionRequest<Record> request(arena);
        request.Decode(reader, *options_);
        resource->records = std::move(request.records);
        resource->common = std::move(request.common);
        if constexpr (kHashed) FillColumns(resource);
      });
    } else {
      const size_t count =
          input.dtype() == tensorflow::DT_UINT8 ? 1 : static_cast<size_t>(input.NumElements());
      resource->records.reserve(count);
      for (size_t i = 0; i < count; ++i) resource->records.push_back(MakeRecord<Record>(arena));
      if constexpr (kHashed) {
        // Room for about as many entries as the last batch had: the columns rarely regrow.
        const size_t expected = expected_entries_.load(std::memory_order_relaxed);
        resource->row_ends.reserve(count);
        status = RunCore([&] { resource->columns.Reserve(expected + expected / 4 + 1024); });
        if (status.ok()) {
          status = DecodeInput(input, "record", [&](ThriftReader* reader, size_t index) {
            resource->records[index].Decode(reader, *options_, &resource->columns);
            resource->row_ends.push_back(static_cast<int64_t>(resource->columns.size()));
          });
        }
        expected_entries_.store(resource->columns.size(), std::memory_order_relaxed);
      } else {
        status = DecodeInput(input, "record", [&](ThriftReader* reader, size_t index) {
          resource->records[index].Decode(reader, *options_);
        });
      }
    }
    if (!status.ok()) {
      resource->Unref();
      context->SetStatus(status);
      return;
    }
    OP_REQUIRES_OK(context, OutputRecordHandle(context, resource));
  }

 private:
  // Lays out a BatchPredictionRequest's hashed entries as columns: each row's common entries,
  // then its own.
  static void FillColumns(RecordResource<Record>* resource) {
    size_t total = 0;
    for (const auto& record : resource->records) total += resource->common.size() + record.size();
    resource->columns.Reserve(total);
    resource->row_ends.reserve(resource->records.size());
    auto append = [&](const Record& record) {
      for (const HashedEntry& entry : record.entries) {
        resource->columns.Append(entry.id, entry.key, entry.value, entry.type);
      }
    };
    for (const auto& record : resource->records) {
      append(resource->common);
      append(record);
      resource->row_ends.push_back(static_cast<int64_t>(resource->columns.size()));
    }
  }

  std::shared_ptr<const DecodeOptions> options_;
  std::atomic<size_t> expected_entries_{0};
};

// Copies `values` into a new 1-D output (converting element types, e.g. double -> float).
template <typename Out, typename In>
tensorflow::Status OutputVector(tensorflow::OpKernelContext* context, int index,
                                const std::vector<In>& values) {
  tensorflow::Tensor* output = nullptr;
  TF_RETURN_IF_ERROR(context->allocate_output(
      index, {static_cast<int64_t>(values.size())}, &output));
  auto flat = output->flat<Out>();
  for (size_t i = 0; i < values.size(); ++i) flat(i) = static_cast<Out>(values[i]);
  return tensorflow::OkStatus();
}

// Outputs [batch, columns] labels (NaN, i.e. missing, becomes `default_label`) or weights.
template <typename Record>
tensorflow::Status OutputLabelsOrWeights(tensorflow::OpKernelContext* context,
                                         const RecordResource<Record>& resource, bool labels,
                                         float default_label) {
  const size_t columns = labels ? resource.options->labels.size() : resource.options->weights.size();
  tensorflow::Tensor* output = nullptr;
  TF_RETURN_IF_ERROR(context->allocate_output(
      0, {resource.batch_size(), static_cast<int64_t>(columns)}, &output));
  auto matrix = output->matrix<float>();
  for (size_t row = 0; row < resource.records.size(); ++row) {
    const auto& values = labels ? resource.records[row].labels : resource.records[row].weights;
    for (size_t column = 0; column < columns; ++column) {
      const double value = values[column];
      matrix(row, column) = labels && std::isnan(value) ? default_label : static_cast<float>(value);
    }
  }
  return tensorflow::OkStatus();
}

}  // namespace twml

#endif  // TWML_OPS_RECORD_RESOURCE_H_
