#include "imaging/phantom/phantom.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/blocks.h"
#include "core/files.h"
#include "core/json.h"
#include "core/parallel.h"
#include "imaging/io/volume_io.h"
#include "imaging/phantom/anatomy.h"

namespace tessera::imaging {

namespace ph = phantom;

namespace {

// The names of an option's values: one table gives both directions.
template <class E, std::size_t N>
using Names = std::array<std::pair<E, const char*>, N>;

template <class E, std::size_t N>
const char* nameIn(const Names<E, N>& names, E value) {
  for (const auto& [v, name] : names)
    if (v == value) return name;
  return names[0].second;
}

template <class E, std::size_t N>
Result<E> parseIn(const Names<E, N>& names, std::string_view name, const char* what) {
  std::string list;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) list += i + 1 == N ? " or " : ", ";
    list += names[i].second;
  }
  for (const auto& [v, n] : names)
    if (name == n) return v;
  return Error{StatusCode::kInvalidArgument,
               "unknown " + std::string(what) + " '" + std::string(name) + "' (" + list + ")",
               {}};
}

constexpr Names<PhantomFamily, 2> kFamilies{
    {{PhantomFamily::kTorso, "torso"}, {PhantomFamily::kHead, "head"}}};
constexpr Names<PhantomKernel, 3> kKernels{{{PhantomKernel::kStandard, "standard"},
                                            {PhantomKernel::kSoft, "soft"},
                                            {PhantomKernel::kSharp, "sharp"}}};
constexpr Names<ContrastPhase, 3> kPhases{{{ContrastPhase::kNone, "none"},
                                           {ContrastPhase::kArterial, "arterial"},
                                           {ContrastPhase::kPortalVenous, "portal"}}};
constexpr Names<PhantomHabitus, 3> kHabitus{{{PhantomHabitus::kAdult, "adult"},
                                             {PhantomHabitus::kChild, "child"},
                                             {PhantomHabitus::kLarge, "large"}}};
constexpr Names<PhantomTable, 3> kTables{{{PhantomTable::kCurved, "curved"},
                                          {PhantomTable::kFlat, "flat"},
                                          {PhantomTable::kPadded, "padded"}}};
constexpr Names<PhantomMetal, 4> kMetals{{{PhantomMetal::kNone, "none"},
                                          {PhantomMetal::kHip, "hip"},
                                          {PhantomMetal::kSpine, "spine"},
                                          {PhantomMetal::kDental, "dental"}}};
constexpr Names<PhantomVariety, 2> kVarieties{
    {{PhantomVariety::kClassic, "classic"}, {PhantomVariety::kRealistic, "realistic"}}};

}  // namespace

const char* phantomFamilyName(PhantomFamily family) {
  return nameIn(kFamilies, family);
}
Result<PhantomFamily> parsePhantomFamily(std::string_view name) {
  return parseIn(kFamilies, name, "phantom family");
}
const char* phantomKernelName(PhantomKernel kernel) {
  return nameIn(kKernels, kernel);
}
Result<PhantomKernel> parsePhantomKernel(std::string_view name) {
  return parseIn(kKernels, name, "reconstruction kernel");
}
const char* contrastPhaseName(ContrastPhase phase) {
  return nameIn(kPhases, phase);
}
Result<ContrastPhase> parseContrastPhase(std::string_view name) {
  return parseIn(kPhases, name, "contrast phase");
}
const char* phantomHabitusName(PhantomHabitus habitus) {
  return nameIn(kHabitus, habitus);
}
Result<PhantomHabitus> parsePhantomHabitus(std::string_view name) {
  return parseIn(kHabitus, name, "habitus");
}
const char* phantomTableName(PhantomTable table) {
  return nameIn(kTables, table);
}
Result<PhantomTable> parsePhantomTable(std::string_view name) {
  return parseIn(kTables, name, "table");
}
const char* phantomMetalName(PhantomMetal metal) {
  return nameIn(kMetals, metal);
}
Result<PhantomMetal> parsePhantomMetal(std::string_view name) {
  return parseIn(kMetals, name, "metal implant");
}
const char* phantomVarietyName(PhantomVariety variety) {
  return nameIn(kVarieties, variety);
}
Result<PhantomVariety> parsePhantomVariety(std::string_view name) {
  return parseIn(kVarieties, name, "phantom variety");
}

std::vector<TissueLabel> phantomFamilyLabels(PhantomFamily family) {
  using L = TissueLabel;
  if (family == PhantomFamily::kHead)
    return {L::kBackground, L::kSoftTissue, L::kFat, L::kBone, L::kBrain, L::kInternalAir};
  return {L::kBackground, L::kSoftTissue, L::kFat,    L::kBone,       L::kLung,
          L::kLiver,      L::kSpleen,     L::kKidney, L::kInternalAir};
}

