// The core of SparseTensorDenseMatMulUniqueGrad against naive loops.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "twml/error.h"
#include "twml/sparse_dense_matmul.h"

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

struct Problem {
  int64_t rows, k, cols, nnz;
  std::vector<int64_t> indices;  // [nnz, 2]
  std::vector<double> values, b, grad;
};

// Random entries over few distinct columns (many duplicates), rows drawn from the first half so
// that the second half of the output rows is empty.
Problem MakeProblem(std::mt19937_64* rng, int64_t rows, int64_t k, int64_t cols, int64_t nnz) {
  Problem p{rows, k, cols, nnz, {}, {}, {}, {}};
  std::uniform_int_distribution<int64_t> row(0, std::max<int64_t>(0, rows / 2 - 1));
  std::uniform_int_distribution<int64_t> col(0, k - 1);
  std::normal_distribution<double> normal;
  for (int64_t i = 0; i < nnz; ++i) {
    p.indices.push_back(row(*rng));
    p.indices.push_back(col(*rng));
    p.values.push_back(normal(*rng));
  }
  for (int64_t i = 0; i < k * cols; ++i) p.b.push_back(normal(*rng));
  for (int64_t i = 0; i < rows * cols; ++i) p.grad.push_back(normal(*rng));
  return p;
}

template <typename Index>
std::vector<Index> Cast(const std::vector<int64_t>& x) {
  return std::vector<Index>(x.begin(), x.end());
}

template <typename T, typename Index>
void CheckAll(const Problem& p, int64_t split) {
  const std::vector<Index> indices = Cast<Index>(p.indices);
  const std::vector<T> values(p.values.begin(), p.values.end());
  const std::vector<T> b(p.b.begin(), p.b.end());
  const std::vector<T> grad(p.grad.begin(), p.grad.end());
  CheckSparseDenseMatMul(indices.data(), p.nnz, p.rows, p.k, p.k, p.cols);
  const double tol = sizeof(T) == 4 ? 1e-4 : 1e-10;

  // Forward: two column ranges computed separately, as two shards would; NaN-filled output.
  std::vector<T> out(p.rows * p.cols, T(NAN));
  SparseDenseMatMul(indices.data(), values.data(), p.nnz, b.data(), p.cols, p.rows, 0, split,
                    out.data());
  SparseDenseMatMul(indices.data(), values.data(), p.nnz, b.data(), p.cols, p.rows, split, p.cols,
                    out.data());
  std::vector<double> expected(p.rows * p.cols, 0.0);
  for (int64_t i = 0; i < p.nnz; ++i) {
    for (int64_t n = 0; n < p.cols; ++n) {
      expected[p.indices[2 * i] * p.cols + n] += p.values[i] * p.b[p.indices[2 * i + 1] * p.cols + n];
    }
  }
  for (size_t j = 0; j < out.size(); ++j) ASSERT_NEAR(out[j], expected[j], tol) << j;

  // Weight gradient: unique columns in order of first appearance, summed slices.
  std::vector<Index> unique;
  std::vector<int64_t> slot;
  UniqueColumns(indices.data(), p.nnz, &unique, &slot);
  std::vector<int64_t> expected_unique;
  for (int64_t i = 0; i < p.nnz; ++i) {
    const int64_t c = p.indices[2 * i + 1];
    if (std::find(expected_unique.begin(), expected_unique.end(), c) == expected_unique.end()) {
      expected_unique.push_back(c);
    }
  }
  ASSERT_EQ(Cast<int64_t>(std::vector<int64_t>(unique.begin(), unique.end())), expected_unique);
  for (int64_t i = 0; i < p.nnz; ++i) ASSERT_EQ(unique[slot[i]], indices[2 * i + 1]);
  const int64_t u = static_cast<int64_t>(unique.size());
  std::vector<T> slices(u * p.cols, T(NAN));
  SparseDenseMatMulWeightGrad(indices.data(), values.data(), slot.data(), p.nnz, grad.data(),
                              p.cols, u, 0, split, slices.data());
  SparseDenseMatMulWeightGrad(indices.data(), values.data(), slot.data(), p.nnz, grad.data(),
                              p.cols, u, split, p.cols, slices.data());
  for (int64_t s = 0; s < u; ++s) {
    for (int64_t n = 0; n < p.cols; ++n) {
      double want = 0;
      for (int64_t i = 0; i < p.nnz; ++i) {
        if (p.indices[2 * i + 1] == expected_unique[s]) {
          want += p.values[i] * p.grad[p.indices[2 * i] * p.cols + n];
        }
      }
      ASSERT_NEAR(slices[s * p.cols + n], want, tol) << s << "," << n;
    }
  }

  // Values gradient, in two entry ranges.
  std::vector<T> values_grad(p.nnz, T(NAN));
  SparseDenseMatMulValuesGrad(indices.data(), b.data(), grad.data(), p.cols, 0, p.nnz / 2,
                              values_grad.data());
  SparseDenseMatMulValuesGrad(indices.data(), b.data(), grad.data(), p.cols, p.nnz / 2, p.nnz,
                              values_grad.data());
  for (int64_t i = 0; i < p.nnz; ++i) {
    double want = 0;
    for (int64_t n = 0; n < p.cols; ++n) {
      want += p.grad[p.indices[2 * i] * p.cols + n] * p.b[p.indices[2 * i + 1] * p.cols + n];
    }
    ASSERT_NEAR(values_grad[i], want, tol) << i;
  }
}

