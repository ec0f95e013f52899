// Writer ops (reference §5.8): BatchPredictionResponseWriter, BatchPredictionTensorResponseWriter
// and DataRecordTensorWriter. Thin over the encoders of twml/batch_prediction_response.h (§2.7);
// this file only validates the TF inputs and views them as twml::DenseTensor / PredictionMatrix.
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core_status.h"
#include "input_checks.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "twml/batch_prediction_response.h"

namespace twml {
namespace {

using tensorflow::DataTypeString;
using tensorflow::OpInputList;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShapeUtils;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

// The result of every writer: the serialized bytes as uint8 [1, nbytes].
void SetBytesOutput(InferenceContext* c) { c->set_output(0, c->Matrix(1, InferenceContext::kUnknownDim)); }

Status WriteBytes(OpKernelContext* context, const std::string& bytes) {
  Tensor* result = nullptr;
  TF_RETURN_IF_ERROR(
      context->allocate_output(0, tensorflow::TensorShape({1, static_cast<int64_t>(bytes.size())}), &result));
  if (!bytes.empty()) std::memcpy(result->flat<uint8_t>().data(), bytes.data(), bytes.size());
  return tensorflow::OkStatus();
}

std::vector<int64_t> KeysOf(const Tensor& keys) {
  const auto flat = keys.flat<int64_t>();
  return std::vector<int64_t>(flat.data(), flat.data() + flat.size());
}

// A view of a TF tensor (which must outlive it) as a DenseTensor.
Status ToDenseTensor(const Tensor& tensor, int index, DenseTensor* dense) {
  switch (tensor.dtype()) {
    case tensorflow::DT_FLOAT: dense->type = TensorType::kFloat32; break;
    case tensorflow::DT_DOUBLE: dense->type = TensorType::kFloat64; break;
    case tensorflow::DT_INT32: dense->type = TensorType::kInt32; break;
    case tensorflow::DT_INT64: dense->type = TensorType::kInt64; break;
    case tensorflow::DT_BOOL: dense->type = TensorType::kBool; break;
    case tensorflow::DT_UINT8: dense->type = TensorType::kUInt8; break;
    case tensorflow::DT_STRING: dense->type = TensorType::kString; break;
    default:
      return InvalidArgument("values[", index, "] has unsupported type ", DataTypeString(tensor.dtype()));
  }
  dense->shape.clear();
  for (int d = 0; d < tensor.dims(); ++d) dense->shape.push_back(tensor.dim_size(d));
  dense->strings.clear();
  if (dense->type == TensorType::kString) {
    const auto flat = tensor.flat<tensorflow::tstring>();
    dense->strings.reserve(flat.size());
    for (int64_t i = 0; i < flat.size(); ++i) dense->strings.emplace_back(flat(i).data(), flat(i).size());
    dense->data = nullptr;
  } else {
    dense->data = tensor.tensor_data().data();
  }
  return tensorflow::OkStatus();
}

Status ToDenseTensors(const OpInputList& values, std::vector<DenseTensor>* dense) {
  dense->resize(values.size());
  for (int i = 0; i < values.size(); ++i) TF_RETURN_IF_ERROR(ToDenseTensor(values[i], i, &(*dense)[i]));
  return tensorflow::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// BatchPredictionResponseWriter

REGISTER_OP("BatchPredictionResponseWriter")
    .Attr("T: {float, double}")
    .Input("keys: int64")
    .Input("values: T")
    .Output("result: uint8")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle keys;
      ShapeHandle values;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 1, &keys));
      TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(1), 1, &values));
      TF_RETURN_IF_ERROR(c->WithRankAtMost(values, 2, &values));
      DimensionHandle unused;
      if (c->RankKnown(values) && c->Rank(values) == 2) {
        TF_RETURN_IF_ERROR(c->Merge(c->Dim(keys, 0), c->Dim(values, 1), &unused));
      } else if (c->RankKnown(values) && c->Value(c->Dim(keys, 0)) == 0 &&
                 c->ValueKnown(c->Dim(values, 0)) && c->Value(c->Dim(values, 0)) > 0) {
        return InvalidArgument("1-D values (one prediction per row) need a key, got no keys");
      }
      SetBytesOutput(c);
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Serializes predictions as a BatchPredictionResponse (reference §2.7, §5.8): one DataRecord per
row i of values, with continuousFeatures {keys[j]: values[i, j]} (float widened to double).

