// The C API of sdk/include/tessera/tessera.h over the pipeline's one path
// (models::segmentStudy), so that a program linking libtessera gets exactly
// what `tessera segment` computes. Every entry point catches everything:
// no exception leaves the library.
#include "tessera/tessera.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>

#include "core/image.h"
#include "core/image_view.h"
#include "core/progress.h"
#include "core/status.h"
#include "imaging/io/volume_io.h"
#include "models/infer/segmenter.h"
#include "models/pipeline/model_store.h"
#include "models/pipeline/plugins.h"
#include "models/pipeline/segment_study.h"
#include "models/train/train_settings.h"
#include "models/train/trainer.h"

struct tessera_volume {
  tessera::Volume volume;
};

struct tessera_model {
  std::string path;
  std::shared_ptr<const tessera::models::Model> model;
  tessera::models::Segmenter segmenter;
  std::mutex mutex;  // the segmenter caches an engine per slice size
};

struct tessera_segmentation {
  tessera::models::StudySegmentation study;
};

struct tessera_train_options {
  tessera::models::TrainSettings settings;
  std::string modelPath;  // of the last run, for tessera_train_report
};

namespace {

using namespace tessera;

static_assert(TESSERA_OK == static_cast<int>(StatusCode::kOk));
static_assert(TESSERA_INVALID_ARGUMENT == static_cast<int>(StatusCode::kInvalidArgument));
static_assert(TESSERA_NOT_FOUND == static_cast<int>(StatusCode::kNotFound));
static_assert(TESSERA_IO_ERROR == static_cast<int>(StatusCode::kIoError));
static_assert(TESSERA_CORRUPT_DATA == static_cast<int>(StatusCode::kCorruptData));
static_assert(TESSERA_UNSUPPORTED == static_cast<int>(StatusCode::kUnsupported));
static_assert(TESSERA_RESOURCE_EXHAUSTED == static_cast<int>(StatusCode::kResourceExhausted));
static_assert(TESSERA_CANCELLED == static_cast<int>(StatusCode::kCancelled));
static_assert(TESSERA_INTERNAL == static_cast<int>(StatusCode::kInternal));

thread_local std::string lastError;

// A C caller may store any int in an enum field; in C++ reading a value
// outside the enumerators' range is undefined, so enums from the caller are
// read as their underlying integer.
template <class E>
long long rawEnum(const E& value) {
  std::underlying_type_t<E> raw;
  std::memcpy(&raw, &value, sizeof raw);
  return static_cast<long long>(raw);
}

tessera_status fail(const Error& error) {
  lastError = error.toString();
  return static_cast<tessera_status>(error.code);
}

tessera_status fail(tessera_status code, std::string message) {
  lastError = std::move(message);
  return code;
}

tessera_status report(const Status& status) {
  return status.ok() ? TESSERA_OK : fail(status.error());
}

// Runs an entry point's body; an exception becomes an error like any other.
template <class F>
tessera_status guarded(F&& body) noexcept {
  return report(guardExceptions([&]() -> Status { return body(); }));
}

Geometry toGeometry(const tessera_geometry& g) {
  Geometry geometry;
  for (int a = 0; a < 3; ++a) {
    geometry.size[a] = g.size[a];
    geometry.spacingMm[a] = g.spacing[a];
    geometry.originMm[a] = g.origin[a];
  }
  std::copy(g.direction, g.direction + 9, geometry.direction.begin());
  return geometry;
}

// The caller's image, checked: its geometry.
Result<Geometry> checkImage(const tessera_image* image) {
  if (!image) return Error{StatusCode::kInvalidArgument, "no image was given"};
  const long long pixelType = rawEnum(image->pixel_type);
  if (pixelType != TESSERA_PIXEL_INT16 && pixelType != TESSERA_PIXEL_FLOAT32)
    return Error{StatusCode::kInvalidArgument,
                 "unknown pixel type " + std::to_string(pixelType) + " (int16 or float32)"};
  const Geometry geometry = toGeometry(image->geometry);
  // validateGeometry judges files (corrupt data); here the caller passed it.
  if (Status valid = validateGeometry(geometry); !valid.ok())
    return Error{StatusCode::kInvalidArgument, valid.error().message};
  if (!image->data) return Error{StatusCode::kInvalidArgument, "the image has no voxel data"};
  // A size whose voxel count overflows cannot describe a buffer; one the
  // job could not even hold as labels is refused before any work.
  std::int64_t count = 1;
  for (int a = 0; a < 3; ++a)
    if (__builtin_mul_overflow(count, geometry.size[a], &count))
      return Error{StatusCode::kInvalidArgument, "the image size overflows a voxel count"};
  TESSERA_RETURN_IF_ERROR(checkAllocatable(geometry, sizeof(std::uint8_t)));
  return geometry;
}

// The caller's image as a Volume of the library's own (float32 rounded).
Result<Volume> toVolume(const tessera_image* image) {
  TESSERA_ASSIGN_OR_RETURN(const Geometry geometry, checkImage(image));
  TESSERA_ASSIGN_OR_RETURN(Volume volume, Volume::create(geometry));
  const std::int64_t n = volume.voxelCount();
  if (image->pixel_type == TESSERA_PIXEL_INT16) {
    std::memcpy(volume.data(), image->data, static_cast<std::size_t>(n) * sizeof(std::int16_t));
    return volume;
  }
  const float* hu = static_cast<const float*>(image->data);
  std::int16_t* out = volume.data();
  for (std::int64_t i = 0; i < n; ++i) {
    const float rounded = std::nearbyint(hu[i]);
    if (!(rounded >= -32768.0f && rounded <= 32767.0f))
      return Error{StatusCode::kInvalidArgument,
                   "voxel " + std::to_string(i) + " holds " + std::to_string(hu[i]) +
                       " HU, which is not a finite value within int16 (-32768..32767)"};
    out[i] = static_cast<std::int16_t>(rounded);
  }
  return volume;
}

// Forwards progress to the caller's callback; a non-zero answer cancels.
class CallbackProgress : public ProgressSink {
 public:
  CallbackProgress(tessera_progress_fn fn, void* user) : fn_(fn), user_(user) {}
  void update(const ProgressUpdate& update) override {
    if (fn_ && fn_(update.fraction, update.etaSeconds, update.message.c_str(), user_) != 0)
      cancel_.cancel();
  }
  const CancelToken& cancel() const { return cancel_; }