namespace {

struct FamilyRanges {
  double widthMin, widthMax;  // the body's (head's) reference width
  double fovMin, fovMax;
  double spacingMm;  // default slice spacing
};

FamilyRanges rangesOf(PhantomFamily family, PhantomHabitus habitus = PhantomHabitus::kAdult) {
  if (family == PhantomFamily::kHead) return {138, 162, 200, 320, 2.0};
  if (habitus == PhantomHabitus::kChild) return {170, 240, 220, 360, 2.5};
  if (habitus == PhantomHabitus::kLarge) return {390, 460, 440, 500, 2.5};
  return {290, 390, 300, 500, 2.5};
}

double fatScaleOf(PhantomHabitus habitus) {
  return habitus == PhantomHabitus::kChild ? 0.7 : habitus == PhantomHabitus::kLarge ? 1.8 : 1.0;
}

// The anatomy of one case; `body` holds what changes the outline (habitus,
// arms, table), for the calibration as for the final model; `inside`, when
// given, what changes only the inside (contrast, implants, head detail).
struct BodyOptions {
  PhantomHabitus habitus = PhantomHabitus::kAdult;
  bool armsDown = false;
  PhantomTable table = PhantomTable::kCurved;
};

std::unique_ptr<ph::Anatomy> makeAnatomy(PhantomFamily family, std::uint64_t seed, double width,
                                         double fov, const BodyOptions& body,
                                         const PhantomOptions* inside = nullptr) {
  ph::AnatomyOptions a;
  a.fatScale = fatScaleOf(body.habitus);
  a.armsDown = body.armsDown;
  a.table = body.table;
  if (inside != nullptr) {
    a.phase = inside->phase;
    a.metal = inside->metal;
    a.headDetail = inside->headDetail;
  }
  return family == PhantomFamily::kHead ? ph::makeHead(seed, width, fov, a)
                                        : ph::makeTorso(seed, width, fov, a);
}

// The noise texture of a reconstruction kernel, as a 2D filter of white
// noise: soft kernels low-pass it, sharp ones subtract part of a low-pass
// (a high-frequency boost). 5 taps per axis, σ = 1.1 px.
constexpr float kSharpBoost = 0.8f;
std::array<float, 5> kernelTaps() {
  std::array<float, 5> g;
  double sum = 0;
  for (int k = -2; k <= 2; ++k) sum += std::exp(-0.5 * k * k / (1.1 * 1.1));
  for (int k = -2; k <= 2; ++k) g[k + 2] = static_cast<float>(std::exp(-0.5 * k * k / 1.21) / sum);
  return g;
}

// Standard deviation of white unit noise after the kernel's filter and the
// partial-volume blur `pv` (both 2D, separable or not): sqrt of the sum of
// squares of the combined filter's taps.
double noiseGainOf(PhantomKernel kernel, const std::array<float, 5>& pv) {
  const std::array<float, 5> g = kernelTaps();
  // The kernel's filter as a 5x5 array, then convolved with pv ⊗ pv (9x9).
  double k2[5][5];
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x)
      k2[y][x] = kernel == PhantomKernel::kSoft ? g[y] * g[x]
                                                : (x == 2 && y == 2) - kSharpBoost * g[y] * g[x];
  double sumSq = 0;
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 9; ++x) {
      double v = 0;
      for (int a = 0; a < 5; ++a)
        for (int b = 0; b < 5; ++b) {
          const int py = y - a, px = x - b;
          if (py >= 0 && py < 5 && px >= 0 && px < 5) v += k2[a][b] * pv[py] * pv[px];
        }
      sumSq += v * v;
    }
  return std::sqrt(sumSq);
}

// Pixel -> image coordinates; the patient's centre (image coordinate 0)
// lands at (dxMm, dyMm) from the image centre.
ph::Frame imageFrame(int matrix, double pixelMm, double dxMm = 0, double dyMm = 0) {
  ph::Frame f;
  f.width = f.height = matrix;
  f.pixelMm = pixelMm;
  f.u0 = -0.5 * (matrix - 1) * pixelMm - dxMm;
  f.v0 = -0.5 * (matrix - 1) * pixelMm - dyMm;
  f.ui = f.vj = pixelMm;
  f.vi = f.uj = 0;
  return f;
}

struct Coverage {
  int slices = 0;
  double spacingMm = 0, tStart = 0, tEnd = 0;
  // t of slice k (centre of its slab).
  double t(int k, double extent) const { return tStart + (k + 0.5) * spacingMm / extent; }
};

Coverage coverageOf(const PhantomOptions& o, double extent, double defaultSpacing) {
  Coverage c;
  if (o.sliceSpacingMm > 0) {
    c.spacingMm = o.sliceSpacingMm;
    c.slices = o.slices > 0 ? o.slices : std::max(1, static_cast<int>(extent / c.spacingMm));
    const double span = c.slices * c.spacingMm / extent;
    const double centre = span >= 1 ? 0.5 : std::clamp(o.zCenter, 0.5 * span, 1 - 0.5 * span);
    c.tStart = centre - 0.5 * span;
  } else {
    c.slices = o.slices > 0 ? o.slices
                            : std::max(1, static_cast<int>(std::lround(extent / defaultSpacing)));
    c.spacingMm = extent / c.slices;
    c.tStart = 0;
  }
  c.tEnd = c.tStart + c.slices * c.spacingMm / extent;
  return c;
}

// Fraction of 16×16 blocks holding body, from the body outline alone,
// sampled every 4 pixels at the sample slices: the calibration's measure.
double outlineOccupancy(const ph::Anatomy& anatomy, int matrix, double fov,
                        const std::vector<double>& ts) {
  constexpr int kStep = 4, kBlock = 16;
  const int cells = (matrix + kStep - 1) / kStep;
  const int blocks = (matrix + kBlock - 1) / kBlock;
  std::vector<std::uint8_t> zone(static_cast<std::size_t>(cells) * cells), label(zone.size());
  std::vector<float> hu(zone.size());
  const double pixel = fov / matrix;
  ph::Frame frame = imageFrame(cells, pixel * kStep);
  // Cell centres sit on pixel centres 4a + 1.5 of the full-resolution grid.
  frame.u0 = frame.v0 = (1.5 - 0.5 * (matrix - 1)) * pixel;
  double total = 0;
  for (double t : ts) {
    std::fill(zone.begin(), zone.end(), 0);
    ph::Canvas canvas{frame,     frame,      t * anatomy.extentMm(), t, label.data(),
                      hu.data(), zone.data()};
    anatomy.paintBodyZone(canvas);
    int occupied = 0;
    for (int by = 0; by < blocks; ++by)
      for (int bx = 0; bx < blocks; ++bx) {
        bool any = false;
        for (int y = by * 4; y < std::min(cells, by * 4 + 4) && !any; ++y)
          for (int x = bx * 4; x < std::min(cells, bx * 4 + 4) && !any; ++x)
            any = zone[y * cells + x] & ph::kZoneBody;
        occupied += any;
      }
    total += static_cast<double>(occupied) / (blocks * blocks);
  }
  return total / ts.size();
}

