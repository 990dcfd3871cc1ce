#include "imaging/phantom/phantom.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "core/blocks.h"
#include "core/json.h"
#include "core/parallel.h"
#include "imaging/figures/slice_png.h"
#include "imaging/io/volume_io.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using L = TissueLabel;

PhantomOptions smallTorso(std::uint64_t seed = 3, int slices = 24, int matrix = 128) {
  PhantomOptions o;
  o.seed = seed;
  o.slices = slices;
  o.matrix = matrix;
  return o;
}

const Phantom& generated(const PhantomOptions& options) {
  // Tests share a few phantoms: generating is the slow part.
  static std::map<std::string, Phantom> cache;
  const std::string key =
      std::to_string(static_cast<int>(options.family)) + "/" + std::to_string(options.seed) + "/" +
      std::to_string(options.caseIndex) + "/" + std::to_string(options.slices) + "/" +
      std::to_string(options.matrix) + "/" + std::to_string(options.sliceSpacingMm) + "/" +
      std::to_string(options.zCenter) + "/" + std::to_string(options.occupancy);
  auto it = cache.find(key);
  if (it == cache.end()) {
    auto p = generatePhantom(options);
    EXPECT_TRUE(p.ok()) << p.error().toString();
    it = cache.emplace(key, std::move(p).value()).first;
  }
  return it->second;
}

bool sameVoxels(const Phantom& a, const Phantom& b) {
  return a.ct.voxelCount() == b.ct.voxelCount() &&
         std::equal(a.ct.data(), a.ct.data() + a.ct.voxelCount(), b.ct.data()) &&
         std::equal(a.labels.labels.data(), a.labels.labels.data() + a.labels.labels.voxelCount(),
                    b.labels.labels.data());
}

// HU of the voxels of `label` whose four in-plane neighbours carry the same
// label: the tissue itself, without the partial-volume rim at its border.
std::vector<double> interiorHu(const Phantom& p, L label) {
  std::vector<double> out;
  const auto& lab = p.labels.labels;
  const std::uint8_t v = static_cast<std::uint8_t>(label);
  for (std::int64_t k = 0; k < lab.nz(); ++k)
    for (std::int64_t j = 1; j + 1 < lab.ny(); ++j)
      for (std::int64_t i = 1; i + 1 < lab.nx(); ++i)
        if (lab.at(i, j, k) == v && lab.at(i - 1, j, k) == v && lab.at(i + 1, j, k) == v &&
            lab.at(i, j - 1, k) == v && lab.at(i, j + 1, k) == v)
          out.push_back(p.ct.at(i, j, k));
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / v.size();
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[static_cast<std::size_t>(q * (v.size() - 1))];
}

class PhantomFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_phantom_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::string readBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// --- determinism -------------------------------------------------------------

TEST(Phantom, SameSeedGivesIdenticalVoxels) {
  const PhantomOptions o = smallTorso(5, 12);
  auto a = generatePhantom(o);
  auto b = generatePhantom(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(sameVoxels(*a, *b));
  EXPECT_TRUE(sameGeometry(a->ct.geometry(), b->ct.geometry(), 0));
}

TEST(Phantom, ThreadCountDoesNotChangeVoxels) {
  PhantomOptions o = smallTorso(5, 12);
  // Metal too: its artefacts are computed slice by slice.
  PhantomOptions hip = smallTorso(5, 6);
  hip.metal = PhantomMetal::kHip;
  hip.sliceSpacingMm = 4;
  hip.zCenter = 0.07;
  for (const PhantomOptions& options : {o, hip}) {
    setNumThreads(1);
    auto one = generatePhantom(options);
    setNumThreads(3);
    auto three = generatePhantom(options);
    setNumThreads(0);
    ASSERT_TRUE(one.ok() && three.ok());
    EXPECT_TRUE(sameVoxels(*one, *three));
  }
}

TEST(Phantom, SeedsAndCasesGiveDifferentPatients) {
  const Phantom& base = generated(smallTorso(5, 12));
  PhantomOptions other = smallTorso(6, 12);
  const Phantom& otherSeed = generated(other);
  PhantomOptions nextCase = smallTorso(5, 12);
  nextCase.caseIndex = 1;
  const Phantom& otherCase = generated(nextCase);
  for (const Phantom* p : {&otherSeed, &otherCase}) {
    // Labels, not only noise, differ: another body and other organs.
    std::int64_t differing = 0;
    for (std::int64_t i = 0; i < base.labels.labels.voxelCount(); ++i)
      differing += base.labels.labels.data()[i] != p->labels.labels.data()[i];
    EXPECT_GT(differing, base.labels.labels.voxelCount() / 50);
  }
}

// --- anatomy -----------------------------------------------------------------

TEST(Phantom, FullLengthCasesContainEveryLabelOfTheirFamily) {
  for (PhantomFamily family : {PhantomFamily::kTorso, PhantomFamily::kHead}) {
    PhantomOptions o = smallTorso(8, 64, 128);
    o.family = family;
    const Phantom& p = generated(o);
    std::vector<std::int64_t> counts(kTissueLabelCount, 0);
    const auto* d = p.labels.labels.data();
    for (std::int64_t i = 0; i < p.labels.labels.voxelCount(); ++i) ++counts.at(d[i]);
    const auto expected = phantomFamilyLabels(family);
    for (int l = 0; l < kTissueLabelCount; ++l) {
      const bool wanted =
          std::find(expected.begin(), expected.end(), static_cast<L>(l)) != expected.end();
      SCOPED_TRACE(std::string(phantomFamilyName(family)) + " " + defaultLabelTable().nameOf(l));
      if (wanted)
        EXPECT_GT(counts[l], 20);
      else
        EXPECT_EQ(counts[l], 0);
    }
  }
}

TEST(Phantom, OrgansAppearInAnatomicalOrderAlongZ) {
  const Phantom& p = generated(smallTorso(8, 64, 128));
  // Mean slice index (0 = inferior) of each organ.
  auto centre = [&](L label) {
    double sum = 0, n = 0;
    const auto& lab = p.labels.labels;
    for (std::int64_t k = 0; k < lab.nz(); ++k) {
      const auto* s = lab.slice(k);
      const auto c = std::count(s, s + lab.nx() * lab.ny(), static_cast<std::uint8_t>(label));
      sum += k * static_cast<double>(c);
      n += c;
    }
    return sum / n;
  };
  // Each organ occupies one unbroken run of slices.
  const auto& lab = p.labels.labels;
  for (L organ : {L::kLung, L::kLiver, L::kSpleen, L::kKidney}) {
    SCOPED_TRACE(defaultLabelTable().nameOf(static_cast<std::uint8_t>(organ)));
    int runs = 0;
    bool previous = false;
    for (std::int64_t k = 0; k < lab.nz(); ++k) {
      const auto* s = lab.slice(k);
      const bool present = std::find(s, s + lab.nx() * lab.ny(),
                                     static_cast<std::uint8_t>(organ)) != s + lab.nx() * lab.ny();
      runs += present && !previous;
      previous = present;
    }
    EXPECT_EQ(runs, 1);
  }
  EXPECT_LT(centre(L::kKidney), centre(L::kLiver));
  EXPECT_LT(centre(L::kKidney), centre(L::kSpleen));
  EXPECT_LT(centre(L::kLiver), centre(L::kLung));
  EXPECT_LT(centre(L::kSpleen), centre(L::kLung));
}

TEST(Phantom, SlicesAreConsistentAlongZ) {
  // 2 mm slices through the upper abdomen.
  PhantomOptions o = smallTorso(9, 30, 128);
  o.sliceSpacingMm = 2.0;
  o.zCenter = 0.5;
  const Phantom& p = generated(o);
  const auto& lab = p.labels.labels;
  const std::int64_t n = lab.nx() * lab.ny();
  for (std::int64_t k = 0; k + 1 < lab.nz(); ++k) {
    const auto* a = lab.slice(k);
    const auto* b = lab.slice(k + 1);
    std::int64_t body = 0, same = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (a[i] == 0 && b[i] == 0) continue;
      ++body;
      same += a[i] == b[i];
    }
    EXPECT_GT(static_cast<double>(same) / body, 0.9) << "slices " << k << " and " << k + 1;
  }
  // Each organ present occupies one run of slices, overlapping from slice to slice.
  for (L organ : {L::kLiver, L::kSpleen, L::kKidney}) {
    SCOPED_TRACE(defaultLabelTable().nameOf(static_cast<std::uint8_t>(organ)));
    const std::uint8_t v = static_cast<std::uint8_t>(organ);
    int runs = 0;
    bool previous = false;
    for (std::int64_t k = 0; k < lab.nz(); ++k) {
      const auto* s = lab.slice(k);
      const bool present = std::find(s, s + n, v) != s + n;
      if (present && !previous) ++runs;
      if (present && previous) {
        const auto* before = lab.slice(k - 1);
        std::int64_t overlap = 0;
        for (std::int64_t i = 0; i < n; ++i) overlap += s[i] == v && before[i] == v;
        EXPECT_GT(overlap, 0) << "slice " << k;
      }
      previous = present;
    }
    EXPECT_EQ(runs, 1);
  }
}

