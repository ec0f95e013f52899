#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "twml/binary_sparse_matmul.h"
#include "twml/error.h"

namespace twml {
namespace {

void ExpectError(const std::function<void()>& fn, const std::string& message_part) {
  try {
    fn();
    ADD_FAILURE() << "no error, expected: " << message_part;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kSize);
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

// A dense reference: op(A) * op(B) with A's stored entries counted as ones.
template <typename T, typename Index>
std::vector<T> DenseReference(const std::vector<Index>& indices, int64_t a_rows, int64_t a_cols,
                              bool adjoint_a, const std::vector<T>& b, int64_t b_rows,
                              int64_t b_cols, bool adjoint_b) {
  std::vector<T> a(a_rows * a_cols, T(0));
  for (size_t i = 0; i < indices.size() / 2; ++i) {
    a[indices[2 * i] * a_cols + indices[2 * i + 1]] += T(1);
  }
  const int64_t m_dim = adjoint_a ? a_cols : a_rows;
  const int64_t k_dim = adjoint_a ? a_rows : a_cols;
  const int64_t n_dim = adjoint_b ? b_rows : b_cols;
  std::vector<T> out(m_dim * n_dim, T(0));
  for (int64_t m = 0; m < m_dim; ++m) {
    for (int64_t k = 0; k < k_dim; ++k) {
      const T a_mk = adjoint_a ? a[k * a_cols + m] : a[m * a_cols + k];
      for (int64_t n = 0; n < n_dim; ++n) {
        T b_kn = adjoint_b ? b[n * b_cols + k] : b[k * b_cols + n];
        if constexpr (std::is_same_v<T, std::complex<float>>) {
          if (adjoint_b) b_kn = std::conj(b_kn);
        }
        out[m * n_dim + n] += a_mk * b_kn;
      }
    }
  }
  return out;
}

template <typename T, typename Index>
void CheckRandom(std::mt19937_64& rng, bool adjoint_a, bool adjoint_b, bool split_columns) {
  std::uniform_int_distribution<int64_t> dim(1, 7);
  const int64_t a_rows = dim(rng), a_cols = dim(rng), n = dim(rng);
  const int64_t k = adjoint_a ? a_rows : a_cols;
  const int64_t b_rows = adjoint_b ? n : k, b_cols = adjoint_b ? k : n;
  std::vector<Index> indices;
  const int64_t nnz = dim(rng) * 2;  // duplicates allowed: they add twice
  for (int64_t i = 0; i < nnz; ++i) {
    indices.push_back(static_cast<Index>(rng() % a_rows));
    indices.push_back(static_cast<Index>(rng() % a_cols));
  }
  std::vector<T> b(b_rows * b_cols);
  for (auto& x : b) {
    if constexpr (std::is_same_v<T, std::complex<float>>) {
      x = T(static_cast<float>(rng() % 11) - 5, static_cast<float>(rng() % 7) - 3);
    } else {
      x = static_cast<T>(static_cast<int>(rng() % 11) - 5);
    }
  }
  const MatMulDims dims = CheckBinarySparseMatMul(indices.data(), nnz, a_rows, a_cols, adjoint_a,
                                                  b_rows, b_cols, adjoint_b);
  ASSERT_EQ(dims.rows, adjoint_a ? a_cols : a_rows);
  ASSERT_EQ(dims.cols, n);
  std::vector<T> out(dims.rows * dims.cols, T(99));  // the core must zero what it writes
  if (split_columns) {
    for (int64_t c = 0; c < dims.cols; ++c) {
      BinarySparseMatMul(indices.data(), nnz, adjoint_a, b.data(), b_cols, adjoint_b, dims, c,
                         c + 1, out.data());
    }
  } else {
    BinarySparseMatMul(indices.data(), nnz, adjoint_a, b.data(), b_cols, adjoint_b, dims, 0,
                       dims.cols, out.data());
  }
  // Small integers: every type computes the reference exactly.
  EXPECT_EQ(out, DenseReference(indices, a_rows, a_cols, adjoint_a, b, b_rows, b_cols, adjoint_b));
}

TEST(BinarySparseMatMulTest, MatchesDenseProductForAllTypesAndAdjoints) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    for (bool adjoint_a : {false, true}) {
      for (bool adjoint_b : {false, true}) {
        const bool split = trial % 2 == 1;
        CheckRandom<float, int64_t>(rng, adjoint_a, adjoint_b, split);
        CheckRandom<double, int32_t>(rng, adjoint_a, adjoint_b, split);
        CheckRandom<int32_t, int64_t>(rng, adjoint_a, adjoint_b, split);
        CheckRandom<std::complex<float>, int32_t>(rng, adjoint_a, adjoint_b, split);
      }
    }
  }
}

TEST(BinarySparseMatMulTest, IgnoresValuesAndAddsRowsOfB) {
  // A = [[1, 0, 1], [0, 1, 0]] as a binary pattern; B = [[1, 2], [10, 20], [100, 200]].
  const std::vector<int64_t> indices = {0, 0, 0, 2, 1, 1};
  const std::vector<float> b = {1, 2, 10, 20, 100, 200};
  const MatMulDims dims = CheckBinarySparseMatMul(indices.data(), 3, 2, 3, false, 3, 2, false);
  std::vector<float> out(4);
  BinarySparseMatMul(indices.data(), 3, false, b.data(), 2, false, dims, 0, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{101, 202, 10, 20}));
}

