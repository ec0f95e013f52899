// Discretizer and calibration ops (reference §5.5-5.7): MDL, PercentileDiscretizer,
// PercentileDiscretizerBinIndices, PercentileDiscretizerV2, HashingDiscretizer and
// IsotonicCalibration. The logic, and the divergences from the original (64-bit output_bits,
// written keys for uncalibrated MDL inputs), are in twml/discretizer.h.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>

#include "core_status.h"
#include "input_checks.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/platform/logging.h"
#include "tensorflow/core/util/work_sharder.h"
#include "twml/discretizer.h"

namespace twml {
namespace {

// The kernels accept what graphs saved by the original may hold (repeated calibration ids,
// last one wins) with a warning; twml's layers refuse to build such graphs.
void WarnOfRepeatedIds(tensorflow::OpKernelConstruction* context, const FeatureIndexMap& map) {
  if (map.repeated_ids() == 0) return;
  LOG(WARNING) << context->def().op() << " " << context->def().name() << ": feature_ids repeats "
               << map.repeated_ids()
               << " ids; as in the original, each repeated id uses its last position";
}

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShapeUtils;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

// new_keys and new_vals have the shape of the first input (the keys or ids).
Status KeysShape(InferenceContext* c) {
  ShapeHandle keys = c->input(0);
  TF_RETURN_IF_ERROR(c->Merge(keys, c->input(1), &keys));
  c->set_output(0, keys);
  c->set_output(1, keys);
  return tensorflow::OkStatus();
}

// Runs fn(begin, end) over [0, size) on the device's intra-op pool, as the original did.
template <typename Fn>
void ShardOver(OpKernelContext* context, int64_t size, int64_t cost_per_unit, Fn fn) {
  const auto* workers = context->device()->tensorflow_cpu_worker_threads();
  tensorflow::Shard(workers->num_threads, workers->workers, size, cost_per_unit,
                    [&fn](int64_t begin, int64_t end) { fn(begin, end); });
}

// The checks shared by the ops whose keys/ids and values are paired element by element.
Status CheckPaired(const Tensor& keys, const Tensor& vals, const char* keys_name,
                   const char* vals_name) {
  if (keys.shape() == vals.shape()) return tensorflow::OkStatus();
  return InvalidArgument(keys_name, " has shape ", keys.shape().DebugString(), " but ", vals_name,
                         " has shape ", vals.shape().DebugString(), "; they must match");
}

// Validates bin_ids (input 2), bin_vals (3) and feature_offsets (4) and builds the table over
// them.
template <typename T>
Status MakeBinTable(OpKernelContext* context, std::unique_ptr<BinTable<T>>* table) {
  const Tensor& bin_ids = context->input(2);
  const Tensor& bin_vals = context->input(3);
  const Tensor& offsets = context->input(4);
  TF_RETURN_IF_ERROR(CheckVector(bin_ids, "bin_ids"));
  TF_RETURN_IF_ERROR(CheckVector(bin_vals, "bin_vals"));
  TF_RETURN_IF_ERROR(CheckVector(offsets, "feature_offsets"));
  return RunCore([&] {
    *table = std::make_unique<BinTable<T>>(bin_ids.flat<int64_t>().data(), bin_ids.NumElements(),
                                           bin_vals.flat<T>().data(), bin_vals.NumElements(),
                                           offsets.flat<int64_t>().data(), offsets.NumElements());
  });
}

// ---------------------------------------------------------------------------------------------
// MDL, PercentileDiscretizer, PercentileDiscretizerBinIndices

constexpr const char* kPercentileDoc = R"doc(
Maps each (feature index, value) to a calibrated bin (reference §5.5).

Feature j's bins are bin_vals[feature_offsets[j] .. feature_offsets[j + 1]) (the last feature's
run to the end), sorted; a value is placed by the original's bisection (values at or below the
first boundary go to the first bin, at or above the last to the last).

