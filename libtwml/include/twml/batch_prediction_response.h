// BatchPredictionResponse and TensorRecord encoding (reference §2.7): what a served twml model
// answers, one DataRecord of predictions per request row.
#ifndef TWML_BATCH_PREDICTION_RESPONSE_H_
#define TWML_BATCH_PREDICTION_RESPONSE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "twml/data_record.h"
#include "twml/tensor.h"
#include "twml/thrift.h"

namespace twml {

// A dense tensor in host memory, row-major, elements in host (little-endian) order; string
// tensors hold their elements in `strings`.
struct DenseTensor {
  TensorType type = TensorType::kFloat32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  std::vector<std::string_view> strings;

  int64_t num_elements() const;
  // Row `row` along dimension 0, as a tensor of shape shape[1:].
  DenseTensor Row(int64_t row) const;
};

// Predictions: a [rows, columns] (or [rows], one column) matrix of float or double.
struct PredictionMatrix {
  const void* data = nullptr;
  bool is_double = false;
  int64_t rows = 0;
  int64_t columns = 0;

  double at(int64_t row, int64_t column) const {
    const int64_t i = row * columns + column;
    return is_double ? static_cast<const double*>(data)[i]
                     : static_cast<double>(static_cast<const float*>(data)[i]);
  }
};

// Row i gets continuousFeatures {keys[j]: values(i, j)} (when `values` has data) and tensors
// {dense_keys[j]: dense[j].Row(i)}. The batch size is values.rows, else the common dim 0 of the
// dense tensors. Throws twml::Error for mismatched keys, columns, batch sizes or tensor counts.
// A key given twice is written once, as the original's writers do: a prediction key with its
// last column's value, a tensor key (here and in the two encoders below) with its first tensor.
std::string EncodeBatchPredictionResponse(const std::vector<int64_t>& keys,
                                          const PredictionMatrix& values,
                                          const std::vector<int64_t>& dense_keys,
                                          const std::vector<DenseTensor>& dense);

// Decodes a serialized BatchPredictionResponse: its field 1, the list of one DataRecord per
// request row (each decoded with `options`; its views point into the reader's bytes). Other
// field ids are errors, as in the request decoder.
std::vector<DataRecord> DecodeBatchPredictionResponse(ThriftReader* reader, const DecodeOptions& options);

// A TensorRecord {tensors: {keys[i]: tensors[i]}} (sparse tensors are never written).
std::string EncodeTensorRecord(const std::vector<int64_t>& keys, const std::vector<DenseTensor>& tensors);

// A DataRecord holding only tensors {keys[i]: tensors[i]}: the DataRecordTensorWriter format.
std::string EncodeTensorDataRecord(const std::vector<int64_t>& keys, const std::vector<DenseTensor>& tensors);

}  // namespace twml

#endif  // TWML_BATCH_PREDICTION_RESPONSE_H_
