// DataRecord ops (reference §5.1, §5.3): DecodeDataRecord, DecodeBatchPredictionRequest(V2)
// and the getters that read a decoded batch.
//
// Every per-type and hashed getter emits, for each row, the common record's entries
// (BatchPredictionRequest input) and then the row's own, each in wire order; the *AsTensor
// getters read the rows' own records only, as the original's did.
#include <array>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "record_resource.h"
#include "shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "twml/record_views.h"

namespace twml {
namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::tstring;
using tensorflow::core::RefCountPtr;
using tensorflow::shape_inference::InferenceContext;

// ---------------------------------------------------------------------------------------------
// Decoding.

REGISTER_OP("DecodeDataRecord")
    .Attr("InputType: {uint8, string}")
    .Attr("keep_features: list(int)")
    .Attr("keep_codes: list(int)")
    .Attr("label_features: list(int)")
    .Attr("weight_features: list(int) = []")
    .Input("input_bytes: InputType")
    .Output("data_record_handle: resource")
    .SetShapeFn(ScalarShape)
    .Doc(R"doc(
Decodes serialized DataRecords into a batch that the Get* ops read.

As the original: zero bytes are an empty record; a key repeated in a set or map (or a field
repeated on the wire) is kept once, sets deduplicated and maps keeping the last value. Unlike the
original, output follows the wire order, so it is deterministic (the original's hash order was
not), and malformed or truncated bytes are an error naming the record, field and byte offset
(the original read past its buffer or returned garbage).

input_bytes: a string tensor holding one serialized record per element, or a uint8 vector
  holding exactly one serialized record.
keep_features, keep_codes: the features to keep and a code for each (same length). Sparse
  binary, sparse continuous and blob features outside this list are dropped while decoding.
label_features, weight_features: the features read as labels and weights, in column order.
data_record_handle: the decoded batch.
)doc");

REGISTER_OP("DecodeBatchPredictionRequest")
    .Attr("keep_features: list(int)")
    .Attr("keep_codes: list(int)")
    .Input("input_bytes: uint8")
    .Output("data_record_handle: resource")
    .SetShapeFn(ScalarShape)
    .Doc(R"doc(
Decodes one serialized BatchPredictionRequest (uint8 vector) into a batch of its records; the
per-type and hashed Get* ops prepend the request's common features to every row (the *AsTensor
getters do not read them).
)doc");

REGISTER_OP("DecodeBatchPredictionRequestV2")
    .Attr("InputType: {uint8, string}")
    .Attr("keep_features: list(int)")
    .Attr("keep_codes: list(int)")
    .Attr("label_features: list(int)")
    .Attr("weight_features: list(int) = []")
    .Attr("decode_mode: int = 0")
    .Input("input_bytes: InputType")
    .Output("data_record_handle: resource")
    .SetShapeFn(ScalarShape)
    .Doc(R"doc(
Decodes one serialized BatchPredictionRequest (a uint8 vector, or element 0 of a string
tensor) with labels and weights per record, e.g. to train on grouped records. A label feature in
commonFeatures sets every row's label (the original did not define this case).
)doc");

REGISTER_KERNEL_BUILDER(Name("DecodeDataRecord").Device(DEVICE_CPU), DecodeRecordsOp<DataRecord, false>);
REGISTER_KERNEL_BUILDER(Name("DecodeBatchPredictionRequest").Device(DEVICE_CPU),
                        DecodeRecordsOp<DataRecord, true>);
REGISTER_KERNEL_BUILDER(Name("DecodeBatchPredictionRequestV2").Device(DEVICE_CPU),
                        DecodeRecordsOp<DataRecord, true>);

// ---------------------------------------------------------------------------------------------
// Batch size, labels, weights.

REGISTER_OP("GetBatchSizeFromDataRecord")
    .Input("data_record_handle: resource")
    .Output("batch_size: int64")
    .SetShapeFn(ScalarShape)
    .Doc("The number of records in a decoded batch.");

class GetBatchSizeOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* context) override {
    RefCountPtr<DataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, {}, &output));
    output->scalar<int64_t>()() = resource->batch_size();
  }
};
REGISTER_KERNEL_BUILDER(Name("GetBatchSizeFromDataRecord").Device(DEVICE_CPU), GetBatchSizeOp);

