#include "imaging/stats/label_stats.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <new>

#include "core/csv.h"
#include "core/files.h"
#include "core/parallel.h"

namespace tessera::imaging {
namespace {

constexpr int kLabelValues = 256;
constexpr int kHuOffset = 32768;  // histogram bin of int16 value v is v + kHuOffset
constexpr int kHuBins = 65536;

// What one thread learns about one label inside its slab of slices.
struct LabelAccumulator {
  std::int64_t count = 0;
  std::int64_t sumI = 0, sumJ = 0, sumK = 0;  // for the centroid
  std::array<std::int64_t, 3> minIndex{std::numeric_limits<std::int64_t>::max(),
                                       std::numeric_limits<std::int64_t>::max(),
                                       std::numeric_limits<std::int64_t>::max()};
  std::array<std::int64_t, 3> maxIndex{-1, -1, -1};

  void merge(const LabelAccumulator& other) {
    count += other.count;
    sumI += other.sumI;
    sumJ += other.sumJ;
    sumK += other.sumK;
    for (int a = 0; a < 3; ++a) {
      minIndex[a] = std::min(minIndex[a], other.minIndex[a]);
      maxIndex[a] = std::max(maxIndex[a], other.maxIndex[a]);
    }
  }
};

// Per-thread state. Histograms cover only the HU range of the thread's slab
// ([huLow, huLow + bins)) and exist only for labels met, which keeps them
// small (a few thousand bins for CT) and cache-friendly. 32-bit counts: a
// batch never holds more than 2^32 − 1 voxels (see kMaxBatchVoxels).
struct ThreadAccumulator {
  std::array<LabelAccumulator, kLabelValues> labels;
  std::array<std::vector<std::uint32_t>, kLabelValues> histograms;
  int huLow = 0;
  int bins = 0;
};

constexpr std::int64_t kMaxBatchVoxels = std::numeric_limits<std::uint32_t>::max();

void accumulateSlab(const std::uint8_t* labels, const std::int16_t* hu, std::int64_t nx,
                    std::int64_t ny, std::int64_t kBegin, std::int64_t kEnd, bool includeBackground,
                    const CancelToken* cancel, ThreadAccumulator& acc, std::atomic<bool>& stop) {
  const std::int64_t sliceVoxels = nx * ny;
  if (hu) {
    const std::int16_t* begin = hu + sliceVoxels * kBegin;
    const std::int16_t* end = hu + sliceVoxels * kEnd;
    int low = std::numeric_limits<std::int16_t>::max();
    int high = std::numeric_limits<std::int16_t>::min();
    for (const std::int16_t* p = begin; p < end; ++p) {
      low = std::min<int>(low, *p);
      high = std::max<int>(high, *p);
    }
    acc.huLow = low;
    acc.bins = high - low + 1;
  }
  for (std::int64_t k = kBegin; k < kEnd; ++k) {
    if (stop.load(std::memory_order_relaxed)) return;
    if (cancel && cancel->cancelled()) {
      stop.store(true);
      return;
    }
    for (std::int64_t j = 0; j < ny; ++j) {
      const std::int64_t rowStart = sliceVoxels * k + nx * j;
      const std::uint8_t* row = labels + rowStart;
      const std::int16_t* huRow = hu ? hu + rowStart : nullptr;
      std::int64_t i = 0;
      while (i < nx) {
        const std::uint8_t value = row[i];
        const std::int64_t runBegin = i;
        while (i < nx && row[i] == value) ++i;
        const std::int64_t n = i - runBegin;
        LabelAccumulator& label = acc.labels[value];
        label.count += n;
        label.sumI += n * (runBegin + i - 1) / 2;  // n × (first + last) is even
        label.sumJ += n * j;
        label.sumK += n * k;
        label.minIndex[0] = std::min(label.minIndex[0], runBegin);
        label.maxIndex[0] = std::max(label.maxIndex[0], i - 1);
        label.minIndex[1] = std::min(label.minIndex[1], j);
        label.maxIndex[1] = std::max(label.maxIndex[1], j);
        label.minIndex[2] = std::min(label.minIndex[2], k);
        label.maxIndex[2] = std::max(label.maxIndex[2], k);
        if (huRow && (value != 0 || includeBackground)) {
          std::vector<std::uint32_t>& histogram = acc.histograms[value];
          if (histogram.empty()) histogram.assign(static_cast<std::size_t>(acc.bins), 0);
          std::uint32_t* bins = histogram.data();
          const int low = acc.huLow;
          for (std::int64_t q = runBegin; q < i; ++q) ++bins[huRow[q] - low];
        }
      }
    }
  }
}

// Value at 0-based rank r of the sorted voxels described by a histogram.
int valueAtRank(const std::vector<std::uint64_t>& histogram, std::uint64_t rank) {
  std::uint64_t seen = 0;
  for (int b = 0; b < kHuBins; ++b) {
    seen += histogram[b];
    if (seen > rank) return b - kHuOffset;
  }
  return kHuBins - 1 - kHuOffset;
}

// Linear interpolation between the closest ranks (numpy.percentile default).
double percentile(const std::vector<std::uint64_t>& histogram, std::uint64_t n, double p) {
  const double position = p * static_cast<double>(n - 1);
  const auto lower = static_cast<std::uint64_t>(std::floor(position));
  const double fraction = position - static_cast<double>(lower);
  const int a = valueAtRank(histogram, lower);
  if (fraction == 0.0 || lower + 1 >= n) return a;
  const int b = valueAtRank(histogram, lower + 1);
  return a + fraction * (b - a);
}

void fillHuStatistics(const std::vector<std::uint64_t>& histogram, LabelStatistics& out) {
  const auto n = static_cast<std::uint64_t>(out.voxelCount);
  long double sum = 0;
  int low = kHuBins, high = -1;
  for (int b = 0; b < kHuBins; ++b) {
    if (!histogram[b]) continue;
    sum += static_cast<long double>(histogram[b]) * (b - kHuOffset);
    low = std::min(low, b);
    high = std::max(high, b);
  }
  const long double mean = sum / n;
  long double squares = 0;
  for (int b = low; b <= high; ++b) {
    if (!histogram[b]) continue;
    const long double d = (b - kHuOffset) - mean;
    squares += d * d * histogram[b];
  }
  out.hasHu = true;
  out.huMean = static_cast<double>(mean);
  out.huStd = static_cast<double>(std::sqrt(squares / n));
  out.huMin = low - kHuOffset;
  out.huMax = high - kHuOffset;
  out.huMedian = percentile(histogram, n, 0.50);
  out.huP05 = percentile(histogram, n, 0.05);
  out.huP95 = percentile(histogram, n, 0.95);
}

LabelBoundingBox boundingBox(const LabelAccumulator& acc, const Geometry& g) {
  LabelBoundingBox box;
  box.minIndex = acc.minIndex;
  box.maxIndex = acc.maxIndex;
  for (int a = 0; a < 3; ++a) {
    box.sizeMm[a] = static_cast<double>(acc.maxIndex[a] - acc.minIndex[a] + 1) * g.spacingMm[a];
    box.minLpsMm[a] = std::numeric_limits<double>::infinity();
    box.maxLpsMm[a] = -std::numeric_limits<double>::infinity();
  }
  for (int corner = 0; corner < 8; ++corner) {
    Vec3 ijk;
    for (int a = 0; a < 3; ++a)
      ijk[a] = (corner >> a & 1) ? acc.maxIndex[a] + 0.5 : acc.minIndex[a] - 0.5;
    const Vec3 p = g.worldFromVoxel(ijk);
    for (int a = 0; a < 3; ++a) {
      box.minLpsMm[a] = std::min(box.minLpsMm[a], p[a]);
      box.maxLpsMm[a] = std::max(box.maxLpsMm[a], p[a]);
    }
  }
  return box;
}

Result<std::vector<LabelStatistics>> compute(const VolumeView* ct, const LabelMap& labels,
                                             const StatisticsOptions& options) {
  const Geometry& g = labels.labels.geometry();
  if (labels.labels.empty()) return Status(StatusCode::kInvalidArgument, "the label map is empty");
  if (ct) {
    if (ct->empty()) return Status(StatusCode::kInvalidArgument, "the CT volume is empty");
    if (!sameGeometry(ct->geometry(), g))
      return Status(StatusCode::kInvalidArgument,
                    "the CT and the label map do not share their geometry (CT: " +
                        describeGeometry(ct->geometry()) + "; labels: " + describeGeometry(g) +
                        ")");
  }
  const std::int64_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const std::int64_t sliceVoxels = nx * ny;
  if (sliceVoxels > kMaxBatchVoxels)
    return Status(StatusCode::kUnsupported, "slices of more than 2^32 voxels are not supported");
  const std::int64_t slicesPerBatch = std::max<std::int64_t>(1, kMaxBatchVoxels / sliceVoxels);

  std::array<LabelAccumulator, kLabelValues> total;
  std::array<std::vector<std::uint64_t>, kLabelValues> histograms;
  const std::uint8_t* labelData = labels.labels.data();
  const std::int16_t* huData = ct ? ct->data() : nullptr;

  for (std::int64_t batch = 0; batch < nz; batch += slicesPerBatch) {
    const std::int64_t batchEnd = std::min(nz, batch + slicesPerBatch);
    std::vector<std::unique_ptr<ThreadAccumulator>> perThread(
        static_cast<std::size_t>(std::max(1, numThreads())));
    std::atomic<bool> stop{false};
    std::atomic<bool> outOfMemory{false};
    parallelChunks(batch, batchEnd, [&](std::int64_t kBegin, std::int64_t kEnd, int thread) {
      try {
        auto acc = std::make_unique<ThreadAccumulator>();
        accumulateSlab(labelData, huData, nx, ny, kBegin, kEnd, options.includeBackground,
                       options.cancel, *acc, stop);
        perThread[static_cast<std::size_t>(thread)] = std::move(acc);
      } catch (const std::bad_alloc&) {
        outOfMemory.store(true);
        stop.store(true);
      }
    });
    if (options.cancel && options.cancel->cancelled())
      return Status(StatusCode::kCancelled, "label statistics cancelled");
    if (outOfMemory.load())
      return Status(StatusCode::kResourceExhausted, "not enough memory for the HU histograms");

    for (const auto& acc : perThread) {
      if (!acc) continue;
      for (int v = 0; v < kLabelValues; ++v) {
        total[v].merge(acc->labels[v]);
        const std::vector<std::uint32_t>& local = acc->histograms[v];
        if (local.empty()) continue;
        std::vector<std::uint64_t>& global = histograms[v];
        if (global.empty()) global.assign(kHuBins, 0);
        std::uint64_t* bins = global.data() + kHuOffset + acc->huLow;
        for (std::size_t b = 0; b < local.size(); ++b) bins[b] += local[b];
      }
    }
  }

  std::vector<LabelStatistics> out;
  const double voxelMl = g.voxelVolumeMm3() / 1000.0;
  for (int v = options.includeBackground ? 0 : 1; v < kLabelValues; ++v) {
    const LabelAccumulator& acc = total[v];
    if (acc.count == 0) continue;
    LabelStatistics s;
    s.value = static_cast<std::uint8_t>(v);
    s.name = labels.table.nameOf(s.value);
    s.voxelCount = acc.count;
    s.volumeMl = static_cast<double>(acc.count) * voxelMl;
    const double n = static_cast<double>(acc.count);
    s.centroidLpsMm = g.worldFromVoxel({acc.sumI / n, acc.sumJ / n, acc.sumK / n});
    s.bbox = boundingBox(acc, g);
    for (int a = 0; a < 3; ++a) {
      if (acc.minIndex[a] == 0) s.fovFaces |= static_cast<std::uint8_t>(1 << (2 * a));
      if (acc.maxIndex[a] == g.size[a] - 1)
        s.fovFaces |= static_cast<std::uint8_t>(1 << (2 * a + 1));
    }
    s.touchesFovEdge = s.fovFaces != 0;
    if (ct) fillHuStatistics(histograms[v], s);
    out.push_back(std::move(s));
  }
  return out;
}

void writeVec3(JsonWriter& w, const Vec3& v) {
  w.beginArray();
  for (double x : v) w.value(x);
  w.endArray();
}

void writeIndex(JsonWriter& w, const std::array<std::int64_t, 3>& v) {
  w.beginArray();
  for (std::int64_t x : v) w.value(x);
  w.endArray();
}

}  // namespace

const char* fovFaceName(int index) {
  static const char* kNames[kFovFaceCount] = {"i_min", "i_max", "j_min", "j_max", "k_min", "k_max"};
  return index >= 0 && index < kFovFaceCount ? kNames[index] : "?";
}

char fovFaceDirection(int index, const Geometry& geometry) {
  if (index < 0 || index >= kFovFaceCount) return '?';
  const std::string code = orientationCode(geometry.direction);
  const char towardsMax = code[static_cast<std::size_t>(index / 2)];
  if (index % 2 == 1) return towardsMax;
  switch (towardsMax) {
    case 'L':
      return 'R';
    case 'R':
      return 'L';
    case 'P':
      return 'A';
    case 'A':
      return 'P';
    case 'S':
      return 'I';
    case 'I':
      return 'S';
  }
  return '?';
}

Result<std::vector<LabelStatistics>> computeLabelStatistics(VolumeView ct, const LabelMap& labels,
                                                            const StatisticsOptions& options) {
  return compute(&ct, labels, options);
}

Result<std::vector<LabelStatistics>> computeLabelStatistics(const LabelMap& labels,
                                                            const StatisticsOptions& options) {
  return compute(nullptr, labels, options);
}

void statisticsToJson(JsonWriter& w, const std::vector<LabelStatistics>& statistics,
                      const Geometry& geometry) {
  w.beginObject();
  w.field("frame", "LPS");
  w.key("units").beginObject();
  w.field("volume", "mL").field("intensity", "HU").field("length", "mm");
  w.endObject();
  w.field("voxel_volume_mm3", geometry.voxelVolumeMm3());
  w.field("bbox_convention", "outer voxel edges");
  w.field("percentile_method", "linear interpolation between closest ranks");
  w.field("std_convention", "population");
  w.key("labels").beginArray();
  for (const LabelStatistics& s : statistics) {
    w.beginObject();
    w.field("value", static_cast<int>(s.value));
    w.field("name", s.name);
    w.field("voxel_count", s.voxelCount);
    w.field("volume_ml", s.volumeMl);
    if (s.hasHu) {
      w.field("hu_mean", s.huMean).field("hu_std", s.huStd).field("hu_median", s.huMedian);
      w.field("hu_p05", s.huP05).field("hu_p95", s.huP95);
      w.field("hu_min", s.huMin).field("hu_max", s.huMax);
    }
    w.key("centroid_lps_mm");
    writeVec3(w, s.centroidLpsMm);
    w.key("bbox").beginObject();
    w.key("index_min");
    writeIndex(w, s.bbox.minIndex);
    w.key("index_max");
    writeIndex(w, s.bbox.maxIndex);
    w.key("lps_min_mm");
    writeVec3(w, s.bbox.minLpsMm);
    w.key("lps_max_mm");
    writeVec3(w, s.bbox.maxLpsMm);
    w.key("size_mm");
    writeVec3(w, s.bbox.sizeMm);
    w.endObject();
    w.field("touches_fov_edge", s.touchesFovEdge);
    w.key("fov_faces").beginArray();
    for (int f = 0; f < kFovFaceCount; ++f)
      if (s.fovFaces & (1 << f)) w.value(fovFaceName(f));
    w.endArray();
    w.key("fov_directions").beginArray();
    for (int f = 0; f < kFovFaceCount; ++f)
      if (s.fovFaces & (1 << f)) w.value(std::string(1, fovFaceDirection(f, geometry)));
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.endObject();
}

std::string statisticsToCsv(const std::vector<LabelStatistics>& statistics,
                            const Geometry& geometry) {
  std::string out =
      "value,name,voxel_count,volume_ml,hu_mean,hu_std,hu_median,hu_p05,hu_p95,hu_min,hu_max,"
      "centroid_lps_x_mm,centroid_lps_y_mm,centroid_lps_z_mm,"
      "bbox_i_min,bbox_i_max,bbox_j_min,bbox_j_max,bbox_k_min,bbox_k_max,"
      "bbox_lps_min_x_mm,bbox_lps_min_y_mm,bbox_lps_min_z_mm,"
      "bbox_lps_max_x_mm,bbox_lps_max_y_mm,bbox_lps_max_z_mm,"
      "touches_fov_edge,fov_faces,fov_directions\n";
  for (const LabelStatistics& s : statistics) {
    std::vector<std::string> fields = {std::to_string(s.value), s.name,
                                       std::to_string(s.voxelCount), csvNumber(s.volumeMl)};
    if (s.hasHu) {
      for (double x : {s.huMean, s.huStd, s.huMedian, s.huP05, s.huP95})
        fields.push_back(csvNumber(x));
      fields.push_back(std::to_string(s.huMin));
      fields.push_back(std::to_string(s.huMax));
    } else {
      fields.insert(fields.end(), 7, "");
    }
    for (double x : s.centroidLpsMm) fields.push_back(csvNumber(x));
    for (int a = 0; a < 3; ++a) {
      fields.push_back(std::to_string(s.bbox.minIndex[a]));
      fields.push_back(std::to_string(s.bbox.maxIndex[a]));
    }
    for (double x : s.bbox.minLpsMm) fields.push_back(csvNumber(x));
    for (double x : s.bbox.maxLpsMm) fields.push_back(csvNumber(x));
    fields.push_back(s.touchesFovEdge ? "true" : "false");
    std::string faces, directions;
    for (int f = 0; f < kFovFaceCount; ++f) {
      if (!(s.fovFaces & (1 << f))) continue;
      if (!faces.empty()) {
        faces += ';';
        directions += ';';
      }
      faces += fovFaceName(f);
      directions += fovFaceDirection(f, geometry);
    }
    fields.push_back(faces);
    fields.push_back(directions);
    out += csvRow(fields);
  }
  return out;
}

Status writeStatisticsCsv(const std::vector<LabelStatistics>& statistics, const Geometry& geometry,
                          const std::string& path) {
  return writeTextFileAtomic(path, statisticsToCsv(statistics, geometry));
}

}  // namespace tessera::imaging
