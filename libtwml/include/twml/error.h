// Errors raised by the libtwml core.
//
// The core reports bad input by throwing twml::Error; the TF kernels turn it into a Status
// (libtwml/ops/core_status.h) and the pybind11 module into a Python ValueError.
#ifndef TWML_ERROR_H_
#define TWML_ERROR_H_

#include <stdexcept>
#include <string>

namespace twml {

// The numeric values are the original libtwml's twml_err codes.
enum class ErrorCode : int {
  kSize = 1001,     // a length or count does not fit the data
  kType = 1002,     // a value of the wrong type
  kThrift = 1100,   // malformed Thrift data
  kIO = 1200,       // unreadable or corrupt file data
  kUnknown = 1999,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}

  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace twml

#endif  // TWML_ERROR_H_