// Ratio of body width to FOV giving the target occupancy (bisection; the
// occupancy grows with the ratio).
double calibrateWidthRatio(PhantomFamily family, std::uint64_t seed, const BodyOptions& body,
                           int matrix, double target, const std::vector<double>& ts) {
  constexpr double kFov = 400;
  double lo = 0.15, hi = 1.4;
  for (int i = 0; i < 14; ++i) {
    const double mid = 0.5 * (lo + hi);
    const auto anatomy = makeAnatomy(family, seed, mid * kFov, kFov, body);
    (outlineOccupancy(*anatomy, matrix, kFov, ts) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// Separable 5-tap Gaussian blur in place (clamped at the borders).
void blurSlice(float* image, float* scratch, int n, const std::array<float, 5>& w) {
  auto at = [n](int i) { return std::clamp(i, 0, n - 1); };
  for (int y = 0; y < n; ++y) {
    const float* row = image + static_cast<std::ptrdiff_t>(y) * n;
    float* out = scratch + static_cast<std::ptrdiff_t>(y) * n;
    for (int x : {0, 1, n - 2, n - 1}) {
      float s = 0;
      for (int k = -2; k <= 2; ++k) s += w[k + 2] * row[at(x + k)];
      out[x] = s;
    }
    for (int x = 2; x < n - 2; ++x)
      out[x] = w[0] * row[x - 2] + w[1] * row[x - 1] + w[2] * row[x] + w[3] * row[x + 1] +
               w[4] * row[x + 2];
  }
  for (int y = 0; y < n; ++y) {
    float* out = image + static_cast<std::ptrdiff_t>(y) * n;
    const float* r0 = scratch + static_cast<std::ptrdiff_t>(at(y - 2)) * n;
    const float* r1 = scratch + static_cast<std::ptrdiff_t>(at(y - 1)) * n;
    const float* r2 = scratch + static_cast<std::ptrdiff_t>(y) * n;
    const float* r3 = scratch + static_cast<std::ptrdiff_t>(at(y + 1)) * n;
    const float* r4 = scratch + static_cast<std::ptrdiff_t>(at(y + 2)) * n;
    for (int x = 0; x < n; ++x)
      out[x] = w[0] * r0[x] + w[1] * r1[x] + w[2] * r2[x] + w[3] * r3[x] + w[4] * r4[x];
  }
}

// Mild streaks: thin lines across the slice through dense anatomy, their
// strength varying smoothly along z.
struct Streak {
  double angle, offsetMm, amplitude, widthPx;
  ph::Wiggle strength;
};

// Beam hardening: the body's centre darker by `hu`, parabolic in the radius
// normalised to the body's bounding ellipse in this slice (zone kZoneBody).
void addCupping(float* image, const std::uint8_t* zone, int n, double hu) {
  int x0 = n, x1 = -1, y0 = n, y1 = -1;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if (zone[y * n + x] & ph::kZoneBody) {
        x0 = std::min(x0, x);
        x1 = std::max(x1, x);
        y0 = std::min(y0, y);
        y1 = std::max(y1, y);
      }
  if (x1 < x0) return;
  const double cx = 0.5 * (x0 + x1), cy = 0.5 * (y0 + y1);
  const double ax = 0.5 * (x1 - x0 + 1), ay = 0.5 * (y1 - y0 + 1);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      if (!(zone[y * n + x] & ph::kZoneBody)) continue;
      const double rho2 = (x - cx) * (x - cx) / (ax * ax) + (y - cy) * (y - cy) / (ay * ay);
      if (rho2 < 1) image[y * n + x] -= static_cast<float>(hu * (1 - rho2));
    }
}

// A ring artefact around the image centre: a Gaussian profile across the
// ring (radius and width in pixels).
void addRing(float* image, int n, double radiusPx, double widthPx, double hu) {
  const double c = 0.5 * (n - 1), reach = 3 * widthPx;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double d = std::hypot(x - c, y - c) - radiusPx;
      if (std::abs(d) < reach)
        image[y * n + x] += static_cast<float>(hu * std::exp(-0.5 * d * d / (widthPx * widthPx)));
    }
}

void addStreaks(float* hu, int n, double pixelMm, double zMm, const std::vector<Streak>& streaks) {
  for (const Streak& st : streaks) {
    const double a = st.amplitude * (0.6 + st.strength(zMm));
    if (std::abs(a) < 0.5) continue;
    const double nx = -std::sin(st.angle), ny = std::cos(st.angle);  // line normal
    const double c = 0.5 * (n - 1), off = st.offsetMm / pixelMm;
    const bool steep = std::abs(ny) < std::abs(nx);  // closer to vertical: walk rows
    const int reach = static_cast<int>(std::ceil(3 * st.widthPx)) + 1;
    const float inv = static_cast<float>(-0.5 / (st.widthPx * st.widthPx));
    for (int a0 = 0; a0 < n; ++a0) {
      // Point on the line at this row (steep) or column: n·(p - c) = off.
      double centre;
      if (steep)
        centre = c + (off - ny * (a0 - c)) / nx;
      else
        centre = c + (off - nx * (a0 - c)) / ny;
      const int b0 = std::max(0, static_cast<int>(centre) - reach);
      const int b1 = std::min(n - 1, static_cast<int>(centre) + reach);
      for (int b = b0; b <= b1; ++b) {
        const double x = steep ? b : a0, y = steep ? a0 : b;
        const double d = nx * (x - c) + ny * (y - c) - off;
        const float g = std::exp(inv * static_cast<float>(d * d * (nx * nx + ny * ny)));
        hu[(steep ? a0 : b) * n + (steep ? b : a0)] += static_cast<float>(a) * g;
      }
    }
  }
}

// Nominal strengths of the metal artefacts of titanium (sinogram units of
// addMetalArtefacts): about -300 HU between two hip prostheses.
constexpr double kMetalHardening = 2300;
constexpr double kMetalStarvation = 300;

// Metal artefacts of a filtered back-projection, computed by hand because
// they need only the metal's sinogram (OpenCV has no Radon transform, and
// its warps are not bit-identical across CPUs): parallel beam, 1.2 views
// per pixel of the matrix over 180° (fewer would add view-aliasing streaks
// far from the metal that scanners do not show), detector bins one pixel
// wide, the Shepp-Logan filter. Each ray's metal path p (mm,
// from `metal`, the fraction of each pixel that is metal) enters the
// sinogram as a beam-hardening error -hardening·(p / 10 mm)² and
// photon-starvation noise of σ starvation·(p / 10 mm); the ramp-filtered
// (Ram-Lak) error is back-projected onto the whole slice in HU: dark bands
// between implants, streaks radiating from them.
void addMetalArtefacts(float* hu, const float* metal, int n, double pixelMm, double hardening,
                       double starvation, std::uint64_t key) {
  const int views = std::max(180, static_cast<int>(1.2 * n));
  std::vector<std::pair<int, float>> pixels;
  for (int i = 0; i < n * n; ++i)
    if (metal[i] > 0) pixels.emplace_back(i, metal[i]);
  if (pixels.empty()) return;
  const int bins = static_cast<int>(std::ceil(n * 1.4143)) + 4;
  const double c = 0.5 * (n - 1), cb = 0.5 * (bins - 1);
  std::vector<double> cs(views), sn(views);
  for (int a = 0; a < views; ++a) {
    cs[a] = std::cos(ph::kPi * a / views);
    sn[a] = std::sin(ph::kPi * a / views);
  }
  std::vector<double> sinogram(static_cast<std::size_t>(views) * bins, 0.0);
  std::vector<int> lo(views, bins), hi(views, -1);
  for (int a = 0; a < views; ++a) {
    double* row = sinogram.data() + static_cast<std::size_t>(a) * bins;
    for (const auto& [index, w] : pixels) {
      const double s = (index % n - c) * cs[a] + (index / n - c) * sn[a] + cb;
      const int b = static_cast<int>(std::floor(s));
      const double f = s - b;
      row[b] += w * (1 - f);
      row[b + 1] += w * f;
      lo[a] = std::min(lo[a], b);
      hi[a] = std::max(hi[a], b + 1);
    }
    for (int b = lo[a]; b <= hi[a]; ++b) {
      const double cm = row[b] * pixelMm / 10;
      row[b] = -hardening * cm * cm +
               starvation * cm * ph::pixelNoise(key, static_cast<std::uint64_t>(a) * bins + b);
    }
  }
  // Shepp-Logan filter in bin units: h(k) = -2 / (π² (4k² - 1)).
  std::vector<double> ramp(bins);
  for (int k = 0; k < bins; ++k) ramp[k] = -2.0 / (ph::kPi * ph::kPi * (4.0 * k * k - 1));
  std::vector<float> filtered(static_cast<std::size_t>(views) * (bins + 1), 0.0f);
  for (int a = 0; a < views; ++a) {
    const double* row = sinogram.data() + static_cast<std::size_t>(a) * bins;
    float* out = filtered.data() + static_cast<std::size_t>(a) * (bins + 1);
    for (int j = 0; j < bins; ++j) {
      double sum = 0;
      for (int b = lo[a]; b <= hi[a]; ++b) sum += row[b] * ramp[std::abs(j - b)];
      out[j] = static_cast<float>(sum);
    }
  }
  const double scale = ph::kPi / views;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      double sum = 0;
      for (int a = 0; a < views; ++a) {
        const double s = (x - c) * cs[a] + (y - c) * sn[a] + cb;
        const int b = static_cast<int>(s);
        const double f = s - b;
        const float* q = filtered.data() + static_cast<std::size_t>(a) * (bins + 1);
        sum += q[b] + f * (q[b + 1] - q[b]);
      }
      // Metal itself stays saturated, as on a scanner's display.
      hu[y * n + x] += static_cast<float>(scale * sum) * (1.0f - metal[y * n + x]);
    }
}

