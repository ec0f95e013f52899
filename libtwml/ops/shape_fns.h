// Shape functions the record ops share.
#ifndef TWML_OPS_SHAPE_FNS_H_
#define TWML_OPS_SHAPE_FNS_H_

#include "tensorflow/core/framework/shape_inference.h"

namespace twml {

// Output 0 is a scalar (handles, sizes).
inline tensorflow::Status ScalarShape(tensorflow::shape_inference::InferenceContext* c) {
  c->set_output(0, c->Scalar());
  return tensorflow::OkStatus();
}

// Every output is a vector of unknown length (sparse triplets, per-entry columns).
inline tensorflow::Status VectorOutputs(tensorflow::shape_inference::InferenceContext* c) {
  for (int i = 0; i < c->num_outputs(); ++i) {
    c->set_output(i, c->Vector(tensorflow::shape_inference::InferenceContext::kUnknownDim));
  }
  return tensorflow::OkStatus();
}

// Output 0 is a [batch, columns] matrix (labels, weights).
inline tensorflow::Status MatrixShape(tensorflow::shape_inference::InferenceContext* c) {
  using tensorflow::shape_inference::InferenceContext;
  c->set_output(0, c->Matrix(InferenceContext::kUnknownDim, InferenceContext::kUnknownDim));
  return tensorflow::OkStatus();
}

}  // namespace twml

#endif  // TWML_OPS_SHAPE_FNS_H_
