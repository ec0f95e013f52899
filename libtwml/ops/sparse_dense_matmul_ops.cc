// SparseTensorDenseMatMulUniqueGrad, its resource-variable form and its weight-gradient op: a
// twml extension, not an op of the reference. The logic is in twml/sparse_dense_matmul.h; these
// kernels validate, shard and (for the resource form) read the variable in place.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core_status.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/platform/mutex.h"
#include "tensorflow/core/util/work_sharder.h"
#include "twml/sparse_dense_matmul.h"

namespace twml {
namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::TensorShapeUtils;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

// [a_shape[0], b's columns]; b is input 3, a tensor or (resource form) a handle whose shape is
// taken from the handle data when the graph has it.
Status ProductShape(InferenceContext* c, bool resource) {
  ShapeHandle unused;
  ShapeHandle a_shape;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &unused));  // a_indices
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 1, &unused));  // a_values
  TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(2, &a_shape));
  TF_RETURN_IF_ERROR(c->WithRank(a_shape, 2, &a_shape));
  ShapeHandle b = c->UnknownShapeOfRank(2);
  if (!resource) {
    TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &b));
  } else {
    const auto* handle_data = c->input_handle_shapes_and_types(3);
    if (handle_data != nullptr && handle_data->size() == 1) {
      TF_RETURN_IF_ERROR(c->WithRank((*handle_data)[0].shape, 2, &b));
    }
  }
  c->set_output(0, c->Matrix(c->Dim(a_shape, 0), c->Dim(b, 1)));
  return tensorflow::OkStatus();
}

constexpr const char* kProductDoc = R"doc(
A * B for a weighted sparse A and a dense B: out[row, :] += value * B[column, :] for every stored
(row, column, value) of A; duplicate indices add. A twml extension (not an op of the reference,
whose full_sparse used TF's gather and segment sum): its registered gradient w.r.t. B is an
IndexedSlices with unique indices (A's distinct columns in order of first appearance, each slice
the sum of value * grad[row] over that column's entries), so that an optimizer's own
de-duplication runs over the distinct columns rather than over every entry. It is also
differentiable w.r.t. a_values. Indices outside a_shape, or columns outside B's rows, are an
InvalidArgument naming the entry.

a_indices: [nnz, 2] (row, column) of A's stored entries.
a_values: [nnz] values of A's entries.
a_shape: [2], A's dense shape.
product: [a_shape[0], B's columns].
)doc";

REGISTER_OP("SparseTensorDenseMatMulUniqueGrad")
    .Attr("T: {float, double}")
    .Attr("Tindices: {int32, int64} = DT_INT64")
    .Input("a_indices: Tindices")
    .Input("a_values: T")
    .Input("a_shape: int64")
    .Input("b: T")
    .Output("product: T")
    .SetShapeFn([](InferenceContext* c) { return ProductShape(c, false); })
    .Doc(kProductDoc);

REGISTER_OP("ResourceSparseTensorDenseMatMulUniqueGrad")
    .Attr("dtype: {float, double}")
    .Attr("Tindices: {int32, int64} = DT_INT64")
    .Input("a_indices: Tindices")
    .Input("a_values: dtype")
    .Input("a_shape: int64")
    .Input("b: resource")
    .Output("product: dtype")
    .SetShapeFn([](InferenceContext* c) { return ProductShape(c, true); })
    .Doc(std::string(kProductDoc) + R"doc(
b: a resource variable, read in place under its shared lock (as ResourceGather reads it): only
the used rows are touched, the variable is never copied.
)doc");

REGISTER_OP("SparseTensorDenseMatMulWeightGrad")
    .Attr("T: {float, double}")
    .Attr("Tindices: {int32, int64} = DT_INT64")
    .Input("a_indices: Tindices")
    .Input("a_values: T")
    .Input("grad: T")
    .Output("unique_columns: Tindices")
    .Output("slices: T")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle unused;
      ShapeHandle grad;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 1, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &grad));
      DimensionHandle unique = c->UnknownDim();
      c->set_output(0, c->Vector(unique));
      c->set_output(1, c->Matrix(unique, c->Dim(grad, 1)));
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
The weight gradient of SparseTensorDenseMatMulUniqueGrad (a twml extension, not an op of the
reference): A^T * grad as IndexedSlices parts with unique indices. unique_columns holds A's
distinct columns in order of first appearance; slices[u, :] = sum of value * grad[row, :] over
the entries whose column is unique_columns[u].
)doc");

