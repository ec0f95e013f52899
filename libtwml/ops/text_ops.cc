// Text ops (reference §5.10): GetSubstrings.
#include <cstdint>
#include <string>
#include <string_view>

#include "core_status.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "twml/substrings.h"

namespace twml {
namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::tstring;

REGISTER_OP("GetSubstrings")
    .Attr("ValueType: {string} = DT_STRING")
    .Attr("min_n: int")
    .Attr("max_n: int")
    .Attr("unit: {'byte', 'character'} = 'byte'")
    .Input("values: ValueType")
    .Output("substrings: ValueType")
    .SetShapeFn(tensorflow::shape_inference::UnchangedShape)
    .Doc(R"doc(
The n-grams of each word, fastText style, as one ';'-joined string per word.

For a word w: the set {w, "<w>", every substring of "<w>" of min_n..max_n units}, sorted
bytewise and joined by ';'. Unlike fastText, "<" and ">" alone are included when min_n is 1.

values: string, any shape: the words.
min_n: the shortest n-gram, at least 1.
max_n: the longest n-gram, at least min_n. A word's n-grams may take at most 4 MiB (counting a
  ';' each, before duplicates are removed): lower max_n for very long words.
unit: what n counts. 'byte' (the default, as the original): an n-gram of a non-ASCII word may
  split a UTF-8 character, and models trained on the original's tokens need exactly these.
  'character' (an opt-in of this project): a UTF-8 lead (or ASCII) byte with the continuation
  bytes after it, so no n-gram splits a multi-byte character; bytes are not otherwise validated.
substrings: string, values' shape.
)doc");

class GetSubstringsOp : public OpKernel {
 public:
  explicit GetSubstringsOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("min_n", &min_n_));
    OP_REQUIRES_OK(context, context->GetAttr("max_n", &max_n_));
    std::string unit;
    OP_REQUIRES_OK(context, context->GetAttr("unit", &unit));
    unit_ = unit == "character" ? SubstringUnit::kCharacter : SubstringUnit::kByte;
    OP_REQUIRES_OK(context, RunCore([&] { CheckSubstringLengths(min_n_, max_n_); }));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& values = context->input(0);
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, values.shape(), &output));
    const auto words = values.flat<tstring>();
    auto substrings = output->flat<tstring>();
    int64_t i = 0;
    const Status status = RunCore([&] {
      for (; i < words.size(); ++i) {
        substrings(i) = GetSubstrings(std::string_view(words(i).data(), words(i).size()), min_n_,
                                      max_n_, unit_);
      }
    });
    OP_REQUIRES(context, status.ok(),
                tensorflow::errors::InvalidArgument("word #", i, " of values: ", status.message()));
  }

 private:
  int64_t min_n_ = 0;
  int64_t max_n_ = 0;
  SubstringUnit unit_ = SubstringUnit::kByte;
};

REGISTER_KERNEL_BUILDER(Name("GetSubstrings").Device(tensorflow::DEVICE_CPU), GetSubstringsOp);

}  // namespace
}  // namespace twml