 private:
  tessera_progress_fn fn_;
  void* user_;
  CancelToken cancel_;
};

// Output structs that may grow: the caller's struct_size says how much of
// `full` fits; a struct older than version 1 is refused.
template <class T>
tessera_status fillSized(T* out, T full, const char* what) {
  if (!out) return fail(TESSERA_INVALID_ARGUMENT, std::string("no ") + what + " was given");
  if (out->struct_size < sizeof(T))
    return fail(TESSERA_INVALID_ARGUMENT,
                std::string(what) + ".struct_size is " + std::to_string(out->struct_size) +
                    ", smaller than version 1's " + std::to_string(sizeof(T)));
  full.struct_size = out->struct_size;
  std::memcpy(out, &full, sizeof(T));
  return TESSERA_OK;
}

tessera_label toLabel(const Label& label) {
  return tessera_label{label.value, label.name.c_str(), {label.rgb[0], label.rgb[1], label.rgb[2]}};
}

}  // namespace

extern "C" {

const char* tessera_version(void) {
  return TESSERA_VERSION;
}

int tessera_abi_version(void) {
  return TESSERA_ABI_VERSION;
}

const char* tessera_status_name(tessera_status status) {
  const long long raw = rawEnum(status);
  if (raw < TESSERA_OK || raw > TESSERA_INTERNAL) return "unknown status";
  return statusCodeName(static_cast<StatusCode>(status));
}

const char* tessera_last_error(void) {
  return lastError.c_str();
}

void tessera_geometry_init(tessera_geometry* geometry, int64_t nx, int64_t ny, int64_t nz) {
  if (!geometry) return;
  *geometry = models::toCGeometry(Geometry{.size = {nx, ny, nz}});
}

tessera_status tessera_volume_read(const char* path, tessera_volume** volume) {
  if (!volume) return fail(TESSERA_INVALID_ARGUMENT, "no place for the volume handle was given");
  *volume = nullptr;
  if (!path || !*path) return fail(TESSERA_INVALID_ARGUMENT, "no volume path was given");
  return guarded([&]() -> Status {
    TESSERA_ASSIGN_OR_RETURN(Volume read, imaging::readVolume(path));
    *volume = new tessera_volume{std::move(read)};
    return Status();
  });
}

tessera_status tessera_volume_image(const tessera_volume* volume, tessera_image* image) {
  if (!volume || !image) return fail(TESSERA_INVALID_ARGUMENT, "no volume or image was given");
  image->data = volume->volume.data();
  image->pixel_type = TESSERA_PIXEL_INT16;
  image->geometry = models::toCGeometry(volume->volume.geometry());
  return TESSERA_OK;
}

void tessera_volume_free(tessera_volume* volume) {
  delete volume;
}

tessera_status tessera_image_write(const tessera_image* image, const char* path) {
  if (!path || !*path) return fail(TESSERA_INVALID_ARGUMENT, "no output path was given");
  return guarded([&]() -> Status {
    TESSERA_ASSIGN_OR_RETURN(Volume volume, toVolume(image));
    return imaging::writeVolume(volume, path);
  });
}

tessera_status tessera_model_load(const char* path, tessera_model** model) {
  if (!model) return fail(TESSERA_INVALID_ARGUMENT, "no place for the model handle was given");
  *model = nullptr;
  return guarded([&]() -> Status {
    std::string resolved = path ? path : "";
    if (resolved.empty()) {
      TESSERA_ASSIGN_OR_RETURN(resolved, models::defaultModelPath());
    }
    // A model with plugin layers needs their plugins loaded first.
    if (const std::vector<std::string> folders = models::PluginRegistry::foldersFrom("");
        !folders.empty())
      TESSERA_RETURN_IF_ERROR(models::PluginRegistry::load(folders).status());
    TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<const models::Model> loaded,
                             models::loadModel(resolved));
    *model = new tessera_model{resolved, loaded, models::Segmenter(loaded), {}};
    return Status();
  });
}