REGISTER_OP("GetLabelsFromDataRecord")
    .Attr("default_label: float")
    .Input("data_record_handle: resource")
    .Output("labels: float")
    .SetShapeFn(MatrixShape)
    .Doc(R"doc(
labels: float [batch, len(label_features)]; a record without a label gets default_label.
)doc");

REGISTER_OP("GetWeightsFromDataRecord")
    .Input("data_record_handle: resource")
    .Output("weights: float")
    .SetShapeFn(MatrixShape)
    .Doc("weights: float [batch, len(weight_features)]; a missing weight is 0.");

class GetLabelsOrWeightsOp : public OpKernel {
 public:
  explicit GetLabelsOrWeightsOp(OpKernelConstruction* context) : OpKernel(context) {
    labels_ = context->HasAttr("default_label");
    if (labels_) OP_REQUIRES_OK(context, context->GetAttr("default_label", &default_label_));
  }
  void Compute(OpKernelContext* context) override {
    RefCountPtr<DataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    OP_REQUIRES_OK(context, OutputLabelsOrWeights(context, *resource, labels_, default_label_));
  }

 private:
  bool labels_ = false;
  float default_label_ = 0;
};
REGISTER_KERNEL_BUILDER(Name("GetLabelsFromDataRecord").Device(DEVICE_CPU), GetLabelsOrWeightsOp);
REGISTER_KERNEL_BUILDER(Name("GetWeightsFromDataRecord").Device(DEVICE_CPU), GetLabelsOrWeightsOp);

// ---------------------------------------------------------------------------------------------
// Per-type sparse getters: (ids, keys, values[, names]) of the kept features.

#define TWML_REGISTER_FEATURE_GETTER(NAME, OUTPUTS, DOC) \
  REGISTER_OP(NAME).Input("data_record_handle: resource") OUTPUTS.SetShapeFn(VectorOutputs).Doc(DOC)

TWML_REGISTER_FEATURE_GETTER("GetBinaryFeatures",
                             .Output("ids: int64").Output("keys: int64").Output("values: float"),
                             "Kept binary features: row ids, feature ids, values (all 1).");
TWML_REGISTER_FEATURE_GETTER("GetContinuousFeatures",
                             .Output("ids: int64").Output("keys: int64").Output("values: float"),
                             "Kept continuous features: row ids, feature ids, values.");
TWML_REGISTER_FEATURE_GETTER("GetDiscreteFeatures",
                             .Output("ids: int64").Output("keys: int64").Output("values: int64"),
                             "Kept discrete features: row ids, feature ids, raw values.");
TWML_REGISTER_FEATURE_GETTER("GetStringFeatures",
                             .Output("ids: int64").Output("keys: int64").Output("names: string")
                                 .Output("values: float"),
                             "Kept string features: row ids, feature ids, strings, values (1).");
TWML_REGISTER_FEATURE_GETTER("GetSparseBinaryFeatures",
                             .Output("ids: int64").Output("keys: int64").Output("names: string")
                                 .Output("values: float"),
                             "Kept sparse binary features: one entry per name, values 1.");
TWML_REGISTER_FEATURE_GETTER("GetSparseContinuousFeatures",
                             .Output("ids: int64").Output("keys: int64").Output("values: float")
                                 .Output("names: string"),
                             "Kept sparse continuous features: one entry per (name, value).");

Status OutputStrings(OpKernelContext* context, int index, const std::vector<std::string_view>& names) {
  Tensor* output = nullptr;
  TF_RETURN_IF_ERROR(context->allocate_output(index, {static_cast<int64_t>(names.size())}, &output));
  auto flat = output->flat<tstring>();
  for (size_t i = 0; i < names.size(); ++i) flat(i).assign(names[i].data(), names[i].size());
  return tensorflow::OkStatus();
}

// Outputs columns as (ids, keys, values) or, with names, in the op's order of names and values.
template <typename Value>
Status OutputColumns(OpKernelContext* context, const FeatureColumns<Value>& columns, bool names_before_values) {
  TF_RETURN_IF_ERROR(OutputVector<int64_t>(context, 0, columns.rows));
  TF_RETURN_IF_ERROR(OutputVector<int64_t>(context, 1, columns.keys));
  if (context->num_outputs() == 3) return OutputVector<Value>(context, 2, columns.values);
  if (names_before_values) {
    TF_RETURN_IF_ERROR(OutputStrings(context, 2, columns.names));
    return OutputVector<Value>(context, 3, columns.values);
  }
  TF_RETURN_IF_ERROR(OutputVector<Value>(context, 2, columns.values));
  return OutputStrings(context, 3, columns.names);
}