TEST(Phantom, TissueHuMatchesTheDesign) {
  // Means over the interior of each tissue, three patients pooled, against
  // the design values of docs/PHANTOMS.md (liver ~55, spleen ~45, kidney ~35,
  // muscle and soft tissue ~40, fat -100, lung -850, internal air -950).
  std::map<L, std::vector<double>> hu;
  for (int c = 0; c < 3; ++c) {
    PhantomOptions o = smallTorso(10, 40, 256);
    o.caseIndex = c;
    const Phantom& p = generated(o);
    for (L l : {L::kLiver, L::kSpleen, L::kKidney, L::kSoftTissue, L::kFat, L::kLung,
                L::kInternalAir, L::kBone, L::kBackground}) {
      auto v = interiorHu(p, l);
      hu[l].insert(hu[l].end(), v.begin(), v.end());
    }
  }
  const std::map<L, double> design = {{L::kLiver, 55},        {L::kSpleen, 45}, {L::kKidney, 35},
                                      {L::kSoftTissue, 40},   {L::kFat, -100},  {L::kLung, -850},
                                      {L::kInternalAir, -950}};
  for (const auto& [label, value] : design) {
    SCOPED_TRACE(defaultLabelTable().nameOf(static_cast<std::uint8_t>(label)));
    ASSERT_GT(hu[label].size(), 100u);
    EXPECT_NEAR(mean(hu[label]), value, 20.0);
  }
  const double bone = mean(hu[L::kBone]);
  EXPECT_GT(bone, 300);
  EXPECT_LT(bone, 1500);
  EXPECT_GT(percentile(hu[L::kBone], 0.95), 700);  // cortical bone is there
  // Outside air (the table aside) is air.
  EXPECT_NEAR(percentile(hu[L::kBackground], 0.5), -1000, 10);
}

// --- scanner variations: slice thickness, kernel, contrast ------------------

// Mean HU of the 16x16-pixel blocks of slice k, for comparisons above the
// noise.
std::vector<double> blockMeans(const Volume& ct, std::int64_t k) {
  std::vector<double> out;
  for (std::int64_t by = 0; by + 16 <= ct.ny(); by += 16)
    for (std::int64_t bx = 0; bx + 16 <= ct.nx(); bx += 16) {
      double sum = 0;
      for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) sum += ct.at(bx + x, by + y, k);
      out.push_back(sum / 256);
    }
  return out;
}

TEST(Phantom, ThickSlicesAverageTheAnatomyOverTheirThicknessAndKeepTheCentreLabels) {
  // 0.25 mm planes through the liver dome, and the same slab reconstructed
  // as 2 mm and 5 mm slices. A thick slice's sub-planes lie at odd
  // multiples of 0.25 mm from its centre, on the planes' grid, so it must
  // equal the mean of those planes (up to noise: compared on 8x8-block
  // means) and differ from its own centre plane where anatomy changes
  // along z.
  PhantomOptions o = smallTorso(5, 120, 128);
  o.sliceSpacingMm = 0.25;
  o.zCenter = 0.645;
  o.noiseHu = 5;
  auto plane = generatePhantom(o);
  ASSERT_TRUE(plane.ok());
  for (double t : {2.0, 5.0}) {
    SCOPED_TRACE(t);
    o.sliceThicknessMm = t;
    auto thick = generatePhantom(o);
    ASSERT_TRUE(thick.ok());
    EXPECT_EQ(thick->info.sliceThicknessMm, t);
    EXPECT_TRUE(std::equal(plane->labels.labels.data(),
                           plane->labels.labels.data() + plane->labels.labels.voxelCount(),
                           thick->labels.labels.data()));
    const int m = static_cast<int>(std::ceil(t / 0.5));  // sub-planes, 0.5 mm apart
    double toMean = 0, toCentre = 0;
    int count = 0;
    for (std::int64_t k = m; k + m < plane->ct.nz(); ++k) {
      std::vector<double> expected(blockMeans(plane->ct, k).size(), 0.0);
      for (int j = 0; j < m; ++j) {
        const std::vector<double> b = blockMeans(plane->ct, k - m + 1 + 2 * j);
        for (std::size_t i = 0; i < b.size(); ++i) expected[i] += b[i] / m;
      }
      const std::vector<double> got = blockMeans(thick->ct, k), centre = blockMeans(plane->ct, k);
      // Only where the anatomy changes over the thickness (judged from its
      // end planes, whose noise barely enters the comparison).
      const std::vector<double> below = blockMeans(plane->ct, k - m + 1),
                                above = blockMeans(plane->ct, k + m - 1);
      for (std::size_t i = 0; i < got.size(); ++i) {
        if (std::abs(above[i] - below[i]) < 40) continue;
        toMean += (got[i] - expected[i]) * (got[i] - expected[i]);
        toCentre += (got[i] - centre[i]) * (got[i] - centre[i]);
        ++count;
      }
    }
    toMean = std::sqrt(toMean / count);
    toCentre = std::sqrt(toCentre / count);
    ASSERT_GT(count, 50);
    EXPECT_LT(toMean, 0.5 * toCentre) << "RMS (HU) against the mean of the planes " << toMean
                                      << ", against the centre plane " << toCentre;
    // Determinism holds with thick slices too.
    auto again = generatePhantom(o);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(sameVoxels(*thick, *again));
  }
}

