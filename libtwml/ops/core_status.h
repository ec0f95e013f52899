// Running libtwml core code inside a kernel: twml::Error becomes a TF Status.
#ifndef TWML_OPS_CORE_STATUS_H_
#define TWML_OPS_CORE_STATUS_H_

#include <utility>

#include "tensorflow/core/framework/op_kernel.h"
#include "twml/error.h"

namespace twml {

// Corrupt file data is DataLoss; everything else a caller passed in is InvalidArgument.
inline tensorflow::Status ToStatus(const Error& error) {
  if (error.code() == ErrorCode::kIO) return tensorflow::errors::DataLoss(error.what());
  return tensorflow::errors::InvalidArgument(error.what());
}

// Runs `fn` and returns its twml::Error, if any, as a Status: use with OP_REQUIRES_OK.
template <typename Fn>
tensorflow::Status RunCore(Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
  } catch (const Error& error) {
    return ToStatus(error);
  }
  return tensorflow::OkStatus();
}

}  // namespace twml

#endif  // TWML_OPS_CORE_STATUS_H_