template <FeatureKind kKind>
class GetFeaturesOp : public OpKernel {
 public:
  using OpKernel::OpKernel;

  void Compute(OpKernelContext* context) override {
    RefCountPtr<DataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    const IdMap& keep = resource->options->keep;
    if constexpr (kKind == FeatureKind::kDiscrete) {
      OP_REQUIRES_OK(context, OutputColumns(context, KeptDiscreteFeatures(resource->records, resource->common, keep),
                                            false));
    } else {
      // String and sparse binary output names before values, sparse continuous after.
      OP_REQUIRES_OK(context, OutputColumns(context, KeptFeatures(kKind, resource->records, resource->common, keep),
                                            kKind != FeatureKind::kSparseContinuous));
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("GetBinaryFeatures").Device(DEVICE_CPU), GetFeaturesOp<FeatureKind::kBinary>);
REGISTER_KERNEL_BUILDER(Name("GetContinuousFeatures").Device(DEVICE_CPU),
                        GetFeaturesOp<FeatureKind::kContinuous>);
REGISTER_KERNEL_BUILDER(Name("GetDiscreteFeatures").Device(DEVICE_CPU), GetFeaturesOp<FeatureKind::kDiscrete>);
REGISTER_KERNEL_BUILDER(Name("GetStringFeatures").Device(DEVICE_CPU), GetFeaturesOp<FeatureKind::kString>);
REGISTER_KERNEL_BUILDER(Name("GetSparseBinaryFeatures").Device(DEVICE_CPU),
                        GetFeaturesOp<FeatureKind::kSparseBinary>);
REGISTER_KERNEL_BUILDER(Name("GetSparseContinuousFeatures").Device(DEVICE_CPU),
                        GetFeaturesOp<FeatureKind::kSparseContinuous>);

// ---------------------------------------------------------------------------------------------
// Dense getters of chosen features (not keep-filtered): *AsTensor [batch], *GroupAsTensor
// [batch, n]. They read each row's own record only: a BatchPredictionRequest's common features
// are not part of their output, as in the original (serving must compute what training did).

// What a dense getter outputs for its kind.
template <FeatureKind kKind>
struct DenseValue;
template <>
struct DenseValue<FeatureKind::kBinary> {
  using Value = float;
  using Attr = float;
};
template <>
struct DenseValue<FeatureKind::kContinuous> {
  using Value = float;
  using Attr = float;
};
template <>
struct DenseValue<FeatureKind::kDiscrete> {
  using Value = int64_t;
  using Attr = int64_t;
};
template <>
struct DenseValue<FeatureKind::kString> {
  using Value = tstring;
  using Attr = std::string;
};

template <FeatureKind kKind>
class GetAsTensorOp : public OpKernel {
 public:
  using Value = typename DenseValue<kKind>::Value;

  explicit GetAsTensorOp(OpKernelConstruction* context) : OpKernel(context) {
    group_ = context->HasAttr("feature_ids");
    std::vector<int64_t> feature_ids;
    if (group_) {
      OP_REQUIRES_OK(context, context->GetAttr("feature_ids", &feature_ids));
    } else {
      int64_t feature_id;
      OP_REQUIRES_OK(context, context->GetAttr("feature_id", &feature_id));
      feature_ids.push_back(feature_id);
    }
    columns_ = std::make_unique<DenseColumns>(feature_ids);
    typename DenseValue<kKind>::Attr default_value;
    OP_REQUIRES_OK(context, context->GetAttr("default_value", &default_value));
    default_value_ = Value(default_value);
  }

  void Compute(OpKernelContext* context) override {
    RefCountPtr<DataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    Tensor* output = nullptr;
    tensorflow::TensorShape shape({resource->batch_size()});
    if (group_) shape.AddDim(columns_->size());
    OP_REQUIRES_OK(context, context->allocate_output(0, shape, &output));
    auto flat = output->flat<Value>();
    for (int64_t i = 0; i < flat.size(); ++i) flat(i) = default_value_;
    const int64_t width = columns_->size();
    ForEachDenseValue<kKind>(resource->records, *columns_, [&](int64_t row, int64_t column, const auto& value) {
      if constexpr (kKind == FeatureKind::kString) {
        flat(row * width + column) = tstring(value.data(), value.size());
      } else {
        flat(row * width + column) = static_cast<Value>(value);
      }
    });
  }

 private:
  bool group_ = false;
  std::unique_ptr<DenseColumns> columns_;
  Value default_value_;
};

#define TWML_REGISTER_AS_TENSOR(TYPE, VALUES, ATTR_TYPE, OUT_TYPE)                             \
  REGISTER_OP("Get" TYPE "AsTensor")                                                          \
      .Attr("feature_id: int")                                                                 \
      .Attr("default_value: " ATTR_TYPE)                                                       \
      .Input("data_record_handle: resource")                                                   \
      .Output("output: " OUT_TYPE)                                                             \
      .SetShapeFn([](InferenceContext* c) {                                                    \
        c->set_output(0, c->Vector(InferenceContext::kUnknownDim));                            \
        return tensorflow::OkStatus();                                                         \
      })                                                                                       \
      .Doc("output: [batch], the feature's value in each record, or default_value.");         \
  REGISTER_OP("Get" TYPE "GroupAsTensor")                                                     \
      .Attr("feature_ids: list(int)")                                                          \
      .Attr("default_value: " ATTR_TYPE)                                                       \
      .Input("data_record_handle: resource")                                                   \
      .Output("output: " OUT_TYPE)                                                             \
      .SetShapeFn([](InferenceContext* c) {                                                    \
        std::vector<int64_t> ids;                                                              \
        TF_RETURN_IF_ERROR(c->GetAttr("feature_ids", &ids));                                   \
        c->set_output(0, c->Matrix(InferenceContext::kUnknownDim, static_cast<int64_t>(ids.size()))); \
        return tensorflow::OkStatus();                                                         \
      })                                                                                       \
      .Doc("output: [batch, len(feature_ids)], each feature's value, or default_value.");     \
  REGISTER_KERNEL_BUILDER(Name("Get" TYPE "AsTensor").Device(DEVICE_CPU), GetAsTensorOp<VALUES>); \
  REGISTER_KERNEL_BUILDER(Name("Get" TYPE "GroupAsTensor").Device(DEVICE_CPU), GetAsTensorOp<VALUES>)

TWML_REGISTER_AS_TENSOR("Binary", FeatureKind::kBinary, "float", "float");
TWML_REGISTER_AS_TENSOR("Continuous", FeatureKind::kContinuous, "float", "float");
TWML_REGISTER_AS_TENSOR("Discrete", FeatureKind::kDiscrete, "int", "int64");
TWML_REGISTER_AS_TENSOR("String", FeatureKind::kString, "string", "string");

// ---------------------------------------------------------------------------------------------
// One sparse feature's entries.

REGISTER_OP("GetSparseBinaryAsTensor")
    .Attr("feature_id: int")
    .Input("data_record_handle: resource")
    .Output("ids: int64")
    .Output("keys: int64")
    .Output("names: string")
    .SetShapeFn(VectorOutputs)
    .Doc("One (kept) sparse binary feature of each row's own record (not a request's common "
         "features, as the original): row ids, keys (= feature_id), names.");

REGISTER_OP("GetSparseContinuousAsTensor")
    .Attr("feature_id: int")
    .Input("data_record_handle: resource")
    .Output("ids: int64")
    .Output("keys: int64")
    .Output("names: string")
    .Output("values: float")
    .SetShapeFn(VectorOutputs)
    .Doc("One (kept) sparse continuous feature of each row's own record (not a request's common "
         "features, as the original): row ids, keys (= feature_id), names, values.");

template <bool kContinuous>
class GetSparseAsTensorOp : public OpKernel {
 public:
  explicit GetSparseAsTensorOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("feature_id", &feature_id_));
  }
  void Compute(OpKernelContext* context) override {
    RefCountPtr<DataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    const FeatureColumns<float> columns = SparseFeatureOfRows(resource->records, feature_id_, kContinuous);
    OP_REQUIRES_OK(context, OutputVector<int64_t>(context, 0, columns.rows));
    OP_REQUIRES_OK(context, OutputVector<int64_t>(context, 1, columns.keys));
    OP_REQUIRES_OK(context, OutputStrings(context, 2, columns.names));
    if (kContinuous) OP_REQUIRES_OK(context, OutputVector<float>(context, 3, columns.values));
  }