// Lag-1 autocorrelation of the image along x, and its standard deviation,
// over the interior of the liver (mean removed).
std::pair<double, double> liverNoise(const Phantom& p) {
  const auto& lab = p.labels.labels;
  const auto v = static_cast<std::uint8_t>(L::kLiver);
  const std::vector<double> hu = interiorHu(p, L::kLiver);
  const double m = mean(hu);
  double var = 0, cov = 0;
  int n = 0, pairs = 0;
  for (std::int64_t k = 0; k < lab.nz(); ++k)
    for (std::int64_t j = 2; j + 2 < lab.ny(); ++j)
      for (std::int64_t i = 2; i + 3 < lab.nx(); ++i) {
        bool inside = true;
        for (int dj = -2; dj <= 2 && inside; ++dj)
          for (int di = -2; di <= 3 && inside; ++di) inside = lab.at(i + di, j + dj, k) == v;
        if (!inside) continue;
        const double a = p.ct.at(i, j, k) - m, b = p.ct.at(i + 1, j, k) - m;
        var += a * a;
        cov += a * b;
        ++n;
        ++pairs;
      }
  return {pairs ? cov / var : NAN, n ? std::sqrt(var / n) : NAN};
}

TEST(Phantom, KernelsChangeTheNoiseTextureNotItsLevel) {
  PhantomOptions o = smallTorso(7, 12, 256);
  o.zCenter = 0.45;
  o.sliceSpacingMm = 5;
  o.noiseHu = 30;
  std::map<PhantomKernel, std::pair<double, double>> noise;
  for (PhantomKernel k : {PhantomKernel::kSoft, PhantomKernel::kStandard, PhantomKernel::kSharp}) {
    o.kernel = k;
    auto p = generatePhantom(o);
    ASSERT_TRUE(p.ok());
    noise[k] = liverNoise(*p);
    ASSERT_FALSE(std::isnan(noise[k].first)) << phantomKernelName(k);
  }
  const auto [soft, softSd] = noise[PhantomKernel::kSoft];
  const auto [standard, standardSd] = noise[PhantomKernel::kStandard];
  const auto [sharp, sharpSd] = noise[PhantomKernel::kSharp];
  // Measured: 0.87, 0.66 and 0.46 (seed 7, 256 x 256).
  EXPECT_GT(soft, standard + 0.15) << soft << " vs " << standard;
  EXPECT_LT(sharp, standard - 0.15) << sharp << " vs " << standard;
  // σ as asked (30 HU with the liver's 7 HU texture: 30.8), within 10 %.
  for (double sd : {softSd, standardSd, sharpSd}) EXPECT_NEAR(sd, std::hypot(30.0, 7.0), 3.1);
}

TEST(Phantom, ContrastPhasesEnhanceBloodAndOrgansOfTheSamePatient) {
  PhantomOptions o = smallTorso(9, 10, 256);
  o.zCenter = 0.45;
  o.sliceSpacingMm = 5;
  o.noiseHu = 5;
  std::map<ContrastPhase, Phantom> p;
  for (ContrastPhase phase :
       {ContrastPhase::kNone, ContrastPhase::kArterial, ContrastPhase::kPortalVenous}) {
    o.phase = phase;
    auto generated = generatePhantom(o);
    ASSERT_TRUE(generated.ok());
    p.emplace(phase, std::move(generated).value());
  }
  const Phantom& none = p.at(ContrastPhase::kNone);
  const Phantom& arterial = p.at(ContrastPhase::kArterial);
  const Phantom& portal = p.at(ContrastPhase::kPortalVenous);
  // The same patient: labels identical.
  for (const Phantom* other : {&arterial, &portal})
    EXPECT_TRUE(std::equal(none.labels.labels.data(),
                           none.labels.labels.data() + none.labels.labels.voxelCount(),
                           other->labels.labels.data()));
  auto shift = [&](const Phantom& q, L l) {
    return mean(interiorHu(q, l)) - mean(interiorHu(none, l));
  };
  EXPECT_NEAR(shift(portal, L::kLiver), 55, 5);
  EXPECT_NEAR(shift(portal, L::kSpleen), 65, 5);
  EXPECT_NEAR(shift(portal, L::kKidney), 120, 8);
  EXPECT_NEAR(shift(arterial, L::kLiver), 15, 5);
  EXPECT_NEAR(shift(arterial, L::kKidney), 110, 8);
  // The aorta (soft tissue by label) is the brightest soft tissue in the
  // arterial phase: its 99.9th percentile rises by about the blood's 250 HU.
  const double before = percentile(interiorHu(none, L::kSoftTissue), 0.999);
  const double after = percentile(interiorHu(arterial, L::kSoftTissue), 0.999);
  EXPECT_GT(after - before, 150);
  EXPECT_EQ(arterial.info.phase, ContrastPhase::kArterial);
  EXPECT_NE(phantomInfoJson(arterial.info).find("\"contrastPhase\": \"arterial\""),
            std::string::npos);
  EXPECT_EQ(phantomInfoJson(none.info).find("contrastPhase"), std::string::npos);
}

TEST(Phantom, CuppingDarkensTheBodyCentreAndRingsCircleTheIsocentre) {
  // The same case with and without each artefact: noise, blur and streaks
  // are the same draws, so the difference is the artefact alone (blurred
  // by the partial-volume kernel, rounded to whole HU).
  PhantomOptions o = smallTorso(4, 3, 128);
  o.sliceSpacingMm = 5;
  o.noiseHu = 10;
  auto plain = generatePhantom(o);
  o.cuppingHu = 40;
  auto cupped = generatePhantom(o);
  o.cuppingHu = 0;
  o.ringsHu = 20;
  auto ringed = generatePhantom(o);
  ASSERT_TRUE(plain.ok() && cupped.ok() && ringed.ok());
  const std::int64_t k = 1, n = 128;
  // Body outline of this slice, from its labels.
  std::int64_t x0 = n, x1 = -1, y0 = n, y1 = -1;
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x)
      if (plain->labels.labels.at(x, y, k) != 0) {
        x0 = std::min(x0, x);
        x1 = std::max(x1, x);
        y0 = std::min(y0, y);
        y1 = std::max(y1, y);
      }
  ASSERT_LT(x0, x1);
  const std::int64_t cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  auto diff = [&](const Phantom& a, std::int64_t x, std::int64_t y) {
    return double(a.ct.at(x, y, k)) - double(plain->ct.at(x, y, k));
  };
  EXPECT_NEAR(diff(*cupped, cx, cy), -40, 3);
  EXPECT_NEAR(diff(*cupped, x0 + 2, cy), 0, 6);  // near the outline
  EXPECT_EQ(diff(*cupped, 1, 1), 0);             // outside the body: air untouched
  // Rings: changes only on circles around the image centre, up to 20 HU.
  std::vector<double> byRadius(100, 0.0);
  double largest = 0;
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x) {
      const double d = diff(*ringed, x, y);
      largest = std::max(largest, std::abs(d));
      const int r = static_cast<int>(std::hypot(x - 63.5, y - 63.5));
      if (r < 100) byRadius[r] = std::max(byRadius[r], std::abs(d));
    }
  EXPECT_GT(largest, 8);
  EXPECT_LE(largest, 21);
  int untouched = 0;
  for (double v : byRadius) untouched += v == 0;
  EXPECT_GT(untouched, 20) << "radii between the rings stay as they were";
  EXPECT_NE(phantomInfoJson(ringed->info).find("\"ringsHu\": 20"), std::string::npos);
}

