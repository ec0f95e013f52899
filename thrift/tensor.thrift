// Tensors carried inside DataRecords and TensorRecords (reference §2.4).
// Field ids and types are part of the wire format: never renumber or retype a field.

namespace java com.twitter.ml.api
namespace py com.twitter.ml.api.tensor

enum DataType {
  FLOAT = 0,
  DOUBLE = 1,
  INT32 = 2,
  INT64 = 3,
  UINT8 = 4,
  STRING = 5,
  BYTE = 6,
  BOOL = 7,
  RESERVED_1 = 8,
  RESERVED_2 = 9,
  RESERVED_3 = 10
}

struct StringTensor {
  1: required list<string> strings
  2: optional list<i64> shape
}

struct Int32Tensor {
  1: required list<i32> ints
  2: optional list<i64> shape
}

struct Int64Tensor {
  1: required list<i64> longs
  2: optional list<i64> shape
}

// Floats travel as doubles on the wire; decoders store them as DOUBLE.
struct FloatTensor {
  1: required list<double> floats
  2: optional list<i64> shape
}

struct DoubleTensor {
  1: required list<double> doubles
  2: optional list<i64> shape
}

struct BoolTensor {
  1: required list<bool> booleans
  2: optional list<i64> shape
}

struct BinaryTensor {
  1: required list<binary> binaries
  2: optional list<i64> shape
}

// content holds the elements as raw little-endian bytes.
struct RawTypedTensor {
  1: required DataType dataType
  2: required binary content
  3: optional list<i64> shape
}

union GeneralTensor {
  1: RawTypedTensor rawTypedTensor
  2: StringTensor stringTensor
  3: Int32Tensor int32Tensor
  4: Int64Tensor int64Tensor
  5: FloatTensor floatTensor
  6: DoubleTensor doubleTensor
  7: BoolTensor boolTensor
  8: BinaryTensor binaryTensor
}

struct COOSparseTensor {
  1: required list<i64> denseShape
  2: required Int64Tensor indices
  3: required GeneralTensor values
}

union SparseTensor {
  1: COOSparseTensor cooSparseTensor
}
