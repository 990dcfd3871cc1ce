// The workstation's segmentation model: the bundled default or a user's ONNX
// file, loaded once and kept (a shared, immutable Model) with one Segmenter
// reused across runs, so that a second study of the same size starts without
// repacking weights. Makes the jobs SegmentationController runs. Toolkit-free.
//
// The job is models::segmentStudy, the path `tessera segment` takes too.
// Orientation: the engine segments in the canonical voxel order and hands
// over each finished slice with its SlicePlacement in the CT's own voxel
// order (core/reorient.h), so the labels that arrive while the job runs are
// exact for every orientation, not only for axial LPS volumes.
#pragma once

#include <memory>
#include <string>

#include "core/reorient.h"
#include "core/status.h"
#include "models/infer/segmenter.h"
#include "models/net/model.h"
#include "ui/model/segmentation_controller.h"

namespace tessera::ui {

struct SegmentSettings {
  std::string modelPath;  // empty: the bundled default model
  models::SegmentMode mode = models::SegmentMode::kSparse;
  models::Settling settling = models::Settling::kBalanced;
  int threads = 0;  // 0: the process's setting (numThreads(), all cores by default)
};

// "tessera-default 1.2 · 10 labels: soft_tissue, fat, …" for choosers.
std::string describeModel(const models::ModelInfo& info);

class ModelSession {
 public:
  // Loads `path` (empty: the bundled default) unless it is the model already
  // loaded; on failure the previous model stays loaded. A default model that
  // cannot be found says where it was looked for.
  Status load(const std::string& path);
  bool loaded() const { return model_ != nullptr; }
  // The loaded model's file (the default model's resolved path).
  const std::string& path() const { return path_; }
  // Valid while loaded().
  const models::ModelInfo& info() const { return model_->info; }

  // A job that segments with the loaded model. It shares the model and the
  // segmenter, so loading another model while it runs is safe; one job at a
  // time (the controller refuses a second).
  SegmentationJob makeJob(const SegmentSettings& settings) const;

 private:
  std::string path_;
  std::shared_ptr<const models::Model> model_;
  std::shared_ptr<models::Segmenter> segmenter_;
};

}  // namespace tessera::ui
