// HashedDataRecord ops (reference §5.2, §5.3): DecodeAndHashDataRecord,
// DecodeAndHashBatchPredictionRequest(V2) and the getters of the hashed columns.
//
// Every getter emits, for each row, the common record's entries (BatchPredictionRequest input)
// and then the row's own.
#include <algorithm>
#include <string>
#include <vector>

#include "record_resource.h"
#include "shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace twml {
namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::core::RefCountPtr;
using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("DecodeAndHashDataRecord")
    .Attr("InputType: {uint8, string}")
    .Attr("keep_features: list(int)")
    .Attr("keep_codes: list(int)")
    .Attr("label_features: list(int)")
    .Attr("weight_features: list(int) = []")
    .Attr("decode_mode: int = 0")
    .Input("input_bytes: InputType")
    .Output("hashed_data_record_handle: resource")
    .SetShapeFn(ScalarShape)
    .Doc(R"doc(
Decodes serialized DataRecords into hashed columns (ids, keys, values, codes, types) of the kept
features, read with the Get*FromHashedDataRecord ops. Repeated keys, empty records and the
errors are as DecodeDataRecord's; a sparse-continuous name is decoded from UTF-8 as the original
did (an overlong encoding is hashed, other invalid UTF-8 is an error even under a NaN value).

input_bytes: a string tensor with one serialized record per element, or a uint8 vector with
  exactly one.
keep_features, keep_codes: the features to keep and their codes (same length).
label_features, weight_features: features read as labels and weights (when not kept).
decode_mode: key of a sparse continuous value: 0 FeatureId(name), 1 MixStringIdAndValue(id, name).
)doc");

REGISTER_OP("DecodeAndHashBatchPredictionRequest")
    .Attr("keep_features: list(int)")
    .Attr("keep_codes: list(int)")
    .Attr("decode_mode: int = 0")
    .Input("input_bytes: uint8")
    .Output("hashed_data_record_handle: resource")
    .SetShapeFn(ScalarShape)
    .Doc(R"doc(
Decodes and hashes one serialized BatchPredictionRequest (uint8 vector); every row gets the
request's common entries first. No labels or weights.
)doc");

REGISTER_OP("DecodeAndHashBatchPredictionRequestV2")
    .Attr("InputType: {uint8, string}")
    .Attr("keep_features: list(int)")
    .Attr("keep_codes: list(int)")
    .Attr("label_features: list(int)")
    .Attr("weight_features: list(int) = []")
    .Attr("decode_mode: int = 0")
    .Input("input_bytes: InputType")
    .Output("hashed_data_record_handle: resource")
    .SetShapeFn(ScalarShape)
    .Doc(R"doc(
Decodes and hashes one serialized BatchPredictionRequest (a uint8 vector, or element 0 of a
string tensor) with labels and weights per record.
)doc");

REGISTER_KERNEL_BUILDER(Name("DecodeAndHashDataRecord").Device(DEVICE_CPU),
                        DecodeRecordsOp<HashedDataRecord, false>);
REGISTER_KERNEL_BUILDER(Name("DecodeAndHashBatchPredictionRequest").Device(DEVICE_CPU),
                        DecodeRecordsOp<HashedDataRecord, true>);
REGISTER_KERNEL_BUILDER(Name("DecodeAndHashBatchPredictionRequestV2").Device(DEVICE_CPU),
                        DecodeRecordsOp<HashedDataRecord, true>);

int64_t TotalSize(const HashedDataRecordResource& resource) {
  return static_cast<int64_t>(resource.columns.size());
}

// The column a getter outputs.
enum class Column { kIds, kUKeys, kKeys, kValues, kCodes, kTypes };

// The decode op lays the entries out as columns: ukeys, keys, values and types are output as
// they are (sharing the resource's buffers, which nothing writes after the decode); ids are
// expanded from the row ends, and codes looked up in the keep map (code = keep map value of the
// entry's feature id), so decoding writes neither.
template <Column kColumn, typename Out>
class GetColumnOp : public OpKernel {
 public:
  using OpKernel::OpKernel;

  void Compute(OpKernelContext* context) override {
    RefCountPtr<HashedDataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    const TensorHashedColumns& columns = resource->columns;
    if constexpr (kColumn == Column::kUKeys) {
      context->set_output(0, columns.UKeys());
    } else if constexpr (kColumn == Column::kKeys) {
      context->set_output(0, columns.Keys());
    } else if constexpr (kColumn == Column::kValues) {
      context->set_output(0, columns.Values());
    } else if constexpr (kColumn == Column::kTypes) {
      context->set_output(0, columns.Types());
    } else {
      Tensor* output = nullptr;
      OP_REQUIRES_OK(context, context->allocate_output(0, {TotalSize(*resource)}, &output));
      Out* out = output->flat<Out>().data();
      if constexpr (kColumn == Column::kIds) {
        int64_t begin = 0;
        for (size_t row = 0; row < resource->row_ends.size(); ++row) {
          const int64_t end = resource->row_ends[row];
          std::fill(out + begin, out + end, static_cast<Out>(row));
          begin = end;
        }
      } else {
        const IdMap& keep = resource->options->keep;
        const int64_t* ukeys = columns.ukeys();
        for (size_t i = 0; i < columns.size(); ++i) out[i] = *keep.Find(ukeys[i]);
      }
    }
  }
};

