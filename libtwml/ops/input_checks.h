// Input checks the kernels share, with one wording for their errors.
#ifndef TWML_OPS_INPUT_CHECKS_H_
#define TWML_OPS_INPUT_CHECKS_H_

#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"

namespace twml {

// OK if `tensor` (the input called `name`) is a vector, else "<name> must be a vector, got shape ...".
inline tensorflow::Status CheckVector(const tensorflow::Tensor& tensor, const char* name) {
  if (tensorflow::TensorShapeUtils::IsVector(tensor.shape())) return tensorflow::OkStatus();
  return tensorflow::errors::InvalidArgument(name, " must be a vector, got shape ",
                                             tensor.shape().DebugString());
}

}  // namespace twml

#endif  // TWML_OPS_INPUT_CHECKS_H_