 private:
  int64_t feature_id_;
};
REGISTER_KERNEL_BUILDER(Name("GetSparseBinaryAsTensor").Device(DEVICE_CPU), GetSparseAsTensorOp<false>);
REGISTER_KERNEL_BUILDER(Name("GetSparseContinuousAsTensor").Device(DEVICE_CPU), GetSparseAsTensorOp<true>);

// ---------------------------------------------------------------------------------------------
// Hashed features of a decoded (unhashed) batch.

#define TWML_HASHED_KEEP_ATTRS                        \
  .Attr("binary_keep_features: list(int)")            \
      .Attr("continuous_keep_features: list(int)")    \
      .Attr("discrete_keep_features: list(int)")      \
      .Attr("string_keep_features: list(int)")        \
      .Attr("sparse_binary_keep_features: list(int)") \
      .Attr("sparse_continuous_keep_features: list(int)")

REGISTER_OP("GetHashedFeaturesAsSparseTensor")
    TWML_HASHED_KEEP_ATTRS
    .Input("data_record_handle: resource")
    .Output("ids: int64")
    .Output("keys: int64")
    .Output("values: float")
    .SetShapeFn(VectorOutputs)
    .Doc(R"doc(
Hashed (ids, keys, values) of the features listed per type that DecodeDataRecord kept. Per row:
common entries, then own, in type order binary, continuous, discrete, string, sparse binary,
sparse continuous. Keys: binary and continuous the feature id; discrete
MixDiscreteIdAndValue(id, value); string, sparse binary and sparse continuous
MixStringIdAndValue(id, string or name).
)doc");

