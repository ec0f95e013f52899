// Sparse helper ops (reference §5.9): Hashmap, FeatureMask, FeatureExtractor, FixedLengthTensor,
// FixedLengthTensorV2, PartitionSparseTensorMod, CompressSampleIds, DecompressSampleIds.
#include <cstdint>
#include <string>
#include <vector>

#include "core_status.h"
#include "input_checks.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "twml/hashmap.h"
#include "twml/sparse_ops.h"

namespace twml {
namespace {

using tensorflow::DataType;
using tensorflow::DataTypeString;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShapeUtils;
using tensorflow::tstring;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

// ---------------------------------------------------------------------------------------------
// Hashmap

REGISTER_OP("Hashmap")
    .Input("keys: int64")
    .Input("hash_keys: int64")
    .Input("hash_values: int64")
    .Output("values: int64")
    .Output("mask: int8")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(0));
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Looks keys up in the map hash_keys[i] -> hash_values[i].

The map is built once per kernel instance, from the tables of the first call that succeeds;
later calls' hash_keys/hash_values are ignored (but must still have equal sizes). When a key
repeats in hash_keys, its last value wins.

keys: int64, any shape.
hash_keys: int64, any shape, as many elements as hash_values.
hash_values: int64, any shape.
values: int64, keys' shape: the mapped value of each key found, else the key itself.
mask: int8, keys' shape: 1 where the key was found, else 0.
)doc");

class HashmapOp : public OpKernel {
 public:
  explicit HashmapOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& keys = context->input(0);
    const Tensor& hash_keys = context->input(1);
    const Tensor& hash_values = context->input(2);
    OP_REQUIRES(context, hash_keys.NumElements() == hash_values.NumElements(),
                InvalidArgument("hash_keys has ", hash_keys.NumElements(),
                                " elements but hash_values has ", hash_values.NumElements(),
                                "; they must match"));
    const Int64Map* map = nullptr;
    OP_REQUIRES_OK(context, RunCore([&] {
                     map = &map_.Get(hash_keys.flat<int64_t>().data(), hash_keys.NumElements(),
                                     hash_values.flat<int64_t>().data(),
                                     hash_values.NumElements());
                   }));
    Tensor* values = nullptr;
    Tensor* mask = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, keys.shape(), &values));
    OP_REQUIRES_OK(context, context->allocate_output(1, keys.shape(), &mask));
    map->Lookup(keys.flat<int64_t>().data(), keys.NumElements(), values->flat<int64_t>().data(),
                mask->flat<int8_t>().data());
  }

 private:
  // Compute runs concurrently across steps; LazyInt64Map builds the map once under its lock.
  LazyInt64Map map_;
};

REGISTER_KERNEL_BUILDER(Name("Hashmap").Device(tensorflow::DEVICE_CPU), HashmapOp);

// ---------------------------------------------------------------------------------------------
// FeatureMask

REGISTER_OP("FeatureMask")
    .Attr("T: {int64, int8}")
    .Attr("list_keep: list(int)")
    .Input("keep: T")
    .Output("mask: bool")
    .SetShapeFn(tensorflow::shape_inference::UnchangedShape)
    .Doc(R"doc(
Marks the elements of keep that are in list_keep.

keep: int64 or int8, any shape. An int8 element matches a list_keep value only if they are
  equal as numbers (a list_keep value outside [-128, 127] matches nothing).
list_keep: the values to keep.
mask: bool, keep's shape: whether each element is in list_keep.
)doc");

template <typename T>
class FeatureMaskOp : public OpKernel {
 public:
  explicit FeatureMaskOp(OpKernelConstruction* context) : OpKernel(context) {
    std::vector<int64_t> list_keep;
    OP_REQUIRES_OK(context, context->GetAttr("list_keep", &list_keep));
    masker_ = FeatureMasker(list_keep);
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& keep = context->input(0);
    Tensor* mask = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, keep.shape(), &mask));
    masker_.Apply(keep.flat<T>().data(), keep.NumElements(), mask->flat<bool>().data());
  }

 private:
  FeatureMasker masker_{std::vector<int64_t>{}};
};

REGISTER_KERNEL_BUILDER(
    Name("FeatureMask").Device(tensorflow::DEVICE_CPU).TypeConstraint<int64_t>("T"),
    FeatureMaskOp<int64_t>);
REGISTER_KERNEL_BUILDER(
    Name("FeatureMask").Device(tensorflow::DEVICE_CPU).TypeConstraint<int8_t>("T"),
    FeatureMaskOp<int8_t>);

