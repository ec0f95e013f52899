// Sparse math ops (reference §5.9): BinarySparseTensorDenseMatMul, SparseMaxNorm,
// SparseMaxNormInference, SparseMaxNormTraining and SparseBatchNorm. The logic, and the
// divergences from the original (range-checked indices), are in twml/binary_sparse_matmul.h.
#include <algorithm>
#include <complex>
#include <cstdint>
#include <vector>

#include "core_status.h"
#include "input_checks.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/platform/mutex.h"
#include "tensorflow/core/util/work_sharder.h"
#include "twml/binary_sparse_matmul.h"

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

// ---------------------------------------------------------------------------------------------
// BinarySparseTensorDenseMatMul

// TF's SparseTensorDenseMatMul shape function, minus its a_values check (values are ignored).
Status MatMulShape(InferenceContext* c) {
  ShapeHandle unused;
  ShapeHandle b;
  ShapeHandle a_shape;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &unused));  // a_indices
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 1, &unused));  // a_values
  TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(2, &a_shape));
  TF_RETURN_IF_ERROR(c->WithRank(a_shape, 2, &a_shape));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &b));
  bool adjoint_a;
  bool adjoint_b;
  TF_RETURN_IF_ERROR(c->GetAttr("adjoint_a", &adjoint_a));
  TF_RETURN_IF_ERROR(c->GetAttr("adjoint_b", &adjoint_b));
  DimensionHandle output_right = c->Dim(b, adjoint_b ? 0 : 1);
  DimensionHandle output_left = c->Dim(a_shape, adjoint_a ? 1 : 0);
  DimensionHandle inner_left = c->Dim(a_shape, adjoint_a ? 0 : 1);
  DimensionHandle inner_right = c->Dim(b, adjoint_b ? 1 : 0);
  DimensionHandle inner;
  TF_RETURN_IF_ERROR(c->Merge(inner_left, inner_right, &inner));
  c->set_output(0, c->Matrix(output_left, output_right));
  return tensorflow::OkStatus();
}

REGISTER_OP("BinarySparseTensorDenseMatMul")
    .Attr("T: {float, double, int32, complex64, complex128}")
    .Attr("Tindices: {int32, int64} = DT_INT64")
    .Attr("adjoint_a: bool = false")
    .Attr("adjoint_b: bool = false")
    .Input("a_indices: Tindices")
    .Input("a_values: T")
    .Input("a_shape: int64")
    .Input("b: T")
    .Output("product: T")
    .SetShapeFn(MatMulShape)
    .Doc(R"doc(
op(A) * op(B) for a binary sparse A: as SparseTensorDenseMatMul, but every stored entry of A
counts as 1 whatever a_values holds, so out[m, :] += op(B)[k, :] for each stored (m, k) of op(A)
(reference §5.9). Duplicate indices add twice. Indices outside a_shape are an error (the original
did not check them).

a_indices: [nnz, 2] (row, column) of A's stored entries.
a_values: [nnz], ignored.
a_shape: [2], A's dense shape.
b: the dense matrix.
adjoint_a: use A's (conjugate) transpose.
adjoint_b: use B's conjugate transpose.
)doc");