TEST(Phantom, OffCentrePatientsMoveWithTheTableAndAreCutByTheFieldOfView) {
  PhantomOptions o = smallTorso(6, 2, 128);
  o.sliceSpacingMm = 5;
  o.occupancy = 0.45;
  auto centred = generatePhantom(o);
  o.offCentreMm = 30;
  auto moved = generatePhantom(o);
  o.offCentreMm = 140;
  auto cut = generatePhantom(o);
  ASSERT_TRUE(centred.ok() && moved.ok() && cut.ok());
  // Centroid (mm) of the body's labels, and whether any touches the edge.
  auto body = [](const Phantom& p) {
    const auto& lab = p.labels.labels;
    double sx = 0, sy = 0, count = 0;
    bool edge = false;
    for (std::int64_t y = 0; y < lab.ny(); ++y)
      for (std::int64_t x = 0; x < lab.nx(); ++x)
        if (lab.at(x, y, 0) != 0) {
          sx += x;
          sy += y;
          ++count;
          edge |= x == 0 || y == 0 || x == lab.nx() - 1 || y == lab.ny() - 1;
        }
    const double mm = p.ct.geometry().spacingMm[0];
    return std::tuple{sx / count * mm, sy / count * mm, edge};
  };
  const auto [cx, cy, centredEdge] = body(*centred);
  const auto [mx, my, movedEdge] = body(*moved);
  const auto [tx, ty, cutEdge] = body(*cut);
  EXPECT_FALSE(centredEdge);
  EXPECT_FALSE(movedEdge);
  EXPECT_NEAR(mx - cx, moved->info.offCentreXMm, 1.0);
  EXPECT_NEAR(my - cy, moved->info.offCentreYMm, 1.0);
  EXPECT_NEAR(std::hypot(moved->info.offCentreXMm, moved->info.offCentreYMm), 30, 1e-9);
  EXPECT_TRUE(cutEdge) << "140 mm off-centre, the field of view cuts the body";
  // HU and labels move together: the fat and soft tissue of the cut body
  // keep their design HU.
  EXPECT_NEAR(mean(interiorHu(*cut, L::kFat)), -100, 20);
  EXPECT_NEAR(mean(interiorHu(*cut, L::kSoftTissue)), 40, 20);
}

TEST(Phantom, HabitusSetsTheBodySizeAndFatFromAChildToALargeAdult) {
  // Width (mm) of the body's labels and the fat's share of them, per
  // habitus, over three patients.
  auto measure = [](const Phantom& p) {
    const auto& lab = p.labels.labels;
    std::int64_t x0 = lab.nx(), x1 = -1, body = 0, fat = 0;
    for (std::int64_t k = 0; k < lab.nz(); ++k)
      for (std::int64_t y = 0; y < lab.ny(); ++y)
        for (std::int64_t x = 0; x < lab.nx(); ++x) {
          const std::uint8_t v = lab.at(x, y, k);
          if (v == 0) continue;
          x0 = std::min(x0, x);
          x1 = std::max(x1, x);
          ++body;
          fat += v == static_cast<std::uint8_t>(L::kFat);
        }
    return std::pair{(x1 - x0 + 1) * p.ct.geometry().spacingMm[0], double(fat) / body};
  };
  for (int c = 0; c < 3; ++c) {
    SCOPED_TRACE(c);
    PhantomOptions o = smallTorso(12, 2, 128);
    o.caseIndex = c;
    o.sliceSpacingMm = 5;
    o.zCenter = 0.45;
    std::map<PhantomHabitus, std::pair<double, double>> m;
    for (PhantomHabitus h :
         {PhantomHabitus::kChild, PhantomHabitus::kAdult, PhantomHabitus::kLarge}) {
      o.habitus = h;
      auto p = generatePhantom(o);
      ASSERT_TRUE(p.ok());
      EXPECT_EQ(p->info.habitus, h);
      m[h] = measure(*p);
    }
    const auto [childWidth, childFat] = m[PhantomHabitus::kChild];
    const auto [adultWidth, adultFat] = m[PhantomHabitus::kAdult];
    const auto [largeWidth, largeFat] = m[PhantomHabitus::kLarge];
    EXPECT_LT(childWidth, 260);
    EXPECT_LT(childWidth, 0.85 * adultWidth);
    EXPECT_GT(largeWidth, 1.05 * adultWidth);
    EXPECT_GT(largeWidth, 360);
    EXPECT_GT(largeFat, adultFat + 0.05);
  }
}

TEST(Phantom, ArmsDownLieBesideTheTrunkWithTheirBonesMostlyInsideTheFieldOfView) {
  // Twelve patients, forearms beside the abdomen and upper arms beside the
  // chest: a row crosses trunk and both arms (three runs of body) with bone
  // in each arm. The occupancy drawn for arms down leaves room for them in
  // most slices; in the others an arm touches the image's edge, as on a
  // scanner with a small field of view (measured: 2 of 24).
  int touching = 0;
  for (int c = 0; c < 12; ++c)
    for (double z : {0.45, 0.7}) {
      SCOPED_TRACE(std::to_string(c) + " at " + std::to_string(z));
      PhantomOptions o = smallTorso(3, 1, 256);
      o.caseIndex = c;
      o.sliceSpacingMm = 5;
      o.zCenter = z;
      o.armsDown = true;
      auto p = generatePhantom(o);
      ASSERT_TRUE(p.ok());
      EXPECT_TRUE(p->info.armsDown);
      const auto& lab = p->labels.labels;
      int bestRuns = 0;
      bool leftBone = false, rightBone = false, edge = false;
      for (std::int64_t y = 0; y < lab.ny(); ++y) {
        std::vector<std::pair<std::int64_t, std::int64_t>> runs;
        for (std::int64_t x = 0; x < lab.nx(); ++x) {
          const bool in = lab.at(x, y, 0) != 0;
          edge |= in && (x == 0 || x == lab.nx() - 1);
          if (in && (runs.empty() || runs.back().second != x - 1)) runs.push_back({x, x});
          if (in) runs.back().second = x;
        }
        if (runs.size() < 3) continue;
        bestRuns = std::max(bestRuns, static_cast<int>(runs.size()));
        auto hasBone = [&](std::pair<std::int64_t, std::int64_t> r) {
          for (std::int64_t x = r.first; x <= r.second; ++x)
            if (lab.at(x, y, 0) == static_cast<std::uint8_t>(L::kBone)) return true;
          return false;
        };
        leftBone |= hasBone(runs.front());
        rightBone |= hasBone(runs.back());
      }
      EXPECT_GE(bestRuns, 3);
      EXPECT_TRUE(leftBone && rightBone);
      touching += edge;
    }
  EXPECT_LE(touching, 4);
}