TEST(BinarySparseMatMulTest, RejectsBadIndicesAndShapes) {
  const std::vector<int64_t> bad_row = {0, 0, 2, 1};
  ExpectError([&] { CheckBinarySparseMatMul(bad_row.data(), 2, 2, 3, false, 3, 2, false); },
              "a_indices[1, 0] = 2 is outside [0, 2)");
  const std::vector<int32_t> bad_col = {0, -1};
  ExpectError([&] { CheckBinarySparseMatMul(bad_col.data(), 1, 2, 3, false, 3, 2, false); },
              "a_indices[0, 1] = -1 is outside [0, 3)");
  const std::vector<int64_t> ok = {0, 0};
  ExpectError([&] { CheckBinarySparseMatMul(ok.data(), 1, 2, 3, false, 4, 2, false); },
              "inner dimensions differ");
  ExpectError([&] { CheckBinarySparseMatMul(ok.data(), 1, 2, 3, true, 3, 2, false); },
              "inner dimensions differ");
  ExpectError([&] { CheckBinarySparseMatMul(ok.data(), 1, -2, 3, false, 3, 2, false); },
              "a_shape: negative dimension");
}

// --- SparseMaxNorm ----------------------------------------------------------------------------

TEST(SparseMaxNormTest, DividesByRunningMaximumNotClipping) {
  const std::vector<float> max_values = {2, 0};
  const std::vector<int64_t> indices = {0, 0, 1, 1};
  const std::vector<float> values = {1, -4, 0, 0.5f};
  std::vector<float> normalized(4);
  // Inference: each entry sees the stored maximum only.
  SparseMaxNorm(max_values.data(), nullptr, 2, indices.data(), values.data(), 4, 1e-3f,
                normalized.data());
  EXPECT_EQ(normalized, (std::vector<float>{0.5f, -1, 0, 1}));
  // Training: the second entry of index 0 raises its maximum to 4; index 1 gets 0.5. The zero
  // entry divides by epsilon (0 / eps = 0).
  std::vector<float> updated = max_values;
  SparseMaxNorm(max_values.data(), updated.data(), 2, indices.data(), values.data(), 4, 1e-3f,
                normalized.data());
  EXPECT_EQ(normalized, (std::vector<float>{0.5f, -1, 0, 1}));
  EXPECT_EQ(updated, (std::vector<float>{4, 0.5f}));
  // Repeated index sees the earlier entry's maximum: 8 then 2 -> 1, 0.25.
  const std::vector<int64_t> same = {1, 1};
  const std::vector<float> rising = {8, 2};
  SparseMaxNorm(updated.data(), updated.data(), 2, same.data(), rising.data(), 2, 1e-3f,
                normalized.data());
  EXPECT_EQ(normalized[0], 1);
  EXPECT_EQ(normalized[1], 0.25f);
  EXPECT_EQ(updated[1], 8);
}

TEST(SparseMaxNormTest, ValidatesBeforeWriting) {
  std::vector<float> updated = {1, 1};
  const std::vector<int64_t> indices = {0, 2};
  const std::vector<float> values = {5, 5};
  std::vector<float> normalized(2);
  ExpectError([&] {
    SparseMaxNorm(updated.data(), updated.data(), 2, indices.data(), values.data(), 2, 1e-3f,
                  normalized.data());
  }, "indices[1] = 2 is outside [0, 2)");
  EXPECT_EQ(updated, (std::vector<float>{1, 1}));
}

// --- SparseBatchNorm --------------------------------------------------------------------------

TEST(SparseBatchNormTest, WelfordMatchesPopulationStatistics) {
  std::vector<float> means = {123, 0};  // overwritten by the first value (count 0)
  std::vector<float> variances = {456, 1};
  std::vector<int64_t> counts = {0, 0};
  const std::vector<float> xs = {1, 2, 4, 7, 11};
  std::vector<float> normalized(1);
  for (float x : xs) {
    const int64_t idx = 0;
    SparseBatchNorm(means.data(), variances.data(), counts.data(), 2, &idx, &x, 1, 0.0f,
                    normalized.data());
  }
  EXPECT_EQ(counts[0], 5);
  EXPECT_FLOAT_EQ(means[0], 5.0f);
  EXPECT_FLOAT_EQ(variances[0], (16 + 9 + 1 + 4 + 36) / 5.0f);
  EXPECT_FLOAT_EQ(normalized[0], 6 / std::sqrt(variances[0]));
  EXPECT_EQ(means[1], 0);  // untouched
  // A batch updates the statistics first, then normalizes every entry with them.
  {
    std::vector<float> batch_means = {0}, batch_variances = {1}, out(2);
    std::vector<int64_t> batch_counts = {0};
    const std::vector<int64_t> indices = {0, 0};
    const std::vector<float> values = {1, 3};
    SparseBatchNorm(batch_means.data(), batch_variances.data(), batch_counts.data(), 1,
                    indices.data(), values.data(), 2, 0.0f, out.data());
    EXPECT_EQ(out, (std::vector<float>{-1, 1}));
  }
  // Inference: no update, (v - mean) / sqrt(var + eps).
  const int64_t idx = 1;
  const float v = 3;
  SparseBatchNorm(means.data(), variances.data(), nullptr, 2, &idx, &v, 1, 3.0f,
                  normalized.data());
  EXPECT_FLOAT_EQ(normalized[0], 1.5f);
  EXPECT_EQ(counts[1], 0);
  ExpectError([&] {
    const int64_t bad = -1;
    SparseBatchNorm(means.data(), variances.data(), counts.data(), 2, &bad, &v, 1, 0.0f,
                    normalized.data());
  }, "indices[0] = -1 is outside [0, 2)");
}

}  // namespace
}  // namespace twml