keys: int64, any shape: feature indices in [0, len(feature_offsets)), or -1 (not calibrated).
vals: T, keys' shape.
bin_ids: int64 [n_bins], the id of each bin; kept exact at any size (int64 throughout; ids
  above 2^24 lost precision in the original).
bin_vals: T [n_bins], the boundaries.
feature_offsets: int64 [n_features], strictly increasing offsets into bin_vals.
new_keys: int64, keys' shape: the bin's id (PercentileDiscretizerBinIndices: its index within
  the feature); -1 for key -1 (the original left it uninitialised).
new_vals: T, keys' shape: 1, or the value for key -1.
)doc";

#define TWML_REGISTER_PERCENTILE_OP(Name)      \
  REGISTER_OP(Name)                            \
      .Attr("T: {float, double}")              \
      .Input("keys: int64")                    \
      .Input("vals: T")                        \
      .Input("bin_ids: int64")                 \
      .Input("bin_vals: T")                    \
      .Input("feature_offsets: int64")         \
      .Output("new_keys: int64")               \
      .Output("new_vals: T")                   \
      .SetShapeFn(KeysShape)                   \
      .Doc(kPercentileDoc)

TWML_REGISTER_PERCENTILE_OP("MDL");
TWML_REGISTER_PERCENTILE_OP("PercentileDiscretizer");
TWML_REGISTER_PERCENTILE_OP("PercentileDiscretizerBinIndices");

#undef TWML_REGISTER_PERCENTILE_OP

template <typename T, bool kLocalIndex>
class PercentileDiscretizerOp : public OpKernel {
 public:
  explicit PercentileDiscretizerOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& keys = context->input(0);
    const Tensor& vals = context->input(1);
    OP_REQUIRES_OK(context, CheckPaired(keys, vals, "keys", "vals"));
    std::unique_ptr<BinTable<T>> table;
    OP_REQUIRES_OK(context, MakeBinTable<T>(context, &table));
    Tensor* new_keys = nullptr;
    Tensor* new_vals = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, keys.shape(), &new_keys));
    OP_REQUIRES_OK(context, context->allocate_output(1, keys.shape(), &new_vals));
    // Not sharded: the core validates each key as it goes and throws on a bad one.
    OP_REQUIRES_OK(context, RunCore([&] {
                     PercentileDiscretize(*table, keys.flat<int64_t>().data(),
                                          vals.flat<T>().data(), keys.NumElements(), kLocalIndex,
                                          new_keys->flat<int64_t>().data(),
                                          new_vals->flat<T>().data());
                   }));
  }
};

