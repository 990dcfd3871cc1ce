// The Python module `tessera` (pybind11) over the C API, so that Python
// sees exactly what C and C++ programs see. Arrays are NumPy's C order,
// (slices, rows, columns) = (z, y, x), which is the C API's x-fastest
// layout; spacing, origin and direction are given in (x, y, z) order, in mm
// and ITK's LPS frame. The GIL is released while a volume is read, written
// or segmented; a progress callback takes it back to run.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/tessera.h"

namespace py = pybind11;

namespace {

// tessera.Error, with the C status name as `status`. Never released: the
// interpreter may still raise it while it shuts down.
PyObject* errorType = nullptr;

[[noreturn]] void raise(tessera_status status) {
  py::object error =
      py::reinterpret_borrow<py::object>(errorType)(std::string(tessera_last_error()));
  error.attr("status") = tessera_status_name(status);
  PyErr_SetObject(errorType, error.ptr());
  throw py::error_already_set();
}

void check(tessera_status status) {
  if (status != TESSERA_OK) raise(status);
}

template <class Handle, void (*Free)(Handle*)>
struct Owned {
  struct Deleter {
    void operator()(Handle* h) const { Free(h); }
  };
  std::unique_ptr<Handle, Deleter> handle;
  Handle* get() const { return handle.get(); }
};

using ModelHandle = Owned<tessera_model, tessera_model_free>;
using VolumeHandle = Owned<tessera_volume, tessera_volume_free>;
using SegmentationHandle = Owned<tessera_segmentation, tessera_segmentation_free>;

std::array<double, 3> triple(const double* v) {
  return {v[0], v[1], v[2]};
}

std::vector<std::vector<double>> matrix(const double* d) {
  return {{d[0], d[1], d[2]}, {d[3], d[4], d[5]}, {d[6], d[7], d[8]}};
}

// The caller's array as a tessera_image borrowing its memory: 3D, C
// contiguous, int16 or float32; anything else is refused, never copied.
tessera_image imageOf(const py::array& array, const std::optional<std::array<double, 3>>& spacing,
                      const std::optional<std::array<double, 3>>& origin,
                      const std::optional<std::vector<std::vector<double>>>& direction) {
  if (array.ndim() != 3)
    throw py::value_error("expected a 3D array (slices, rows, columns), got " +
                          std::to_string(array.ndim()) + " dimension(s)");
  if (!(array.flags() & py::array::c_style))
    throw py::value_error(
        "the array is not C-contiguous (a transposed or strided view?); pass "
        "numpy.ascontiguousarray(array)");
  tessera_image image{};
  if (array.dtype().is(py::dtype::of<std::int16_t>()))
    image.pixel_type = TESSERA_PIXEL_INT16;
  else if (array.dtype().is(py::dtype::of<float>()))
    image.pixel_type = TESSERA_PIXEL_FLOAT32;
  else
    throw py::type_error("expected int16 or float32 Hounsfield units, got dtype " +
                         std::string(py::str(array.dtype())) + " (use array.astype(numpy.int16))");
  image.data = array.data();
  tessera_geometry_init(&image.geometry, array.shape(2), array.shape(1), array.shape(0));
  if (spacing) std::copy(spacing->begin(), spacing->end(), image.geometry.spacing);
  if (origin) std::copy(origin->begin(), origin->end(), image.geometry.origin);
  if (direction) {
    if (direction->size() != 3 || (*direction)[0].size() != 3 || (*direction)[1].size() != 3 ||
        (*direction)[2].size() != 3)
      throw py::value_error(
          "direction must be a 3x3 matrix (its columns are the axes' LPS unit vectors)");
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) image.geometry.direction[3 * r + c] = (*direction)[r][c];
  }
  return image;
}

// A read-only NumPy view of memory `owner` keeps alive.
template <class T>
py::array viewOf(const T* data, const tessera_geometry& g, py::object owner) {
  py::array_t<T> array({g.size[2], g.size[1], g.size[0]}, data, owner);
  array.attr("setflags")(py::arg("write") = false);
  return std::move(array);
}

class Volume {
 public:
  explicit Volume(VolumeHandle handle) : handle_(std::move(handle)) {
    check(tessera_volume_image(handle_.get(), &image_));
  }
  const tessera_image& image() const { return image_; }

 private:
  VolumeHandle handle_;
  tessera_image image_{};
};