// Column blocks of a cache line, so that two threads never write the same line of a row.
template <typename T, typename Fn>
void ShardColumns(OpKernelContext* context, int64_t cols, int64_t work_per_column, Fn&& fn) {
  const int64_t block = std::max<int64_t>(1, 64 / static_cast<int64_t>(sizeof(T)));
  const int64_t n_blocks = (cols + block - 1) / block;
  const auto* workers = context->device()->tensorflow_cpu_worker_threads();
  const int64_t cost = std::max<int64_t>(1, work_per_column * std::min(block, cols));
  tensorflow::Shard(workers->num_threads, workers->workers, n_blocks, cost,
                    [&](int64_t begin, int64_t end) {
                      fn(begin * block, std::min(end * block, cols));
                    });
}

Status CheckSparseInputs(const Tensor& a_indices, const Tensor& a_values, const Tensor* a_shape) {
  if (!TensorShapeUtils::IsMatrix(a_indices.shape()) || a_indices.dim_size(1) != 2) {
    return InvalidArgument("a_indices must be an [nnz, 2] matrix, got shape ",
                           a_indices.shape().DebugString());
  }
  if (!TensorShapeUtils::IsVector(a_values.shape()) ||
      a_values.NumElements() != a_indices.dim_size(0)) {
    return InvalidArgument("a_values must be a vector of ", a_indices.dim_size(0),
                           " elements, got shape ", a_values.shape().DebugString());
  }
  if (a_shape != nullptr &&
      (!TensorShapeUtils::IsVector(a_shape->shape()) || a_shape->NumElements() != 2)) {
    return InvalidArgument("a_shape must be a vector of 2 elements, got shape ",
                           a_shape->shape().DebugString());
  }
  return tensorflow::OkStatus();
}

template <typename T, typename Index>
void ComputeProduct(OpKernelContext* context, const Tensor& b) {
  const Tensor& a_indices = context->input(0);
  const Tensor& a_values = context->input(1);
  const Tensor& a_shape = context->input(2);
  OP_REQUIRES_OK(context, CheckSparseInputs(a_indices, a_values, &a_shape));
  OP_REQUIRES(context, TensorShapeUtils::IsMatrix(b.shape()),
              InvalidArgument("b must be a matrix, got shape ", b.shape().DebugString()));
  const int64_t nnz = a_indices.dim_size(0);
  const Index* indices = a_indices.flat<Index>().data();
  const auto shape = a_shape.flat<int64_t>();
  const int64_t cols = b.dim_size(1);
  OP_REQUIRES_OK(context, RunCore([&] {
                   CheckSparseDenseMatMul(indices, nnz, shape(0), shape(1), b.dim_size(0), cols);
                 }));
  Tensor* out = nullptr;
  OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({shape(0), cols}), &out));
  if (out->NumElements() == 0) return;
  const T* values = a_values.flat<T>().data();
  const T* b_data = b.flat<T>().data();
  T* out_data = out->flat<T>().data();
  const int64_t rows = shape(0);
  ShardColumns<T>(context, cols, nnz + rows, [&](int64_t begin, int64_t end) {
    SparseDenseMatMul(indices, values, nnz, b_data, cols, rows, begin, end, out_data);
  });
}

template <typename T, typename Index>
class SparseTensorDenseMatMulUniqueGradOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* context) override {
    ComputeProduct<T, Index>(context, context->input(3));
  }
};