#define TWML_REGISTER_COLUMN(NAME, OUTPUT, COLUMN, TYPE, DOC)                             \
  REGISTER_OP(NAME).Input("hashed_data_record_handle: resource").Output(OUTPUT)          \
      .SetShapeFn(VectorOutputs).Doc(DOC);                                                 \
  REGISTER_KERNEL_BUILDER(Name(NAME).Device(DEVICE_CPU), GetColumnOp<COLUMN, TYPE>)

TWML_REGISTER_COLUMN("GetIdsFromHashedDataRecord", "ids: int64", Column::kIds, int64_t,
                     "ids: [total_size], the row of each entry.");
TWML_REGISTER_COLUMN("GetUKeysFromHashedDataRecord", "ukeys: int64", Column::kUKeys, int64_t,
                     "ukeys: [total_size], the raw feature id of each entry.");
TWML_REGISTER_COLUMN("GetKeysFromHashedDataRecord", "keys: int64", Column::kKeys, int64_t,
                     "keys: [total_size], the hashed key of each entry.");
TWML_REGISTER_COLUMN("GetValuesFromHashedDataRecord", "values: float", Column::kValues, float,
                     "values: [total_size], the value of each entry.");
TWML_REGISTER_COLUMN("GetCodesFromHashedDataRecord", "codes: int64", Column::kCodes, int64_t,
                     "codes: [total_size], the keep_codes code of each entry's feature.");
TWML_REGISTER_COLUMN("GetTypesFromHashedDataRecord", "types: int8", Column::kTypes, int8_t,
                     "types: [total_size], 1 binary, 2 continuous, 3 discrete, 4 string, "
                     "5 sparse binary, 6 sparse continuous.");

REGISTER_OP("GetBatchSizeFromHashedDataRecord")
    .Input("hashed_data_record_handle: resource")
    .Output("batch_size: int64")
    .SetShapeFn(ScalarShape)
    .Doc("The number of records in the batch.");

REGISTER_OP("GetTotalSizeFromHashedDataRecord")
    .Input("hashed_data_record_handle: resource")
    .Output("total_size: int64")
    .SetShapeFn(ScalarShape)
    .Doc("The number of entries the column getters output.");

template <bool kTotal>
class GetSizeOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* context) override {
    RefCountPtr<HashedDataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, {}, &output));
    output->scalar<int64_t>()() = kTotal ? TotalSize(*resource) : resource->batch_size();
  }
};
REGISTER_KERNEL_BUILDER(Name("GetBatchSizeFromHashedDataRecord").Device(DEVICE_CPU), GetSizeOp<false>);
REGISTER_KERNEL_BUILDER(Name("GetTotalSizeFromHashedDataRecord").Device(DEVICE_CPU), GetSizeOp<true>);

REGISTER_OP("GetLabelsFromHashedDataRecord")
    .Attr("default_label: float")
    .Input("hashed_data_record_handle: resource")
    .Output("labels: float")
    .SetShapeFn(MatrixShape)
    .Doc("labels: float [batch, len(label_features)]; a missing label is default_label.");

REGISTER_OP("GetWeightsFromHashedDataRecord")
    .Input("hashed_data_record_handle: resource")
    .Output("weights: float")
    .SetShapeFn(MatrixShape)
    .Doc("weights: float [batch, len(weight_features)]; a missing weight is 0.");

class GetHashedLabelsOrWeightsOp : public OpKernel {
 public:
  explicit GetHashedLabelsOrWeightsOp(OpKernelConstruction* context) : OpKernel(context) {
    labels_ = context->HasAttr("default_label");
    if (labels_) OP_REQUIRES_OK(context, context->GetAttr("default_label", &default_label_));
  }
  void Compute(OpKernelContext* context) override {
    RefCountPtr<HashedDataRecordResource> resource;
    OP_REQUIRES_OK(context, LookupRecords(context, &resource));
    OP_REQUIRES_OK(context, OutputLabelsOrWeights(context, *resource, labels_, default_label_));
  }

 private:
  bool labels_ = false;
  float default_label_ = 0;
};
REGISTER_KERNEL_BUILDER(Name("GetLabelsFromHashedDataRecord").Device(DEVICE_CPU),
                        GetHashedLabelsOrWeightsOp);
REGISTER_KERNEL_BUILDER(Name("GetWeightsFromHashedDataRecord").Device(DEVICE_CPU),
                        GetHashedLabelsOrWeightsOp);

}  // namespace
}  // namespace twml
