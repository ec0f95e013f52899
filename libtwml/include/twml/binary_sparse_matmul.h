// The sparse math helpers of reference §5.9 over plain arrays: BinarySparseTensorDenseMatMul
// (a sparse-times-dense product whose sparse values are all taken to be 1), SparseMaxNorm and
// SparseBatchNorm.
//
// Validation throws twml::Error (kSize) naming the field and offset; the per-element loops assume
// that it passed.
//
// Divergences from the original libtwml, chosen deliberately (reference §14.5):
// - Indices are range-checked: the original BinarySparseTensorDenseMatMul and the norm ops wrote
//   out of bounds on an index outside the shape.
// Kept on purpose: SparseMaxNorm divides by max(|x|, epsilon) running maxima (its original
// docstring spoke of clipping, the op never clipped), so models trained by the original see the
// same values.
#ifndef TWML_BINARY_SPARSE_MATMUL_H_
#define TWML_BINARY_SPARSE_MATMUL_H_

#include <cstdint>

namespace twml {

// The dimensions of out = op(A) * op(B), where A is [a_rows, a_cols] with nnz ones at
// indices[i] = (row, column) (row-major [nnz, 2]), B is [b_rows, b_cols] dense, and op() is the
// (conjugate) transpose when the adjoint flag is set. Validates the shapes (non-negative, inner
// dimensions equal) and every index, and returns the output's [rows, cols].
struct MatMulDims {
  int64_t rows = 0;
  int64_t cols = 0;
};
template <typename Index>
MatMulDims CheckBinarySparseMatMul(const Index* indices, int64_t nnz, int64_t a_rows,
                                   int64_t a_cols, bool adjoint_a, int64_t b_rows, int64_t b_cols,
                                   bool adjoint_b);

// Output columns [col_begin, col_end) of out = op(A) * op(B) (dims from CheckBinarySparseMatMul;
// out is row-major [dims.rows, dims.cols]): that column range is zeroed, then for every stored
// (row, column) of A, out[m, n] += op(B)[k, n] with (m, k) = (row, column), or (column, row) when
// adjoint_a (the conjugate of 1 is 1). Disjoint column ranges write disjoint memory, so the kernel
// runs them on separate threads without locks or per-thread buffers. Duplicate indices add twice,
// as TF's SparseTensorDenseMatMul does. Instantiated for float, double, int32_t,
// std::complex<float> and std::complex<double> (adjoint_b conjugates B), with int32_t and int64_t
// indices.
template <typename T, typename Index>
void BinarySparseMatMul(const Index* indices, int64_t nnz, bool adjoint_a, const T* b,
                        int64_t b_cols, bool adjoint_b, MatMulDims dims, int64_t col_begin,
                        int64_t col_end, T* out);

// Throws unless every indices[0..size) is in [0, n); `field` names the array in the message.
void CheckIndices(const int64_t* indices, int64_t size, int64_t n, const char* field);

// SparseMaxNorm: for each entry i in order, m = max(max_values[indices[i]], |values[i]|) and
// normalized[i] = values[i] / max(m, epsilon). When `updated` is non-null it must hold a copy of
// max_values[0..n) (or be max_values itself: the Ref op updates in place), and the running maxima
// are read from and stored into it, so a repeated index sees the maxima of the earlier entries.
// Indices are validated before anything is written.
void SparseMaxNorm(const float* max_values, float* updated, int64_t n, const int64_t* indices,
                   const float* values, int64_t size, float epsilon, float* normalized);

// SparseBatchNorm: normalized[i] = (v - mean[idx]) / sqrt(var[idx] + epsilon). When training
// (counts non-null, one per index, kept by the kernel across calls), each entry first updates its
// index's mean and (population) variance with Welford's algorithm:
//   count += 1; delta = v - mean; mean += delta / count;
//   var = (var * (count - 1) + delta * (v - mean)) / count
// and, once the whole batch has updated them, every entry is normalized with its index's updated
// statistics (the batch's, as the original: with means [0], variances [1], values [1, 3] at one
// fresh index, the output is [-1, 1]). A fresh index (count 0) starts from its first value,
// whatever the variables held.
// Indices are validated before anything is written.
void SparseBatchNorm(float* means, float* variances, int64_t* counts, int64_t n,
                     const int64_t* indices, const float* values, int64_t size, float epsilon,
                     float* normalized);

}  // namespace twml

#endif  // TWML_BINARY_SPARSE_MATMUL_H_