TEST(Phantom, RealisticVarietyDrawsTheScannerPerCaseAndKeepsThePatients) {
  PhantomOptions o = smallTorso(21, 3, 64);
  o.sliceSpacingMm = 2;
  std::set<std::string> drawn;
  for (int c = 0; c < 8; ++c) {
    o.caseIndex = c;
    o.variety = PhantomVariety::kRealistic;
    auto realistic = generatePhantom(o);
    auto again = generatePhantom(o);
    ASSERT_TRUE(realistic.ok() && again.ok());
    EXPECT_TRUE(sameVoxels(*realistic, *again));
    // The same patient: the labels of the centre planes are the classic
    // variety's at the position drawn.
    PhantomOptions same = o;
    same.variety = PhantomVariety::kClassic;
    same.offCentreMm = std::hypot(realistic->info.offCentreXMm, realistic->info.offCentreYMm);
    same.habitus = realistic->info.habitus;
    same.armsDown = realistic->info.armsDown;
    same.table = realistic->info.table;
    same.metal = realistic->info.metal;
    auto classic = generatePhantom(same);
    ASSERT_TRUE(classic.ok());
    EXPECT_TRUE(std::equal(classic->labels.labels.data(),
                           classic->labels.labels.data() + classic->labels.labels.voxelCount(),
                           realistic->labels.labels.data()));
    const PhantomInfo& i = realistic->info;
    EXPECT_EQ(i.variety, PhantomVariety::kRealistic);
    EXPECT_GE(i.noiseHu, 5);
    EXPECT_LE(i.noiseHu, 40);
    EXPECT_GE(i.sliceThicknessMm, 0.8 * 2 - 1e-9);
    EXPECT_LE(i.sliceThicknessMm, 1.6 * 2 + 1e-9);
    EXPECT_LE(i.cuppingHu, 30);
    drawn.insert(std::string(phantomKernelName(i.kernel)) + "/" + contrastPhaseName(i.phase));
  }
  EXPECT_GE(drawn.size(), 4u) << "kernels and phases vary over eight cases";
  // An explicit choice wins over the draw.
  o.kernel = PhantomKernel::kSharp;
  o.phase = ContrastPhase::kArterial;
  auto fixed = generatePhantom(o);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->info.kernel, PhantomKernel::kSharp);
  EXPECT_EQ(fixed->info.phase, ContrastPhase::kArterial);
}

// Metal: labelled bone, saturating the scale, with artefacts over the whole
// slice that holds it and nowhere else; the patient is otherwise the same.
TEST(Phantom, MetalImplantsAreBoneWithStreaksInTheirSlicesOnly) {
  struct Case {
    PhantomMetal metal;
    PhantomFamily family;
    double zCenter, spacing;
    int slices;
  };
  for (const Case& tc : {Case{PhantomMetal::kHip, PhantomFamily::kTorso, 0.07, 5, 12},
                         Case{PhantomMetal::kSpine, PhantomFamily::kTorso, 0.33, 5, 20},
                         Case{PhantomMetal::kDental, PhantomFamily::kHead, 0.03, 2, 6}}) {
    SCOPED_TRACE(phantomMetalName(tc.metal));
    PhantomOptions o = smallTorso(17, tc.slices, 192);
    o.family = tc.family;
    o.sliceSpacingMm = tc.spacing;
    o.zCenter = tc.zCenter;
    o.headDetail = tc.family == PhantomFamily::kHead;
    auto plain = generatePhantom(o);
    o.metal = tc.metal;
    auto metal = generatePhantom(o);
    auto again = generatePhantom(o);
    ASSERT_TRUE(plain.ok() && metal.ok() && again.ok());
    EXPECT_TRUE(sameVoxels(*metal, *again));
    EXPECT_EQ(metal->info.metal, tc.metal);
    const auto& a = plain->labels.labels;
    const auto& b = metal->labels.labels;
    const std::uint8_t bone = static_cast<std::uint8_t>(L::kBone);
    const std::int64_t slice = a.nx() * a.ny();
    int metalSlices = 0, cleanSlices = 0;
    std::int64_t most = 0;
    double rmsOfMost = 0;
    for (std::int64_t k = 0; k < a.nz(); ++k) {
      std::int64_t saturated = 0, changedLabels = 0;
      double farSq = 0;
      std::int64_t far = 0, differing = 0;
      for (std::int64_t v = k * slice; v < (k + 1) * slice; ++v) {
        const int hu = metal->ct.data()[v];
        if (hu >= 3000) {
          ++saturated;
          EXPECT_EQ(b.data()[v], bone) << "metal is labelled bone";
        }
        if (a.data()[v] != b.data()[v]) {
          ++changedLabels;
          // Implants are bone; what they replace (a femoral head) was.
          EXPECT_TRUE(b.data()[v] == bone || a.data()[v] == bone) << "voxel " << v;
        }
        const double d = hu - plain->ct.data()[v];
        differing += d != 0;
        if (a.data()[v] == b.data()[v] && a.data()[v] != bone && hu < 3000) {
          farSq += d * d;
          ++far;
        }
      }
      if (saturated > 0) {
        ++metalSlices;
        // Streaks reach the tissue: the same noise, so any difference is
        // the artefact.
        const double rms = std::sqrt(farSq / std::max<std::int64_t>(far, 1));
        EXPECT_GT(rms, 0.3) << "slice " << k;
        if (saturated > most) {
          most = saturated;
          rmsOfMost = rms;
        }
      } else if (changedLabels == 0) {
        ++cleanSlices;
        EXPECT_EQ(differing, 0) << "slice " << k << " holds no metal yet changed";
      }
    }
    EXPECT_GE(metalSlices, 1);
    EXPECT_GT(rmsOfMost, 10.0) << "the slice with the most metal";
    EXPECT_GE(cleanSlices, 1);
  }
}