// ---------------------------------------------------------------------------------------------
// FeatureExtractor

constexpr const char* kExtractorInputs[] = {"mask_in",   "ids_in",   "keys_in",
                                            "values_in", "codes_in", "types_in"};

REGISTER_OP("FeatureExtractor")
    .Attr("T: {float, double} = DT_FLOAT")
    .Input("mask_in: bool")
    .Input("ids_in: int64")
    .Input("keys_in: int64")
    .Input("values_in: T")
    .Input("codes_in: int64")
    .Input("types_in: int8")
    .Output("ids_out: int64")
    .Output("keys_out: int64")
    .Output("values_out: T")
    .Output("codes_out: int64")
    .Output("types_out: int8")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle vector;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 1, &vector));
      for (int i = 1; i < 6; ++i) {
        ShapeHandle input;
        TF_RETURN_IF_ERROR(c->WithRank(c->input(i), 1, &input));
        TF_RETURN_IF_ERROR(c->Merge(vector, input, &vector));
      }
      for (int i = 0; i < 5; ++i) c->set_output(i, c->Vector(InferenceContext::kUnknownDim));
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Keeps the entries of a hashed-feature batch whose mask is true, in order.

mask_in: bool [n].
ids_in: int64 [n], the row of each entry.
keys_in: int64 [n].
values_in: T [n].
codes_in: int64 [n].
types_in: int8 [n].
ids_out: int64 [k], k = number of true entries of mask_in; likewise the other outputs.
)doc");

template <typename T>
class FeatureExtractorOp : public OpKernel {
 public:
  explicit FeatureExtractorOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& mask = context->input(0);
    for (int i = 0; i < 6; ++i) {
      const Tensor& input = context->input(i);
      OP_REQUIRES_OK(context, CheckVector(input, kExtractorInputs[i]));
      OP_REQUIRES(context, input.NumElements() == mask.NumElements(),
                  InvalidArgument(kExtractorInputs[i], " has ", input.NumElements(),
                                  " elements but mask_in has ", mask.NumElements(),
                                  "; all inputs must have the same length"));
    }
    const bool* mask_data = mask.flat<bool>().data();
    const size_t size = mask.NumElements();
    const int64_t kept = CountTrue(mask_data, size);
    Compact<int64_t>(context, 1, 0, mask_data, size, kept);
    Compact<int64_t>(context, 2, 1, mask_data, size, kept);
    Compact<T>(context, 3, 2, mask_data, size, kept);
    Compact<int64_t>(context, 4, 3, mask_data, size, kept);
    Compact<int8_t>(context, 5, 4, mask_data, size, kept);
  }

 private:
  template <typename V>
  static void Compact(OpKernelContext* context, int input, int output, const bool* mask,
                      size_t size, int64_t kept) {
    Tensor* out = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(output, {kept}, &out));
    CompactByMask(mask, size, context->input(input).flat<V>().data(), out->flat<V>().data());
  }
};

REGISTER_KERNEL_BUILDER(
    Name("FeatureExtractor").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    FeatureExtractorOp<float>);
REGISTER_KERNEL_BUILDER(
    Name("FeatureExtractor").Device(tensorflow::DEVICE_CPU).TypeConstraint<double>("T"),
    FeatureExtractorOp<double>);

// ---------------------------------------------------------------------------------------------
// FixedLengthTensor, FixedLengthTensorV2

// The output is [batch_size, max_length], or [batch_size, ?] when max_length < 0.
Status FixedLengthShapeFn(InferenceContext* c, DimensionHandle batch_size) {
  ShapeHandle ids;
  ShapeHandle values;
  ShapeHandle pad;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 1, &ids));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 1, &values));
  TF_RETURN_IF_ERROR(c->Merge(ids, values, &ids));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 0, &pad));
  int64_t max_length = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("max_length", &max_length));
  c->set_output(0, c->Matrix(batch_size, max_length >= 0 ? c->MakeDim(max_length)
                                                         : c->UnknownDim()));
  return tensorflow::OkStatus();
}

constexpr char kFixedLengthDoc[] = R"doc(
Packs the values of each segment into one row of a [batch_size, length] tensor.

Row r holds, in order, the values whose segment id is r, truncated to length and padded with
pad_value; rows without values are all padding. length is max_length, or the longest run of
equal segment ids when max_length < 0 (the original left that case undefined; here it is
defined, a deliberate extension).