#define TWML_REGISTER_PERCENTILE_KERNELS(T)                                                 \
  REGISTER_KERNEL_BUILDER(Name("MDL").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          PercentileDiscretizerOp<T, false>);                                \
  REGISTER_KERNEL_BUILDER(                                                                   \
      Name("PercentileDiscretizer").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"),   \
      PercentileDiscretizerOp<T, false>);                                                    \
  REGISTER_KERNEL_BUILDER(Name("PercentileDiscretizerBinIndices")                            \
                              .Device(tensorflow::DEVICE_CPU)                                \
                              .TypeConstraint<T>("T"),                                       \
                          PercentileDiscretizerOp<T, true>)

TWML_REGISTER_PERCENTILE_KERNELS(float);
TWML_REGISTER_PERCENTILE_KERNELS(double);

#undef TWML_REGISTER_PERCENTILE_KERNELS

// Reads an int64 tensor attr as a vector.
Status GetInt64TensorAttr(OpKernelConstruction* context, const char* name, Tensor* tensor) {
  TF_RETURN_IF_ERROR(context->GetAttr(name, tensor));
  if (tensor->dtype() != tensorflow::DT_INT64 || tensor->dims() > 1) {
    return InvalidArgument(name, " must be an int64 vector, got ",
                           tensorflow::DataTypeString(tensor->dtype()), " of shape ",
                           tensor->shape().DebugString());
  }
  return tensorflow::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// PercentileDiscretizerV2

REGISTER_OP("PercentileDiscretizerV2")
    .Attr("T: {float, double}")
    .Input("input_ids: int64")
    .Input("input_vals: T")
    .Input("bin_ids: int64")
    .Input("bin_vals: T")
    .Input("feature_offsets: int64")
    .Input("start_compute: int64")
    .Input("end_compute: int64")
    .Attr("output_bits: int")
    .Attr("feature_ids: tensor = { dtype: DT_INT64 }")
    .Attr("feature_indices: tensor = { dtype: DT_INT64 }")
    .Attr("cost_per_unit: int")
    .Output("new_keys: int64")
    .Output("new_vals: T")
    .SetShapeFn(KeysShape)
    .Doc(R"doc(
Discretizes raw (feature id, value) pairs with calibrated percentile bins (reference §5.5).

A calibrated id (in feature_ids) with index j = feature_indices[k] gives (the id of its bin
among feature j's bins, 1), as in PercentileDiscretizer. Any other id gives
((uint64)id mod (2^output_bits - n_bins) + n_bins, value): uncalibrated keys go above the bin
ids, and a negative id wraps as an unsigned number.

input_ids: int64, any shape.
input_vals: T, input_ids' shape.
bin_ids: int64 [n_bins].
bin_vals: T [n_bins], each feature's boundaries sorted.
feature_offsets: int64 [n_features], strictly increasing offsets into bin_vals.
start_compute: int64 scalar, the first element to compute.
end_compute: int64 scalar, one past the last element to compute, or -1 for all of them.
  Elements outside [start_compute, end_compute) are copied through unchanged.
output_bits: keys lie in [0, 2^output_bits); 1..63 (2^output_bits is computed in 64 bits,
  unlike the original's 32-bit shift), and 2^output_bits must exceed n_bins.
feature_ids: int64 vector of the calibrated raw ids, unique. (A repeated id, which graphs saved by
  the original may hold, uses its last position, with a warning.)
feature_indices: int64 vector, feature_ids' length: each id's index in [0, n_features).
cost_per_unit: the estimated cost of one element, for sharding over the intra-op pool.
new_keys: int64, input_ids' shape.
new_vals: T, input_ids' shape.
)doc");

template <typename T>
class PercentileDiscretizerV2Op : public OpKernel {
 public:
  explicit PercentileDiscretizerV2Op(OpKernelConstruction* context) : OpKernel(context) {
    Tensor feature_ids;
    Tensor feature_indices;
    OP_REQUIRES_OK(context, context->GetAttr("output_bits", &output_bits_));
    OP_REQUIRES_OK(context, context->GetAttr("cost_per_unit", &cost_per_unit_));
    OP_REQUIRES(context, cost_per_unit_ >= 0,
                InvalidArgument("cost_per_unit = ", cost_per_unit_, " must be non-negative"));
    OP_REQUIRES_OK(context, GetInt64TensorAttr(context, "feature_ids", &feature_ids));
    OP_REQUIRES_OK(context, GetInt64TensorAttr(context, "feature_indices", &feature_indices));
    OP_REQUIRES(context, feature_ids.NumElements() == feature_indices.NumElements(),
                InvalidArgument("feature_ids has ", feature_ids.NumElements(),
                                " elements but feature_indices has ",
                                feature_indices.NumElements(), "; they must match"));
    // Built once: the indices are checked against each call's feature_offsets in Compute.
    OP_REQUIRES_OK(context, RunCore([&] {
                     OutputSpace(output_bits_);
                     map_ = std::make_unique<FeatureIndexMap>(
                         feature_ids.flat<int64_t>().data(),
                         feature_indices.flat<int64_t>().data(), feature_ids.NumElements(),
                         std::numeric_limits<int64_t>::max(), FeatureIndexMap::RepeatedIds::kLastWins);
                   }));
    WarnOfRepeatedIds(context, *map_);
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& ids = context->input(0);
    const Tensor& vals = context->input(1);
    const Tensor& start_tensor = context->input(5);
    const Tensor& end_tensor = context->input(6);
    OP_REQUIRES_OK(context, CheckPaired(ids, vals, "input_ids", "input_vals"));
    OP_REQUIRES(context,
                TensorShapeUtils::IsScalar(start_tensor.shape()) &&
                    TensorShapeUtils::IsScalar(end_tensor.shape()),
                InvalidArgument("start_compute and end_compute must be scalars, got shapes ",
                                start_tensor.shape().DebugString(), " and ",
                                end_tensor.shape().DebugString()));
    const int64_t size = ids.NumElements();
    const int64_t start = start_tensor.scalar<int64_t>()();
    int64_t end = end_tensor.scalar<int64_t>()();
    if (end == -1) end = size;
    OP_REQUIRES(context, 0 <= start && start <= end && end <= size,
                InvalidArgument("[start_compute, end_compute) = [", start, ", ", end,
                                ") must lie within the ", size, " input elements"));
    std::unique_ptr<BinTable<T>> table;
    OP_REQUIRES_OK(context, MakeBinTable<T>(context, &table));
    OP_REQUIRES(context, map_->max_index() < table->num_features(),
                InvalidArgument("feature_indices holds index ", map_->max_index(),
                                " but feature_offsets has only ", table->num_features(),
                                " features"));
    uint64_t modulus = 0;
    OP_REQUIRES_OK(context, RunCore([&] {
                     modulus = UncalibratedModulus(output_bits_, table->total_bins());
                   }));

    Tensor* new_keys = nullptr;
    Tensor* new_vals = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, ids.shape(), &new_keys));
    OP_REQUIRES_OK(context, context->allocate_output(1, ids.shape(), &new_vals));
    const int64_t* id_data = ids.flat<int64_t>().data();
    const T* val_data = vals.flat<T>().data();
    int64_t* key_out = new_keys->flat<int64_t>().data();
    T* val_out = new_vals->flat<T>().data();
    // Outside the computed range the outputs would otherwise be uninitialised.
    std::copy(id_data, id_data + start, key_out);
    std::copy(val_data, val_data + start, val_out);
    std::copy(id_data + end, id_data + size, key_out + end);
    std::copy(val_data + end, val_data + size, val_out + end);
    ShardOver(context, end - start, cost_per_unit_, [&](int64_t begin, int64_t limit) {
      PercentileDiscretizeV2(*table, *map_, modulus, id_data, val_data, start + begin,
                             start + limit, key_out, val_out);
    });
  }

 private:
  int64_t output_bits_ = 0;
  int64_t cost_per_unit_ = 0;
  std::unique_ptr<FeatureIndexMap> map_;
};

REGISTER_KERNEL_BUILDER(
    Name("PercentileDiscretizerV2").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    PercentileDiscretizerV2Op<float>);
REGISTER_KERNEL_BUILDER(
    Name("PercentileDiscretizerV2").Device(tensorflow::DEVICE_CPU).TypeConstraint<double>("T"),
    PercentileDiscretizerV2Op<double>);

// ---------------------------------------------------------------------------------------------
// HashingDiscretizer

REGISTER_OP("HashingDiscretizer")
    .Attr("T: {float, double}")
    .Input("input_ids: int64")
    .Input("input_vals: T")
    .Input("bin_vals: T")
    .Attr("feature_ids: tensor = { dtype: DT_INT64 }")
    .Attr("n_bin: int >= 1")
    .Attr("output_bits: int >= 1")
    .Attr("cost_per_unit: int >= 0")
    .Attr("options: int")
    .Output("new_keys: int64")
    .Output("new_vals: T")
    .SetShapeFn(KeysShape)
    .Doc(R"doc(
Discretizes raw (feature id, value) pairs and hashes (id, bucket) to a key (reference §5.6).

A calibrated id, at position j of feature_ids, gives (hash(id, bucket) & (2^output_bits - 1),
1), where bucket in [0, n_bin] is the value's place among bin_vals[j * n_bin, (j + 1) * n_bin).
Any other id gives (id & (2^output_bits - 1), value).

input_ids: int64, any shape.
input_vals: T, input_ids' shape.
bin_vals: T [len(feature_ids) * n_bin], each feature's n_bin boundaries sorted.
feature_ids: int64 vector of the calibrated raw ids, unique. (A repeated id, which graphs saved by
  the original may hold, uses its last position, with a warning.)
n_bin: the number of boundaries per feature.
output_bits: keys lie in [0, 2^output_bits); 1..63, at most 32 with the 32-bit hash.
cost_per_unit: the estimated cost of one element, for sharding over the intra-op pool.
options: bits [1:0] the search: 0 lower bound (count of boundaries < value), 1 linear scan (the
  same result), 2 upper bound (count <= value); bits [4:2] the hash: 0 32-bit
  (multiplier 2654435761), 1 64-bit (multiplier 14695981039346656039). Reserved values (search
  3, hash 2..7), which graphs saved by the original may hold, fall back to lower bound and the
  32-bit hash as in the original, with a warning; twml's layers refuse them.
new_keys: int64, input_ids' shape.
new_vals: T, input_ids' shape.
)doc");

template <typename T>
class HashingDiscretizerOp : public OpKernel {
 public:
  explicit HashingDiscretizerOp(OpKernelConstruction* context) : OpKernel(context) {
    Tensor feature_ids;
    int64_t options = 0;
    OP_REQUIRES_OK(context, context->GetAttr("n_bin", &n_bin_));
    OP_REQUIRES_OK(context, context->GetAttr("output_bits", &output_bits_));
    OP_REQUIRES_OK(context, context->GetAttr("cost_per_unit", &cost_per_unit_));
    OP_REQUIRES_OK(context, context->GetAttr("options", &options));
    OP_REQUIRES_OK(context, GetInt64TensorAttr(context, "feature_ids", &feature_ids));
    n_features_ = feature_ids.NumElements();
    std::string fallback;
    OP_REQUIRES_OK(context, RunCore([&] {
                     options_ = ParseHashingOptions(options, output_bits_, &fallback);
                     map_ = std::make_unique<FeatureIndexMap>(feature_ids.flat<int64_t>().data(),
                                                              nullptr, n_features_, n_features_,
                                                              FeatureIndexMap::RepeatedIds::kLastWins);
                   }));
    if (!fallback.empty()) LOG(WARNING) << "HashingDiscretizer " << context->def().name() << ": " << fallback;
    WarnOfRepeatedIds(context, *map_);
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& ids = context->input(0);
    const Tensor& vals = context->input(1);
    const Tensor& bin_vals = context->input(2);
    OP_REQUIRES_OK(context, CheckPaired(ids, vals, "input_ids", "input_vals"));
    OP_REQUIRES_OK(context, CheckVector(bin_vals, "bin_vals"));
    const T* bins = bin_vals.flat<T>().data();
    OP_REQUIRES_OK(context, RunCore([&] {
                     CheckHashingBins(bins, bin_vals.NumElements(), n_features_, n_bin_);
                   }));
    Tensor* new_keys = nullptr;
    Tensor* new_vals = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, ids.shape(), &new_keys));
    OP_REQUIRES_OK(context, context->allocate_output(1, ids.shape(), &new_vals));
    const int64_t* id_data = ids.flat<int64_t>().data();
    const T* val_data = vals.flat<T>().data();
    int64_t* key_out = new_keys->flat<int64_t>().data();
    T* val_out = new_vals->flat<T>().data();
    ShardOver(context, ids.NumElements(), cost_per_unit_, [&](int64_t begin, int64_t end) {
      HashingDiscretize(*map_, bins, n_bin_, options_, output_bits_, id_data, val_data, begin,
                        end, key_out, val_out);
    });
  }

 private:
  int64_t n_bin_ = 0;
  int64_t output_bits_ = 0;
  int64_t cost_per_unit_ = 0;
  int64_t n_features_ = 0;
  HashingOptions options_;
  std::unique_ptr<FeatureIndexMap> map_;
};

