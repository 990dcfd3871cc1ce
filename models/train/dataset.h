// Training data: cases of (CT, labels), from phantoms generated on the fly or
// a folder of case directories, and a sampler that draws class-balanced,
// augmented 2.5D crops. Everything is a function of (seed, step): a resumed
// run draws exactly the batches an uninterrupted one would.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/image.h"
#include "core/random.h"
#include "core/status.h"
#include "models/backend/tensor.h"
#include "models/net/model.h"

namespace tessera::models {

struct TrainingCase {
  std::string name;
  Volume ct;
  Image<std::uint8_t> labels;
  // sliceCounts[k][c]: voxels of class c in slice k.
  std::vector<std::vector<std::int32_t>> sliceCounts;
};

class CaseSource {
 public:
  virtual ~CaseSource() = default;
  virtual std::string describe() const = 0;
  // Number of distinct cases (phantom sources are unbounded: a large number).
  virtual std::int64_t size() const = 0;
  virtual Result<TrainingCase> load(std::int64_t index) const = 0;
};

struct PhantomSourceOptions {
  std::uint64_t seed = 1;
  double headFraction = 0.2;  // share of head cases; the rest are torsos
  int matrix = 512;
  int slices = 0;  // 0: the family's whole extent at the case's spacing
  // The realistic variety (scanner, contrast phase, patient drawn per case)
  // instead of the classic phantoms.
  bool realistic = false;
  // Slice spacing in mm, drawn per case log-uniformly in [min, max]; 0: each
  // family's natural spacing (torso 2.5, head 2).
  double spacingMinMm = 0, spacingMaxMm = 0;
};
std::unique_ptr<CaseSource> makePhantomSource(const PhantomSourceOptions& options);
// Case directories under `directory` holding ct.(nii.gz|nii|nrrd|mha) and
// labels.(same): the layout `tessera phantom` writes.
Result<std::unique_ptr<CaseSource>> makeFolderSource(const std::string& directory);

TrainingCase indexCase(std::string name, Volume ct, Image<std::uint8_t> labels, int classes);

struct SamplerOptions {
  int crop = 256;                // square crop side in pixels (multiple of 16)
  double randomCropShare = 0.3;  // crops anywhere in the body instead of class-centred
  double maxRotationDeg = 12;
  double minScale = 0.85, maxScale = 1.2;
  double maxHuShift = 30, maxHuContrast = 0.05, maxNoiseHu = 12;
  // Elastic deformation: RMS displacement in pixels of a smooth random field
  // (0: none), and the field's smoothness (Gaussian σ in pixels).
  double elasticPx = 0, elasticSigmaPx = 24;
  bool augment = true;
};

struct TrainingBatch {
  Tensor input;   // (N, inputChannels, crop, crop) normalised, kNCHW
  Tensor labels;  // (N, 1, crop, crop) class indices as floats
};

// Draws batch `step` from the cases: class-balanced (a class is drawn
// uniformly among those present, then a slice holding it, then a crop
// centred on one of its voxels), with augmentation.
TrainingBatch sampleBatch(const std::vector<const TrainingCase*>& cases, const ModelInfo& info,
                          const SamplerOptions& options, int batchSize, std::uint64_t seed,
                          std::int64_t step);

// Deterministic 64-bit mixing for per-step, per-sample seeds: SplitMix64's
// (b + 1)-th output from state a.
inline std::uint64_t mixSeed(std::uint64_t a, std::uint64_t b) {
  return splitMix64(a + kSplitMix64Gamma * b);
}

}  // namespace tessera::models
