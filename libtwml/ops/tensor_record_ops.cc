// Tensor getters (reference §5.4): the GeneralTensor and SparseTensor features of a decoded
// batch as raw bytes, with their shape, element type and byte order, for the Python side to
// reinterpret. Each op has a ...FromDataRecord and a ...FromHashedDataRecord variant.
#include <string>
#include <vector>

#include "record_resource.h"
#include "twml/record_views.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace twml {
namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::tstring;
using tensorflow::core::RefCountPtr;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::InferenceContext;

Status UnknownShapes(InferenceContext* c) {
  for (int i = 0; i < c->num_outputs(); ++i) c->set_output(i, c->UnknownShape());
  return tensorflow::OkStatus();
}

std::string_view Bytes(const RawTensor& tensor) {
  return {reinterpret_cast<const char*>(tensor.data), tensor.byte_length};
}

Status OutputScalarString(OpKernelContext* context, int index, const std::string& value) {
  Tensor* output = nullptr;
  TF_RETURN_IF_ERROR(context->allocate_output(index, {}, &output));
  output->scalar<tstring>()() = value;
  return tensorflow::OkStatus();
}

Status OutputScalarEndian(OpKernelContext* context, int index, bool big_endian) {
  Tensor* output = nullptr;
  TF_RETURN_IF_ERROR(context->allocate_output(index, {}, &output));
  output->scalar<uint8_t>()() = big_endian ? 1 : 0;
  return tensorflow::OkStatus();
}

// ---------------------------------------------------------------------------------------------

template <typename Record>
class GetStringTensorsOp : public OpKernel {
 public:
  explicit GetStringTensorsOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("feature_id", &feature_id_));
  }
  void Compute(OpKernelContext* context) override {
    RefCountPtr<RecordResource<Record>> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    std::vector<int64_t> ids;
    std::vector<std::string_view> strings;
    for (size_t row = 0; row < resource->records.size(); ++row) {
      const RawTensor* tensor =
          FindRowFeature(&Record::tensors, resource->records[row], resource->common, feature_id_);
      if (tensor == nullptr) continue;  // rows without the feature contribute nothing
      OP_REQUIRES(context, tensor->type == TensorType::kString,
                  InvalidArgument("tensor feature ", feature_id_, " in row ", row, " holds ",
                                  TensorTypeName(tensor->type), ", not strings"));
      for (auto value : tensor->strings) {
        ids.push_back(static_cast<int64_t>(row));
        strings.push_back(value);
      }
    }
    OP_REQUIRES_OK(context, OutputVector<int64_t>(context, 0, ids));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(1, {static_cast<int64_t>(strings.size())}, &output));
    auto flat = output->flat<tstring>();
    for (size_t i = 0; i < strings.size(); ++i) flat(i).assign(strings[i].data(), strings[i].size());
  }

 private:
  int64_t feature_id_;
};

template <typename Record>
class GetTensorsOp : public OpKernel {
 public:
  explicit GetTensorsOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("feature_id", &feature_id_));
    OP_REQUIRES_OK(context, context->GetAttr("assert_shape", &assert_shape_));
  }
  void Compute(OpKernelContext* context) override {
    RefCountPtr<RecordResource<Record>> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    const int64_t batch = resource->batch_size();
    TensorColumn column;
    OP_REQUIRES_OK(context, RunCore([&] {
                     column = CollectTensors(resource->records, resource->common, feature_id_,
                                             /*required=*/true, assert_shape_, nullptr);
                   }));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, {batch}, &output));
    auto rows = output->flat<tstring>();
    for (int64_t row = 0; row < batch; ++row) {
      const std::string_view bytes = Bytes(*column.rows[static_cast<size_t>(row)]);
      rows(row).assign(bytes.data(), bytes.size());
    }
    const RawTensor* first = column.first;
    std::vector<int64_t> shape = {batch};
    if (first != nullptr) shape.insert(shape.end(), first->shape.begin(), first->shape.end());
    OP_REQUIRES_OK(context, OutputVector<int64_t>(context, 1, shape));
    OP_REQUIRES_OK(context, OutputScalarString(context, 2, first ? TensorTypeName(first->type) : ""));
    OP_REQUIRES_OK(context, OutputScalarEndian(context, 3, first && first->big_endian));
  }

 private:
  int64_t feature_id_;
  bool assert_shape_;
};