A key given twice is written once, with its last column's value (as the original).

keys: int64 [K], the prediction feature ids.
values: T [batch, K]; 1-D values [batch] are one prediction per row, written under keys[0]
  (as the original; the other keys are unused).
result: uint8 [1, nbytes], the serialized response.
)doc");

template <typename T>
class BatchPredictionResponseWriterOp : public OpKernel {
 public:
  explicit BatchPredictionResponseWriterOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& keys = context->input(0);
    const Tensor& values = context->input(1);
    OP_REQUIRES_OK(context, CheckVector(keys, "keys"));
    OP_REQUIRES(context, values.dims() == 1 || values.dims() == 2,
                InvalidArgument("values must be [batch, K] or [batch], got shape ",
                                values.shape().DebugString()));
    std::vector<int64_t> prediction_keys = KeysOf(keys);
    int64_t columns = 1;
    if (values.dims() == 2) {
      columns = values.dim_size(1);
      OP_REQUIRES(context, keys.NumElements() == columns,
                  InvalidArgument(keys.NumElements(), " keys for ", columns,
                                  " prediction columns (values shape ", values.shape().DebugString(),
                                  "): the last dimension of values must match the number of keys"));
    } else {
      OP_REQUIRES(context, !prediction_keys.empty() || values.NumElements() == 0,
                  InvalidArgument("1-D values (one prediction per row) need a key, got no keys"));
      prediction_keys.resize(1, 0);
    }
    PredictionMatrix matrix;
    matrix.data = values.flat<T>().data();
    matrix.is_double = std::is_same<T, double>::value;
    matrix.rows = values.dim_size(0);
    matrix.columns = columns;
    std::string bytes;
    OP_REQUIRES_OK(context, RunCore([&] {
                     bytes = EncodeBatchPredictionResponse(prediction_keys, matrix, {}, {});
                   }));
    OP_REQUIRES_OK(context, WriteBytes(context, bytes));
  }
};

REGISTER_KERNEL_BUILDER(
    Name("BatchPredictionResponseWriter").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    BatchPredictionResponseWriterOp<float>);
REGISTER_KERNEL_BUILDER(
    Name("BatchPredictionResponseWriter").Device(tensorflow::DEVICE_CPU).TypeConstraint<double>("T"),
    BatchPredictionResponseWriterOp<double>);

// ---------------------------------------------------------------------------------------------
// BatchPredictionTensorResponseWriter

REGISTER_OP("BatchPredictionTensorResponseWriter")
    .Attr("T: list({string, int32, int64, float, double})")
    .Input("keys: int64")
    .Input("values: T")
    .Output("result: uint8")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle keys;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 1, &keys));
      const int num_values = c->num_inputs() - 1;
      DimensionHandle batch = c->UnknownDim();
      for (int i = 1; i <= num_values; ++i) {
        ShapeHandle value;
        TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(i), 1, &value));
        TF_RETURN_IF_ERROR(c->Merge(batch, c->Dim(value, 0), &batch));
      }
      DimensionHandle unused;
      TF_RETURN_IF_ERROR(c->WithValue(c->Dim(keys, 0), num_values, &unused));
      SetBytesOutput(c);
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Serializes dense tensors as a BatchPredictionResponse (reference §2.7, §5.8): one DataRecord per
batch row i, with tensors {keys[j]: row i of values[j]} (row i = the slice i along dim 0; strings
as StringTensor, everything else as a little-endian RawTypedTensor).