template <typename T, typename Index>
class BinarySparseTensorDenseMatMulOp : public OpKernel {
 public:
  explicit BinarySparseTensorDenseMatMulOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("adjoint_a", &adjoint_a_));
    OP_REQUIRES_OK(context, context->GetAttr("adjoint_b", &adjoint_b_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& a_indices = context->input(0);
    const Tensor& a_values = context->input(1);
    const Tensor& a_shape = context->input(2);
    const Tensor& b = context->input(3);
    OP_REQUIRES(context,
                TensorShapeUtils::IsMatrix(a_indices.shape()) && a_indices.dim_size(1) == 2,
                InvalidArgument("a_indices must be an [nnz, 2] matrix, got shape ",
                                a_indices.shape().DebugString()));
    // a_values is ignored, but a mismatched size is still a caller's bug worth reporting.
    OP_REQUIRES(context,
                TensorShapeUtils::IsVector(a_values.shape()) &&
                    a_values.NumElements() == a_indices.dim_size(0),
                InvalidArgument("a_values must be a vector of ", a_indices.dim_size(0),
                                " elements, got shape ", a_values.shape().DebugString()));
    OP_REQUIRES(context,
                TensorShapeUtils::IsVector(a_shape.shape()) && a_shape.NumElements() == 2,
                InvalidArgument("a_shape must be a vector of 2 elements, got shape ",
                                a_shape.shape().DebugString()));
    OP_REQUIRES(context, TensorShapeUtils::IsMatrix(b.shape()),
                InvalidArgument("b must be a matrix, got shape ", b.shape().DebugString()));
    const int64_t nnz = a_indices.dim_size(0);
    const Index* indices = a_indices.flat<Index>().data();
    const auto shape = a_shape.flat<int64_t>();
    MatMulDims dims;
    OP_REQUIRES_OK(context, RunCore([&] {
                     dims = CheckBinarySparseMatMul(indices, nnz, shape(0), shape(1), adjoint_a_,
                                                    b.dim_size(0), b.dim_size(1), adjoint_b_);
                   }));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, TensorShape({dims.rows, dims.cols}), &out));
    if (out->NumElements() == 0) return;
    // Shard over output columns: disjoint columns are disjoint memory, so the threads need
    // neither locks nor the per-thread buffers the original summed at the end. Columns go in
    // blocks of a cache line so that two threads never write the same line of an output row.
    const T* b_data = b.flat<T>().data();
    T* out_data = out->flat<T>().data();
    const int64_t b_cols = b.dim_size(1);
    const int64_t cols = dims.cols;
    const int64_t block = std::max<int64_t>(1, 64 / static_cast<int64_t>(sizeof(T)));
    const int64_t n_blocks = (cols + block - 1) / block;
    const auto* workers = context->device()->tensorflow_cpu_worker_threads();
    const int64_t cost_per_block = std::max<int64_t>(1, (nnz + dims.rows) * std::min(block, cols));
    tensorflow::Shard(workers->num_threads, workers->workers, n_blocks, cost_per_block,
                      [&](int64_t begin, int64_t end) {
                        BinarySparseMatMul(indices, nnz, adjoint_a_, b_data, b_cols, adjoint_b_,
                                           dims, begin * block, std::min(end * block, cols),
                                           out_data);
                      });
  }

 private:
  bool adjoint_a_ = false;
  bool adjoint_b_ = false;
};

#define TWML_REGISTER_MATMUL(T, Index)                                   \
  REGISTER_KERNEL_BUILDER(Name("BinarySparseTensorDenseMatMul")          \
                              .Device(tensorflow::DEVICE_CPU)            \
                              .TypeConstraint<T>("T")                    \
                              .TypeConstraint<Index>("Tindices")         \
                              .HostMemory("a_shape"),                    \
                          BinarySparseTensorDenseMatMulOp<T, Index>);
#define TWML_REGISTER_MATMUL_ALL(T) \
  TWML_REGISTER_MATMUL(T, int32_t)  \
  TWML_REGISTER_MATMUL(T, int64_t)
TWML_REGISTER_MATMUL_ALL(float)
TWML_REGISTER_MATMUL_ALL(double)
TWML_REGISTER_MATMUL_ALL(int32_t)
TWML_REGISTER_MATMUL_ALL(std::complex<float>)
TWML_REGISTER_MATMUL_ALL(std::complex<double>)
#undef TWML_REGISTER_MATMUL_ALL
#undef TWML_REGISTER_MATMUL

// ---------------------------------------------------------------------------------------------
// SparseMaxNorm, SparseMaxNormInference, SparseMaxNormTraining

// The normalized values have the shape of the values, which must match the indices'.
Status NormalizedShape(InferenceContext* c, int indices_input, int first_output) {
  ShapeHandle values = c->input(indices_input + 1);
  TF_RETURN_IF_ERROR(c->Merge(values, c->input(indices_input), &values));
  for (int i = 0; i < first_output; ++i) c->set_output(i, c->input(i));
  c->set_output(first_output, values);
  return tensorflow::OkStatus();
}

// scalar<bool>() CHECK-fails (aborts the process) on a non-scalar, so check first.
Status ReadIsTraining(const Tensor& tensor, bool* is_training) {
  if (!TensorShapeUtils::IsScalar(tensor.shape())) {
    return InvalidArgument("is_training must be a scalar, got shape ",
                           tensor.shape().DebugString());
  }
  *is_training = tensor.scalar<bool>()();
  return tensorflow::OkStatus();
}