TEST(SparseDenseMatMul, MatchesNaiveLoops) {
  std::mt19937_64 rng(7);
  for (const auto& shape : std::vector<std::vector<int64_t>>{
           {8, 5, 3, 40}, {16, 1000, 64, 300}, {6, 3, 17, 1}, {4, 9, 10, 0}, {32, 50000, 19, 500}}) {
    const Problem p = MakeProblem(&rng, shape[0], shape[1], shape[2], shape[3]);
    const int64_t split = p.cols / 2;
    CheckAll<float, int32_t>(p, split);
    CheckAll<float, int64_t>(p, split);
    CheckAll<double, int32_t>(p, split);
    CheckAll<double, int64_t>(p, split);
  }
}

TEST(SparseDenseMatMul, UniqueColumnsOfLargeAndNegativeKeys) {
  // Keys that collide in the table's low bits still come out distinct and in order.
  const std::vector<int64_t> indices = {0, 1LL << 40, 0, 0, 1, 1LL << 40, 1, 1LL << 41, 2, 0};
  std::vector<int64_t> unique;
  std::vector<int64_t> slot;
  UniqueColumns(indices.data(), 5, &unique, &slot);
  EXPECT_EQ(unique, (std::vector<int64_t>{1LL << 40, 0, 1LL << 41}));
  EXPECT_EQ(slot, (std::vector<int64_t>{0, 1, 0, 2, 1}));
}

TEST(SparseDenseMatMul, BoundsErrorsNameTheEntry) {
  const std::vector<int64_t> ok = {0, 0, 1, 2};
  CheckSparseDenseMatMul(ok.data(), 2, 2, 3, 3, 4);
  const std::vector<int64_t> bad_row = {0, 0, 2, 2};
  ExpectError([&] { CheckSparseDenseMatMul(bad_row.data(), 2, 2, 3, 3, 4); },
              "a_indices[1, 0] = 2 is outside [0, 2)");
  const std::vector<int32_t> bad_col = {0, 3, 1, 2};
  ExpectError([&] { CheckSparseDenseMatMul(bad_col.data(), 2, 2, 3, 3, 4); },
              "a_indices[0, 1] = 3 is outside [0, 3)");
  const std::vector<int64_t> negative = {0, -1};
  ExpectError([&] { CheckSparseDenseMatMul(negative.data(), 1, 2, 3, 3, 4); },
              "a_indices[0, 1] = -1");
  // A column inside a_shape but past b's rows.
  const std::vector<int64_t> past_b = {0, 2};
  ExpectError([&] { CheckSparseDenseMatMul(past_b.data(), 1, 2, 5, 2, 4); },
              "a_indices[0, 1] = 2 is outside [0, 2)");
  ExpectError([&] { CheckSparseDenseMatMul(ok.data(), 2, -1, 3, 3, 4); }, "negative dimension");
}

}  // namespace
}  // namespace twml
