#include "ui/model/model_session.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>
#include <utility>

#include "core/files.h"
#include "core/parallel.h"
#include "models/pipeline/model_store.h"
#include "models/pipeline/segment_study.h"

namespace tessera::ui {

std::string describeModel(const models::ModelInfo& info) {
  std::string text = info.name + " " + info.version;
  std::string names;
  int count = 0;
  for (const Label& label : info.labels.labels) {
    if (label.value == 0) continue;
    ++count;
    names += (names.empty() ? "" : ", ") + label.name;
  }
  text += " \xC2\xB7 " + std::to_string(count) + " labels";
  if (!names.empty()) text += ": " + names;
  return text;
}

Status ModelSession::load(const std::string& path) {
  std::string resolved = path;
  if (resolved.empty()) {
    auto found = models::defaultModelPath();
    if (!found.ok())
      return Status(StatusCode::kNotFound,
                    "The bundled segmentation model was not found. Choose an ONNX model file "
                    "instead.",
                    found.error().message);
    resolved = std::move(found).value();
  }
  if (model_ && resolved == path_) return Status();
  Result<std::shared_ptr<const models::Model>> model =
      Error{StatusCode::kInternal, "the model could not be read", resolved};
  try {
    model = models::loadModel(resolved);
  } catch (const std::bad_alloc&) {
    model = Error{StatusCode::kResourceExhausted, "not enough memory for the model", resolved};
  } catch (const std::exception& e) {
    model = Error{StatusCode::kInternal, e.what(), resolved};
  }
  if (!model.ok()) {
    Error error = model.error();
    if (!fileExists(resolved))
      error = Error{StatusCode::kNotFound, "The model file does not exist.", resolved};
    else if (error.code != StatusCode::kResourceExhausted)
      error.message = "This file is not a model Tessera can run: " + error.message;
    if (error.context.empty()) error.context = resolved;
    return error;
  }
  model_ = std::move(model).value();
  segmenter_ = std::make_shared<models::Segmenter>(model_);
  path_ = std::move(resolved);
  return Status();
}

SegmentationJob ModelSession::makeJob(const SegmentSettings& settings) const {
  if (!model_) return {};
  return [segmenter = segmenter_, settings](const Volume& ct, ProgressSink* sink,
                                            const CancelToken& cancel,
                                            SliceCallback onSlice) -> Result<SegmentationOutput> {
    models::SegmentOptions options;
    options.mode = settings.mode;
    options.settling = settings.settling;
    // Explicit even for "all cores": the job runs on its own thread, whose
    // OpenMP defaults (used by oneDNN) know nothing of the process's setting.
    options.threads = settings.threads > 0 ? settings.threads : numThreads();
    options.keepBlockMap = settings.mode == models::SegmentMode::kSparse;
    options.progress = sink;
    options.cancel = &cancel;
    options.onSlice = onSlice;
    TESSERA_ASSIGN_OR_RETURN(models::StudySegmentation result,
                             models::segmentStudy(*segmenter, ct, options));

    const models::SegmentationStats& s = result.stats;
    char line[256];
    if (settings.mode == models::SegmentMode::kSparse)
      std::snprintf(line, sizeof line,
                    "%lld slices in %.1f s \xC2\xB7 sparse: %.0f %% of blocks computed, %.0f %% "
                    "of the network's work skipped",
                    static_cast<long long>(s.slices), s.seconds, 100.0 * s.meanActiveFraction,
                    s.denseFlops > 0 ? std::max(0.0, 100.0 * (1.0 - s.flops / s.denseFlops)) : 0.0);
    else
      std::snprintf(line, sizeof line, "%lld slices in %.1f s \xC2\xB7 dense",
                    static_cast<long long>(s.slices), s.seconds);
    SegmentationOutput output;
    output.labels = std::move(result.labels);
    output.statistics = std::move(result.statistics);
    if (options.keepBlockMap) output.computedBlocks = std::move(result.computedBlocks);
    output.summary = line;
    return output;
  };
}

}  // namespace tessera::ui