// Tables change what the patient lies on: a flat top is flat, a pad of foam
// lies between the back and the shell; the organs stay the same.
TEST(Phantom, TablesAreFlatCurvedOrPaddedUnderTheSamePatient) {
  PhantomOptions o = smallTorso(5, 1, 512);
  o.sliceSpacingMm = 10;
  o.zCenter = 0.45;
  o.occupancy = 0.5;
  o.noiseHu = 5;
  std::map<PhantomTable, Phantom> by;
  for (PhantomTable t : {PhantomTable::kCurved, PhantomTable::kFlat, PhantomTable::kPadded}) {
    o.table = t;
    auto p = generatePhantom(o);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->info.table, t);
    by.emplace(t, std::move(p).value());
  }
  const int n = 512;
  // For each column: the body's lowest row, then the first dense table row
  // below it, and the rows of pad (-920..-680 HU, background) between.
  struct Column {
    int bodyBottom = -1, tableTop = -1, pad = 0;
  };
  auto columns = [&](const Phantom& p) {
    std::vector<Column> out(n);
    for (int i = 0; i < n; ++i) {
      Column& c = out[i];
      for (int j = 0; j < n; ++j)
        if (p.labels.labels.at(i, j, 0) != 0) c.bodyBottom = j;
      if (c.bodyBottom < 0) continue;
      for (int j = c.bodyBottom + 1; j < n && c.tableTop < 0; ++j) {
        const int hu = p.ct.at(i, j, 0);
        if (hu > 200) c.tableTop = j;
        if (hu > -920 && hu < -680) ++c.pad;
      }
    }
    return out;
  };
  auto spread = [&](const std::vector<Column>& cs) {
    int lo = n, hi = -1;
    for (const Column& c : cs)
      if (c.tableTop >= 0) {
        lo = std::min(lo, c.tableTop);
        hi = std::max(hi, c.tableTop);
      }
    return hi - lo;
  };
  auto padRows = [&](const std::vector<Column>& cs) {
    std::vector<double> rows;
    for (const Column& c : cs)
      if (c.tableTop >= 0) rows.push_back(c.pad);
    return percentile(rows, 0.5);
  };
  const auto curved = columns(by.at(PhantomTable::kCurved));
  const auto flat = columns(by.at(PhantomTable::kFlat));
  const auto padded = columns(by.at(PhantomTable::kPadded));
  EXPECT_LE(spread(flat), 1) << "a flat top under the body";
  EXPECT_GE(spread(curved), 2) << "the curved shell rises at its sides";
  const double pixelMm = by.at(PhantomTable::kPadded).info.fovMm / n;
  EXPECT_GE(padRows(padded) * pixelMm, 12) << "15-40 mm of foam";
  EXPECT_LE(padRows(curved) * pixelMm, 3);
  auto count = [](const Phantom& p, L label) {
    const std::uint8_t v = static_cast<std::uint8_t>(label);
    return std::count(p.labels.labels.data(), p.labels.labels.data() + p.labels.labels.voxelCount(),
                      v);
  };
  for (L organ : {L::kLiver, L::kKidney, L::kSpleen}) {
    const double c = count(by.at(PhantomTable::kCurved), organ);
    for (PhantomTable t : {PhantomTable::kFlat, PhantomTable::kPadded})
      EXPECT_NEAR(count(by.at(t), organ), c, 0.03 * c + 20) << phantomTableName(t);
  }
}

// Head detail: teeth of dentine and enamel at the palate's level, denser
// than any bone of the original heads; calcifications in the brain, which
// stays labelled brain.
TEST(Phantom, HeadDetailAddsTeethAndCalcifications) {
  PhantomOptions o = smallTorso(9, 4, 256);
  o.family = PhantomFamily::kHead;
  o.sliceSpacingMm = 1.5;
  o.zCenter = 0.02;
  auto plain = generatePhantom(o);
  o.headDetail = true;
  auto detailed = generatePhantom(o);
  ASSERT_TRUE(plain.ok() && detailed.ok());
  EXPECT_TRUE(detailed->info.headDetail);
  auto denseBone = [](const Phantom& p, int threshold) {
    std::int64_t count = 0;
    for (std::int64_t v = 0; v < p.ct.voxelCount(); ++v)
      count += p.ct.data()[v] >= threshold && p.labels.labels.data()[v] == 3;
    return count;
  };
  EXPECT_EQ(denseBone(*plain, 2300), 0) << "cortex is at most 1,850 HU";
  EXPECT_GT(denseBone(*detailed, 2300), 50) << "enamel 2,500-3,000 HU";
  // Calcifications: over a few patients at the level of the pineal gland
  // and the atria, brain voxels (in both) that gained over 100 HU.
  int withCalcifications = 0;
  for (int c = 0; c < 4; ++c) {
    PhantomOptions b = smallTorso(9, 6, 192);
    b.family = PhantomFamily::kHead;
    b.caseIndex = c;
    b.sliceSpacingMm = 3;
    b.zCenter = 0.53;
    auto without = generatePhantom(b);
    b.headDetail = true;
    auto with = generatePhantom(b);
    ASSERT_TRUE(without.ok() && with.ok());
    std::int64_t gained = 0, relabelled = 0;
    for (std::int64_t v = 0; v < with->ct.voxelCount(); ++v) {
      const bool wasBrain = without->labels.labels.data()[v] == 8;
      const bool isBrain = with->labels.labels.data()[v] == 8;
      if (wasBrain && isBrain && with->ct.data()[v] - without->ct.data()[v] > 100) ++gained;
      relabelled += wasBrain && !isBrain;
    }
    EXPECT_EQ(relabelled, 0) << "calcified brain is brain";
    withCalcifications += gained > 0;
  }
  EXPECT_GE(withCalcifications, 1);
  // The realistic variety always draws them; dental metal implies them.
  o.headDetail = false;
  o.variety = PhantomVariety::kRealistic;
  auto realistic = generatePhantom(o);
  ASSERT_TRUE(realistic.ok());
  EXPECT_TRUE(realistic->info.headDetail);
  o.variety = PhantomVariety::kClassic;
  o.metal = PhantomMetal::kDental;
  auto dental = generatePhantom(o);
  ASSERT_TRUE(dental.ok());
  EXPECT_TRUE(dental->info.headDetail);
}

TEST(Phantom, CorticalRimIsBrighterThanMarrow) {
  PhantomOptions o = smallTorso(10, 40, 256);
  const Phantom& p = generated(o);
  const auto& lab = p.labels.labels;
  const std::uint8_t bone = static_cast<std::uint8_t>(L::kBone);
  // Bone voxels two voxels inside the bone's border vs. the deepest ones.
  std::vector<double> nearBorder, deep;
  for (std::int64_t k = 0; k < lab.nz(); ++k)
    for (std::int64_t j = 3; j + 3 < lab.ny(); ++j)
      for (std::int64_t i = 3; i + 3 < lab.nx(); ++i) {
        if (lab.at(i, j, k) != bone) continue;
        int depth = 0;
        while (depth < 3 && lab.at(i - depth - 1, j, k) == bone &&
               lab.at(i + depth + 1, j, k) == bone && lab.at(i, j - depth - 1, k) == bone &&
               lab.at(i, j + depth + 1, k) == bone)
          ++depth;
        if (depth == 1) nearBorder.push_back(p.ct.at(i, j, k));
        if (depth == 3) deep.push_back(p.ct.at(i, j, k));
      }
  ASSERT_GT(deep.size(), 100u);
  EXPECT_GT(mean(nearBorder), mean(deep) + 150);
}

TEST(Phantom, OrganHuRangesOverlap) {
  // A threshold on HU cannot separate liver, spleen and kidney: their
  // central 80 % ranges overlap, so position and shape have to decide.
  PhantomOptions o = smallTorso(10, 40, 256);
  const Phantom& p = generated(o);
  const auto liver = interiorHu(p, L::kLiver), spleen = interiorHu(p, L::kSpleen),
             kidney = interiorHu(p, L::kKidney), soft = interiorHu(p, L::kSoftTissue);
  auto overlap = [](const std::vector<double>& a, const std::vector<double>& b) {
    return std::min(percentile(a, 0.9), percentile(b, 0.9)) -
           std::max(percentile(a, 0.1), percentile(b, 0.1));
  };
  EXPECT_GT(overlap(liver, spleen), 0);
  EXPECT_GT(overlap(spleen, kidney), 0);
  EXPECT_GT(overlap(liver, kidney), 0);
  EXPECT_GT(overlap(liver, soft), 0);
}