class Segmentation {
 public:
  explicit Segmentation(SegmentationHandle handle) : handle_(std::move(handle)) {
    check(tessera_segmentation_geometry(handle_.get(), &geometry_));
  }
  const tessera_geometry& geometry() const { return geometry_; }
  const std::uint8_t* labels() const { return tessera_segmentation_labels(handle_.get()); }
  tessera_segmentation* get() const { return handle_.get(); }

 private:
  SegmentationHandle handle_;
  tessera_geometry geometry_{};
};

struct Progress {
  py::function callback;
  std::exception_ptr thrown;
};

// Runs with the GIL released; takes it back to call Python. A callback that
// returns False, raises or sees Ctrl-C cancels the segmentation.
int forwardProgress(double fraction, double eta, const char* message, void* user) {
  auto* progress = static_cast<Progress*>(user);
  py::gil_scoped_acquire gil;
  try {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    py::object answer = progress->callback(fraction, eta, message);
    return (!answer.is_none() && PyObject_IsTrue(answer.ptr()) == 0) ? 1 : 0;
  } catch (...) {
    progress->thrown = std::current_exception();
    return 1;
  }
}

class Model {
 public:
  explicit Model(ModelHandle handle) : handle_(std::move(handle)) {}

  Segmentation segment(const py::array& array, std::optional<std::array<double, 3>> spacing,
                       std::optional<std::array<double, 3>> origin,
                       std::optional<std::vector<std::vector<double>>> direction,
                       const std::string& mode, int threads, std::optional<py::function> callback,
                       const std::string& stages, const std::string& plugins) {
    const tessera_image image = imageOf(array, spacing, origin, direction);
    tessera_segment_options options;
    tessera_segment_options_init(&options);
    if (mode == "sparse")
      options.mode = TESSERA_MODE_SPARSE;
    else if (mode == "dense")
      options.mode = TESSERA_MODE_DENSE;
    else
      throw py::value_error("mode must be \"sparse\" or \"dense\", not \"" + mode + "\"");
    options.threads = threads;
    options.stages = stages.c_str();
    options.plugins = plugins.c_str();
    Progress progress;
    if (callback) {
      progress.callback = *callback;
      options.progress = &forwardProgress;
      options.user_data = &progress;
    }
    tessera_segmentation* result = nullptr;
    tessera_status status;
    {
      py::gil_scoped_release released;
      status = tessera_segment(handle_.get(), &image, &options, &result);
    }
    SegmentationHandle owned{
        std::unique_ptr<tessera_segmentation, SegmentationHandle::Deleter>(result)};
    if (progress.thrown) std::rethrow_exception(progress.thrown);
    check(status);
    return Segmentation(std::move(owned));
  }

  tessera_model* get() const { return handle_.get(); }

 private:
  ModelHandle handle_;
};

py::dict statsOf(const Segmentation& s) {
  tessera_stats stats{};
  stats.struct_size = sizeof stats;
  check(tessera_segmentation_stats(s.get(), &stats));
  py::dict d;
  d["slices"] = stats.slices;
  d["empty_slices"] = stats.empty_slices;
  d["seconds"] = stats.seconds;
  d["detector_seconds"] = stats.detector_seconds;
  d["engine_seconds"] = stats.engine_seconds;
  d["flops"] = stats.flops;
  d["dense_flops"] = stats.dense_flops;
  d["active_fraction"] = stats.active_fraction;
  d["settled_fraction"] = stats.settled_fraction;
  return d;
}

py::list labelStatsOf(const Segmentation& s) {
  py::list all;
  const std::int64_t n = tessera_segmentation_label_stats_count(s.get());
  for (std::int64_t i = 0; i < n; ++i) {
    tessera_label_stats ls{};
    ls.struct_size = sizeof ls;
    check(tessera_segmentation_label_stats(s.get(), i, &ls));
    py::dict d;
    d["value"] = ls.label.value;
    d["name"] = std::string(ls.label.name);
    d["voxels"] = ls.voxels;
    d["volume_ml"] = ls.volume_ml;
    d["mean_hu"] = ls.mean_hu;
    d["sd_hu"] = ls.sd_hu;
    d["median_hu"] = ls.median_hu;
    d["p05_hu"] = ls.p05_hu;
    d["p95_hu"] = ls.p95_hu;
    d["touches_edge"] = ls.touches_edge != 0;
    all.append(d);
  }
  return all;
}