segment_ids: IndexType [n], non-negative and non-decreasing (sorted).
values: ValueType [n].
pad_value: ValueType scalar.
max_length: the row length, or < 0 for the longest segment.
)doc";

REGISTER_OP("FixedLengthTensor")
    .Attr("IndexType: {int64, int32}")
    .Attr("ValueType: {int64, int32, string}")
    .Attr("max_length: int")
    .Input("segment_ids: IndexType")
    .Input("values: ValueType")
    .Input("pad_value: ValueType")
    .Output("segmented_output: ValueType")
    .SetShapeFn([](InferenceContext* c) {
      return FixedLengthShapeFn(c, c->UnknownDim());
    })
    .Doc(std::string(kFixedLengthDoc) +
         "segmented_output: ValueType [batch_size, length], batch_size = last segment id + 1\n"
         "  (0 for no values). It may exceed n by at most 65536 rows: sparser segment ids are\n"
         "  refused rather than allocated (FixedLengthTensorV2 takes the batch size).\n");

REGISTER_OP("FixedLengthTensorV2")
    .Attr("IndexType: {int64, int32}")
    .Attr("ValueType: {int64, int32, string}")
    .Attr("max_length: int")
    .Input("segment_ids: IndexType")
    .Input("values: ValueType")
    .Input("pad_value: ValueType")
    .Input("batch_size: int64")
    .Output("segmented_output: ValueType")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle scalar;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 0, &scalar));
      DimensionHandle batch_size;
      TF_RETURN_IF_ERROR(c->MakeDimForScalarInput(3, &batch_size));
      return FixedLengthShapeFn(c, batch_size);
    })
    .Doc(std::string(kFixedLengthDoc) +
         "batch_size: int64 scalar, at least the last segment id + 1.\n"
         "segmented_output: ValueType [batch_size, length].\n");

template <typename Index, typename Value, bool kV2>
class FixedLengthTensorOp : public OpKernel {
 public:
  explicit FixedLengthTensorOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("max_length", &max_length_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& segment_ids = context->input(0);
    const Tensor& values = context->input(1);
    const Tensor& pad_value = context->input(2);
    OP_REQUIRES_OK(context, CheckVector(segment_ids, "segment_ids"));
    OP_REQUIRES_OK(context, CheckVector(values, "values"));
    OP_REQUIRES(context, segment_ids.NumElements() == values.NumElements(),
                InvalidArgument("segment_ids has ", segment_ids.NumElements(),
                                " elements but values has ", values.NumElements(),
                                "; they must match"));
    OP_REQUIRES(context, TensorShapeUtils::IsScalar(pad_value.shape()),
                InvalidArgument("pad_value must be a scalar, got shape ",
                                pad_value.shape().DebugString()));
    int64_t batch_size = -1;  // implied by the segment ids
    if (kV2) {
      const Tensor& batch = context->input(3);
      OP_REQUIRES(context, TensorShapeUtils::IsScalar(batch.shape()),
                  InvalidArgument("batch_size must be a scalar, got shape ",
                                  batch.shape().DebugString()));
      batch_size = batch.scalar<int64_t>()();
      OP_REQUIRES(context, batch_size >= 0,
                  InvalidArgument("batch_size = ", batch_size, " must be non-negative"));
    }

    const Index* ids = segment_ids.flat<Index>().data();
    const int64_t size = segment_ids.NumElements();
    FixedLengthShape shape{};
    OP_REQUIRES_OK(context, RunCore([&] {
                     shape = FixedLengthTensorShape(ids, size, max_length_, batch_size);
                   }));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, {shape.batch_size, shape.length}, &output));
    FillFixedLengthTensor(ids, values.flat<Value>().data(), size, pad_value.scalar<Value>()(),
                          shape, output->flat<Value>().data());
  }

 private:
  int64_t max_length_ = -1;
};

#define TWML_REGISTER_FIXED_LENGTH(Index, Value)                                        \
  REGISTER_KERNEL_BUILDER(Name("FixedLengthTensor")                                     \
                              .Device(tensorflow::DEVICE_CPU)                           \
                              .TypeConstraint<Index>("IndexType")                       \
                              .TypeConstraint<Value>("ValueType"),                      \
                          FixedLengthTensorOp<Index, Value, false>);                    \
  REGISTER_KERNEL_BUILDER(Name("FixedLengthTensorV2")                                   \
                              .Device(tensorflow::DEVICE_CPU)                           \
                              .TypeConstraint<Index>("IndexType")                       \
                              .TypeConstraint<Value>("ValueType"),                      \
                          FixedLengthTensorOp<Index, Value, true>)

