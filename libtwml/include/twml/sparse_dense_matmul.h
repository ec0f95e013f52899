// The core of SparseTensorDenseMatMulUniqueGrad, a twml extension (not an op of the reference):
// out = A * B for a weighted sparse A ([nnz, 2] (row, column) indices with values) and a dense,
// typically embedding-like B, and the gradients of that product.
//
// The point of the op is its weight gradient: A^T * grad_out has non-zero rows only at A's used
// columns, and it is produced here already de-duplicated (one slice per distinct column), so an
// optimizer's own de-duplication of the IndexedSlices runs over the distinct columns instead of
// over every stored entry.
//
// Validation throws twml::Error (kSize) naming the entry; the loops assume that it passed.
#ifndef TWML_SPARSE_DENSE_MATMUL_H_
#define TWML_SPARSE_DENSE_MATMUL_H_

#include <cstdint>
#include <vector>

namespace twml {

// Throws unless nnz >= 0, the shapes are non-negative and every indices[i] = (row, column)
// (row-major [nnz, 2]) has row in [0, a_rows) and column in [0, min(a_cols, b_rows)).
template <typename Index>
void CheckSparseDenseMatMul(const Index* indices, int64_t nnz, int64_t a_rows, int64_t a_cols,
                            int64_t b_rows, int64_t b_cols);

// Output columns [col_begin, col_end) of out = A * B (out row-major [out_rows, b_cols]): the
// range is zeroed, then out[row, n] += value * B[column, n] for every stored entry in order.
// Disjoint column ranges write disjoint memory (the kernel shards over them without locks).
template <typename T, typename Index>
void SparseDenseMatMul(const Index* indices, const T* values, int64_t nnz, const T* b,
                       int64_t b_cols, int64_t out_rows, int64_t col_begin, int64_t col_end,
                       T* out);

// The distinct columns of indices[i, 1], in order of first appearance, into *unique; slot[i]
// (nnz of them) is the position of entry i's column in *unique. An open-addressing hash map
// (linear probing, at most half full), so O(nnz) whatever the column range.
template <typename Index>
void UniqueColumns(const Index* indices, int64_t nnz, std::vector<Index>* unique,
                   std::vector<int64_t>* slot);

// Columns [col_begin, col_end) of the de-duplicated weight gradient (row-major
// [num_unique, grad_cols]): zeroed, then out[slot[i], n] += values[i] * grad[row_i, n].
template <typename T, typename Index>
void SparseDenseMatMulWeightGrad(const Index* indices, const T* values, const int64_t* slot,
                                 int64_t nnz, const T* grad, int64_t grad_cols,
                                 int64_t num_unique, int64_t col_begin, int64_t col_end, T* out);

// Entries [begin, end) of the values gradient: out[i] = sum_n grad[row_i, n] * B[column_i, n].
template <typename T, typename Index>
void SparseDenseMatMulValuesGrad(const Index* indices, const T* b, const T* grad, int64_t cols,
                                 int64_t begin, int64_t end, T* out);

}  // namespace twml

#endif  // TWML_SPARSE_DENSE_MATMUL_H_
