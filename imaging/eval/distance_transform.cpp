#include "imaging/eval/distance_transform.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"

namespace tessera::imaging {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();
// Lines along y and z are processed this many at a time (consecutive x), so
// that each strided access fetches a whole cache line of useful values.
constexpr std::int64_t kGroup = 16;

struct Scratch {
  std::vector<std::int64_t> sites;  // envelope parabolas' sample indices
  std::vector<double> bounds;       // left boundary of each parabola's region
  std::vector<double> heights;      // f at the envelope's sites
  std::vector<float> line;          // gathered lines, kGroup interleaved
  void reserve(std::int64_t n) {
    sites.resize(static_cast<std::size_t>(n));
    bounds.resize(static_cast<std::size_t>(n) + 1);
    heights.resize(static_cast<std::size_t>(n));
    line.resize(static_cast<std::size_t>(n * kGroup));
  }
};

// Lower envelope of the parabolas (x − q·s)² + f(q) over the n samples of one
// line (input and output with the given stride, in place); infinite samples
// contribute no parabola.
void envelope(float* f, std::int64_t stride, std::int64_t n, double s, Scratch& scratch) {
  std::int64_t* v = scratch.sites.data();
  double* z = scratch.bounds.data();
  std::int64_t k = -1;
  for (std::int64_t q = 0; q < n; ++q) {
    const float fq = f[q * stride];
    if (fq == kInfinity) continue;
    const double pq = q * s;
    const double hq = fq + pq * pq;
    double boundary = -std::numeric_limits<double>::infinity();
    while (k >= 0) {
      const double pv = v[k] * s;
      boundary = (hq - (f[v[k] * stride] + pv * pv)) / (2.0 * (pq - pv));
      if (boundary > z[k]) break;
      --k;
    }
    ++k;
    v[k] = q;
    z[k] = k == 0 ? -std::numeric_limits<double>::infinity() : boundary;
  }
  if (k < 0) return;  // no finite sample: the line stays infinite
  // The output overwrites the input in place: keep the sites' heights first.
  double* heights = scratch.heights.data();
  for (std::int64_t m = 0; m <= k; ++m) heights[m] = f[v[m] * stride];
  std::int64_t m = 0;
  for (std::int64_t q = 0; q < n; ++q) {
    const double x = q * s;
    while (m < k && z[m + 1] < x) ++m;
    const double dx = static_cast<double>(q - v[m]) * s;  // exact zero at the site
    f[q * stride] = static_cast<float>(dx * dx + heights[m]);
  }
}

}  // namespace

DistanceBuffer squaredDistanceTransform(const std::uint8_t* feature,
                                        const std::array<std::int64_t, 3>& size,
                                        const Vec3& spacingMm) {
  const std::int64_t nx = size[0], ny = size[1], nz = size[2];
  DistanceBuffer d(static_cast<std::size_t>(nx * ny * nz));
  const std::int64_t longest = std::max({nx, ny, nz});

  // Along x: contiguous lines, one per (j, k).
  parallelChunks(0, ny * nz, [&](std::int64_t begin, std::int64_t end, int) {
    Scratch scratch;
    scratch.reserve(longest);
    for (std::int64_t line = begin; line < end; ++line) {
      float* out = d.data() + line * nx;
      const std::uint8_t* in = feature + line * nx;
      for (std::int64_t i = 0; i < nx; ++i) out[i] = in[i] ? 0.0f : kInfinity;
      envelope(out, 1, nx, spacingMm[0], scratch);
    }
  });

  // Along y and z: strided lines, gathered kGroup at a time.
  auto stridedPass = [&](std::int64_t n, std::int64_t stride, std::int64_t outerCount,
                         std::int64_t outerStride, double s) {
    const std::int64_t groupsPerRow = (nx + kGroup - 1) / kGroup;
    parallelChunks(0, outerCount * groupsPerRow, [&](std::int64_t begin, std::int64_t end, int) {
      Scratch scratch;
      scratch.reserve(longest);
      for (std::int64_t item = begin; item < end; ++item) {
        const std::int64_t outer = item / groupsPerRow;
        const std::int64_t i0 = (item % groupsPerRow) * kGroup;
        const std::int64_t width = std::min(kGroup, nx - i0);
        float* base = d.data() + outer * outerStride + i0;
        float* line = scratch.line.data();
        if (width == kGroup) {  // fixed-size copies compile to single vector moves
          for (std::int64_t q = 0; q < n; ++q)
            for (std::int64_t b = 0; b < kGroup; ++b) line[q * kGroup + b] = base[q * stride + b];
        } else {
          for (std::int64_t q = 0; q < n; ++q)
            std::copy_n(base + q * stride, width, line + q * kGroup);
        }
        for (std::int64_t b = 0; b < width; ++b) envelope(line + b, kGroup, n, s, scratch);
        if (width == kGroup) {
          for (std::int64_t q = 0; q < n; ++q)
            for (std::int64_t b = 0; b < kGroup; ++b) base[q * stride + b] = line[q * kGroup + b];
        } else {
          for (std::int64_t q = 0; q < n; ++q)
            std::copy_n(line + q * kGroup, width, base + q * stride);
        }
      }
    });
  };
  if (ny > 1) stridedPass(ny, nx, nz, nx * ny, spacingMm[1]);
  if (nz > 1) stridedPass(nz, nx * ny, ny, nx, spacingMm[2]);
  return d;
}

}  // namespace tessera::imaging
