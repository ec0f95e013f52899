// The record codecs for Python: DataRecords to and from dicts, hashed decoding to numpy.
//
// A record dict holds the populated feature types of data.thrift, keyed by feature id:
//   binary: [id, ...]                      continuous: {id: float}
//   discrete: {id: int}                    strings: {id: bytes}
//   sparse_binary: {id: [bytes, ...]}      sparse_continuous: {id: {bytes: float}}
//   blobs: {id: bytes}                     tensors: {id: numpy.ndarray}
// Encoding also accepts str for bytes, any iterable for lists and any mapping for dicts.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "twml/batch_prediction_request.h"
#include "twml/block_format.h"
#include "twml/batch_prediction_response.h"
#include "twml/data_record.h"
#include "twml/data_spec.h"
#include "twml/hashed_data_record.h"

namespace py = pybind11;
using namespace pybind11::literals;  // "name"_a keyword arguments

namespace twml {
namespace {

const char* kRecordKeys[] = {"binary", "continuous", "discrete", "strings", "sparse_binary",
                             "sparse_continuous", "blobs", "tensors"};

// numpy's name for a tensor element type, with the byte order the tensor has.
std::string NumpyDtype(const RawTensor& tensor) {
  const char order = tensor.big_endian ? '>' : '<';
  switch (tensor.type) {
    case TensorType::kFloat32: return std::string(1, order) + "f4";
    case TensorType::kFloat64: return std::string(1, order) + "f8";
    case TensorType::kInt32: return std::string(1, order) + "i4";
    case TensorType::kInt64: return std::string(1, order) + "i8";
    case TensorType::kInt8: return "i1";
    case TensorType::kUInt8: return "u1";
    case TensorType::kBool: return "?";
    case TensorType::kString: return "O";
  }
  return "u1";
}

py::object TensorToNumpy(const RawTensor& tensor) {
  py::module_ numpy = py::module_::import("numpy");
  if (tensor.type == TensorType::kString) {
    py::list strings;
    for (auto value : tensor.strings) strings.append(py::bytes(value.data(), value.size()));
    if (tensor.strings.empty() && tensor.data != nullptr && tensor.byte_length > 0) {
      // A RawTypedTensor of STRING: its content is opaque bytes.
      return py::bytes(reinterpret_cast<const char*>(tensor.data), tensor.byte_length);
    }
    return numpy.attr("array")(strings, "dtype"_a = "O").attr("reshape")(tensor.shape);
  }
  py::bytes raw(reinterpret_cast<const char*>(tensor.data), tensor.byte_length);
  py::object array = numpy.attr("frombuffer")(raw, "dtype"_a = NumpyDtype(tensor));
  // Native byte order and a writable copy, in the record's shape.
  return array.attr("astype")(array.attr("dtype").attr("newbyteorder")("=")).attr("reshape")(tensor.shape);
}

py::dict RecordToPython(const DataRecord& record) {
  py::dict out;
  if (!record.binary.empty()) out["binary"] = record.binary;
  if (!record.continuous.empty()) {
    py::dict values;
    for (const auto& f : record.continuous) values[py::int_(f.id)] = f.value;
    out["continuous"] = values;
  }
  if (!record.discrete.empty()) {
    py::dict values;
    for (const auto& f : record.discrete) values[py::int_(f.id)] = f.value;
    out["discrete"] = values;
  }
  if (!record.strings.empty()) {
    py::dict values;
    for (const auto& f : record.strings) values[py::int_(f.id)] = py::bytes(f.value.data(), f.value.size());
    out["strings"] = values;
  }
  if (!record.sparse_binary.empty()) {
    py::dict values;
    for (const auto& f : record.sparse_binary) {
      py::int_ id(f.id);
      if (!values.contains(id)) values[id] = py::list();
      values[id].cast<py::list>().append(py::bytes(f.name.data(), f.name.size()));
    }
    out["sparse_binary"] = values;
  }
  if (!record.sparse_continuous.empty()) {
    py::dict values;
    for (const auto& f : record.sparse_continuous) {
      py::int_ id(f.id);
      if (!values.contains(id)) values[id] = py::dict();
      values[id].cast<py::dict>()[py::bytes(f.name.data(), f.name.size())] = f.value;
    }
    out["sparse_continuous"] = values;
  }
  if (!record.blobs.empty()) {
    py::dict values;
    for (const auto& f : record.blobs) values[py::int_(f.id)] = py::bytes(f.value.data(), f.value.size());
    out["blobs"] = values;
  }
  if (!record.tensors.empty()) {
    py::dict values;
    for (const auto& f : record.tensors) values[py::int_(f.id)] = TensorToNumpy(f.value);
    out["tensors"] = values;
  }
  return out;
}

// Keeps the bytes of Python strings alive while a DataRecord views them.
class StringStore {
 public:
  std::string_view Add(const py::handle& value, const char* field) {
    if (py::isinstance<py::bytes>(value)) {
      strings_.push_back(value.cast<std::string>());
    } else if (py::isinstance<py::str>(value)) {
      strings_.push_back(value.cast<std::string>());  // UTF-8
    } else {
      throw py::type_error(std::string(field) + ": expected bytes or str, got " +
                           std::string(py::str(value.get_type().attr("__name__"))));
    }
    return strings_.back();
  }

