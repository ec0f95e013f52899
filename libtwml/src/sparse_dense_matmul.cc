#include "twml/sparse_dense_matmul.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "twml/error.h"

namespace twml {
namespace {

[[noreturn]] void Fail(const std::string& message) { throw Error(ErrorCode::kSize, message); }

// Brings the cache lines of x[0..n) towards the core, for reading.
template <typename T>
inline void Prefetch(const T* x, int64_t n) {
  constexpr uintptr_t kLine = 64;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(x) & ~(kLine - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(x + n);
  for (uintptr_t line = begin; line < end; line += kLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
  }
}

// out[0..n) += scale * x[0..n). out is a fresh buffer, never an input, hence __restrict; the
// blocks of 8 let -O2's straight-line (SLP) vectoriser use vector multiply-adds.
template <typename T>
inline void AxpyRow(T scale, const T* __restrict x, int64_t n, T* __restrict out) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    T sum[8];
    for (int u = 0; u < 8; ++u) sum[u] = out[j + u] + scale * x[j + u];
    for (int u = 0; u < 8; ++u) out[j + u] = sum[u];
  }
  for (; j < n; ++j) out[j] += scale * x[j];
}

// A random weight row is a cache (often TLB) miss; keeping this many entries' rows in flight
// hides most of the latency (see BinarySparseMatMul).
constexpr int64_t kPrefetchDistance = 16;

}  // namespace

template <typename Index>
void CheckSparseDenseMatMul(const Index* indices, int64_t nnz, int64_t a_rows, int64_t a_cols,
                            int64_t b_rows, int64_t b_cols) {
  if (nnz < 0) Fail("a_indices: negative count " + std::to_string(nnz));
  if (a_rows < 0 || a_cols < 0) {
    Fail("a_shape: negative dimension in [" + std::to_string(a_rows) + ", " +
         std::to_string(a_cols) + "]");
  }
  if (b_rows < 0 || b_cols < 0) Fail("b: negative dimension");
  const int64_t col_limit = std::min(a_cols, b_rows);
  for (int64_t i = 0; i < nnz; ++i) {
    const int64_t row = indices[2 * i];
    const int64_t col = indices[2 * i + 1];
    if (row < 0 || row >= a_rows) {
      Fail("a_indices[" + std::to_string(i) + ", 0] = " + std::to_string(row) +
           " is outside [0, " + std::to_string(a_rows) + ")");
    }
    if (col < 0 || col >= col_limit) {
      Fail("a_indices[" + std::to_string(i) + ", 1] = " + std::to_string(col) +
           " is outside [0, " + std::to_string(col_limit) + ") (a_shape[1] = " +
           std::to_string(a_cols) + ", b has " + std::to_string(b_rows) + " rows)");
    }
  }
}

template <typename T, typename Index>
void SparseDenseMatMul(const Index* indices, const T* values, int64_t nnz, const T* b,
                       int64_t b_cols, int64_t out_rows, int64_t col_begin, int64_t col_end,
                       T* out) {
  for (int64_t m = 0; m < out_rows; ++m) {
    std::fill(out + m * b_cols + col_begin, out + m * b_cols + col_end, T(0));
  }
  const int64_t width = col_end - col_begin;
  for (int64_t i = 0; i < nnz; ++i) {
    if (i + kPrefetchDistance < nnz) {
      Prefetch(b + static_cast<int64_t>(indices[2 * (i + kPrefetchDistance) + 1]) * b_cols +
                   col_begin,
               width);
    }
    const int64_t m = indices[2 * i];
    const int64_t k = indices[2 * i + 1];
    AxpyRow(values[i], b + k * b_cols + col_begin, width, out + m * b_cols + col_begin);
  }
}