// Python values as the command line writes them: True/False for flags,
// str() for the rest; keyword names take '_' for the command line's '-'.
std::string optionText(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  return py::str(value);
}

py::dict train(const py::kwargs& kwargs) {
  tessera_train_options* raw = nullptr;
  check(tessera_train_options_new(&raw));
  std::unique_ptr<tessera_train_options, void (*)(tessera_train_options*)> options(
      raw, &tessera_train_options_free);
  std::optional<py::function> callback;
  for (const auto& [key, value] : kwargs) {
    std::string name = py::str(key);
    if (name == "progress") {
      if (!value.is_none()) callback = value.cast<py::function>();
      continue;
    }
    if (value.is_none()) continue;
    for (char& c : name)
      if (c == '_') c = '-';
    check(tessera_train_options_set(options.get(), name.c_str(), optionText(value).c_str()));
  }
  Progress progress;
  if (callback) progress.callback = *callback;
  tessera_train_report report{};
  report.struct_size = sizeof report;
  tessera_status status;
  {
    py::gil_scoped_release released;
    status =
        tessera_train(options.get(), callback ? &forwardProgress : nullptr, &progress, &report);
  }
  if (progress.thrown) std::rethrow_exception(progress.thrown);
  check(status);
  py::dict d;
  d["steps"] = report.steps;
  d["seconds"] = report.seconds;
  d["final_loss"] = report.final_loss;
  d["validation_mean_dice"] = report.validation_mean_dice;
  d["peak_bytes"] = report.peak_bytes;
  d["model_path"] = std::string(report.model_path);
  return d;
}

}  // namespace