std::int16_t toHu(float v) {
  const float r = std::floor(v + 0.5f);
  return static_cast<std::int16_t>(std::clamp(r, -1024.0f, 3071.0f));
}

}  // namespace

Status validatePhantomOptions(const PhantomOptions& o) {
  auto bad = [](const std::string& what) { return Status(StatusCode::kInvalidArgument, what); };
  if (o.caseIndex < 0) return bad("the case index must not be negative");
  if (o.slices < 0 || o.slices > 4096) return bad("slices must be from 1 to 4096 (0: automatic)");
  if (o.matrix < 64 || o.matrix > 1024) return bad("the matrix must be from 64 to 1024 pixels");
  if (!(o.sliceSpacingMm >= 0 && o.sliceSpacingMm <= 20))
    return bad("the slice spacing must be from 0 to 20 mm (0: span the whole extent)");
  if (!(o.zCenter >= 0 && o.zCenter <= 1)) return bad("zCenter must be from 0 to 1");
  if (!(o.occupancy == 0 || (o.occupancy >= 0.2 && o.occupancy <= 0.85)))
    return bad("the occupancy must be from 0.2 to 0.85 (0: drawn per case)");
  if (!(o.noiseHu >= 0 && o.noiseHu <= 100)) return bad("the noise must be from 0 to 100 HU");
  if (!(o.sliceThicknessMm == 0 || (o.sliceThicknessMm >= 0.5 && o.sliceThicknessMm <= 10)))
    return bad("the slice thickness must be from 0.5 to 10 mm (0: a plane)");
  if (o.phase != ContrastPhase::kNone && o.family == PhantomFamily::kHead)
    return bad("contrast phases are drawn for torso phantoms only");
  if (!(o.cuppingHu >= 0 && o.cuppingHu <= 60)) return bad("the cupping must be from 0 to 60 HU");
  if (!(o.ringsHu >= 0 && o.ringsHu <= 30)) return bad("the rings must be from 0 to 30 HU");
  if (o.habitus != PhantomHabitus::kAdult && o.family == PhantomFamily::kHead)
    return bad("the habitus is drawn for torso phantoms only");
  if (o.armsDown && o.family == PhantomFamily::kHead)
    return bad("arms are drawn for torso phantoms only");
  if (!(o.offCentreMm >= 0 && o.offCentreMm <= 150))
    return bad("the off-centre distance must be from 0 to 150 mm");
  if (o.table != PhantomTable::kCurved && o.family == PhantomFamily::kHead)
    return bad("tables are chosen for torso phantoms only (a head lies in its holder)");
  const bool headMetal = o.metal == PhantomMetal::kDental;
  if (o.metal != PhantomMetal::kNone && headMetal != (o.family == PhantomFamily::kHead))
    return bad(headMetal ? "dental metal is drawn for head phantoms only"
                         : "hip and spine implants are drawn for torso phantoms only");
  if (o.headDetail && o.family != PhantomFamily::kHead)
    return bad("head detail is drawn for head phantoms only");
  return Status();
}

