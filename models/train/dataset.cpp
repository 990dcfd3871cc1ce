#include "models/train/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/log.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/slice_context.h"
#include "imaging/augment/augment.h"
#include "imaging/io/volume_io.h"
#include "imaging/phantom/phantom.h"

namespace tessera::models {

TrainingCase indexCase(std::string name, Volume ct, Image<std::uint8_t> labels, int classes) {
  TrainingCase c;
  c.name = std::move(name);
  c.sliceCounts.assign(labels.nz(), std::vector<std::int32_t>(classes, 0));
  parallelFor(0, labels.nz(), [&](std::int64_t k) {
    const std::uint8_t* s = labels.slice(k);
    auto& counts = c.sliceCounts[k];
    for (std::int64_t i = 0; i < labels.nx() * labels.ny(); ++i)
      if (s[i] < classes) ++counts[s[i]];
  });
  c.ct = std::move(ct);
  c.labels = std::move(labels);
  return c;
}

namespace {

class PhantomSource final : public CaseSource {
 public:
  explicit PhantomSource(PhantomSourceOptions o) : options_(o) {}
  std::string describe() const override {
    return "synthetic phantoms (seed " + std::to_string(options_.seed) + ")";
  }
  std::int64_t size() const override { return std::int64_t{1} << 30; }
  Result<TrainingCase> load(std::int64_t index) const override {
    imaging::PhantomOptions p;
    // The family of case i is a deterministic draw.
    const double u = unitDouble(mixSeed(options_.seed, index));
    p.family =
        u < options_.headFraction ? imaging::PhantomFamily::kHead : imaging::PhantomFamily::kTorso;
    p.seed = options_.seed;
    p.caseIndex = static_cast<int>(index);
    p.matrix = options_.matrix;
    p.slices = options_.slices;
    if (options_.realistic) p.variety = imaging::PhantomVariety::kRealistic;
    if (options_.spacingMaxMm > 0) {
      // Its own stream, so that the family draw above stays what it was.
      const double v = unitDouble(mixSeed(options_.seed ^ 0x5ac1e5ull, index));
      p.sliceSpacingMm =
          options_.spacingMinMm * std::pow(options_.spacingMaxMm / options_.spacingMinMm, v);
    }
    TESSERA_ASSIGN_OR_RETURN(imaging::Phantom phantom, imaging::generatePhantom(p));
    return indexCase(
        std::string(imaging::phantomFamilyName(p.family)) + "_" + std::to_string(index),
        std::move(phantom.ct), std::move(phantom.labels.labels), kTissueLabelCount);
  }

 private:
  PhantomSourceOptions options_;
};

class FolderSource final : public CaseSource {
 public:
  explicit FolderSource(std::string dir, std::vector<std::pair<std::string, std::string>> cases)
      : dir_(std::move(dir)), cases_(std::move(cases)) {}
  std::string describe() const override {
    return std::to_string(cases_.size()) + " cases in " + dir_;
  }
  std::int64_t size() const override { return static_cast<std::int64_t>(cases_.size()); }
  Result<TrainingCase> load(std::int64_t index) const override {
    const auto& [ctPath, labelPath] = cases_[static_cast<std::size_t>(index % size())];
    TESSERA_ASSIGN_OR_RETURN(Volume ct, imaging::readVolume(ctPath));
    TESSERA_ASSIGN_OR_RETURN(LabelMap labels, imaging::readLabelMap(labelPath));
    if (!sameGeometry(ct.geometry(), labels.labels.geometry(), 1e-3))
      return Error{StatusCode::kInvalidArgument, "CT and labels have different geometry",
                   labelPath};
    return indexCase(ctPath, std::move(ct), std::move(labels.labels), 256);
  }

 private:
  std::string dir_;
  std::vector<std::pair<std::string, std::string>> cases_;
};

std::string findImage(const std::filesystem::path& dir, const std::string& stem) {
  for (const char* ext : {".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"}) {
    const auto p = dir / (stem + ext);
    if (std::filesystem::exists(p)) return p.string();
  }
  return {};
}

}  // namespace

std::unique_ptr<CaseSource> makePhantomSource(const PhantomSourceOptions& options) {
  return std::make_unique<PhantomSource>(options);
}

Result<std::unique_ptr<CaseSource>> makeFolderSource(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(directory, error))
    return Error{StatusCode::kNotFound, "training data directory not found", directory};
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(directory, error))
    if (entry.is_directory()) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  std::vector<std::pair<std::string, std::string>> cases;
  for (const auto& d : dirs) {
    const std::string ct = findImage(d, "ct"), labels = findImage(d, "labels");
    if (!ct.empty() && !labels.empty()) cases.emplace_back(ct, labels);
  }
  if (cases.empty())
    return Error{StatusCode::kNotFound,
                 "no case folders with ct.* and labels.* images (as `tessera phantom` writes)",
                 directory};
  return std::unique_ptr<CaseSource>(new FolderSource(directory, std::move(cases)));
}