REGISTER_KERNEL_BUILDER(
    Name("HashingDiscretizer").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    HashingDiscretizerOp<float>);
REGISTER_KERNEL_BUILDER(
    Name("HashingDiscretizer").Device(tensorflow::DEVICE_CPU).TypeConstraint<double>("T"),
    HashingDiscretizerOp<double>);

// ---------------------------------------------------------------------------------------------
// IsotonicCalibration

REGISTER_OP("IsotonicCalibration")
    .Attr("T: {float, double}")
    .Input("input: T")
    .Input("xs: T")
    .Input("ys: T")
    .Output("output: T")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle input;
      ShapeHandle xs;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &input));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &xs));
      TF_RETURN_IF_ERROR(c->Merge(xs, c->input(2), &xs));
      c->set_output(0, input);
      return tensorflow::OkStatus();
    })
    .Doc(R"doc(
Calibrates each column of input through its own piecewise-linear curve (reference §5.7).

input[r, j] is placed among xs[j] by the original's bisection and interpolated linearly between
the neighbouring (xs, ys) points; values beyond either end take that end's ys.

input: T [batch, num_labels].
xs: T [num_labels, num_bins], each row sorted, num_bins >= 1.
ys: T [num_labels, num_bins].
output: T, input's shape.
)doc");