double bodyBlockOccupancy(const LabelMap& labels, int blockSize) {
  const Image<std::uint8_t>& im = labels.labels;
  if (im.empty()) return 0;
  const BlockGrid grid(static_cast<int>(im.nx()), static_cast<int>(im.ny()), blockSize);
  double total = 0;
  for (std::int64_t k = 0; k < im.nz(); ++k) {
    const std::uint8_t* slice = im.slice(k);
    BlockMask mask(grid);
    for (int y = 0; y < grid.height(); ++y)
      for (int x = 0; x < grid.width(); ++x)
        if (slice[y * grid.width() + x] != 0) mask.set(grid.blockOfPixel(x, y));
    total += mask.activeFraction();
  }
  return total / static_cast<double>(im.nz());
}

Result<Phantom> generatePhantom(const PhantomOptions& requested) {
  TESSERA_RETURN_IF_ERROR(validatePhantomOptions(requested));
  PhantomOptions options = requested;
  const PhantomFamily family = options.family;
  const std::uint64_t caseSeed =
      ph::hashOf(options.seed, static_cast<std::uint64_t>(options.caseIndex),
                 family == PhantomFamily::kHead ? 0x4EADull : 0x7025Full);
  ph::Rng rng(caseSeed);
  ph::Rng sizes = rng.fork(11), imaging = rng.fork(12);
  // Forked after the original streams, so that they stay as they were.
  ph::Rng artefacts = rng.fork(13), variety = rng.fork(14), metalDraws = rng.fork(15);
  double thicknessFactor = 0;  // realistic variety: thickness / spacing
  if (options.variety == PhantomVariety::kRealistic) {
    const double noiseDraw = variety.uniform(5, 40);
    const double kernelDraw = variety.uniform(), phaseDraw = variety.uniform();
    const double factorDraw = variety.uniform(0.8, 1.6), cuppingDraw = variety.uniform(0, 30);
    const double ringsDraw = variety.chance(0.3) ? variety.uniform(3, 12) : 0.0;
    const double offCentreDraw =
        variety.chance(0.15) ? variety.uniform(50, 110) : variety.uniform(0, 30);
    const double habitusDraw = variety.uniform();
    const bool armsDraw = variety.chance(0.35);
    const double tableDraw = variety.uniform(), metalDraw = variety.uniform();
    if (options.noiseHu == 0) options.noiseHu = noiseDraw;
    if (options.kernel == PhantomKernel::kStandard)
      options.kernel = kernelDraw < 1.0 / 3   ? PhantomKernel::kStandard
                       : kernelDraw < 2.0 / 3 ? PhantomKernel::kSoft
                                              : PhantomKernel::kSharp;
    if (options.phase == ContrastPhase::kNone && options.family == PhantomFamily::kTorso)
      options.phase = phaseDraw < 0.4   ? ContrastPhase::kNone
                      : phaseDraw < 0.6 ? ContrastPhase::kArterial
                                        : ContrastPhase::kPortalVenous;
    if (options.sliceThicknessMm == 0) thicknessFactor = factorDraw;
    if (options.cuppingHu == 0) options.cuppingHu = cuppingDraw;
    if (options.ringsHu == 0) options.ringsHu = ringsDraw;
    if (options.offCentreMm == 0) options.offCentreMm = offCentreDraw;
    if (options.habitus == PhantomHabitus::kAdult && family == PhantomFamily::kTorso)
      options.habitus = habitusDraw < 0.7   ? PhantomHabitus::kAdult
                        : habitusDraw < 0.8 ? PhantomHabitus::kChild
                                            : PhantomHabitus::kLarge;
    if (!options.armsDown && family == PhantomFamily::kTorso) options.armsDown = armsDraw;
    if (options.table == PhantomTable::kCurved && family == PhantomFamily::kTorso)
      options.table = tableDraw < 0.5    ? PhantomTable::kCurved
                      : tableDraw < 0.75 ? PhantomTable::kFlat
                                         : PhantomTable::kPadded;
    if (options.metal == PhantomMetal::kNone)
      options.metal = family == PhantomFamily::kHead
                          ? (metalDraw < 0.3 ? PhantomMetal::kDental : PhantomMetal::kNone)
                      : metalDraw < 0.08 ? PhantomMetal::kHip
                      : metalDraw < 0.15 ? PhantomMetal::kSpine
                                         : PhantomMetal::kNone;
    if (family == PhantomFamily::kHead) options.headDetail = true;
  }
  if (options.metal == PhantomMetal::kDental) options.headDetail = true;
  const BodyOptions body{options.habitus, options.armsDown, options.table};
  const FamilyRanges ranges = rangesOf(family, options.habitus);
  // A head fills at most about 60 % of the blocks of a FOV that still holds
  // the whole face, so head cases draw lower occupancies.
  const bool head = family == PhantomFamily::kHead;
  // Large patients fill more of the largest field of view; with the arms
  // down the body's share is smaller, so that the arms fit (a higher
  // occupancy asked for cuts them, as a small field of view does).
  const bool large = options.habitus == PhantomHabitus::kLarge;
  const bool arms = options.armsDown;
  const double lo = head ? 0.3 : arms ? (large ? 0.38 : 0.25) : large ? 0.62 : 0.35;
  const double hi = head ? 0.5 : arms ? (large ? 0.48 : 0.38) : large ? 0.85 : 0.72;
  const double target = options.occupancy > 0 ? options.occupancy : sizes.uniform(lo, hi);
  const double naturalWidth = sizes.uniform(ranges.widthMin, ranges.widthMax);
  const double noise = options.noiseHu > 0 ? options.noiseHu : imaging.uniform(10, 20);

  // The extent depends on the size only weakly; calibrate on the coverage of
  // a model built at the natural size.
  const auto probe = makeAnatomy(family, caseSeed, naturalWidth, naturalWidth / 0.7, body);
  const Coverage cov = coverageOf(options, probe->extentMm(), ranges.spacingMm);
  std::vector<double> sampleTs;
  for (int i = 0; i < 8; ++i)
    sampleTs.push_back(cov.tStart + (i + 0.5) / 8 * (cov.tEnd - cov.tStart));
  const double ratio =
      calibrateWidthRatio(family, caseSeed, body, options.matrix, target, sampleTs);
  const double fov = std::clamp(naturalWidth / ratio, ranges.fovMin, ranges.fovMax);
  const double width = ratio * fov;
  const auto anatomy = makeAnatomy(family, caseSeed, width, fov, body, &options);
  const Coverage finalCov = coverageOf(options, anatomy->extentMm(), ranges.spacingMm);
  const int n = options.matrix, slices = finalCov.slices;
  const double pixel = fov / n;

  Geometry g;
  g.size = {n, n, slices};
  g.spacingMm = {pixel, pixel, finalCov.spacingMm};
  const double z0 =
      (finalCov.tStart * anatomy->extentMm() + 0.5 * finalCov.spacingMm) - anatomy->extentMm();
  g.originMm = {-0.5 * (n - 1) * pixel, -0.5 * (n - 1) * pixel, std::round(z0 * 100) / 100};
  TESSERA_ASSIGN_OR_RETURN(Volume ct, Volume::create(g, -1000));
  TESSERA_ASSIGN_OR_RETURN(Image<std::uint8_t> labelImage, Image<std::uint8_t>::create(g, 0));

  // Partial-volume blur (σ 0.6-0.9 px); noise is drawn before it, scaled so
  // that its standard deviation after the blur is `noise`.
  const double sigmaBlur = imaging.uniform(0.6, 0.9);
  std::array<float, 5> kernel;
  double sum = 0, sumSq = 0;
  for (int k = -2; k <= 2; ++k) sum += std::exp(-0.5 * k * k / (sigmaBlur * sigmaBlur));
  for (int k = -2; k <= 2; ++k) {
    kernel[k + 2] = static_cast<float>(std::exp(-0.5 * k * k / (sigmaBlur * sigmaBlur)) / sum);
    sumSq += kernel[k + 2] * kernel[k + 2];
  }
  // 2D: σ_after = σ_before · Σw² (separable); other kernels add their filter.
  const double noiseGain =
      options.kernel == PhantomKernel::kStandard ? sumSq : noiseGainOf(options.kernel, kernel);
  std::array<float, kTissueLabelCount> sigma{};
  for (int l = 0; l < kTissueLabelCount; ++l) {
    const double tex = anatomy->style().textureHu[l];
    sigma[l] = static_cast<float>(std::sqrt(tex * tex + noise * noise) / noiseGain);
  }
  std::vector<Streak> streaks;
  const int streakCount = static_cast<int>(imaging.uniform(2, 6));
  for (int i = 0; i < streakCount; ++i) {
    Streak st;
    st.angle = imaging.uniform(0, ph::kPi);
    st.offsetMm = imaging.uniform(-0.15, 0.15) * fov;
    st.amplitude = imaging.sign() * imaging.uniform(8, 25);
    st.widthPx = imaging.uniform(0.8, 1.6);
    st.strength = ph::Wiggle(imaging, 0.6, 60);
    streaks.push_back(st);
  }

  const std::uint64_t noiseKey = ph::hashOf(caseSeed, 0xA015Eull);
  std::atomic<int> done{0};
  std::atomic<bool> cancelled{false};
  ProgressTracker tracker(options.progress);
  tracker.report(0.0, "generating slices");
  const std::size_t pixels = static_cast<std::size_t>(n) * n;
  // Sub-planes of a thick slice: midpoints of m equal parts of its
  // thickness, m = thickness / 0.5 mm rounded up.
  const double thickness = thicknessFactor > 0
                               ? std::clamp(thicknessFactor * finalCov.spacingMm, 0.5, 5.0)
                               : options.sliceThicknessMm;
  // Rings: radius (mm), width (px) and signed amplitude (HU), drawn always.
  struct Ring {
    double radiusMm, widthPx, hu;
  };
  std::vector<Ring> rings;
  const int ringCount = static_cast<int>(artefacts.uniform(3, 7));
  for (int i = 0; i < ringCount; ++i) {
    Ring r;
    r.radiusMm = artefacts.uniform(15, 0.45 * fov);
    r.widthPx = artefacts.uniform(0.6, 1.2);
    r.hu = artefacts.sign() * artefacts.uniform(0.5, 1.0) * options.ringsHu;
    rings.push_back(r);
  }
  const double offAngle = artefacts.uniform(0, 2 * ph::kPi);
  const double dx = options.offCentreMm * std::cos(offAngle),
               dy = options.offCentreMm * std::sin(offAngle);
  const int subPlanes =
      thickness > 0 ? std::max(1, static_cast<int>(std::ceil(thickness / 0.5))) : 0;
  const std::array<float, 5> taps = kernelTaps();
  // Metal artefacts: strength per case (HU at the nominal 1), drawn always.
  const bool metalCase = options.metal != PhantomMetal::kNone;
  // Per unit of path, amalgam attenuates about 2.5 times as much as the
  // titanium of screws and the cobalt-chromium of a hip about 1.1 times
  // (the beam-hardening term goes with the square).
  const double material = options.metal == PhantomMetal::kDental ? 30.0
                          : options.metal == PhantomMetal::kHip  ? 1.2
                                                                 : 1.0;
  const double hardening = kMetalHardening * material * metalDraws.uniform(0.7, 1.4);
  const double starvation = kMetalStarvation * std::sqrt(material) * metalDraws.uniform(0.5, 1.5);
  const std::uint64_t metalKey = ph::hashOf(caseSeed, 0x3E7A1ull);
  parallelChunks(0, slices, [&](std::int64_t begin, std::int64_t end, int thread) {
    std::vector<std::uint8_t> zone(pixels), subLabel, subZone;
    std::vector<float> hu(pixels), scratch(pixels), subHu, field, low;
    if (subPlanes > 0) {
      subLabel.resize(pixels);
      subZone.resize(pixels);
      subHu.resize(pixels);
    }
    if (options.kernel != PhantomKernel::kStandard) field.resize(pixels);
    std::vector<float> metal(metalCase ? pixels : 0);
    for (std::int64_t k = begin; k < end; ++k) {
      if (cancelled.load(std::memory_order_relaxed)) return;
      if (options.cancel && options.cancel->cancelled()) {
        cancelled = true;
        return;
      }
      std::uint8_t* label = labelImage.slice(k);
      std::fill(zone.begin(), zone.end(), 0);
      std::fill(hu.begin(), hu.end(), -1000.0f);
      const double t = finalCov.t(static_cast<int>(k), anatomy->extentMm());
      ph::Canvas canvas{imageFrame(n, pixel, dx, dy),
                        imageFrame(n, pixel, dx, dy),
                        t * anatomy->extentMm(),
                        t,
                        label,
                        hu.data(),
                        zone.data()};
      anatomy->paint(canvas);
      if (metalCase)
        for (std::size_t i = 0; i < pixels; ++i)
          metal[i] = (zone[i] & ph::kZoneMetal) ? 1.0f : 0.0f;
      if (subPlanes > 0) {
        // The slice is the mean over its thickness; labels stay the centre
        // plane's.
        std::fill(hu.begin(), hu.end(), 0.0f);
        std::fill(metal.begin(), metal.end(), 0.0f);
        for (int j = 0; j < subPlanes; ++j) {
          std::fill(subZone.begin(), subZone.end(), 0);
          std::fill(subLabel.begin(), subLabel.end(), 0);
          std::fill(subHu.begin(), subHu.end(), -1000.0f);
          const double zMm = std::clamp(canvas.zMm + thickness * ((j + 0.5) / subPlanes - 0.5), 0.0,
                                        anatomy->extentMm());
          ph::Canvas sub{imageFrame(n, pixel, dx, dy),
                         imageFrame(n, pixel, dx, dy),
                         zMm,
                         zMm / anatomy->extentMm(),
                         subLabel.data(),
                         subHu.data(),
                         subZone.data()};
          anatomy->paint(sub);
          for (std::size_t i = 0; i < pixels; ++i) hu[i] += subHu[i] / subPlanes;
          if (metalCase)
            for (std::size_t i = 0; i < pixels; ++i)
              if (subZone[i] & ph::kZoneMetal) metal[i] += 1.0f / subPlanes;
        }
      }
      if (options.cuppingHu > 0) addCupping(hu.data(), zone.data(), n, options.cuppingHu);
      for (const Ring& r : rings)
        if (r.hu != 0) addRing(hu.data(), n, r.radiusMm / pixel, r.widthPx, r.hu);
      const std::uint64_t sliceKey = ph::hashOf(noiseKey, static_cast<std::uint64_t>(k));
      if (options.kernel == PhantomKernel::kStandard) {
        for (std::size_t i = 0; i < pixels; ++i)
          hu[i] += sigma[label[i]] * ph::pixelNoise(sliceKey, i);
      } else {
        for (std::size_t i = 0; i < pixels; ++i) field[i] = ph::pixelNoise(sliceKey, i);
        if (options.kernel == PhantomKernel::kSoft) {
          blurSlice(field.data(), scratch.data(), n, taps);
        } else {
          low.assign(field.begin(), field.end());
          blurSlice(low.data(), scratch.data(), n, taps);
          for (std::size_t i = 0; i < pixels; ++i) field[i] -= kSharpBoost * low[i];
        }
        for (std::size_t i = 0; i < pixels; ++i) hu[i] += sigma[label[i]] * field[i];
      }
      blurSlice(hu.data(), scratch.data(), n, kernel);
      addStreaks(hu.data(), n, pixel, canvas.zMm, streaks);
      if (metalCase)
        addMetalArtefacts(hu.data(), metal.data(), n, pixel, hardening, starvation,
                          ph::hashOf(metalKey, static_cast<std::uint64_t>(k)));
      std::int16_t* out = ct.slice(k);
      for (std::size_t i = 0; i < pixels; ++i) out[i] = toHu(hu[i]);
      const int finished = done.fetch_add(1) + 1;
      if (thread == 0)
        tracker.report(static_cast<double>(finished) / slices,
                       "slice " + std::to_string(finished) + "/" + std::to_string(slices));
    }
  });
  if (cancelled) return Error{StatusCode::kCancelled, "phantom generation was cancelled", {}};
  tracker.report(1.0, "generated " + std::to_string(slices) + " slices");

  Phantom phantom;
  phantom.ct = std::move(ct);
  phantom.labels.labels = std::move(labelImage);
  phantom.labels.table = defaultLabelTable();
  PhantomInfo& info = phantom.info;
  info.family = family;
  info.seed = options.seed;
  info.caseIndex = options.caseIndex;
  info.slices = slices;
  info.matrix = n;
  info.fovMm = fov;
  info.sliceSpacingMm = finalCov.spacingMm;
  info.zStart = finalCov.tStart;
  info.zEnd = finalCov.tEnd;
  info.targetOccupancy = target;
  info.measuredOccupancy = bodyBlockOccupancy(phantom.labels);
  info.noiseHu = noise;
  info.sliceThicknessMm = thickness;
  info.kernel = options.kernel;
  info.phase = options.phase;
  info.cuppingHu = options.cuppingHu;
  info.ringsHu = options.ringsHu;
  info.variety = options.variety;
  info.offCentreXMm = dx;
  info.offCentreYMm = dy;
  info.habitus = options.habitus;
  info.armsDown = options.armsDown;
  info.table = options.table;
  info.metal = options.metal;
  info.headDetail = options.headDetail;
  const double rep = anatomy->representativeT();
  info.representativeSlice =
      std::clamp(static_cast<int>(std::floor((rep - finalCov.tStart) * anatomy->extentMm() /
                                             finalCov.spacingMm)),
                 0, slices - 1);
  if (rep < finalCov.tStart || rep > finalCov.tEnd) info.representativeSlice = slices / 2;
  return phantom;
}