void tessera_model_free(tessera_model* model) {
  delete model;
}

const char* tessera_model_name(const tessera_model* model) {
  return model ? model->model->info.name.c_str() : "";
}

const char* tessera_model_version(const tessera_model* model) {
  return model ? model->model->info.version.c_str() : "";
}

const char* tessera_model_path(const tessera_model* model) {
  return model ? model->path.c_str() : "";
}

int tessera_model_label_count(const tessera_model* model) {
  return model ? static_cast<int>(model->model->info.labels.labels.size()) : 0;
}

tessera_status tessera_model_label(const tessera_model* model, int index, tessera_label* label) {
  if (!model || !label) return fail(TESSERA_INVALID_ARGUMENT, "no model or label was given");
  const std::vector<Label>& labels = model->model->info.labels.labels;
  if (index < 0 || index >= static_cast<int>(labels.size()))
    return fail(TESSERA_INVALID_ARGUMENT, "label index " + std::to_string(index) +
                                              " is outside 0.." +
                                              std::to_string(static_cast<int>(labels.size()) - 1));
  *label = toLabel(labels[static_cast<std::size_t>(index)]);
  return TESSERA_OK;
}

void tessera_segment_options_init(tessera_segment_options* options) {
  if (!options) return;
  *options = tessera_segment_options{};
  options->struct_size = sizeof(tessera_segment_options);
  options->mode = TESSERA_MODE_SPARSE;
}