Status CheckPaired(const Tensor& indices, const Tensor& values) {
  if (indices.shape() == values.shape()) return tensorflow::OkStatus();
  return InvalidArgument("indices has shape ", indices.shape().DebugString(),
                         " but values has shape ", values.shape().DebugString(),
                         "; they must match");
}

constexpr const char* kMaxNormDoc = R"doc(
Normalizes sparse values by a running per-index maximum of |value| (reference §5.9): for each
entry in order, m = max(max_values[index], |value|) and the output is value / max(m, epsilon).
The op divides; it does not clip, whatever the original's docstring said (reference §14.5).
)doc";

REGISTER_OP("SparseMaxNorm")
    .Attr("epsilon: float")
    .Input("max_values: Ref(float)")
    .Input("indices: int64")
    .Input("values: float")
    .Input("is_training: bool")
    .Output("updated_max_values: Ref(float)")
    .Output("normalized_values: float")
    .SetShapeFn([](InferenceContext* c) { return NormalizedShape(c, 1, 1); })
    .Doc(kMaxNormDoc);

REGISTER_OP("SparseMaxNormInference")
    .Attr("epsilon: float")
    .Input("max_values: float")
    .Input("indices: int64")
    .Input("values: float")
    .Output("normalized_values: float")
    .SetShapeFn([](InferenceContext* c) { return NormalizedShape(c, 1, 0); })
    .Doc(kMaxNormDoc);

REGISTER_OP("SparseMaxNormTraining")
    .Attr("epsilon: float")
    .Input("max_values: float")
    .Input("indices: int64")
    .Input("values: float")
    .Output("updated_max_values: float")
    .Output("normalized_values: float")
    .SetShapeFn([](InferenceContext* c) { return NormalizedShape(c, 1, 1); })
    .Doc(kMaxNormDoc);

// kMode: 0 = SparseMaxNorm (Ref variable, updated in place when is_training), 1 = inference,
// 2 = training (the updated maxima are a new output).
template <int kMode>
class SparseMaxNormOp : public OpKernel {
 public:
  explicit SparseMaxNormOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("epsilon", &epsilon_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& indices = context->input(1);
    const Tensor& values = context->input(2);
    OP_REQUIRES_OK(context, CheckPaired(indices, values));
    const int normalized_output = kMode == 1 ? 0 : 1;
    Tensor* normalized = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(normalized_output, values.shape(), &normalized));
    const int64_t* index_data = indices.flat<int64_t>().data();
    const float* value_data = values.flat<float>().data();
    const int64_t size = values.NumElements();
    float* normalized_data = normalized->flat<float>().data();
    if (kMode == 0) {
      bool is_training = false;
      OP_REQUIRES_OK(context, ReadIsTraining(context->input(3), &is_training));
      // Hold the variable's lock for the whole update so concurrent steps see whole updates.
      tensorflow::mutex_lock lock(*context->input_ref_mutex(0));
      Tensor max_values = context->mutable_input(0, /*lock_held=*/true);
      OP_REQUIRES_OK(context, CheckVector(max_values, "max_values"));
      float* data = max_values.flat<float>().data();
      OP_REQUIRES_OK(context, RunCore([&] {
                       SparseMaxNorm(data, is_training ? data : nullptr,
                                     max_values.NumElements(), index_data, value_data, size,
                                     epsilon_, normalized_data);
                     }));
      context->forward_ref_input_to_ref_output(0, 0);
      return;
    }
    const Tensor& max_values = context->input(0);
    OP_REQUIRES_OK(context, CheckVector(max_values, "max_values"));
    float* updated = nullptr;
    if (kMode == 2) {
      Tensor* updated_tensor = nullptr;
      OP_REQUIRES_OK(context, context->allocate_output(0, max_values.shape(), &updated_tensor));
      updated = updated_tensor->flat<float>().data();
      std::copy_n(max_values.flat<float>().data(), max_values.NumElements(), updated);
    }
    OP_REQUIRES_OK(context, RunCore([&] {
                     SparseMaxNorm(max_values.flat<float>().data(), updated,
                                   max_values.NumElements(), index_data, value_data, size,
                                   epsilon_, normalized_data);
                   }));
  }

 private:
  float epsilon_ = 0;
};

REGISTER_KERNEL_BUILDER(Name("SparseMaxNorm").Device(tensorflow::DEVICE_CPU),
                        SparseMaxNormOp<0>);
