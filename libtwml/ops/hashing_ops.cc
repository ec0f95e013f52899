// Hashing ops: FeatureId.
#include <string>
#include <vector>

#include "core_status.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "twml/hashing.h"

namespace twml {
namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("FeatureId")
    .Attr("feature_names: list(string)")
    .Output("output: int64")
    .SetShapeFn([](InferenceContext* c) {
      std::vector<std::string> names;
      TF_RETURN_IF_ERROR(c->GetAttr("feature_names", &names));
      c->set_output(0, c->Vector(static_cast<int64_t>(names.size())));
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Feature ids of feature names, as twml.feature_id computes them.

A name that is not valid UTF-8 is an error naming the byte offset (the original crashed on it;
names found in data, hashed by the decoders, are decoded as the original decoded them).

feature_names: UTF-8 feature names.
output: int64 [len(feature_names)], the id of each name.
)doc");

// The ids depend only on the attr, so they are computed once, when the kernel is built.
class FeatureIdOp : public OpKernel {
 public:
  explicit FeatureIdOp(OpKernelConstruction* context) : OpKernel(context) {
    std::vector<std::string> names;
    OP_REQUIRES_OK(context, context->GetAttr("feature_names", &names));
    ids_.reserve(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      OP_REQUIRES_OK(context, RunCore([&] { ids_.push_back(FeatureId(names[i])); }));
    }
  }

  void Compute(OpKernelContext* context) override {
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(
                                0, {static_cast<int64_t>(ids_.size())}, &output));
    auto flat = output->flat<int64_t>();
    for (size_t i = 0; i < ids_.size(); ++i) flat(i) = ids_[i];
  }

 private:
  std::vector<int64_t> ids_;
};

REGISTER_KERNEL_BUILDER(Name("FeatureId").Device(tensorflow::DEVICE_CPU), FeatureIdOp);

}  // namespace
}  // namespace twml