template <typename Record>
class GetTensorsWithMissingMaskOp : public OpKernel {
 public:
  explicit GetTensorsWithMissingMaskOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("feature_id", &feature_id_));
    OP_REQUIRES_OK(context, context->GetAttr("assert_shape", &assert_shape_));
    OP_REQUIRES_OK(context, context->GetAttr("default_shape", &default_shape_));
    OP_REQUIRES_OK(context, context->GetAttr("dtype_size", &dtype_size_));
    OP_REQUIRES(context, dtype_size_ > 0,
                InvalidArgument("dtype_size must be positive, got ", dtype_size_));
    default_elements_ = 1;
    for (int64_t dim : default_shape_) {
      OP_REQUIRES(context, dim >= 0 && (dim == 0 || default_elements_ <= (int64_t{1} << 40) / dim),
                  InvalidArgument("default_shape must be non-negative and hold under 2^40 elements"));
      default_elements_ *= dim;
    }
  }
  void Compute(OpKernelContext* context) override {
    RefCountPtr<RecordResource<Record>> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    const int64_t batch = resource->batch_size();
    TensorColumn column;
    OP_REQUIRES_OK(context, RunCore([&] {
                     column = CollectTensors(resource->records, resource->common, feature_id_,
                                             /*required=*/false, assert_shape_, &default_shape_);
                   }));
    Tensor *output = nullptr, *found = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, {batch}, &output));
    OP_REQUIRES_OK(context, context->allocate_output(3, {batch}, &found));
    auto rows = output->flat<tstring>();
    auto is_found = found->flat<bool>();
    for (int64_t row = 0; row < batch; ++row) {
      const RawTensor* tensor = column.rows[static_cast<size_t>(row)];
      is_found(row) = tensor != nullptr;
      if (tensor == nullptr) continue;
      const std::string_view bytes = Bytes(*tensor);
      rows(row).assign(bytes.data(), bytes.size());
    }
    const RawTensor* first = column.first;
    // A FloatTensor travels as doubles: a missing row needs as many bytes as a present one.
    int64_t missing_size = default_elements_ * dtype_size_;
    if (first && first->big_endian && first->type == TensorType::kFloat64 && dtype_size_ == 4) {
      missing_size *= 2;
    }
    for (int64_t row = 0; row < batch; ++row) {
      if (!is_found(row)) rows(row) = std::string(static_cast<size_t>(missing_size), '\0');
    }
    OP_REQUIRES_OK(context, OutputScalarString(context, 1, first ? TensorTypeName(first->type) : ""));
    OP_REQUIRES_OK(context, OutputScalarEndian(context, 2, first && first->big_endian));
  }

 private:
  int64_t feature_id_;
  bool assert_shape_;
  std::vector<int64_t> default_shape_;
  int64_t dtype_size_;
  int64_t default_elements_;
};

template <typename Record>
class GetSparseTensorsOp : public OpKernel {
 public:
  explicit GetSparseTensorsOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("feature_id", &feature_id_));
  }
  void Compute(OpKernelContext* context) override {
    RefCountPtr<RecordResource<Record>> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    const int64_t batch = resource->batch_size();
    SparseTensorColumn column;
    OP_REQUIRES_OK(context, RunCore([&] {
                     column = CollectSparseTensors(resource->records, resource->common, feature_id_);
                   }));
    const std::vector<int64_t>& ids = column.entry_rows;
    const RawSparseTensor* first = column.first;
    OP_REQUIRES_OK(context, OutputVector<int64_t>(context, 0, ids));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(1, {1}, &output));
    output->flat<tstring>()(0) = column.indices;
    OP_REQUIRES_OK(context, context->allocate_output(2, {1}, &output));
    output->flat<tstring>()(0) = column.values;
    std::vector<int64_t> dense_shape = {batch};
    if (first) dense_shape.insert(dense_shape.end(), first->dense_shape.begin(), first->dense_shape.end());
    OP_REQUIRES_OK(context, OutputVector<int64_t>(context, 3, dense_shape));
    OP_REQUIRES_OK(context, OutputScalarString(context, 4, first ? TensorTypeName(first->values.type) : ""));
    OP_REQUIRES_OK(context, OutputScalarEndian(context, 5, first && first->values.big_endian));
  }

 private:
  int64_t feature_id_;
};