REGISTER_KERNEL_BUILDER(Name("SparseMaxNormInference").Device(tensorflow::DEVICE_CPU),
                        SparseMaxNormOp<1>);
REGISTER_KERNEL_BUILDER(Name("SparseMaxNormTraining").Device(tensorflow::DEVICE_CPU),
                        SparseMaxNormOp<2>);

// ---------------------------------------------------------------------------------------------
// SparseBatchNorm

REGISTER_OP("SparseBatchNorm")
    .Attr("input_size: int")
    .Attr("epsilon: float")
    .Input("means: Ref(float)")
    .Input("variances: Ref(float)")
    .Input("indices: int64")
    .Input("values: float")
    .Input("is_training: bool")
    .Output("updated_means: Ref(float)")
    .Output("updated_variances: Ref(float)")
    .Output("normalized_values: float")
    .SetShapeFn([](InferenceContext* c) { return NormalizedShape(c, 2, 2); })
    .Doc(R"doc(
Normalizes sparse values by per-index statistics (reference §5.9): the output is
(value - means[index]) / sqrt(variances[index] + epsilon). When is_training, each entry first
updates its index's mean and population variance with Welford's algorithm, counting entries per
index in the kernel object (so the counts live as long as the session's kernel, not in a
checkpoint, as in the original); then every entry is normalized with the statistics the whole
batch updated.
means and variances are vectors of input_size elements.
)doc");

class SparseBatchNormOp : public OpKernel {
 public:
  explicit SparseBatchNormOp(OpKernelConstruction* context) : OpKernel(context) {
    int64_t input_size = 0;
    OP_REQUIRES_OK(context, context->GetAttr("input_size", &input_size));
    OP_REQUIRES_OK(context, context->GetAttr("epsilon", &epsilon_));
    OP_REQUIRES(context, input_size >= 0,
                InvalidArgument("input_size must be non-negative, got ", input_size));
    counts_.assign(input_size, 0);
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& indices = context->input(2);
    const Tensor& values = context->input(3);
    OP_REQUIRES_OK(context, CheckPaired(indices, values));
    bool is_training = false;
    OP_REQUIRES_OK(context, ReadIsTraining(context->input(4), &is_training));
    Tensor* normalized = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(2, values.shape(), &normalized));
    // Lock both variables (in input order, so two kernels over the same pair cannot deadlock)
    // and the counts for the whole update.
    tensorflow::mutex_lock counts_lock(mu_);
    tensorflow::mutex_lock means_lock(*context->input_ref_mutex(0));
    tensorflow::mutex* variances_mutex = context->input_ref_mutex(1);
    const bool same_mutex = variances_mutex == context->input_ref_mutex(0);
    if (!same_mutex) variances_mutex->lock();
    Tensor means = context->mutable_input(0, /*lock_held=*/true);
    Tensor variances = context->mutable_input(1, /*lock_held=*/true);
    const int64_t n = static_cast<int64_t>(counts_.size());
    Status status = CheckVector(means, "means");
    if (status.ok()) status = CheckVector(variances, "variances");
    if (status.ok() && (means.NumElements() != n || variances.NumElements() != n)) {
      status = InvalidArgument("means and variances must have input_size = ", n,
                               " elements, got ", means.NumElements(), " and ",
                               variances.NumElements());
    }
    if (status.ok()) {
      status = RunCore([&] {
        SparseBatchNorm(means.flat<float>().data(), variances.flat<float>().data(),
                        is_training ? counts_.data() : nullptr, n,
                        indices.flat<int64_t>().data(), values.flat<float>().data(),
                        values.NumElements(), epsilon_, normalized->flat<float>().data());
      });
    }
    if (!same_mutex) variances_mutex->unlock();
    OP_REQUIRES_OK(context, status);
    context->forward_ref_input_to_ref_output(0, 0);
    context->forward_ref_input_to_ref_output(1, 1);
  }

 private:
  float epsilon_ = 0;
  tensorflow::mutex mu_;
  std::vector<int64_t> counts_;  // entries seen per index while training
};

REGISTER_KERNEL_BUILDER(Name("SparseBatchNorm").Device(tensorflow::DEVICE_CPU),
                        SparseBatchNormOp);

}  // namespace
}  // namespace twml