TEST(Phantom, TableIsDenseBackgroundBelowTheBody) {
  for (PhantomFamily family : {PhantomFamily::kTorso, PhantomFamily::kHead}) {
    SCOPED_TRACE(phantomFamilyName(family));
    PhantomOptions o = smallTorso(12, 8, 256);
    o.family = family;
    o.occupancy = 0.4;  // small enough for the table to be in the field of view
    const Phantom& p = generated(o);
    const auto& lab = p.labels.labels;
    std::int64_t dense = 0;
    for (std::int64_t k = 0; k < lab.nz(); ++k)
      for (std::int64_t i = 0; i < lab.nx(); ++i) {
        std::int64_t lowestBody = -1;
        for (std::int64_t j = 0; j < lab.ny(); ++j)
          if (lab.at(i, j, k) != 0) lowestBody = j;
        for (std::int64_t j = 0; j < lab.ny(); ++j) {
          if (lab.at(i, j, k) == 0 && p.ct.at(i, j, k) > 150) {
            ++dense;
            EXPECT_GT(j, lowestBody) << "dense background above the body at " << i << "," << j;
          }
        }
      }
    EXPECT_GT(dense, 100);  // the table is there, dense, and labelled background
  }
}

TEST(Phantom, OccupancyParameterControlsBodyBlocks) {
  double previous = 0;
  for (double target : {0.4, 0.55, 0.7}) {
    SCOPED_TRACE(target);
    PhantomOptions o = smallTorso(13, 6, 512);
    o.occupancy = target;
    const Phantom& p = generated(o);
    const double measured = bodyBlockOccupancy(p.labels);
    EXPECT_NEAR(measured, target, 0.05);
    EXPECT_NEAR(p.info.measuredOccupancy, measured, 1e-12);
    EXPECT_GT(measured, previous);
    previous = measured;
  }
}

TEST(Phantom, DetectorCoversEveryBlockHoldingBody) {
  // On phantom slices the default detector must keep every block with
  // anatomy (lung and bowel gas included), and not activate the whole slice.
  PhantomOptions o = smallTorso(14, 10, 512);
  o.occupancy = 0.45;
  const Phantom& p = generated(o);
  const BlockGrid grid(512, 512);
  double active = 0;
  for (std::int64_t k = 0; k < p.ct.nz(); ++k) {
    const BlockMask mask = detectBlocks(p.ct.slice(k), 512, 512);
    const std::uint8_t* lab = p.labels.labels.slice(k);
    for (int y = 0; y < 512; ++y)
      for (int x = 0; x < 512; ++x)
        if (lab[y * 512 + x] != 0) {
          ASSERT_TRUE(mask.test(grid.blockOfPixel(x, y))) << "slice " << k;
        }
    active += mask.activeFraction();
  }
  active /= static_cast<double>(p.ct.nz());
  EXPECT_LT(active, 0.85);
  EXPECT_GT(active, p.info.measuredOccupancy);
}

TEST(Phantom, GeometryIsARealisticCt) {
  const Phantom& p = generated(smallTorso(15, 64, 512));
  const Geometry& g = p.ct.geometry();
  EXPECT_TRUE(validateGeometry(g).ok());
  EXPECT_TRUE(sameGeometry(g, p.labels.labels.geometry(), 0));
  EXPECT_EQ(g.size[0], 512);
  EXPECT_EQ(g.size[2], 64);
  EXPECT_EQ(g.spacingMm[0], g.spacingMm[1]);
  EXPECT_GE(g.spacingMm[0], 300.0 / 512 - 1e-9);  // FOV 300-500 mm
  EXPECT_LE(g.spacingMm[0], 500.0 / 512 + 1e-9);
  EXPECT_GT(g.spacingMm[2], 0);  // slices ordered inferior to superior (+z)
  EXPECT_NEAR(g.spacingMm[2] * g.size[2], 64 * p.info.sliceSpacingMm, 1e-6);
  EXPECT_EQ(orientationCode(g.direction), "LPS");
  // Centred field of view.
  EXPECT_NEAR(g.originMm[0] + 0.5 * (g.size[0] - 1) * g.spacingMm[0], 0, 1e-6);
  EXPECT_EQ(p.labels.table.labels.size(), defaultLabelTable().labels.size());
  const auto* hu = p.ct.data();
  const auto [lo, hi] = std::minmax_element(hu, hu + p.ct.voxelCount());
  EXPECT_GE(*lo, -1024);
  EXPECT_LE(*hi, 3071);
}

TEST(Phantom, HeadHasBrainInsideTheSkull) {
  PhantomOptions o = smallTorso(16, 40, 256);
  o.family = PhantomFamily::kHead;
  const Phantom& p = generated(o);
  const auto brain = interiorHu(p, L::kBrain), soft = interiorHu(p, L::kSoftTissue);
  EXPECT_NEAR(mean(brain), 32, 10);
  // Brain and soft tissue overlap in HU: the skull around it is what tells.
  EXPECT_GT(percentile(brain, 0.9), percentile(soft, 0.1));
  // Every brain voxel has bone somewhere further out on its row, both ways.
  const auto& lab = p.labels.labels;
  const std::uint8_t b = static_cast<std::uint8_t>(L::kBrain),
                     bone = static_cast<std::uint8_t>(L::kBone);
  std::int64_t enclosed = 0, total = 0;
  for (std::int64_t k = 0; k < lab.nz(); ++k)
    for (std::int64_t j = 0; j < lab.ny(); ++j)
      for (std::int64_t i = 0; i < lab.nx(); ++i) {
        if (lab.at(i, j, k) != b) continue;
        ++total;
        bool left = false, right = false;
        for (std::int64_t x = i; x >= 0 && !left; --x) left = lab.at(x, j, k) == bone;
        for (std::int64_t x = i; x < lab.nx() && !right; ++x) right = lab.at(x, j, k) == bone;
        enclosed += left && right;
      }
  EXPECT_GT(total, 1000);
  EXPECT_GT(static_cast<double>(enclosed) / total, 0.95);
}

// --- options and files ---------------------------------------------------------