TWML_REGISTER_FIXED_LENGTH(int32_t, int32_t);
TWML_REGISTER_FIXED_LENGTH(int32_t, int64_t);
TWML_REGISTER_FIXED_LENGTH(int32_t, tstring);
TWML_REGISTER_FIXED_LENGTH(int64_t, int32_t);
TWML_REGISTER_FIXED_LENGTH(int64_t, int64_t);
TWML_REGISTER_FIXED_LENGTH(int64_t, tstring);

#undef TWML_REGISTER_FIXED_LENGTH

// ---------------------------------------------------------------------------------------------
// PartitionSparseTensorMod

// output_types must be [int64, T] repeated num_partitions times.
Status CheckPartitionOutputTypes(const std::vector<DataType>& output_types,
                                 int64_t num_partitions, DataType value_type) {
  if (static_cast<int64_t>(output_types.size()) != 2 * num_partitions) {
    return InvalidArgument("output_types has ", output_types.size(),
                           " types but must have 2 * num_partitions = ", 2 * num_partitions);
  }
  for (size_t i = 0; i < output_types.size(); ++i) {
    const DataType expected = i % 2 == 0 ? tensorflow::DT_INT64 : value_type;
    if (output_types[i] != expected) {
      return InvalidArgument("output_types[", i, "] is ", DataTypeString(output_types[i]),
                             " but must be ", DataTypeString(expected),
                             " (output_types is [int64, T] * num_partitions)");
    }
  }
  return tensorflow::OkStatus();
}

REGISTER_OP("PartitionSparseTensorMod")
    .Attr("T: {float, double}")
    .Attr("num_partitions: int >= 1")
    .Attr("output_types: list({int64, float, double})")
    .Input("indices: int64")
    .Input("values: T")
    .Output("result: output_types")
    .SetShapeFn([](InferenceContext* c) {
      int64_t num_partitions = 0;
      std::vector<DataType> output_types;
      DataType value_type = tensorflow::DT_INVALID;
      TF_RETURN_IF_ERROR(c->GetAttr("num_partitions", &num_partitions));
      TF_RETURN_IF_ERROR(c->GetAttr("output_types", &output_types));
      TF_RETURN_IF_ERROR(c->GetAttr("T", &value_type));
      TF_RETURN_IF_ERROR(CheckPartitionOutputTypes(output_types, num_partitions, value_type));
      ShapeHandle indices;
      ShapeHandle values;
      DimensionHandle unused;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &indices));
      TF_RETURN_IF_ERROR(c->WithValue(c->Dim(indices, 1), 2, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 1, &values));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(indices, 0), c->Dim(values, 0), &unused));
      for (int64_t p = 0; p < num_partitions; ++p) {
        c->set_output(2 * p, c->Matrix(InferenceContext::kUnknownDim, 2));
        c->set_output(2 * p + 1, c->Vector(InferenceContext::kUnknownDim));
      }
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Splits a sparse batch by key modulo num_partitions, e.g. to place embedding shards.

Entry i, (id, key) = indices[i] with values[i], goes to partition p = key mod num_partitions as
(id, key / num_partitions), keeping the input order within each partition. Keys must be
non-negative: a negative key is an error (it has no partition under truncating division).

indices: int64 [n, 2], rows (id, key).
values: T [n].
num_partitions: the number of partitions P, at least 1.
output_types: [int64, T] * P.
result: 2 * P tensors: for each partition p, result[2p] = int64 [n_p, 2] indices and
  result[2p + 1] = T [n_p] values.
)doc");