#define TWML_REGISTER_TENSOR_GETTERS(SOURCE, HANDLE, RECORD)                                      \
  REGISTER_OP("GetStringTensorsFrom" SOURCE)                                                      \
      .Attr("feature_id: int")                                                                     \
      .Input(HANDLE ": resource")                                                                  \
      .Output("ids: int64")                                                                        \
      .Output("strings: string")                                                                   \
      .SetShapeFn(UnknownShapes)                                                                   \
      .Doc("The strings of a StringTensor feature, flattened, with their row ids; each string "   \
           "whole, whatever its bytes (the original did not return them whole).");           \
  REGISTER_OP("GetTensorsFrom" SOURCE)                                                            \
      .Attr("assert_shape: bool")                                                                  \
      .Attr("feature_id: int")                                                                     \
      .Input(HANDLE ": resource")                                                                  \
      .Output("output: string")                                                                    \
      .Output("out_shape: int64")                                                                  \
      .Output("out_type: string")                                                                  \
      .Output("out_endian: uint8")                                                                 \
      .SetShapeFn(UnknownShapes)                                                                   \
      .Doc("Each row's tensor as raw bytes, [batch, dims...] of row 0, type name, 1 if big-endian."); \
  REGISTER_OP("GetTensorsWithMissingMaskFrom" SOURCE)                                             \
      .Attr("assert_shape: bool")                                                                  \
      .Attr("feature_id: int")                                                                     \
      .Attr("default_shape: list(int)")                                                            \
      .Attr("dtype_size: int")                                                                     \
      .Input(HANDLE ": resource")                                                                  \
      .Output("output: string")                                                                    \
      .Output("out_type: string")                                                                  \
      .Output("out_endian: uint8")                                                                 \
      .Output("is_found: bool")                                                                    \
      .SetShapeFn(UnknownShapes)                                                                   \
      .Doc("As GetTensors, with zero bytes for rows lacking the tensor and a found mask.");        \
  REGISTER_OP("GetSparseTensorsFrom" SOURCE)                                                      \
      .Attr("feature_id: int")                                                                     \
      .Input(HANDLE ": resource")                                                                  \
      .Output("ids: int64")                                                                        \
      .Output("indices: string")                                                                   \
      .Output("values: string")                                                                    \
      .Output("dense_shape: int64")                                                                \
      .Output("values_type: string")                                                               \
      .Output("values_endian: uint8")                                                              \
      .SetShapeFn(UnknownShapes)                                                                   \
      .Doc("A SparseTensor feature: row ids per value, all rows' index and value bytes.");         \
  REGISTER_KERNEL_BUILDER(Name("GetStringTensorsFrom" SOURCE).Device(DEVICE_CPU),                 \
                          GetStringTensorsOp<RECORD>);                                             \
  REGISTER_KERNEL_BUILDER(Name("GetTensorsFrom" SOURCE).Device(DEVICE_CPU), GetTensorsOp<RECORD>); \
  REGISTER_KERNEL_BUILDER(Name("GetTensorsWithMissingMaskFrom" SOURCE).Device(DEVICE_CPU),        \
                          GetTensorsWithMissingMaskOp<RECORD>);                                    \
  REGISTER_KERNEL_BUILDER(Name("GetSparseTensorsFrom" SOURCE).Device(DEVICE_CPU),                 \
                          GetSparseTensorsOp<RECORD>)

TWML_REGISTER_TENSOR_GETTERS("DataRecord", "data_record_handle", DataRecord);
TWML_REGISTER_TENSOR_GETTERS("HashedDataRecord", "hashed_data_record_handle", HashedDataRecord);

}  // namespace
}  // namespace twml