 private:
  std::deque<std::string> strings_;
};

py::object Items(const py::handle& mapping) { return mapping.attr("items")(); }

// Numpy arrays of tensors, converted to contiguous little-endian buffers the record can view.
struct TensorStore {
  std::deque<py::array> arrays;
  std::deque<std::vector<std::string_view>> strings;
};

RawTensor TensorFromNumpy(const py::handle& value, int64_t id, StringStore* store, TensorStore* tensors) {
  py::module_ numpy = py::module_::import("numpy");
  py::array array = numpy.attr("asarray")(value);
  RawTensor tensor;
  for (py::ssize_t d = 0; d < array.ndim(); ++d) tensor.shape.push_back(array.shape(d));
  const char kind = array.dtype().kind();
  const auto size = array.dtype().itemsize();
  if (kind == 'O' || kind == 'S' || kind == 'U') {
    tensor.type = TensorType::kString;
    tensors->strings.emplace_back();
    for (const auto& item : array.attr("ravel")()) tensors->strings.back().push_back(store->Add(item, "tensors"));
    tensor.strings = tensors->strings.back();
    return tensor;
  }
  if (kind == 'f' && size == 4) tensor.type = TensorType::kFloat32;
  else if (kind == 'f' && size == 8) tensor.type = TensorType::kFloat64;
  else if (kind == 'i' && size == 4) tensor.type = TensorType::kInt32;
  else if (kind == 'i' && size == 8) tensor.type = TensorType::kInt64;
  else if (kind == 'u' && size == 1) tensor.type = TensorType::kUInt8;
  else if (kind == 'b') tensor.type = TensorType::kBool;
  else throw py::type_error("tensors[" + std::to_string(id) + "]: unsupported dtype " +
                            std::string(py::str(array.dtype())));
  py::array little = numpy.attr("ascontiguousarray")(
      array, "dtype"_a = array.dtype().attr("newbyteorder")("<"));
  tensors->arrays.push_back(little);
  tensor.data = static_cast<const uint8_t*>(little.data());
  tensor.byte_length = static_cast<size_t>(little.nbytes());
  return tensor;
}

py::bytes EncodeRecord(const py::dict& fields) {
  for (const auto& item : fields) {
    const std::string key = py::str(item.first);
    bool known = false;
    for (const char* name : kRecordKeys) known = known || key == name;
    if (!known) throw py::key_error("unknown DataRecord field '" + key + "'");
  }
  DataRecord record;
  StringStore store;
  TensorStore tensors;
  if (fields.contains("binary")) {
    for (const auto& id : fields["binary"]) record.binary.push_back(id.cast<int64_t>());
  }
  if (fields.contains("continuous")) {
    for (const auto& item : Items(fields["continuous"])) {
      auto pair = item.cast<py::tuple>();
      record.continuous.push_back({pair[0].cast<int64_t>(), pair[1].cast<double>()});
    }
  }
  if (fields.contains("discrete")) {
    for (const auto& item : Items(fields["discrete"])) {
      auto pair = item.cast<py::tuple>();
      record.discrete.push_back({pair[0].cast<int64_t>(), pair[1].cast<int64_t>()});
    }
  }
  if (fields.contains("strings")) {
    for (const auto& item : Items(fields["strings"])) {
      auto pair = item.cast<py::tuple>();
      record.strings.push_back({pair[0].cast<int64_t>(), store.Add(pair[1], "strings")});
    }
  }
  if (fields.contains("sparse_binary")) {
    for (const auto& item : Items(fields["sparse_binary"])) {
      auto pair = item.cast<py::tuple>();
      const auto id = pair[0].cast<int64_t>();
      for (const auto& name : pair[1]) record.sparse_binary.push_back({id, store.Add(name, "sparse_binary"), true});
    }
  }
  if (fields.contains("sparse_continuous")) {
    for (const auto& item : Items(fields["sparse_continuous"])) {
      auto pair = item.cast<py::tuple>();
      const auto id = pair[0].cast<int64_t>();
      for (const auto& named : Items(pair[1])) {
        auto name_value = named.cast<py::tuple>();
        record.sparse_continuous.push_back(
            {id, store.Add(name_value[0], "sparse_continuous"), name_value[1].cast<double>()});
      }
    }
  }
  if (fields.contains("blobs")) {
    for (const auto& item : Items(fields["blobs"])) {
      auto pair = item.cast<py::tuple>();
      record.blobs.push_back({pair[0].cast<int64_t>(), store.Add(pair[1], "blobs")});
    }
  }
  if (fields.contains("tensors")) {
    for (const auto& item : Items(fields["tensors"])) {
      auto pair = item.cast<py::tuple>();
      const auto id = pair[0].cast<int64_t>();
      record.tensors.push_back({id, TensorFromNumpy(pair[1], id, &store, &tensors)});
    }
  }
  const std::string bytes = EncodeDataRecord(record);
  return py::bytes(bytes);
}

DecodeOptions MakeOptions(const std::vector<int64_t>& keep_features, const std::vector<int64_t>& keep_codes,
                          const std::vector<int64_t>& label_features,
                          const std::vector<int64_t>& weight_features, int decode_mode) {
  return DecodeOptions(keep_features, keep_codes, label_features, weight_features, decode_mode);
}

py::dict DecodeRecord(const py::bytes& data) {
  const std::string_view bytes = data;
  DecodeOptions options;
  options.keep_all = true;
  DataRecord record;
  // No context prefix: the walk's own messages say "DataRecord" or name the field.
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  record.Decode(&reader, options);
  return RecordToPython(record);
}

// A numpy array of get(element) for each element of `values`.
template <typename T, typename Values, typename Get>
py::array_t<T> ToArray(const Values& values, Get get) {
  py::array_t<T> array(static_cast<py::ssize_t>(values.size()));
  auto out = array.template mutable_unchecked<1>();
  for (size_t i = 0; i < values.size(); ++i) out(i) = static_cast<T>(get(values[i]));
  return array;
}

py::dict HashedToPython(const HashedDataRecord& record) {
  const auto& e = record.entries;
  auto same = [](double value) { return value; };
  py::dict out;
  out["ids"] = ToArray<int64_t>(e, [](const HashedEntry& entry) { return entry.id; });
  out["keys"] = ToArray<int64_t>(e, [](const HashedEntry& entry) { return entry.key; });
  out["values"] = ToArray<double>(e, [](const HashedEntry& entry) { return entry.value; });
  out["codes"] = ToArray<int64_t>(e, [](const HashedEntry& entry) { return entry.code; });
  out["types"] = ToArray<int8_t>(e, [](const HashedEntry& entry) { return entry.type; });
  out["labels"] = ToArray<double>(record.labels, same);
  out["weights"] = ToArray<double>(record.weights, same);
  return out;
}

py::dict DecodeHashed(const py::bytes& data, const std::vector<int64_t>& keep_features,
                      const std::vector<int64_t>& keep_codes, const std::vector<int64_t>& label_features,
                      const std::vector<int64_t>& weight_features, int decode_mode) {
  const std::string_view bytes = data;
  const DecodeOptions options = MakeOptions(keep_features, keep_codes, label_features, weight_features, decode_mode);
  HashedDataRecord record;
  // No context prefix: the walk's own messages say "DataRecord" or name the field.
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  record.Decode(&reader, options);
  return HashedToPython(record);
}

py::dict DecodeRequest(const py::bytes& data) {
  const std::string_view bytes = data;
  DecodeOptions options;
  options.keep_all = true;
  BatchPredictionRequest<DataRecord> request;
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "BatchPredictionRequest");
  request.Decode(&reader, options);
  py::list records;
  for (const auto& record : request.records) records.append(RecordToPython(record));
  py::dict out;
  out["records"] = records;
  out["common"] = RecordToPython(request.common);
  return out;
}

// One block of output DataRecords for a batch of predictions: row i holds the features of
// records[i] whose ids keep_features lists (none when it is empty, and then records may be empty)
// plus continuousFeatures {keys[j]: predictions[i, j]} (a prediction replaces a kept feature of its
// id). The decoding and encoding run without the GIL.
py::bytes EncodePredictionBlock(const std::vector<py::bytes>& records,
                                const py::array_t<double, py::array::c_style | py::array::forcecast>& predictions,
                                const std::vector<int64_t>& keys, const std::vector<int64_t>& keep_features,
                                const std::string& class_name) {
  if (predictions.ndim() != 2 || predictions.shape(1) != static_cast<py::ssize_t>(keys.size())) {
    throw py::value_error("predictions must be a [batch, " + std::to_string(keys.size()) +
                          "] matrix (one column per key)");
  }
  const auto rows = static_cast<size_t>(predictions.shape(0));
  if (!keep_features.empty() && records.size() != rows) {
    throw py::value_error(std::to_string(records.size()) + " records for " + std::to_string(rows) +
                          " rows of predictions");
  }
  std::vector<std::string_view> inputs;
  inputs.reserve(records.size());
  for (const py::bytes& record : records) inputs.emplace_back(record);
  const double* values = predictions.data();  // float32 predictions widen exactly
  std::string block;
  {
    py::gil_scoped_release release;
    const IdMap keep(keep_features, keep_features);
    DecodeOptions options;
    options.keep_all = true;
    std::vector<std::string> encoded(rows);
    DataRecord record;
    for (size_t i = 0; i < rows; ++i) {
      if (keep_features.empty()) {
        record.Reset(options);
      } else {
        ThriftReader reader(reinterpret_cast<const uint8_t*>(inputs[i].data()), inputs[i].size(), "record",
                            static_cast<int64_t>(i));
        record.Decode(&reader, options);
        RetainFeatures(keep, &record);
      }
      for (size_t j = 0; j < keys.size(); ++j) SetContinuous(keys[j], values[i * keys.size() + j], &record);
      encoded[i] = EncodeDataRecord(record);
    }
    block = EncodeBlock(class_name, std::vector<std::string_view>(encoded.begin(), encoded.end()));
  }
  return py::bytes(block);
}

py::bytes EncodeRequest(const std::vector<std::string_view>& records, const std::optional<std::string_view>& common) {
  std::string bytes;
  {
    py::gil_scoped_release release;  // the views are into bytes objects the caller holds
    bytes = EncodeBatchPredictionRequest(records, common ? &*common : nullptr);
  }
  return py::bytes(bytes);
}

py::list DecodeResponse(const py::bytes& data) {
  const std::string_view bytes = data;
  DecodeOptions options;
  options.keep_all = true;
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "BatchPredictionResponse");
  py::list rows;
  for (const DataRecord& row : DecodeBatchPredictionResponse(&reader, options)) rows.append(RecordToPython(row));
  return rows;
}