template <typename T>
class IsotonicCalibrationOp : public OpKernel {
 public:
  explicit IsotonicCalibrationOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& input = context->input(0);
    const Tensor& xs = context->input(1);
    const Tensor& ys = context->input(2);
    OP_REQUIRES(context, TensorShapeUtils::IsMatrix(input.shape()),
                InvalidArgument("input must be a [batch, num_labels] matrix, got shape ",
                                input.shape().DebugString()));
    OP_REQUIRES(context, TensorShapeUtils::IsMatrix(xs.shape()),
                InvalidArgument("xs must be a [num_labels, num_bins] matrix, got shape ",
                                xs.shape().DebugString()));
    OP_REQUIRES(context, xs.shape() == ys.shape(),
                InvalidArgument("xs has shape ", xs.shape().DebugString(), " but ys has shape ",
                                ys.shape().DebugString(), "; they must match"));
    OP_REQUIRES(context, xs.dim_size(0) == input.dim_size(1),
                InvalidArgument("xs has ", xs.dim_size(0), " rows but input has ",
                                input.dim_size(1), " columns (labels); they must match"));
    const int64_t num_labels = input.dim_size(1);
    const int64_t num_bins = xs.dim_size(1);
    const T* xs_data = xs.flat<T>().data();
    OP_REQUIRES_OK(context, RunCore([&] { CheckIsotonic(xs_data, num_labels, num_bins); }));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, input.shape(), &output));
    IsotonicCalibrate(input.flat<T>().data(), num_labels, xs_data, ys.flat<T>().data(), num_bins,
                      0, input.dim_size(0), output->flat<T>().data());
  }
};

REGISTER_KERNEL_BUILDER(
    Name("IsotonicCalibration").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    IsotonicCalibrationOp<float>);
REGISTER_KERNEL_BUILDER(
    Name("IsotonicCalibration").Device(tensorflow::DEVICE_CPU).TypeConstraint<double>("T"),
    IsotonicCalibrationOp<double>);

}  // namespace
}  // namespace twml