namespace {

struct Rng {
  std::mt19937_64 engine;
  explicit Rng(std::uint64_t seed) : engine(seed) {}
  double uniform() { return unitDouble(engine()); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  std::int64_t below(std::int64_t n) {
    return static_cast<std::int64_t>(engine() % std::uint64_t(n));
  }
};

struct Pick {
  const TrainingCase* c;
  std::int64_t slice;
  double cx, cy;
};

Pick pickCrop(const std::vector<const TrainingCase*>& cases, const SamplerOptions& o, Rng& rng) {
  const int classes = static_cast<int>(cases.front()->sliceCounts.front().size());
  if (rng.uniform() >= o.randomCropShare) {
    // Classes present anywhere, drawn uniformly.
    std::vector<int> present;
    for (int cl = 1; cl < classes; ++cl)
      for (const TrainingCase* c : cases) {
        bool found = false;
        for (const auto& counts : c->sliceCounts)
          if (counts[cl] > 0) {
            found = true;
            break;
          }
        if (found) {
          present.push_back(cl);
          break;
        }
      }
    if (!present.empty()) {
      const int cl = present[rng.below(static_cast<std::int64_t>(present.size()))];
      std::vector<std::pair<const TrainingCase*, std::int64_t>> slices;
      for (const TrainingCase* c : cases)
        for (std::size_t k = 0; k < c->sliceCounts.size(); ++k)
          if (c->sliceCounts[k][cl] > 0) slices.emplace_back(c, static_cast<std::int64_t>(k));
      const auto [c, k] = slices[rng.below(static_cast<std::int64_t>(slices.size()))];
      std::int64_t nth = rng.below(c->sliceCounts[k][cl]);
      const std::uint8_t* s = c->labels.slice(k);
      const std::int64_t n = c->labels.nx() * c->labels.ny();
      for (std::int64_t i = 0; i < n; ++i)
        if (s[i] == cl && nth-- == 0)
          return {c, k, static_cast<double>(i % c->labels.nx()),
                  static_cast<double>(i / c->labels.nx())};
    }
  }
  const TrainingCase* c = cases[rng.below(static_cast<std::int64_t>(cases.size()))];
  const std::int64_t k = rng.below(c->labels.nz());
  return {c, k, rng.uniform(0.2, 0.8) * c->labels.nx(), rng.uniform(0.2, 0.8) * c->labels.ny()};
}

}  // namespace

TrainingBatch sampleBatch(const std::vector<const TrainingCase*>& cases, const ModelInfo& info,
                          const SamplerOptions& o, int batchSize, std::uint64_t seed,
                          std::int64_t step) {
  const int channels = info.architecture.inputChannels, radius = info.contextRadius();
  const int crop = o.crop;
  TrainingBatch batch;
  batch.input = Tensor::zeros({batchSize, channels, crop, crop});
  batch.labels = Tensor::zeros({batchSize, 1, crop, crop});
  // Picks are drawn serially (deterministic), crops built in parallel.
  std::vector<Pick> picks;
  std::vector<imaging::AugmentParams> params;
  for (int b = 0; b < batchSize; ++b) {
    Rng rng(mixSeed(seed, static_cast<std::uint64_t>(step) * 1024 + b));
    const Pick pick = pickCrop(cases, o, rng);
    imaging::AugmentParams p;
    // Jitter the centre so the class is not always in the middle of the crop.
    p.centreX = pick.cx + rng.uniform(-0.3, 0.3) * crop;
    p.centreY = pick.cy + rng.uniform(-0.3, 0.3) * crop;
    if (o.augment) {
      p.rotationDeg = rng.uniform(-o.maxRotationDeg, o.maxRotationDeg);
      p.scale = std::exp(rng.uniform(std::log(o.minScale), std::log(o.maxScale)));
      p.huShift = rng.uniform(-o.maxHuShift, o.maxHuShift);
      p.huScale = 1.0 + rng.uniform(-o.maxHuContrast, o.maxHuContrast);
      p.noiseSigmaHu = rng.uniform(0.0, o.maxNoiseHu);
      p.elasticPx = o.elasticPx;
      p.elasticSigmaPx = o.elasticSigmaPx;
    }
    p.noiseSeed = rng.engine();
    picks.push_back(pick);
    params.push_back(p);
  }
  parallelFor(0, batchSize, [&](std::int64_t b) {
    const Pick& pick = picks[b];
    const TrainingCase& c = *pick.c;
    const int w = static_cast<int>(c.ct.nx()), h = static_cast<int>(c.ct.ny());
    std::vector<std::vector<float>> planes(channels, std::vector<float>(std::size_t(w) * h));
    std::vector<const float*> src;
    PhysicalSliceContext<std::int16_t> contextBuilder(radius, info.contextOffsetMm);
    const std::vector<const std::int16_t*>& context = contextBuilder.at(c.ct, pick.slice);
    for (int ch = 0; ch < channels; ++ch) {
      const std::int16_t* s = context[static_cast<std::size_t>(ch)];
      for (std::size_t i = 0; i < planes[ch].size(); ++i) planes[ch][i] = s[i];
      src.push_back(planes[ch].data());
    }
    std::vector<std::vector<float>> out(channels, std::vector<float>(std::size_t(crop) * crop));
    std::vector<float*> dst;
    for (auto& plane : out) dst.push_back(plane.data());
    std::vector<std::uint8_t> labels(std::size_t(crop) * crop);
    imaging::augmentSlices(src, c.labels.slice(pick.slice), w, h, params[b], crop, crop, dst,
                           labels.data());
    for (int ch = 0; ch < channels; ++ch)
      for (int i = 0; i < crop * crop; ++i)
        batch.input.at(b, ch, i / crop, i % crop) = info.input.apply(out[ch][i]);
    for (int i = 0; i < crop * crop; ++i)
      batch.labels.at(b, 0, i / crop, i % crop) =
          static_cast<float>(labels[i] < info.architecture.classes ? labels[i] : 0);
  });
  return batch;
}

}  // namespace tessera::models