template <typename T>
class PartitionSparseTensorModOp : public OpKernel {
 public:
  explicit PartitionSparseTensorModOp(OpKernelConstruction* context) : OpKernel(context) {
    std::vector<DataType> output_types;
    OP_REQUIRES_OK(context, context->GetAttr("num_partitions", &num_partitions_));
    OP_REQUIRES_OK(context, context->GetAttr("output_types", &output_types));
    OP_REQUIRES_OK(context, CheckPartitionOutputTypes(output_types, num_partitions_,
                                                      tensorflow::DataTypeToEnum<T>::value));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& indices = context->input(0);
    const Tensor& values = context->input(1);
    OP_REQUIRES(context,
                TensorShapeUtils::IsMatrix(indices.shape()) && indices.dim_size(1) == 2,
                InvalidArgument("indices must be a [n, 2] matrix of (id, key), got shape ",
                                indices.shape().DebugString()));
    OP_REQUIRES_OK(context, CheckVector(values, "values"));
    OP_REQUIRES(context, values.NumElements() == indices.dim_size(0),
                InvalidArgument("indices has ", indices.dim_size(0), " rows but values has ",
                                values.NumElements(), " elements; they must match"));
    const int64_t* index_data = indices.flat<int64_t>().data();
    const int64_t size = values.NumElements();
    std::vector<int64_t> sizes;
    OP_REQUIRES_OK(context, RunCore([&] {
                     sizes = PartitionSizes(index_data, size, num_partitions_);
                   }));
    std::vector<int64_t*> out_indices(num_partitions_);
    std::vector<T*> out_values(num_partitions_);
    for (int64_t p = 0; p < num_partitions_; ++p) {
      Tensor* partition_indices = nullptr;
      Tensor* partition_values = nullptr;
      OP_REQUIRES_OK(context,
                     context->allocate_output(2 * p, {sizes[p], 2}, &partition_indices));
      OP_REQUIRES_OK(context,
                     context->allocate_output(2 * p + 1, {sizes[p]}, &partition_values));
      out_indices[p] = partition_indices->flat<int64_t>().data();
      out_values[p] = partition_values->flat<T>().data();
    }
    PartitionSparseTensorMod(index_data, values.flat<T>().data(), size, out_indices, out_values);
  }

 private:
  int64_t num_partitions_ = 0;
};

REGISTER_KERNEL_BUILDER(
    Name("PartitionSparseTensorMod").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    PartitionSparseTensorModOp<float>);
REGISTER_KERNEL_BUILDER(
    Name("PartitionSparseTensorMod").Device(tensorflow::DEVICE_CPU).TypeConstraint<double>("T"),
    PartitionSparseTensorModOp<double>);

// ---------------------------------------------------------------------------------------------
// CompressSampleIds, DecompressSampleIds

Status VectorOfUnknownLength(InferenceContext* c) {
  ShapeHandle input;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 1, &input));
  c->set_output(0, c->Vector(InferenceContext::kUnknownDim));
  return tensorflow::OkStatus();
}

REGISTER_OP("CompressSampleIds")
    .Attr("T: {int32}")
    .Input("input: T")
    .Output("output: T")
    .SetShapeFn(VectorOfUnknownLength)
    .Doc(R"doc(
Counts the entries of each sample id.

input: int32 [n] sample ids, non-negative and non-decreasing.
output: int32 [last id + 1] (empty for no ids): output[j] = number of ids equal to j. The
  length may exceed n by at most 65536: sparser ids are refused rather than allocated.
)doc");

REGISTER_OP("DecompressSampleIds")
    .Attr("T: {int32}")
    .Input("input: T")
    .Output("output: T")
    .SetShapeFn(VectorOfUnknownLength)
    .Doc(R"doc(
The inverse of CompressSampleIds: repeats each index i input[i] times, in order.

input: int32 [n] counts, non-negative, summing to at most 2^31 - 1.
output: int32 [sum of input].
)doc");

class CompressSampleIdsOp : public OpKernel {
 public:
  explicit CompressSampleIdsOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& input = context->input(0);
    OP_REQUIRES_OK(context, CheckVector(input, "input"));
    const int32_t* ids = input.flat<int32_t>().data();
    int64_t length = 0;
    OP_REQUIRES_OK(context, RunCore([&] { length = CompressedLength(ids, input.NumElements()); }));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, {length}, &output));
    CompressSampleIds(ids, input.NumElements(), output->flat<int32_t>().data());
  }
};

class DecompressSampleIdsOp : public OpKernel {
 public:
  explicit DecompressSampleIdsOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& input = context->input(0);
    OP_REQUIRES_OK(context, CheckVector(input, "input"));
    const int32_t* counts = input.flat<int32_t>().data();
    int64_t length = 0;
    OP_REQUIRES_OK(context,
                   RunCore([&] { length = DecompressedLength(counts, input.NumElements()); }));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, {length}, &output));
    DecompressSampleIds(counts, input.NumElements(), output->flat<int32_t>().data());
  }
};

REGISTER_KERNEL_BUILDER(
    Name("CompressSampleIds").Device(tensorflow::DEVICE_CPU).TypeConstraint<int32_t>("T"),
    CompressSampleIdsOp);
REGISTER_KERNEL_BUILDER(
    Name("DecompressSampleIds").Device(tensorflow::DEVICE_CPU).TypeConstraint<int32_t>("T"),
    DecompressSampleIdsOp);

}  // namespace
}  // namespace twml