TEST(Phantom, RejectsBadOptions) {
  auto bad = [](auto change) {
    PhantomOptions o = smallTorso();
    change(o);
    auto p = generatePhantom(o);
    return !p.ok() && p.error().code == StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.matrix = 10; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.slices = -1; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.occupancy = 0.95; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.caseIndex = -2; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.sliceSpacingMm = NAN; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.sliceThicknessMm = 0.2; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.sliceThicknessMm = NAN; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) {
    o.family = PhantomFamily::kHead;
    o.phase = ContrastPhase::kArterial;
  }));
  EXPECT_TRUE(parsePhantomFamily("head").ok());
  EXPECT_FALSE(parsePhantomFamily("knee").ok());
  EXPECT_EQ(*parsePhantomKernel("soft"), PhantomKernel::kSoft);
  EXPECT_FALSE(parsePhantomKernel("bone").ok());
  EXPECT_EQ(*parseContrastPhase("portal"), ContrastPhase::kPortalVenous);
  EXPECT_FALSE(parseContrastPhase("delayed").ok());
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.cuppingHu = 61; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.ringsHu = -1; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.offCentreMm = 200; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) {
    o.family = PhantomFamily::kHead;
    o.habitus = PhantomHabitus::kChild;
  }));
  EXPECT_TRUE(bad([](PhantomOptions& o) {
    o.family = PhantomFamily::kHead;
    o.armsDown = true;
  }));
  EXPECT_EQ(*parsePhantomHabitus("large"), PhantomHabitus::kLarge);
  EXPECT_FALSE(parsePhantomHabitus("giant").ok());
  EXPECT_EQ(*parsePhantomVariety("realistic"), PhantomVariety::kRealistic);
  EXPECT_FALSE(parsePhantomVariety("wild").ok());
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.metal = PhantomMetal::kDental; }));
  EXPECT_TRUE(bad([](PhantomOptions& o) {
    o.family = PhantomFamily::kHead;
    o.metal = PhantomMetal::kHip;
  }));
  EXPECT_TRUE(bad([](PhantomOptions& o) {
    o.family = PhantomFamily::kHead;
    o.table = PhantomTable::kFlat;
  }));
  EXPECT_TRUE(bad([](PhantomOptions& o) { o.headDetail = true; }));
  EXPECT_EQ(*parsePhantomTable("padded"), PhantomTable::kPadded);
  EXPECT_EQ(*parsePhantomMetal("spine"), PhantomMetal::kSpine);
  auto unknown = parsePhantomMetal("gold");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "unknown metal implant 'gold' (none, hip, spine or dental)");
}

TEST(Phantom, CancellationStopsGeneration) {
  CancelToken cancel;
  cancel.cancel();
  PhantomOptions o = smallTorso();
  o.cancel = &cancel;
  auto p = generatePhantom(o);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, StatusCode::kCancelled);
}

TEST(Phantom, BodyBlockOccupancyCountsBlocksWithAnyBody) {
  Geometry g;
  g.size = {40, 20, 2};  // 3 x 2 blocks per slice (padded)
  LabelMap m;
  m.labels = *Image<std::uint8_t>::create(g, 0);
  m.labels.at(0, 0, 0) = 1;    // block (0,0)
  m.labels.at(39, 19, 0) = 2;  // block (2,1), in the padded corner block
  for (int j = 0; j < 20; ++j)
    for (int i = 0; i < 40; ++i) m.labels.at(i, j, 1) = 1;
  EXPECT_DOUBLE_EQ(bodyBlockOccupancy(m), 0.5 * (2.0 / 6.0 + 1.0));
}

TEST_F(PhantomFiles, WritesACaseThatReadsBackExactly) {
  const Phantom& p = generated(smallTorso(17, 12, 128));
  auto dir = writePhantomCase(dir_.string(), p);
  ASSERT_TRUE(dir.ok()) << dir.error().toString();
  EXPECT_EQ(fs::path(*dir).filename(), "case_0000");
  auto ct = readVolume(*dir + "/ct.nii.gz");
  auto labels = readLabelMap(*dir + "/labels.nii.gz");
  ASSERT_TRUE(ct.ok() && labels.ok());
  EXPECT_TRUE(sameGeometry(ct->geometry(), p.ct.geometry(), 1e-4));
  EXPECT_TRUE(std::equal(p.ct.data(), p.ct.data() + p.ct.voxelCount(), ct->data()));
  EXPECT_TRUE(std::equal(p.labels.labels.data(),
                         p.labels.labels.data() + p.labels.labels.voxelCount(),
                         labels->labels.data()));
  auto json = parseJson(readBytes(fs::path(*dir) / "phantom.json"));
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->getString("family"), "torso");
  EXPECT_EQ(json->getNumber("seed"), 17);
  EXPECT_EQ(json->getNumber("slices"), 12);
  EXPECT_NEAR(json->getNumber("occupancy"), p.info.measuredOccupancy, 1e-3);
  for (const auto& entry : fs::directory_iterator(*dir))
    EXPECT_NE(entry.path().filename().string()[0], '.') << "temporary left: " << entry.path();
}

TEST_F(PhantomFiles, SameArgumentsWriteIdenticalBytes) {
  // What `tessera phantom out --cases 2 --seed 7` does, twice, into two
  // directories: the files must be byte-identical (no time stamps in gzip
  // or NIfTI headers).
  for (int run = 0; run < 2; ++run) {
    fs::create_directories(dir_ / std::to_string(run));
    for (int c = 0; c < 2; ++c) {
      PhantomOptions o = smallTorso(7, 8, 128);
      o.caseIndex = c;
      auto p = generatePhantom(o);
      ASSERT_TRUE(p.ok());
      ASSERT_TRUE(writePhantomCase((dir_ / std::to_string(run)).string(), *p).ok());
    }
  }
  for (const char* c : {"case_0000", "case_0001"})
    for (const char* f : {"ct.nii.gz", "labels.nii.gz", "phantom.json"}) {
      SCOPED_TRACE(std::string(c) + "/" + f);
      const std::string a = readBytes(dir_ / "0" / c / f), b = readBytes(dir_ / "1" / c / f);
      EXPECT_FALSE(a.empty());
      EXPECT_TRUE(a == b);
    }
  EXPECT_FALSE(readBytes(dir_ / "0" / "case_0000" / "ct.nii.gz") ==
               readBytes(dir_ / "0" / "case_0001" / "ct.nii.gz"));
}

TEST_F(PhantomFiles, MissingOutputDirectoryIsAnError) {
  const Phantom& p = generated(smallTorso(17, 12, 128));
  auto dir = writePhantomCase((dir_ / "missing").string(), p);
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().code, StatusCode::kNotFound);
}

TEST_F(PhantomFiles, SlicePngHasBothPanels) {
  const Phantom& p = generated(smallTorso(17, 12, 128));
  const std::string png = (dir_ / "slice.png").string();
  ASSERT_TRUE(writeSlicePng(p.ct, &p.labels, p.info.representativeSlice, png).ok());
  const std::string bytes = readBytes(png);
  ASSERT_GT(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  // IHDR: width and height, big-endian, at bytes 16..23.
  auto be32 = [&](int at) {
    return (static_cast<unsigned char>(bytes[at]) << 24) |
           (static_cast<unsigned char>(bytes[at + 1]) << 16) |
           (static_cast<unsigned char>(bytes[at + 2]) << 8) |
           static_cast<unsigned char>(bytes[at + 3]);
  };
  EXPECT_EQ(be32(16), 256);
  EXPECT_EQ(be32(20), 128);
  EXPECT_FALSE(writeSlicePng(p.ct, &p.labels, 99, png).ok());
  EXPECT_FALSE(writeSlicePng(p.ct, nullptr, 0, (dir_ / "slice.jpg").string()).ok());
}

}  // namespace
}  // namespace tessera::imaging