REGISTER_OP("GetHashedFeaturesAsSparseTensorV2")
    TWML_HASHED_KEEP_ATTRS
    .Attr("keep_features: list(int)")
    .Attr("keep_codes: list(int)")
    .Attr("decode_mode: int = 0")
    .Input("data_record_handle: resource")
    .Output("ids: int64")
    .Output("keys: int64")
    .Output("values: float")
    .SetShapeFn(VectorOutputs)
    .Doc(R"doc(
As GetHashedFeaturesAsSparseTensor, filtered by this op's own keep_features instead of the
decoder's keep map; with decode_mode 0 a sparse continuous key is FeatureId(name), with 1
MixStringIdAndValue(id, name).
)doc");

template <bool kV2>
class GetHashedFeaturesOp : public OpKernel {
 public:
  explicit GetHashedFeaturesOp(OpKernelConstruction* context) : OpKernel(context) {
    const char* kAttrs[] = {"binary_keep_features",        "continuous_keep_features",
                            "discrete_keep_features",      "string_keep_features",
                            "sparse_binary_keep_features", "sparse_continuous_keep_features"};
    for (int i = 0; i < 6; ++i) {
      std::vector<int64_t> ids;
      OP_REQUIRES_OK(context, context->GetAttr(kAttrs[i], &ids));
      type_keep_[static_cast<size_t>(i)] = IdMap(ids, ids);
    }
    if (kV2) OP_REQUIRES_OK(context, ReadDecodeOptions(context, &own_options_));
  }

  void Compute(OpKernelContext* context) override {
    RefCountPtr<DataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    const DecodeOptions& options = kV2 ? *own_options_ : *resource->options;
    FeatureColumns<float> columns;
    OP_REQUIRES_OK(context, RunCore([&] {
                     columns = HashedFeatures(resource->records, resource->common, type_keep_, options.keep,
                                              kV2 && options.decode_mode == 0);
                   }));
    OP_REQUIRES_OK(context, OutputColumns(context, columns, false));
  }

 private:
  std::array<IdMap, 6> type_keep_;
  std::shared_ptr<const DecodeOptions> own_options_;
};
REGISTER_KERNEL_BUILDER(Name("GetHashedFeaturesAsSparseTensor").Device(DEVICE_CPU),
                        GetHashedFeaturesOp<false>);
REGISTER_KERNEL_BUILDER(Name("GetHashedFeaturesAsSparseTensorV2").Device(DEVICE_CPU),
                        GetHashedFeaturesOp<true>);

}  // namespace
}  // namespace twml
