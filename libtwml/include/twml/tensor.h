// Tensors inside records (tensor.thrift): decoded as views into the record's bytes, and encoded.
#ifndef TWML_TENSOR_H_
#define TWML_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "twml/thrift.h"

namespace twml {

// Element types, numbered as the original's twml_type.
enum class TensorType : int {
  kFloat32 = 1,
  kFloat64 = 2,
  kInt32 = 3,
  kInt64 = 4,
  kInt8 = 5,
  kUInt8 = 6,
  kBool = 7,
  kString = 8,
};

// "float32", "float64", "int32", "int64", "int8", "uint8", "bool", "string".
const char* TensorTypeName(TensorType type);
// Bytes per element (1 for strings, whose elements are counted, not sized).
size_t TensorElementSize(TensorType type);

// A tensor of a record, pointing into the record's bytes (which must outlive it).
//
// Typed list tensors (Int32Tensor, FloatTensor, ...) point at the Thrift list's big-endian
// elements (`big_endian` true; FloatTensor and DoubleTensor both hold doubles on the wire, so
// both are kFloat64). RawTypedTensor points at its little-endian `content`. A StringTensor has
// type kString and its elements in `strings`.
struct RawTensor {
  TensorType type = TensorType::kFloat32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t byte_length = 0;
  bool big_endian = false;
  std::vector<std::string_view> strings;

  int64_t num_elements() const;
};

// A COOSparseTensor: int64 indices (big-endian, row-major [nnz, rank]) and values.
struct RawSparseTensor {
  std::vector<int64_t> dense_shape;
  RawTensor indices;
  RawTensor values;
};

// Decode a GeneralTensor / SparseTensor union at the reader's position (reference §2.8).
// Rejects BinaryTensor, the BYTE data type, unions without exactly one field, element lists of
// the wrong type and shapes that do not match the element count.
RawTensor DecodeGeneralTensor(ThriftReader* reader);
RawSparseTensor DecodeSparseTensor(ThriftReader* reader);

// Encode a tensor as a GeneralTensor (reference §2.7): strings as a StringTensor, everything
// else as a RawTypedTensor with little-endian content. `data` holds num_elements values of
// `type` in host (little-endian) order; int8 is not encodable.
void EncodeGeneralTensor(TensorType type, const std::vector<int64_t>& shape, const void* data,
                         const std::vector<std::string_view>& strings, ThriftWriter* writer);

}  // namespace twml

#endif  // TWML_TENSOR_H_