std::string phantomCaseName(int caseIndex) {
  char name[32];
  std::snprintf(name, sizeof(name), "case_%04d", caseIndex);
  return name;
}

std::string phantomInfoJson(const PhantomInfo& info) {
  auto rounded = [](double v, double unit) { return std::round(v / unit) * unit; };
  JsonWriter w;
  w.beginObject();
  w.field("generator", "tessera phantom");
  w.field("version", 1);
  w.field("family", phantomFamilyName(info.family));
  // JSON numbers are exact up to 2^53; larger seeds are written as text.
  if (info.seed <= (std::uint64_t{1} << 53))
    w.field("seed", static_cast<std::int64_t>(info.seed));
  else
    w.field("seed", std::to_string(info.seed));
  w.field("case", info.caseIndex);
  w.field("slices", info.slices);
  w.field("matrix", info.matrix);
  w.field("fovMm", rounded(info.fovMm, 1e-4));
  w.field("sliceSpacingMm", rounded(info.sliceSpacingMm, 1e-4));
  w.field("zStart", rounded(info.zStart, 1e-6));
  w.field("zEnd", rounded(info.zEnd, 1e-6));
  w.field("targetOccupancy", rounded(info.targetOccupancy, 1e-4));
  w.field("occupancy", rounded(info.measuredOccupancy, 1e-4));
  w.field("noiseHu", rounded(info.noiseHu, 1e-3));
  // Written only when asked for, so that the original phantoms' files stay
  // the same bytes.
  if (info.sliceThicknessMm > 0) w.field("sliceThicknessMm", rounded(info.sliceThicknessMm, 1e-4));
  if (info.kernel != PhantomKernel::kStandard) w.field("kernel", phantomKernelName(info.kernel));
  if (info.phase != ContrastPhase::kNone) w.field("contrastPhase", contrastPhaseName(info.phase));
  if (info.cuppingHu > 0) w.field("cuppingHu", rounded(info.cuppingHu, 1e-3));
  if (info.ringsHu > 0) w.field("ringsHu", rounded(info.ringsHu, 1e-3));
  if (info.offCentreXMm != 0 || info.offCentreYMm != 0) {
    w.field("offCentreXMm", rounded(info.offCentreXMm, 1e-3));
    w.field("offCentreYMm", rounded(info.offCentreYMm, 1e-3));
  }
  if (info.habitus != PhantomHabitus::kAdult) w.field("habitus", phantomHabitusName(info.habitus));
  if (info.armsDown) w.field("arms", "down");
  if (info.table != PhantomTable::kCurved) w.field("table", phantomTableName(info.table));
  if (info.metal != PhantomMetal::kNone) w.field("metal", phantomMetalName(info.metal));
  if (info.headDetail) w.field("headDetail", true);
  if (info.variety != PhantomVariety::kClassic)
    w.field("variety", phantomVarietyName(info.variety));
  w.field("representativeSlice", info.representativeSlice);
  w.key("labels").beginArray();
  const LabelTable table = defaultLabelTable();
  for (TissueLabel l : phantomFamilyLabels(info.family))
    w.value(table.nameOf(static_cast<std::uint8_t>(l)));
  w.endArray();
  w.endObject();
  return w.str() + "\n";
}

Result<std::string> writePhantomCase(const std::string& outDir, const Phantom& phantom) {
  namespace fs = std::filesystem;
  if (!isDirectory(outDir))
    return Error{StatusCode::kNotFound, "output directory does not exist", outDir};
  const std::string dir = (fs::path(outDir) / phantomCaseName(phantom.info.caseIndex)).string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return Error{StatusCode::kIoError, "cannot create the case directory: " + ec.message(), dir};
  TESSERA_RETURN_IF_ERROR(writeVolume(phantom.ct, (fs::path(dir) / "ct.nii.gz").string()));
  TESSERA_RETURN_IF_ERROR(
      writeLabelMap(phantom.labels, (fs::path(dir) / "labels.nii.gz").string()));
  TESSERA_RETURN_IF_ERROR(writeTextFileAtomic((fs::path(dir) / "phantom.json").string(),
                                              phantomInfoJson(phantom.info)));
  return dir;
}

}  // namespace tessera::imaging
