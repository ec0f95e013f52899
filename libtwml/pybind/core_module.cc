// libtwml._core: the C++ core for Python, without TensorFlow.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "twml/discretizer.h"
#include "twml/error.h"
#include "twml/hashing.h"

namespace py = pybind11;

namespace twml {
// Defined in record_codecs.cc.
void DefineRecordCodecs(py::module_& module);
// Defined in block_format.cc.
void DefineBlockFormat(py::module_& module);
}  // namespace twml

namespace {

py::array_t<int64_t> FeatureIds(const std::vector<std::string>& names) {
  py::array_t<int64_t> ids(static_cast<py::ssize_t>(names.size()));
  auto out = ids.mutable_unchecked<1>();
  for (size_t i = 0; i < names.size(); ++i) {
    try {
      out(i) = twml::FeatureId(names[i]);
    } catch (const twml::Error& error) {
      throw twml::Error(error.code(), "feature name #" + std::to_string(i) + ": " + error.what());
    }
  }
  return ids;
}

// The core's bisection (twml::BinSearch, the discretizers' and isotonic calibration's) of each value.
py::array_t<int64_t> BinSearch(const py::array_t<double, py::array::c_style | py::array::forcecast>& xs,
                               const py::array_t<double, py::array::c_style | py::array::forcecast>& values) {
  if (xs.ndim() != 1 || xs.size() == 0) throw py::value_error("xs must be a non-empty vector");
  py::array_t<int64_t> out(values.size());
  auto result = out.mutable_unchecked<1>();
  const double* x = xs.data();
  const double* v = values.data();
  for (py::ssize_t i = 0; i < values.size(); ++i) result(i) = twml::BinSearch(x, xs.size(), v[i]);
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "The libtwml C++ core (no TensorFlow needed).";
  py::register_exception<twml::Error>(m, "Error", PyExc_ValueError);

  m.def("feature_ids", &FeatureIds, py::arg("names"),
        "Feature ids of UTF-8 names (str or bytes): int64 array of shape [len(names)].");
  m.def(
      "mix_discrete_id_and_value",
      [](int64_t id, int64_t value) { return twml::MixDiscreteIdAndValue(id, value); },
      py::arg("id"), py::arg("value"), "Hashed key of a discrete feature value.");
  m.def(
      "mix_string_id_and_value",
      [](int64_t id, const std::string& value) { return twml::MixStringIdAndValue(id, value); },
      py::arg("id"), py::arg("value"), "Hashed key of a string feature value (bytes or str).");

  m.def("bin_search", &BinSearch, py::arg("xs"), py::arg("values"),
        "The original's bisection of each value over sorted float64 xs (twml::BinSearch): int64 "
        "indices, 0 at or below xs[0] (and for NaN), len(xs) - 1 at or above xs[-1].");

  twml::DefineRecordCodecs(m);
  twml::DefineBlockFormat(m);
}