tessera_status tessera_segment(tessera_model* model, const tessera_image* ct,
                               const tessera_segment_options* options,
                               tessera_segmentation** segmentation) {
  if (!segmentation)
    return fail(TESSERA_INVALID_ARGUMENT, "no place for the segmentation handle was given");
  *segmentation = nullptr;
  if (!model) return fail(TESSERA_INVALID_ARGUMENT, "no model was given");
  tessera_segment_options chosen;
  tessera_segment_options_init(&chosen);
  if (options) {
    if (options->struct_size < sizeof(tessera_segment_options))
      return fail(TESSERA_INVALID_ARGUMENT, "options.struct_size is " +
                                                std::to_string(options->struct_size) +
                                                ", smaller than version 1's " +
                                                std::to_string(sizeof(tessera_segment_options)) +
                                                " (call tessera_segment_options_init)");
    std::memcpy(&chosen, options, sizeof(tessera_segment_options));
  }
  const long long mode = rawEnum(chosen.mode);
  if (mode != TESSERA_MODE_SPARSE && mode != TESSERA_MODE_DENSE)
    return fail(TESSERA_INVALID_ARGUMENT, "unknown mode " + std::to_string(mode) +
                                              " (TESSERA_MODE_SPARSE or TESSERA_MODE_DENSE)");
  if (chosen.threads < 0)
    return fail(TESSERA_INVALID_ARGUMENT,
                "threads is " + std::to_string(chosen.threads) + "; 0 means all cores");
  return guarded([&]() -> Status {
    // int16 voxels are read in place; float32 ones are rounded into a copy.
    TESSERA_ASSIGN_OR_RETURN(const Geometry geometry, checkImage(ct));
    Volume converted;
    VolumeView volume(static_cast<const std::int16_t*>(ct->data), geometry);
    if (ct->pixel_type == TESSERA_PIXEL_FLOAT32) {
      TESSERA_ASSIGN_OR_RETURN(converted, toVolume(ct));
      volume = VolumeView(converted);
    }
    CallbackProgress progress(chosen.progress, chosen.user_data);
    models::SegmentOptions segmentOptions;
    segmentOptions.mode = chosen.mode == TESSERA_MODE_DENSE ? models::SegmentMode::kDense
                                                            : models::SegmentMode::kSparse;
    segmentOptions.threads = chosen.threads;
    segmentOptions.progress = &progress;
    segmentOptions.cancel = &progress.cancel();
    std::shared_ptr<const models::PluginRegistry> plugins;
    std::vector<models::StageCall> stages;
    if (chosen.stages && *chosen.stages) {
      TESSERA_ASSIGN_OR_RETURN(
          plugins, models::PluginRegistry::load(
                       models::PluginRegistry::foldersFrom(chosen.plugins ? chosen.plugins : "")));
      TESSERA_ASSIGN_OR_RETURN(stages, models::resolveStages(*plugins, chosen.stages));
    }
    const std::lock_guard<std::mutex> lock(model->mutex);
    TESSERA_ASSIGN_OR_RETURN(
        models::StudySegmentation study,
        models::segmentStudy(model->segmenter, volume, segmentOptions, stages));
    *segmentation = new tessera_segmentation{std::move(study)};
    return Status();
  });
}

void tessera_segmentation_free(tessera_segmentation* segmentation) {
  delete segmentation;
}

const uint8_t* tessera_segmentation_labels(const tessera_segmentation* segmentation) {
  return segmentation ? segmentation->study.labels.labels.data() : nullptr;
}

tessera_status tessera_segmentation_geometry(const tessera_segmentation* segmentation,
                                             tessera_geometry* geometry) {
  if (!segmentation || !geometry)
    return fail(TESSERA_INVALID_ARGUMENT, "no segmentation or geometry was given");
  *geometry = models::toCGeometry(segmentation->study.labels.labels.geometry());
  return TESSERA_OK;
}

tessera_status tessera_segmentation_write(const tessera_segmentation* segmentation,
                                          const char* path) {
  if (!segmentation) return fail(TESSERA_INVALID_ARGUMENT, "no segmentation was given");
  if (!path || !*path) return fail(TESSERA_INVALID_ARGUMENT, "no output path was given");
  return guarded([&] { return imaging::writeLabelMap(segmentation->study.labels, path); });
}

tessera_status tessera_segmentation_stats(const tessera_segmentation* segmentation,
                                          tessera_stats* stats) {
  if (!segmentation) return fail(TESSERA_INVALID_ARGUMENT, "no segmentation was given");
  const models::SegmentationStats& s = segmentation->study.stats;
  tessera_stats full{};
  full.slices = s.slices;
  full.empty_slices = s.emptySlices;
  full.seconds = s.seconds;
  full.detector_seconds = s.detectorSeconds;
  full.engine_seconds = s.engineSeconds;
  full.flops = s.flops;
  full.dense_flops = s.denseFlops;
  full.active_fraction = s.meanActiveFraction;
  full.settled_fraction = s.meanSettledFraction;
  return fillSized(stats, full, "stats");
}

int64_t tessera_segmentation_label_stats_count(const tessera_segmentation* segmentation) {
  return segmentation ? static_cast<int64_t>(segmentation->study.statistics.size()) : 0;
}