py::list DecodeDataSpec(const py::bytes& data) {
  const std::string_view bytes = data;
  ThriftReader reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "FeatureMetaInfoList");
  py::list contents;
  for (const FeatureMetaInfo& info : DecodeFeatureMetaInfoList(&reader)) {
    contents.append(py::make_tuple(info.id ? py::object(py::int_(*info.id)) : py::object(py::none()),
                                   info.name ? py::object(py::bytes(info.name->data(), info.name->size()))
                                             : py::object(py::none()),
                                   info.type ? py::object(py::int_(*info.type)) : py::object(py::none())));
  }
  return contents;
}

}  // namespace

void DefineRecordCodecs(py::module_& m) {
  m.def("encode_data_record", &EncodeRecord, py::arg("record"),
        "Serialize a record dict (see libtwml.records) as a Thrift DataRecord: bytes.");
  m.def("decode_data_record", &DecodeRecord, py::arg("data"),
        "Decode a serialized DataRecord into a record dict, every feature kept, in wire order.");
  m.def("decode_hashed_data_record", &DecodeHashed, py::arg("data"), py::arg("keep_features"),
        py::arg("keep_codes"), py::arg("label_features") = std::vector<int64_t>{},
        py::arg("weight_features") = std::vector<int64_t>{}, py::arg("decode_mode") = 0,
        "Hashed decoding of a serialized DataRecord: dict of numpy arrays ids, keys, values, codes, "
        "types, labels, weights.");
  m.def("encode_prediction_block", &EncodePredictionBlock, py::arg("records"), py::arg("predictions"),
        py::arg("keys"), py::arg("keep_features"), py::arg("class_name"),
        "One block of DataRecords for a batch of predictions: per row the keep_features of the input "
        "record plus continuousFeatures {keys[j]: predictions[i, j]}; encoded without the GIL.");
  m.def("encode_batch_prediction_request", &EncodeRequest, py::arg("records"),
        py::arg("common_features") = py::none(),
        "The bytes of a BatchPredictionRequest of serialized DataRecords (a list of bytes) and an "
        "optional serialized common record.");
  m.def("decode_batch_prediction_response", &DecodeResponse, py::arg("data"),
        "Decode a serialized BatchPredictionResponse: one record dict per row (its predictions are "
        "the 'continuous' features), every check of the core's Thrift reader applied.");
  m.def("decode_data_spec", &DecodeDataSpec, py::arg("data"),
        "Decode a Thrift-serialized FeatureMetaInfoList: [(featureId, fullFeatureName bytes, "
        "featureType)], None for a field that is absent; unknown fields skipped, bounded by the data.");
  m.def("decode_batch_prediction_request", &DecodeRequest, py::arg("data"),
        "Decode a serialized BatchPredictionRequest: {'records': [record dict], 'common': record dict}.");
}

}  // namespace twml