The reference requires the number of values to be a multiple of the number of keys; the
original then pairs keys[j] with values[j] and its encoder rejects unequal counts, so the only
multiple that encodes is 1. This op does the same: a count that is not a multiple is reported
as such, any other mismatch as "N dense keys for M dense tensors".

keys: int64 [K], the feature ids.
values: K tensors, each with the batch on dim 0 (all the same batch size).
result: uint8 [1, nbytes], the serialized response.
)doc");

class BatchPredictionTensorResponseWriterOp : public OpKernel {
 public:
  explicit BatchPredictionTensorResponseWriterOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& keys = context->input(0);
    OP_REQUIRES_OK(context, CheckVector(keys, "keys"));
    OpInputList values;
    OP_REQUIRES_OK(context, context->input_list("values", &values));
    const int64_t num_keys = keys.NumElements();
    OP_REQUIRES(context,
                num_keys == 0 ? values.size() == 0 : values.size() % num_keys == 0,
                InvalidArgument("the number of values (", values.size(),
                                ") must be a multiple of the number of keys (", num_keys, ")"));
    for (int i = 0; i < values.size(); ++i) {
      OP_REQUIRES(context, values[i].dims() >= 1,
                  InvalidArgument("values[", i, "] must have the batch on dim 0, got a scalar"));
    }
    std::vector<DenseTensor> dense;
    OP_REQUIRES_OK(context, ToDenseTensors(values, &dense));
    std::string bytes;
    OP_REQUIRES_OK(context, RunCore([&] {
                     bytes = EncodeBatchPredictionResponse({}, PredictionMatrix(), KeysOf(keys), dense);
                   }));
    OP_REQUIRES_OK(context, WriteBytes(context, bytes));
  }
};

REGISTER_KERNEL_BUILDER(Name("BatchPredictionTensorResponseWriter").Device(tensorflow::DEVICE_CPU),
                        BatchPredictionTensorResponseWriterOp);

// ---------------------------------------------------------------------------------------------
// DataRecordTensorWriter

REGISTER_OP("DataRecordTensorWriter")
    .Attr("T: list({string, int32, int64, float, double, bool})")
    .Input("keys: int64")
    .Input("values: T")
    .Output("result: uint8")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle keys;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 1, &keys));
      DimensionHandle unused;
      TF_RETURN_IF_ERROR(c->WithValue(c->Dim(keys, 0), c->num_inputs() - 1, &unused));
      SetBytesOutput(c);
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Serializes tensors as one DataRecord whose tensors map keys[i] to values[i] (reference §2.7,
§5.8): strings as StringTensor, everything else as a little-endian RawTypedTensor with its shape.

keys: int64 [N], the feature ids.
values: N tensors of any shape.
result: uint8 [1, nbytes], the serialized DataRecord.
)doc");

class DataRecordTensorWriterOp : public OpKernel {
 public:
  explicit DataRecordTensorWriterOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& keys = context->input(0);
    OP_REQUIRES_OK(context, CheckVector(keys, "keys"));
    OpInputList values;
    OP_REQUIRES_OK(context, context->input_list("values", &values));
    OP_REQUIRES(context, keys.NumElements() == values.size(),
                InvalidArgument(keys.NumElements(), " keys for ", values.size(),
                                " values: there must be one key per value"));
    std::vector<DenseTensor> dense;
    OP_REQUIRES_OK(context, ToDenseTensors(values, &dense));
    std::string bytes;
    OP_REQUIRES_OK(context, RunCore([&] { bytes = EncodeTensorDataRecord(KeysOf(keys), dense); }));
    OP_REQUIRES_OK(context, WriteBytes(context, bytes));
  }
};

REGISTER_KERNEL_BUILDER(Name("DataRecordTensorWriter").Device(tensorflow::DEVICE_CPU),
                        DataRecordTensorWriterOp);

}  // namespace
}  // namespace twml