template <typename T, typename Index>
class ResourceSparseTensorDenseMatMulUniqueGradOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* context) override {
    tensorflow::core::RefCountPtr<tensorflow::Var> var;
    OP_REQUIRES_OK(context, tensorflow::LookupResource(
                                context, tensorflow::HandleFromInput(context, 3), &var));
    // Shared: concurrent readers proceed together, an optimizer's update waits for the product
    // (as ResourceGather reads). The rows are read in place; nothing is copied.
    tensorflow::tf_shared_lock lock(*var->mu());
    const Tensor& b = *var->tensor();
    OP_REQUIRES(context, b.IsInitialized(),
                tensorflow::errors::FailedPrecondition("b's variable is not initialized"));
    OP_REQUIRES(context, b.dtype() == tensorflow::DataTypeToEnum<T>::v(),
                InvalidArgument("b's variable has dtype ", tensorflow::DataTypeString(b.dtype()),
                                " but the op's dtype is ",
                                tensorflow::DataTypeString(tensorflow::DataTypeToEnum<T>::v())));
    ComputeProduct<T, Index>(context, b);
  }
};

template <typename T, typename Index>
class SparseTensorDenseMatMulWeightGradOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* context) override {
    const Tensor& a_indices = context->input(0);
    const Tensor& a_values = context->input(1);
    const Tensor& grad = context->input(2);
    OP_REQUIRES_OK(context, CheckSparseInputs(a_indices, a_values, nullptr));
    OP_REQUIRES(context, TensorShapeUtils::IsMatrix(grad.shape()),
                InvalidArgument("grad must be a matrix, got shape ", grad.shape().DebugString()));
    const int64_t nnz = a_indices.dim_size(0);
    const Index* indices = a_indices.flat<Index>().data();
    // Rows index grad here; columns need no bound, they are only hashed.
    for (int64_t i = 0; i < nnz; ++i) {
      const int64_t row = indices[2 * i];
      OP_REQUIRES(context, row >= 0 && row < grad.dim_size(0),
                  InvalidArgument("a_indices[", i, ", 0] = ", row, " is outside [0, ",
                                  grad.dim_size(0), ")"));
    }
    std::vector<Index> unique;
    std::vector<int64_t> slot;
    UniqueColumns(indices, nnz, &unique, &slot);
    const int64_t num_unique = static_cast<int64_t>(unique.size());
    const int64_t cols = grad.dim_size(1);
    Tensor* unique_out = nullptr;
    Tensor* slices = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({num_unique}), &unique_out));
    OP_REQUIRES_OK(context,
                   context->allocate_output(1, TensorShape({num_unique, cols}), &slices));
    std::copy(unique.begin(), unique.end(), unique_out->flat<Index>().data());
    if (slices->NumElements() == 0) return;
    const T* values = a_values.flat<T>().data();
    const T* grad_data = grad.flat<T>().data();
    T* out = slices->flat<T>().data();
    ShardColumns<T>(context, cols, nnz + num_unique, [&](int64_t begin, int64_t end) {
      SparseDenseMatMulWeightGrad(indices, values, slot.data(), nnz, grad_data, cols, num_unique,
                                  begin, end, out);
    });
  }
};

#define TWML_REGISTER_SDM(T, Index)                                                   \
  REGISTER_KERNEL_BUILDER(Name("SparseTensorDenseMatMulUniqueGrad")                   \
                              .Device(tensorflow::DEVICE_CPU)                         \
                              .TypeConstraint<T>("T")                                 \
                              .TypeConstraint<Index>("Tindices"),                     \
                          SparseTensorDenseMatMulUniqueGradOp<T, Index>);             \
  REGISTER_KERNEL_BUILDER(Name("ResourceSparseTensorDenseMatMulUniqueGrad")           \
                              .Device(tensorflow::DEVICE_CPU)                         \
                              .TypeConstraint<T>("dtype")                             \
                              .TypeConstraint<Index>("Tindices"),                     \
                          ResourceSparseTensorDenseMatMulUniqueGradOp<T, Index>);     \
  REGISTER_KERNEL_BUILDER(Name("SparseTensorDenseMatMulWeightGrad")                   \
                              .Device(tensorflow::DEVICE_CPU)                         \
                              .TypeConstraint<T>("T")                                 \
                              .TypeConstraint<Index>("Tindices"),                     \
                          SparseTensorDenseMatMulWeightGradOp<T, Index>);
TWML_REGISTER_SDM(float, int32_t)
TWML_REGISTER_SDM(float, int64_t)
TWML_REGISTER_SDM(double, int32_t)
TWML_REGISTER_SDM(double, int64_t)
#undef TWML_REGISTER_SDM

}  // namespace
}  // namespace twml
