#include "twml/binary_sparse_matmul.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <string>

#include "twml/error.h"

namespace twml {
namespace {

[[noreturn]] void Fail(const std::string& message) { throw Error(ErrorCode::kSize, message); }

// op(B)[k, n] needs the conjugate for complex B under adjoint_b; a no-op for real types.
template <typename T>
T Conj(const T& x) {
  return x;
}
template <typename T>
std::complex<T> Conj(const std::complex<T>& x) {
  return std::conj(x);
}

// Brings the cache lines of x[0..n) towards the core, for reading.
template <typename T>
inline void PrefetchRange(const T* x, int64_t n) {
  constexpr uintptr_t kLine = 64;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(x) & ~(kLine - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(x + n);
  for (uintptr_t line = begin; line < end; line += kLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
  }
}

// out[0..n) += x[0..n). The output is a fresh tensor, never an input, hence __restrict; the
// blocks of 8 let -O2's straight-line (SLP) vectoriser use vector adds.
template <typename T>
inline void AddRow(const T* __restrict x, int64_t n, T* __restrict out) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    T sum[8];
    for (int u = 0; u < 8; ++u) sum[u] = out[j + u] + x[j + u];
    for (int u = 0; u < 8; ++u) out[j + u] = sum[u];
  }
  for (; j < n; ++j) out[j] += x[j];
}

}  // namespace

template <typename Index>
MatMulDims CheckBinarySparseMatMul(const Index* indices, int64_t nnz, int64_t a_rows,
                                   int64_t a_cols, bool adjoint_a, int64_t b_rows, int64_t b_cols,
                                   bool adjoint_b) {
  if (nnz < 0) Fail("a_indices: negative count " + std::to_string(nnz));
  if (a_rows < 0 || a_cols < 0) {
    Fail("a_shape: negative dimension in [" + std::to_string(a_rows) + ", " +
         std::to_string(a_cols) + "]");
  }
  if (b_rows < 0 || b_cols < 0) Fail("b: negative dimension");
  const int64_t inner_a = adjoint_a ? a_rows : a_cols;
  const int64_t inner_b = adjoint_b ? b_cols : b_rows;
  if (inner_a != inner_b) {
    Fail("inner dimensions differ: op(a) has " + std::to_string(inner_a) + " columns but op(b) " +
         std::to_string(inner_b) + " rows");
  }
  // The original indexed the output and b with these unchecked; one bad index wrote anywhere.
  for (int64_t i = 0; i < nnz; ++i) {
    const int64_t row = indices[2 * i];
    const int64_t col = indices[2 * i + 1];
    if (row < 0 || row >= a_rows) {
      Fail("a_indices[" + std::to_string(i) + ", 0] = " + std::to_string(row) +
           " is outside [0, " + std::to_string(a_rows) + ")");
    }
    if (col < 0 || col >= a_cols) {
      Fail("a_indices[" + std::to_string(i) + ", 1] = " + std::to_string(col) +
           " is outside [0, " + std::to_string(a_cols) + ")");
    }
  }
  MatMulDims dims;
  dims.rows = adjoint_a ? a_cols : a_rows;
  dims.cols = adjoint_b ? b_rows : b_cols;
  return dims;
}

