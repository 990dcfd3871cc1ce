#include "imaging/eval/metrics.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>

#include "core/parallel.h"
#include "imaging/eval/distance_transform.h"
#include "imaging/stats/label_stats.h"

namespace tessera::imaging {
namespace {

using Index3 = std::array<std::int64_t, 3>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Distances come from single-precision squared distances (about 1e-7
// relative); reports round them to 0.01 µm so that 1.6 reads 1.6.
double roundDistance(double mm) {
  return std::round(mm * 1e5) / 1e5;
}

// Marks the surface voxels of `value` inside the crop [lo, lo + dims).
std::vector<std::uint8_t> surfaceMask(const Image<std::uint8_t>& labels, std::uint8_t value,
                                      const Index3& lo, const Index3& dims) {
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(dims[0] * dims[1] * dims[2]), 0);
  const std::int64_t nx = labels.nx(), ny = labels.ny(), nz = labels.nz();
  parallelFor(0, dims[2], [&](std::int64_t kc) {
    const std::int64_t k = lo[2] + kc;
    for (std::int64_t jc = 0; jc < dims[1]; ++jc) {
      const std::int64_t j = lo[1] + jc;
      const std::uint8_t* row = &labels.at(0, j, k);
      std::uint8_t* out = mask.data() + (kc * dims[1] + jc) * dims[0];
      for (std::int64_t ic = 0; ic < dims[0]; ++ic) {
        const std::int64_t i = lo[0] + ic;
        if (row[i] != value) continue;
        // Outside the grid counts as outside the label.
        const bool surface = i == 0 || i == nx - 1 || j == 0 || j == ny - 1 || k == 0 ||
                             k == nz - 1 || row[i - 1] != value || row[i + 1] != value ||
                             row[i - nx] != value || row[i + nx] != value ||
                             row[i - nx * ny] != value || row[i + nx * ny] != value;
        out[ic] = surface ? 1 : 0;
      }
    }
  });
  return mask;
}

// Distances (mm) from every surface voxel of `from` to the nearest surface
// voxel of `to`.
std::vector<double> directedDistances(const std::vector<std::uint8_t>& from,
                                      const std::vector<std::uint8_t>& to, const Index3& dims,
                                      const Vec3& spacing) {
  const DistanceBuffer squared = squaredDistanceTransform(to.data(), dims, spacing);
  std::vector<double> out;
  for (std::size_t n = 0; n < from.size(); ++n)
    if (from[n]) out.push_back(std::sqrt(static_cast<double>(squared[n])));
  return out;
}

// Linear interpolation between the closest ranks (numpy.percentile default).
double percentile(std::vector<double>& values, double p) {
  const double position = p * static_cast<double>(values.size() - 1);
  const auto lower = static_cast<std::size_t>(std::floor(position));
  std::nth_element(values.begin(), values.begin() + lower, values.end());
  const double a = values[lower];
  if (lower + 1 >= values.size()) return a;
  const double b = *std::min_element(values.begin() + lower + 1, values.end());
  return a + (position - static_cast<double>(lower)) * (b - a);
}

void surfaceDistances(const LabelMap& prediction, const LabelMap& reference, std::uint8_t value,
                      const LabelBoundingBox& predBox, const LabelBoundingBox& refBox,
                      LabelMetrics& out) {
  Index3 lo, dims;
  for (int a = 0; a < 3; ++a) {
    lo[a] = std::min(predBox.minIndex[a], refBox.minIndex[a]);
    dims[a] = std::max(predBox.maxIndex[a], refBox.maxIndex[a]) - lo[a] + 1;
  }
  // Every surface voxel of either map lies inside the union's bounding box,
  // so the distance transform over that crop is exact.
  const std::vector<std::uint8_t> predSurface = surfaceMask(prediction.labels, value, lo, dims);
  const std::vector<std::uint8_t> refSurface = surfaceMask(reference.labels, value, lo, dims);
  const Vec3& spacing = reference.labels.geometry().spacingMm;
  std::vector<double> predToRef = directedDistances(predSurface, refSurface, dims, spacing);
  std::vector<double> refToPred = directedDistances(refSurface, predSurface, dims, spacing);
  out.hausdorffMm = std::max(*std::max_element(predToRef.begin(), predToRef.end()),
                             *std::max_element(refToPred.begin(), refToPred.end()));
  out.hd95Mm = std::max(percentile(predToRef, 0.95), percentile(refToPred, 0.95));
}

const LabelStatistics* findStatistics(const std::vector<LabelStatistics>& stats, int value) {
  for (const LabelStatistics& s : stats)
    if (s.value == value) return &s;
  return nullptr;
}

std::string trim(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

}  // namespace

Result<EvaluationResult> evaluateSegmentation(const LabelMap& prediction, const LabelMap& reference,
                                              const EvaluationOptions& options) {
  if (prediction.labels.empty() || reference.labels.empty())
    return Status(StatusCode::kInvalidArgument, "a label map to compare is empty");
  const Geometry& g = reference.labels.geometry();
  if (!sameGeometry(prediction.labels.geometry(), g))
    return Status(StatusCode::kInvalidArgument,
                  "prediction and reference do not share their geometry (prediction: " +
                      describeGeometry(prediction.labels.geometry()) +
                      "; reference: " + describeGeometry(g) + ")");

  StatisticsOptions statisticsOptions;
  statisticsOptions.cancel = options.cancel;
  TESSERA_ASSIGN_OR_RETURN(std::vector<LabelStatistics> predStats,
                           computeLabelStatistics(prediction, statisticsOptions));
  TESSERA_ASSIGN_OR_RETURN(std::vector<LabelStatistics> refStats,
                           computeLabelStatistics(reference, statisticsOptions));

  // Voxels where both maps agree, per value.
  std::vector<std::array<std::int64_t, 256>> agreeing(
      static_cast<std::size_t>(std::max(1, numThreads())), std::array<std::int64_t, 256>{});
  const std::uint8_t* p = prediction.labels.data();
  const std::uint8_t* r = reference.labels.data();
  parallelChunks(0, g.voxelCount(), [&](std::int64_t begin, std::int64_t end, int thread) {
    std::array<std::int64_t, 256> counts{};
    for (std::int64_t n = begin; n < end; ++n)
      if (p[n] == r[n]) ++counts[p[n]];
    agreeing[static_cast<std::size_t>(thread)] = counts;
  });
  std::array<std::int64_t, 256> intersection{};
  for (const auto& counts : agreeing)
    for (int v = 0; v < 256; ++v) intersection[v] += counts[v];

  std::vector<std::uint8_t> values = options.labels;
  if (values.empty()) {
    for (const LabelStatistics& s : predStats) values.push_back(s.value);
    for (const LabelStatistics& s : refStats) values.push_back(s.value);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());

  EvaluationResult result;
  ProgressTracker progress(options.progress);
  const double voxelMl = g.voxelVolumeMm3() / 1000.0;
  double diceSum = 0;
  for (std::size_t n = 0; n < values.size(); ++n) {
    if (options.cancel && options.cancel->cancelled())
      return Status(StatusCode::kCancelled, "evaluation cancelled");
    const std::uint8_t value = values[n];
    LabelMetrics m;
    m.value = value;
    m.name = reference.table.find(value) ? reference.table.nameOf(value)
                                         : prediction.table.nameOf(value);
    progress.report(static_cast<double>(n) / values.size(), "label " + m.name);
    const LabelStatistics* ps = findStatistics(predStats, value);
    const LabelStatistics* rs = findStatistics(refStats, value);
    m.predVoxels = ps ? ps->voxelCount : 0;
    m.refVoxels = rs ? rs->voxelCount : 0;
    m.predVolumeMl = m.predVoxels * voxelMl;
    m.refVolumeMl = m.refVoxels * voxelMl;
    if (ps || rs) {
      m.scored = true;
      m.dice = 2.0 * intersection[value] / static_cast<double>(m.predVoxels + m.refVoxels);
      diceSum += m.dice;
      ++result.scoredLabels;
      if (ps && rs && !options.dicesOnly) {
        try {
          surfaceDistances(prediction, reference, value, ps->bbox, rs->bbox, m);
        } catch (const std::bad_alloc&) {
          return Status(StatusCode::kResourceExhausted,
                        "not enough memory for the distance transform of " + m.name);
        }
      }
    }
    result.labels.push_back(std::move(m));
  }
  result.meanDice = result.scoredLabels > 0 ? diceSum / result.scoredLabels
                                            : std::numeric_limits<double>::quiet_NaN();
  progress.report(1.0, "evaluation done");
  return result;
}

Result<std::vector<std::uint8_t>> parseLabelList(const std::string& text, const LabelTable& table) {
  std::vector<std::uint8_t> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty())
      return Status(StatusCode::kInvalidArgument, "empty entry in the label list", text);
    if (std::all_of(item.begin(), item.end(),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      if (item.size() > 3 || std::stoi(item) > 255)
        return Status(StatusCode::kInvalidArgument, "label values range from 0 to 255", item);
      out.push_back(static_cast<std::uint8_t>(std::stoi(item)));
    } else if (const Label* label = table.findByName(item)) {
      out.push_back(label->value);
    } else {
      std::string known;
      for (const Label& l : table.labels) known += (known.empty() ? "" : ", ") + l.name;
      return Status(StatusCode::kInvalidArgument,
                    "unknown label '" + item + "' (known: " + known + ")");
    }
  }
  return out;
}

void evaluationToJson(JsonWriter& w, const EvaluationResult& result) {
  w.beginObject();
  w.key("metric_definitions").beginObject();
  w.field("dice", "2|P and R| / (|P| + |R|) over voxels");
  w.field("hd95_mm",
          "max of the two directed 95th percentiles of surface-voxel to surface-voxel distances "
          "(6-connected surfaces, exact Euclidean distance, linear interpolation)");
  w.field("hausdorff_mm", "largest surface-voxel to surface-voxel distance, both directions");
  w.field("absent_labels",
          "absent from both maps: not scored; absent from one: Dice 0, distances null");
  w.endObject();
  w.field("mean_dice", result.meanDice);
  w.field("scored_labels", result.scoredLabels);
  w.key("labels").beginArray();
  for (const LabelMetrics& m : result.labels) {
    w.beginObject();
    w.field("value", static_cast<int>(m.value));
    w.field("name", m.name);
    w.field("scored", m.scored);
    // The writer turns NaN into null.
    w.field("dice", m.scored ? m.dice : kNaN);
    w.field("hd95_mm", m.hd95Mm ? roundDistance(*m.hd95Mm) : kNaN);
    w.field("hausdorff_mm", m.hausdorffMm ? roundDistance(*m.hausdorffMm) : kNaN);
    w.field("pred_voxels", m.predVoxels).field("ref_voxels", m.refVoxels);
    w.field("pred_volume_ml", m.predVolumeMl).field("ref_volume_ml", m.refVolumeMl);
    w.endObject();
  }
  w.endArray();
  w.endObject();
}

std::string evaluationTable(const EvaluationResult& result) {
  std::size_t nameWidth = 5;
  for (const LabelMetrics& m : result.labels) nameWidth = std::max(nameWidth, m.name.size() + 4);
  char line[512];
  std::snprintf(line, sizeof line, "%-*s %8s %9s %11s %11s\n", static_cast<int>(nameWidth), "label",
                "Dice", "HD95 mm", "pred mL", "ref mL");
  std::string out = line;
  for (const LabelMetrics& m : result.labels) {
    char dice[32] = "-", hd95[32] = "-";
    if (m.scored) std::snprintf(dice, sizeof dice, "%.4f", m.dice);
    if (m.hd95Mm)
      std::snprintf(hd95, sizeof hd95, "%.2f", *m.hd95Mm);
    else if (m.scored && (m.predVoxels == 0 || m.refVoxels == 0))
      std::snprintf(hd95, sizeof hd95, "inf");
    char label[300];
    std::snprintf(label, sizeof label, "%3d %s", m.value, m.name.c_str());
    std::snprintf(line, sizeof line, "%-*s %8s %9s %11.2f %11.2f%s\n", static_cast<int>(nameWidth),
                  label, dice, hd95, m.predVolumeMl, m.refVolumeMl,
                  m.scored ? "" : "  (absent from both)");
    out += line;
  }
  if (result.scoredLabels > 0)
    std::snprintf(line, sizeof line, "mean Dice over %d label%s: %.4f\n", result.scoredLabels,
                  result.scoredLabels == 1 ? "" : "s", result.meanDice);
  else
    std::snprintf(line, sizeof line, "mean Dice: no label to score\n");
  out += line;
  return out;
}

}  // namespace tessera::imaging
