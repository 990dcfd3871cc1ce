// C++ wrapper of Tessera's C API (tessera/tessera.h): RAII handles and
// std::string errors. Header-only and built on the C functions alone, so a
// C++ program keeps the C ABI's stability. It throws tessera::sdk::Error in
// the caller's own code when a C call fails; no exception crosses the
// library. Needs C++17.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tessera.h"

namespace tessera::sdk {

class Error : public std::runtime_error {
 public:
  Error(tessera_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  tessera_status status() const { return status_; }

 private:
  tessera_status status_;
};

inline void check(tessera_status status) {
  if (status != TESSERA_OK) throw Error(status, tessera_last_error());
}

// Throws when the library was built for another ABI than this header.
inline void checkAbi() {
  if (tessera_abi_version() != TESSERA_ABI_VERSION)
    throw Error(TESSERA_UNSUPPORTED,
                "libtessera has ABI version " + std::to_string(tessera_abi_version()) +
                    ", this program was built for " + std::to_string(TESSERA_ABI_VERSION));
}

// A CT volume read from a file; image() views its int16 voxels.
class Volume {
 public:
  static Volume read(const std::string& path) {
    tessera_volume* handle = nullptr;
    check(tessera_volume_read(path.c_str(), &handle));
    return Volume(handle);
  }
  tessera_image image() const {
    tessera_image image{};
    check(tessera_volume_image(handle_.get(), &image));
    return image;
  }

 private:
  explicit Volume(tessera_volume* handle) : handle_(handle, &tessera_volume_free) {}
  std::unique_ptr<tessera_volume, void (*)(tessera_volume*)> handle_;
};

inline void writeImage(const tessera_image& image, const std::string& path) {
  check(tessera_image_write(&image, path.c_str()));
}

struct SegmentOptions {
  tessera_mode mode = TESSERA_MODE_SPARSE;
  int threads = 0;  // 0: all cores
  // fraction 0..1, seconds left (negative while unknown), message; return
  // false to cancel (the call then throws Error with TESSERA_CANCELLED).
  std::function<bool(double, double, const std::string&)> progress;
};

struct LabelStats {
  int value = 0;
  std::string name;
  std::int64_t voxels = 0;
  double volumeMl = 0, meanHu = 0, sdHu = 0, medianHu = 0, p05Hu = 0, p95Hu = 0;
  bool touchesEdge = false;
};

class Segmentation {
 public:
  const std::uint8_t* labels() const { return tessera_segmentation_labels(handle_.get()); }
  tessera_geometry geometry() const {
    tessera_geometry g{};
    check(tessera_segmentation_geometry(handle_.get(), &g));
    return g;
  }
  tessera_stats stats() const {
    tessera_stats s{};
    s.struct_size = sizeof s;
    check(tessera_segmentation_stats(handle_.get(), &s));
    return s;
  }
  std::vector<LabelStats> labelStats() const {
    std::vector<LabelStats> all;
    const std::int64_t n = tessera_segmentation_label_stats_count(handle_.get());
    for (std::int64_t i = 0; i < n; ++i) {
      tessera_label_stats s{};
      s.struct_size = sizeof s;
      check(tessera_segmentation_label_stats(handle_.get(), i, &s));
      all.push_back({s.label.value, s.label.name, s.voxels, s.volume_ml, s.mean_hu, s.sd_hu,
                     s.median_hu, s.p05_hu, s.p95_hu, s.touches_edge != 0});
    }
    return all;
  }
  void write(const std::string& path) const {
    check(tessera_segmentation_write(handle_.get(), path.c_str()));
  }