PYBIND11_MODULE(tessera, m) {
  m.doc() =
      "Tessera: block-sparse CT segmentation. Arrays are (slices, rows, columns) in C order; "
      "spacing, origin and direction are (x, y, z), in mm, in the LPS patient frame.";
  if (tessera_abi_version() != TESSERA_ABI_VERSION)
    throw py::import_error("libtessera has ABI version " + std::to_string(tessera_abi_version()) +
                           ", the module was built for " + std::to_string(TESSERA_ABI_VERSION));
  errorType = PyErr_NewExceptionWithDoc(
      "tessera.Error", "A Tessera call failed; `status` names the kind of failure.",
      PyExc_RuntimeError, nullptr);
  if (!errorType) throw py::error_already_set();
  m.attr("Error") = py::reinterpret_borrow<py::object>(errorType);
  m.attr("__version__") = tessera_version();

  py::class_<Volume>(m, "Volume", "A CT volume read from a file (int16 HU).")
      .def_property_readonly(
          "array",
          [](py::object self) {
            const Volume& v = self.cast<const Volume&>();
            return viewOf(static_cast<const std::int16_t*>(v.image().data), v.image().geometry,
                          self);
          },
          "The voxels, (slices, rows, columns), read-only, without a copy.")
      .def_property_readonly("spacing",
                             [](const Volume& v) { return triple(v.image().geometry.spacing); })
      .def_property_readonly("origin",
                             [](const Volume& v) { return triple(v.image().geometry.origin); })
      .def_property_readonly("direction",
                             [](const Volume& v) { return matrix(v.image().geometry.direction); });

  py::class_<Segmentation>(m, "Segmentation", "Labels with the input's geometry, and statistics.")
      .def_property_readonly(
          "labels",
          [](py::object self) {
            const Segmentation& s = self.cast<const Segmentation&>();
            return viewOf(s.labels(), s.geometry(), self);
          },
          "uint8 labels, (slices, rows, columns), read-only, without a copy.")
      .def_property_readonly("stats", &statsOf,
                             "The engine's statistics: slices, seconds, FLOPs, active fraction.")
      .def_property_readonly("label_stats", &labelStatsOf,
                             "Per label present: voxels, volume in mL, HU statistics.")
      .def_property_readonly(
          "stage_report",
          [](const Segmentation& s) {
            py::dict d;
            for (std::int64_t i = 0; i < tessera_segmentation_stage_report_count(s.get()); ++i) {
              const char* key = nullptr;
              double value = 0;
              check(tessera_segmentation_stage_report(s.get(), i, &key, &value));
              d[key] = value;
            }
            return d;
          },
          "Numbers the plugin stages reported, \"NAME.key\": value.")
      .def(
          "write",
          [](const Segmentation& s, const std::string& path) {
            tessera_status status;
            {
              py::gil_scoped_release released;
              status = tessera_segmentation_write(s.get(), path.c_str());
            }
            check(status);
          },
          py::arg("path"), "Writes the label map (.nii.gz, .nii, .nrrd, .mha), atomically.");

  py::class_<Model>(m, "Model", "A loaded segmentation model.")
      .def_property_readonly("name",
                             [](const Model& model) { return tessera_model_name(model.get()); })
      .def_property_readonly("version",
                             [](const Model& model) { return tessera_model_version(model.get()); })
      .def_property_readonly("path",
                             [](const Model& model) { return tessera_model_path(model.get()); })
      .def_property_readonly(
          "labels",
          [](const Model& model) {
            py::list all;
            for (int i = 0; i < tessera_model_label_count(model.get()); ++i) {
              tessera_label label{};
              check(tessera_model_label(model.get(), i, &label));
              all.append(py::make_tuple(label.value, std::string(label.name),
                                        py::make_tuple(label.rgb[0], label.rgb[1], label.rgb[2])));
            }
            return all;
          },
          "(value, name, (r, g, b)) per output class.")
      .def("segment", &Model::segment, py::arg("array"), py::kw_only(),
           py::arg("spacing") = py::none(), py::arg("origin") = py::none(),
           py::arg("direction") = py::none(), py::arg("mode") = "sparse", py::arg("threads") = 0,
           py::arg("progress") = py::none(), py::arg("stages") = "", py::arg("plugins") = "",
           "Segments a 3D int16 or float32 HU array (slices, rows, columns), read in place. "
           "progress(fraction, eta_seconds, message) may return False to cancel; stages and "
           "plugins as `tessera segment --stages/--plugins` take them.");

  m.def(
      "load_model",
      [](std::optional<std::string> path) {
        tessera_model* handle = nullptr;
        tessera_status status;
        {
          py::gil_scoped_release released;
          status = tessera_model_load(path ? path->c_str() : nullptr, &handle);
        }
        check(status);
        return Model(ModelHandle{std::unique_ptr<tessera_model, ModelHandle::Deleter>(handle)});
      },
      py::arg("path") = py::none(), "Loads a model file; None loads the bundled default model.");

  m.def("train", &train,
        "Trains a model as `tessera train` does, with its options as keyword arguments "
        "(out=..., steps=..., lr=..., checkpointing=..., no_augment=True, ...) and "
        "progress(fraction, eta_seconds, message) returning False to save a checkpoint and "
        "stop. Returns the report (steps, seconds, final_loss, validation_mean_dice, "
        "peak_bytes, model_path).");
  m.def(
      "fine_tune",
      [](const std::string& init, const std::string& data, const std::string& out,
         py::kwargs kwargs) {
        kwargs["init"] = init;
        kwargs["data"] = data;
        kwargs["out"] = out;
        return train(kwargs);
      },
      py::arg("init"), py::arg("data"), py::arg("out"),
      "Fine-tunes the model file `init` on the case folders in `data` (ct.* and labels.*), "
      "writing into `out`; other options as for train().");
  m.def(
      "read_volume",
      [](const std::string& path) {
        tessera_volume* handle = nullptr;
        tessera_status status;
        {
          py::gil_scoped_release released;
          status = tessera_volume_read(path.c_str(), &handle);
        }
        check(status);
        return Volume(VolumeHandle{std::unique_ptr<tessera_volume, VolumeHandle::Deleter>(handle)});
      },
      py::arg("path"), "Reads a CT volume (NIfTI, NRRD, MetaImage, DICOM file or series folder).");

  m.def(
      "write_volume",
      [](const py::array& array, const std::string& path,
         std::optional<std::array<double, 3>> spacing, std::optional<std::array<double, 3>> origin,
         std::optional<std::vector<std::vector<double>>> direction) {
        const tessera_image image = imageOf(array, spacing, origin, direction);
        tessera_status status;
        {
          py::gil_scoped_release released;
          status = tessera_image_write(&image, path.c_str());
        }
        check(status);
      },
      py::arg("array"), py::arg("path"), py::kw_only(), py::arg("spacing") = py::none(),
      py::arg("origin") = py::none(), py::arg("direction") = py::none(),
      "Writes a 3D int16 or float32 HU array as a CT volume, atomically.");
}