template <typename T, typename Index>
void BinarySparseMatMul(const Index* indices, int64_t nnz, bool adjoint_a, const T* b,
                        int64_t b_cols, bool adjoint_b, MatMulDims dims, int64_t col_begin,
                        int64_t col_end, T* out) {
  for (int64_t m = 0; m < dims.rows; ++m) {
    std::fill(out + m * dims.cols + col_begin, out + m * dims.cols + col_end, T(0));
  }
  const int64_t width = col_end - col_begin;
  if (adjoint_b) {
    for (int64_t i = 0; i < nnz; ++i) {
      const int64_t m = adjoint_a ? indices[2 * i + 1] : indices[2 * i];
      const int64_t k = adjoint_a ? indices[2 * i] : indices[2 * i + 1];
      T* out_row = out + m * dims.cols;
      // op(B)[k, n] = conj(B[n, k]): a strided walk down column k of B.
      for (int64_t n = col_begin; n < col_end; ++n) out_row[n] += Conj(b[n * b_cols + k]);
    }
    return;
  }
  // B is typically a large embedding-like weight read at random rows: each row is a cache (and
  // often TLB) miss. Prefetching the rows of the entries kPrefetchDistance ahead keeps that many
  // misses in flight; without it the adds of one row fill the reorder window and the misses are
  // served one at a time (7x slower for 64-column float rows of a 1 GiB weight).
  constexpr int64_t kPrefetchDistance = 16;
  const int k_column = adjoint_a ? 0 : 1;
  for (int64_t i = 0; i < nnz; ++i) {
    if (i + kPrefetchDistance < nnz) {
      PrefetchRange(b + static_cast<int64_t>(indices[2 * (i + kPrefetchDistance) + k_column]) * b_cols +
                        col_begin,
                    width);
    }
    const int64_t m = indices[2 * i + 1 - k_column];
    const int64_t k = indices[2 * i + k_column];
    AddRow(b + k * b_cols + col_begin, width, out + m * dims.cols + col_begin);
  }
}

#define TWML_INSTANTIATE_MATMUL(T, Index)                                                     \
  template void BinarySparseMatMul<T, Index>(const Index*, int64_t, bool, const T*, int64_t, \
                                             bool, MatMulDims, int64_t, int64_t, T*);
#define TWML_INSTANTIATE_MATMUL_ALL(Index)                                                     \
  template MatMulDims CheckBinarySparseMatMul<Index>(const Index*, int64_t, int64_t, int64_t, \
                                                     bool, int64_t, int64_t, bool);           \
  TWML_INSTANTIATE_MATMUL(float, Index)                                                        \
  TWML_INSTANTIATE_MATMUL(double, Index)                                                       \
  TWML_INSTANTIATE_MATMUL(int32_t, Index)                                                      \
  TWML_INSTANTIATE_MATMUL(std::complex<float>, Index)                                          \
  TWML_INSTANTIATE_MATMUL(std::complex<double>, Index)
TWML_INSTANTIATE_MATMUL_ALL(int32_t)
TWML_INSTANTIATE_MATMUL_ALL(int64_t)
#undef TWML_INSTANTIATE_MATMUL_ALL
#undef TWML_INSTANTIATE_MATMUL

void CheckIndices(const int64_t* indices, int64_t size, int64_t n, const char* field) {
  for (int64_t i = 0; i < size; ++i) {
    if (indices[i] < 0 || indices[i] >= n) {
      Fail(std::string(field) + "[" + std::to_string(i) + "] = " + std::to_string(indices[i]) +
           " is outside [0, " + std::to_string(n) + ")");
    }
  }
}

void SparseMaxNorm(const float* max_values, float* updated, int64_t n, const int64_t* indices,
                   const float* values, int64_t size, float epsilon, float* normalized) {
  // Validate first: an error must leave the variable as it was.
  CheckIndices(indices, size, n, "indices");
  const float* current = updated != nullptr ? updated : max_values;
  for (int64_t i = 0; i < size; ++i) {
    const int64_t idx = indices[i];
    const float m = std::max(current[idx], std::abs(values[i]));
    normalized[i] = values[i] / std::max(m, epsilon);
    if (updated != nullptr) updated[idx] = m;
  }
}

void SparseBatchNorm(float* means, float* variances, int64_t* counts, int64_t n,
                     const int64_t* indices, const float* values, int64_t size, float epsilon,
                     float* normalized) {
  CheckIndices(indices, size, n, "indices");
  if (counts != nullptr) {
    for (int64_t i = 0; i < size; ++i) {
      const int64_t idx = indices[i];
      const float v = values[i];
      const int64_t count = ++counts[idx];
      const float delta = v - means[idx];
      means[idx] += delta / static_cast<float>(count);
      variances[idx] = (variances[idx] * static_cast<float>(count - 1) + delta * (v - means[idx])) /
                       static_cast<float>(count);
    }
  }
  for (int64_t i = 0; i < size; ++i) {
    const int64_t idx = indices[i];
    normalized[i] = (values[i] - means[idx]) / std::sqrt(variances[idx] + epsilon);
  }
}

}  // namespace twml