 private:
  friend class Model;
  explicit Segmentation(tessera_segmentation* handle)
      : handle_(handle, &tessera_segmentation_free) {}
  std::unique_ptr<tessera_segmentation, void (*)(tessera_segmentation*)> handle_;
};

class Model {
 public:
  // An empty path loads the bundled default model.
  static Model load(const std::string& path = {}) {
    tessera_model* handle = nullptr;
    check(tessera_model_load(path.c_str(), &handle));
    return Model(handle);
  }
  std::string name() const { return tessera_model_name(handle_.get()); }
  std::string version() const { return tessera_model_version(handle_.get()); }
  std::string path() const { return tessera_model_path(handle_.get()); }
  std::vector<tessera_label> labels() const {
    std::vector<tessera_label> all(
        static_cast<std::size_t>(tessera_model_label_count(handle_.get())));
    for (std::size_t i = 0; i < all.size(); ++i)
      check(tessera_model_label(handle_.get(), static_cast<int>(i), &all[i]));
    return all;
  }

  Segmentation segment(const tessera_image& ct, const SegmentOptions& options = {}) {
    tessera_segment_options c{};
    tessera_segment_options_init(&c);
    c.mode = options.mode;
    c.threads = options.threads;
    Callback callback{&options, nullptr};
    if (options.progress) {
      c.progress = &Model::forwardProgress;
      c.user_data = &callback;
    }
    tessera_segmentation* handle = nullptr;
    const tessera_status status = tessera_segment(handle_.get(), &ct, &c, &handle);
    if (callback.thrown) {
      tessera_segmentation_free(handle);
      std::rethrow_exception(callback.thrown);
    }
    check(status);
    return Segmentation(handle);
  }

 private:
  explicit Model(tessera_model* handle) : handle_(handle, &tessera_model_free) {}
  struct Callback {
    const SegmentOptions* options;
    std::exception_ptr thrown;
  };
  // An exception thrown by the caller's callback must not unwind through the
  // library: it cancels the call and is rethrown once the call has returned.
  static int forwardProgress(double fraction, double eta, const char* message, void* user) {
    auto* callback = static_cast<Callback*>(user);
    try {
      return callback->options->progress(fraction, eta, message) ? 0 : 1;
    } catch (...) {
      callback->thrown = std::current_exception();
      return 1;
    }
  }
  std::unique_ptr<tessera_model, void (*)(tessera_model*)> handle_;
};

struct TrainReport {
  std::int64_t steps = 0;
  double seconds = 0, finalLoss = 0, validationMeanDice = 0;
  std::int64_t peakBytes = 0;
  std::string modelPath;
};

// Trains as `tessera train` does: `options` are its option names without
// the dashes and their values ({"out", "run"}, {"steps", "200"},
// {"no-augment", "true"}). A progress callback returning false saves a
// checkpoint and stops (Error with TESSERA_CANCELLED; "resume" continues).
inline TrainReport train(const std::vector<std::pair<std::string, std::string>>& options,
                         std::function<bool(double, double, const std::string&)> progress = {}) {
  tessera_train_options* raw = nullptr;
  check(tessera_train_options_new(&raw));
  std::unique_ptr<tessera_train_options, void (*)(tessera_train_options*)> handle(
      raw, &tessera_train_options_free);
  for (const auto& [name, value] : options)
    check(tessera_train_options_set(handle.get(), name.c_str(), value.c_str()));
  struct Callback {
    std::function<bool(double, double, const std::string&)>* progress;
    std::exception_ptr thrown;
  } callback{&progress, nullptr};
  auto forward = [](double fraction, double eta, const char* message, void* user) -> int {
    auto* c = static_cast<Callback*>(user);
    try {
      return (*c->progress)(fraction, eta, message) ? 0 : 1;
    } catch (...) {
      c->thrown = std::current_exception();
      return 1;
    }
  };
  tessera_train_report report{};
  report.struct_size = sizeof report;
  const tessera_status status =
      tessera_train(handle.get(), progress ? +forward : nullptr, &callback, &report);
  if (callback.thrown) std::rethrow_exception(callback.thrown);
  check(status);
  return {report.steps,      report.seconds,   report.final_loss, report.validation_mean_dice,
          report.peak_bytes, report.model_path};
}

}  // namespace tessera::sdk