tessera_status tessera_segmentation_label_stats(const tessera_segmentation* segmentation,
                                                int64_t index, tessera_label_stats* stats) {
  if (!segmentation) return fail(TESSERA_INVALID_ARGUMENT, "no segmentation was given");
  const auto& all = segmentation->study.statistics;
  if (index < 0 || index >= static_cast<int64_t>(all.size()))
    return fail(TESSERA_INVALID_ARGUMENT, "label statistics index " + std::to_string(index) +
                                              " is outside 0.." +
                                              std::to_string(static_cast<int64_t>(all.size()) - 1));
  const imaging::LabelStatistics& s = all[static_cast<std::size_t>(index)];
  const Label* known = segmentation->study.labels.table.find(s.value);
  tessera_label_stats full{};
  full.label = tessera_label{s.value, s.name.c_str(), {0, 0, 0}};
  if (known) std::copy(known->rgb.begin(), known->rgb.end(), full.label.rgb);
  full.voxels = s.voxelCount;
  full.volume_ml = s.volumeMl;
  full.mean_hu = s.huMean;
  full.sd_hu = s.huStd;
  full.median_hu = s.huMedian;
  full.p05_hu = s.huP05;
  full.p95_hu = s.huP95;
  full.touches_edge = s.touchesFovEdge ? 1 : 0;
  return fillSized(stats, full, "label statistics");
}

int64_t tessera_segmentation_stage_report_count(const tessera_segmentation* segmentation) {
  return segmentation ? static_cast<int64_t>(segmentation->study.stageReport.size()) : 0;
}

tessera_status tessera_segmentation_stage_report(const tessera_segmentation* segmentation,
                                                 int64_t index, const char** key, double* value) {
  if (!segmentation || !key || !value)
    return fail(TESSERA_INVALID_ARGUMENT, "no segmentation, key or value was given");
  const auto& report = segmentation->study.stageReport;
  if (index < 0 || index >= static_cast<int64_t>(report.size()))
    return fail(TESSERA_INVALID_ARGUMENT,
                "stage report index " + std::to_string(index) + " is outside 0.." +
                    std::to_string(static_cast<int64_t>(report.size()) - 1));
  *key = report[static_cast<std::size_t>(index)].first.c_str();
  *value = report[static_cast<std::size_t>(index)].second;
  return TESSERA_OK;
}

tessera_status tessera_train_options_new(tessera_train_options** options) {
  if (!options) return fail(TESSERA_INVALID_ARGUMENT, "no place for the options handle was given");
  *options = nullptr;
  return guarded([&]() -> Status {
    *options = new tessera_train_options{};
    return Status();
  });
}

void tessera_train_options_free(tessera_train_options* options) {
  delete options;
}

tessera_status tessera_train_options_set(tessera_train_options* options, const char* name,
                                         const char* value) {
  if (!options || !name || !value)
    return fail(TESSERA_INVALID_ARGUMENT, "no options handle, name or value was given");
  return guarded([&] { return options->settings.set(name, value); });
}

tessera_status tessera_train(tessera_train_options* options, tessera_progress_fn progress,
                             void* user_data, tessera_train_report* report) {
  if (!options) return fail(TESSERA_INVALID_ARGUMENT, "no training options were given");
  if (report && report->struct_size < sizeof(tessera_train_report))
    return fail(TESSERA_INVALID_ARGUMENT,
                "report.struct_size is " + std::to_string(report->struct_size) +
                    ", smaller than version 1's " + std::to_string(sizeof(tessera_train_report)));
  return guarded([&]() -> Status {
    TESSERA_ASSIGN_OR_RETURN(const models::TrainerOptions trainer,
                             options->settings.toTrainerOptions());
    CallbackProgress sink(progress, user_data);
    TESSERA_ASSIGN_OR_RETURN(const models::TrainerReport done,
                             models::train(trainer, &sink, &sink.cancel()));
    options->modelPath = done.modelPath;
    if (report) {
      tessera_train_report full{};
      full.steps = done.steps;
      full.seconds = done.seconds;
      full.final_loss = done.finalLoss;
      full.validation_mean_dice = done.validation.meanDice;
      full.peak_bytes = done.peakBytes;
      full.model_path = options->modelPath.c_str();
      if (tessera_status filled = fillSized(report, full, "report"); filled != TESSERA_OK)
        return Error{static_cast<StatusCode>(filled), lastError};
    }
    return Status();
  });
}

}  // extern "C"