template <typename Index>
void UniqueColumns(const Index* indices, int64_t nnz, std::vector<Index>* unique,
                   std::vector<int64_t>* slot) {
  unique->clear();
  slot->resize(nnz);
  if (nnz == 0) return;
  int shift = 64;
  uint64_t capacity = 1;
  while (capacity < 2 * static_cast<uint64_t>(nnz)) {
    capacity <<= 1;
    --shift;
  }
  // Each cell holds a position in *unique, or -1 when empty; the key is read back from *unique.
  std::vector<int64_t> table(capacity, -1);
  const uint64_t mask = capacity - 1;
  for (int64_t i = 0; i < nnz; ++i) {
    const Index col = indices[2 * i + 1];
    // Fibonacci hashing: the multiply spreads nearby columns over the table's top bits.
    uint64_t h = shift >= 64 ? 0 : (static_cast<uint64_t>(col) * 0x9E3779B97F4A7C15ULL) >> shift;
    while (true) {
      const int64_t cell = table[h];
      if (cell < 0) {
        table[h] = static_cast<int64_t>(unique->size());
        (*slot)[i] = table[h];
        unique->push_back(col);
        break;
      }
      if ((*unique)[cell] == col) {
        (*slot)[i] = cell;
        break;
      }
      h = (h + 1) & mask;
    }
  }
}

template <typename T, typename Index>
void SparseDenseMatMulWeightGrad(const Index* indices, const T* values, const int64_t* slot,
                                 int64_t nnz, const T* grad, int64_t grad_cols,
                                 int64_t num_unique, int64_t col_begin, int64_t col_end, T* out) {
  for (int64_t u = 0; u < num_unique; ++u) {
    std::fill(out + u * grad_cols + col_begin, out + u * grad_cols + col_end, T(0));
  }
  const int64_t width = col_end - col_begin;
  for (int64_t i = 0; i < nnz; ++i) {
    const int64_t m = indices[2 * i];
    AxpyRow(values[i], grad + m * grad_cols + col_begin, width,
            out + slot[i] * grad_cols + col_begin);
  }
}

template <typename T, typename Index>
void SparseDenseMatMulValuesGrad(const Index* indices, const T* b, const T* grad, int64_t cols,
                                 int64_t begin, int64_t end, T* out) {
  for (int64_t i = begin; i < end; ++i) {
    if (i + kPrefetchDistance < end) {
      Prefetch(b + static_cast<int64_t>(indices[2 * (i + kPrefetchDistance) + 1]) * cols, cols);
    }
    const T* w = b + static_cast<int64_t>(indices[2 * i + 1]) * cols;
    const T* g = grad + static_cast<int64_t>(indices[2 * i]) * cols;
    T sum = T(0);
    for (int64_t n = 0; n < cols; ++n) sum += w[n] * g[n];
    out[i] = sum;
  }
}

#define TWML_INSTANTIATE_SDM(T, Index)                                                          \
  template void SparseDenseMatMul<T, Index>(const Index*, const T*, int64_t, const T*, int64_t, \
                                            int64_t, int64_t, int64_t, T*);                     \
  template void SparseDenseMatMulWeightGrad<T, Index>(const Index*, const T*, const int64_t*,   \
                                                      int64_t, const T*, int64_t, int64_t,      \
                                                      int64_t, int64_t, T*);                    \
  template void SparseDenseMatMulValuesGrad<T, Index>(const Index*, const T*, const T*,         \
                                                      int64_t, int64_t, int64_t, T*);
#define TWML_INSTANTIATE_SDM_ALL(Index)                                                        \
  template void CheckSparseDenseMatMul<Index>(const Index*, int64_t, int64_t, int64_t, int64_t, \
                                              int64_t);                                        \
  template void UniqueColumns<Index>(const Index*, int64_t, std::vector<Index>*,               \
                                     std::vector<int64_t>*);                                   \
  TWML_INSTANTIATE_SDM(float, Index)                                                           \
  TWML_INSTANTIATE_SDM(double, Index)
TWML_INSTANTIATE_SDM_ALL(int32_t)
TWML_INSTANTIATE_SDM_ALL(int64_t)
#undef TWML_INSTANTIATE_SDM_ALL
#undef TWML_INSTANTIATE_SDM

}  // namespace twml
