// Torso phantom: pubic symphysis (t = 0) to the lung apices (t = 1).
//
// Every structure is a function of z drawn once per case: a superellipse
// body outline on a curved table, skin, subcutaneous fat, muscle, and a
// cavity holding lungs above the diaphragm domes and abdominal organs below
// them; a segmented spine with ribs following the chest wall; pelvis, hips
// and sacrum. Landmark heights (fractions of the extent) follow adult
// anatomy: pelvis 0-0.25, kidneys ~0.28-0.48, liver ~0.38-0.67, domes
// ~0.64-0.67, heart ~0.6-0.8, trachea above ~0.84. Variations (phantom.h):
// other tables, a hip prosthesis or lumbar pedicle screws.
#include <algorithm>
#include <cmath>
#include <vector>

#include "imaging/phantom/anatomy.h"

namespace tessera::imaging::phantom {
namespace {

using L = TissueLabel;
using Point3 = std::array<double, 3>;

double deg(double d) {
  return d * kPi / 180.0;
}

// A tube piece with its z bounds for quick culling.
struct Piece {
  Ellipsoid e;
  double zLo = 0, zHi = 0;
  double radius = 0;
};

Piece makePiece(const Point3& p0, const Point3& p1, double r) {
  return {Ellipsoid::segment(p0, p1, r), std::min(p0[2], p1[2]) - r, std::max(p0[2], p1[2]) + r, r};
}

bool missesSlice(const Piece& p, double z) {
  return z < p.zLo || z > p.zHi;
}

// A random binary tree of tubes from `root` along the given directions:
// each generation 0.8 × as long and 0.75 × as thin, turning randomly.
void growTree(Rng& rng, const Point3& root, const std::vector<Point3>& directions, double radius,
              double length, int depth, std::vector<Piece>& out) {
  struct Node {
    Point3 p, dir;
    double r, len;
    int depth;
  };
  std::vector<Node> stack;
  for (const Point3& d : directions) stack.push_back({root, d, radius, length, 0});
  while (!stack.empty()) {
    const Node n = stack.back();
    stack.pop_back();
    Point3 dir = n.dir;
    for (double& x : dir) x += rng.uniform(-0.35, 0.35);
    const double len = std::sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
    for (double& x : dir) x /= len;
    const Point3 end{n.p[0] + dir[0] * n.len, n.p[1] + dir[1] * n.len,
                     n.p[2] + dir[2] * n.len * 1.3};
    out.push_back(makePiece(n.p, end, n.r));
    if (n.depth < depth)
      for (int child = 0; child < 2; ++child)
        stack.push_back({end, dir, n.r * 0.75, n.len * 0.8, n.depth + 1});
  }
}

void randomHarmonics(Rng& rng, Blob& b, double amplitude) {
  for (int k = 0; k < 4; ++k) {
    const double a = amplitude / (1 + k);
    b.ca[k] = rng.uniform(-a, a);
    b.sa[k] = rng.uniform(-a, a);
  }
}

// A loop of bowel or a piece of colon: wall, content, optional gas.
struct Loop {
  Piece piece;
  double wallMm = 2.5;
  double contentHu = 20;
  bool gas = false;
  double gasLevel = 0;  // gas where v < centre v + gasLevel * radius
};

struct Rib {
  double zOrigin = 0;    // where the rib leaves the spine (mm)
  double drop = 0;       // descent from the spine to its anterior end (mm)
  double thetaEnd = 0;   // angle where bone ends (left side, cavity frame)
  double thetaCart = 0;  // angle where cartilage ends (== thetaEnd: none)
  double radius = 3.5;
};

class Torso final : public Anatomy {
 public:
  Torso(std::uint64_t seed, double widthMm, double fovMm, const AnatomyOptions& options);

  double extentMm() const override { return extent_; }
  void paint(Canvas& c) const override;
  void paintBodyZone(Canvas& c) const override;
  const TissueStyle& style() const override { return style_; }
  double representativeT() const override { return 0.47; }

 private:
  // Geometry of one slice, derived from the case parameters.
  struct Slice {
    double t = 0, z = 0;
    double halfWidth = 0, halfDepth = 0;
    double backV = 0;  // v of the back skin (resting on the table)
    Blob body, fatInner, cavity;
    double canalU = 0, canalV = 0, canalR = 8;
    double vbV = 0, vbRu = 0, vbRv = 0;  // vertebral body
    double cx = 0, cy = 0, roll = 0;     // body centre (image mm) and roll
    double cosRoll = 1, sinRoll = 0;
    double cavityLimit(double u) const {
      return canalV + 4 + std::max(0.0, std::abs(u) - 35) * 0.6;
    }
    bool inCavity(double u, double v) const { return v <= cavityLimit(u) && cavity.inside(u, v); }
  };

  Slice sliceAt(double t) const;
  void setFrame(Canvas& c, const Slice& s) const;
  bool onTableSide(double u, double v, const Slice& s) const;
  void paintTable(Canvas& c) const;
  void paintLayers(Canvas& c, const Slice& s) const;
  void paintThorax(Canvas& c, const Slice& s) const;
  void paintAbdomen(Canvas& c, const Slice& s) const;
  void paintLoops(Canvas& c, const std::vector<Loop>& loops, std::uint8_t zone) const;
  void paintVessels(Canvas& c, const Slice& s) const;
  void paintSpine(Canvas& c, const Slice& s) const;
  void paintRibs(Canvas& c, const Slice& s) const;
  void paintCurvedBone(Canvas& c, const std::array<std::array<double, 2>, 3>& bezier, double from,
                       double to, const std::array<double, 3>& radii) const;
  void paintPelvis(Canvas& c, const Slice& s) const;
  // Arms beside the body (armsDown_), from the hips to the shoulders: skin,
  // fat, muscle, humerus above the elbow and radius and ulna below.
  void paintArms(Canvas& c, const Slice& s, bool zoneOnly) const;
  void paintImplants(Canvas& c, const Slice& s) const;
  // The table's top at image x (mm): where the patient (or the pad) lies.
  double tableTop(double x) const { return tableTopY_ - tableCurve_ * x * x; }

  double extent_ = 600, width_ = 340, fov_ = 450;
  TissueStyle style_;

  // Body shape.
  double aspect_ = 0.7, flat_ = 0.9, square_ = 0.04, offX_ = 0, tableTopY_ = 0;
  double tableCurve_ = 0, tableGap_ = 0, tableThick_ = 40, tableHalfWidth_ = 220;
  double rollBase_ = 0;
  PhantomTable table_ = PhantomTable::kCurved;
  double padMm_ = 0, padHu_ = -800;  // the mattress of kPadded (0 otherwise)
  Wiggle wiggleX_, wiggleRoll_, wiggleW_;
  Blob bodyAbdomen_, bodyThorax_;  // harmonics, blended along z
  double hips_ = 1.03, waist_ = 0.94, chest_ = 0.98, belly_ = 1.0;
  double fat_ = 15, muscle_ = 11, paraspinal_ = 45;
  bool armsDown_ = false;
  double armGap_ = 15, armRu_ = 42, armRv_ = 38, armFat_ = 8, armBoneR_ = 11, elbowT_ = 0.56;

  // HU design for this case.
  double liverHu_ = 55, spleenHu_ = 45, kidneyHu_ = 35, muscleHu_ = 45, fatHu_ = -100;
  double lungHu_ = -860, marrowHu_ = 300, cortexHu_ = 1100, bloodHu_ = 40;
  double airHu_ = -955;  // gas inside the body (bowel, airways, sinuses)

  // Landmarks (fractions of the extent).
  double tSacrum_ = 0.23, tL1_ = 0.5;
  double domeApexR_ = 0.655, domeApexL_ = 0.64, liverTip_ = 0.38;

  // Organs and structures in body coordinates (mm).
  Ellipsoid domeR_, domeL_;
  double domeCentreT_ = 0.5;
  Ellipsoid heart_, spleen_, spleenNotch_, stomach_, bladder_, pelvicOrgan_, gallbladder_;
  bool hasGallbladder_ = true;
  double stomachGasLevel_ = 0, stomachContentHu_ = 20;
  double liverSize_ = 1, leftLobe_ = 1;
  Blob liverRight_, liverLeft_, lungShape_;
  struct Kidney {
    Ellipsoid organ, sinus;
  };
  Kidney kidneys_[2];
  std::vector<Loop> bowel_, colon_;
  std::vector<Piece> pancreas_, lungVessels_, bronchi_, mesentery_;
  std::vector<Rib> ribs_[2];
  double aortaR_ = 11, esophagusAir_ = 0, psoas_ = 1;
  double hipU_ = 100, hipV_ = 0, hipZ_ = 40, headR_ = 23;
  std::vector<Piece> pelvicBones_;  // pubic rami and ischia

  // Metal (PhantomMetal): hip prostheses replace the femoral head and neck
  // of their side; screws, their heads and the rods of a spinal fixation.
  double metalHu_ = 3500;
  bool hipImplant_[2] = {false, false};
  double ballR_ = 20;
  std::vector<Piece> stems_, spinalHardware_;
};

Torso::Torso(std::uint64_t seed, double widthMm, double fovMm, const AnatomyOptions& options)
    : width_(widthMm), fov_(fovMm), table_(options.table), armsDown_(options.armsDown) {
  const ContrastPhase phase = options.phase;
  const double fatScale = options.fatScale;
  Rng rng(seed);
  Rng shape = rng.fork(1), organs = rng.fork(2), hu = rng.fork(3), bones = rng.fork(4),
      bowel = rng.fork(5), vessels = rng.fork(6), arms = rng.fork(7);
  // Forked after the original streams and drawn in full whatever the
  // options, so that a table or an implant changes nothing else.
  Rng extras = rng.fork(8);
  const double scale = width_ / 340.0;  // anatomy in mm scales with the patient
  extent_ = shape.uniform(560, 640) * std::sqrt(scale);

  aspect_ = shape.uniform(0.6, 0.78);
  flat_ = shape.uniform(0.86, 0.93);
  square_ = -shape.uniform(0.015, 0.05);
  offX_ = shape.uniform(-0.03, 0.03) * fov_;
  rollBase_ = deg(shape.uniform(-3.5, 3.5));
  wiggleX_ = Wiggle(shape, 4.0, 150);
  wiggleRoll_ = Wiggle(shape, deg(1.2), 200);
  wiggleW_ = Wiggle(shape, 0.025, 120);
  randomHarmonics(shape, bodyAbdomen_, 0.035);
  randomHarmonics(shape, bodyThorax_, 0.03);
  bodyAbdomen_.sa[0] -= shape.uniform(0.0, 0.05);  // belly: rounder anteriorly
  hips_ = shape.uniform(0.98, 1.1);
  waist_ = shape.uniform(0.88, 0.98);
  chest_ = shape.uniform(0.94, 1.02);
  belly_ = shape.uniform(0.95, 1.08);
  fat_ = shape.uniform(5, 32) * scale * fatScale;
  muscle_ = shape.uniform(8, 14) * scale;
  paraspinal_ = shape.uniform(38, 52) * scale;
  const double dRef = 0.5 * width_ * aspect_;
  tableTopY_ = shape.uniform(-0.02, 0.05) * fov_ + 0.5 * dRef * (1 + flat_);
  tableCurve_ = shape.uniform(8, 16) / (200.0 * 200.0);
  tableGap_ = shape.uniform(0.0, 2.0);
  tableThick_ = shape.uniform(32, 48);
  tableHalfWidth_ = shape.uniform(200, 240);

  // Tissue HU for this case: overlapping on purpose (docs/PHANTOMS.md).
  liverHu_ = std::clamp(hu.normal(57, 6), 42.0, 72.0);
  spleenHu_ = std::clamp(hu.normal(47, 6), 32.0, 62.0);
  kidneyHu_ = std::clamp(hu.normal(35, 6), 22.0, 50.0);
  muscleHu_ = std::clamp(hu.normal(46, 5), 32.0, 60.0);
  fatHu_ = hu.normal(-98, 6);
  lungHu_ = hu.normal(-862, 15);
  marrowHu_ = hu.uniform(280, 360);
  cortexHu_ = hu.uniform(1050, 1400);
  bloodHu_ = hu.uniform(35, 48);
  airHu_ = hu.uniform(-968, -945);
  // After every draw, so that the phase changes nothing else (phantom.h).
  if (phase == ContrastPhase::kArterial) {
    bloodHu_ += 250;
    kidneyHu_ += 110;
    spleenHu_ += 50;
    liverHu_ += 15;
  } else if (phase == ContrastPhase::kPortalVenous) {
    bloodHu_ += 130;
    kidneyHu_ += 120;
    spleenHu_ += 65;
    liverHu_ += 55;
  }
  style_.textureHu = {0, 10, 8, 45, 30, 7, 7, 7, 0, 10};
  // Arms scale with the width like the rest, so that the body with its arms
  // keeps its shape at any size and the field-of-view calibration (block
  // occupancy against size) stays monotonic.
  armGap_ = arms.uniform(2, 12) * scale;
  armRu_ = arms.uniform(40, 50) * scale;
  armRv_ = armRu_ * arms.uniform(0.82, 0.95);
  armFat_ = arms.uniform(3, 12) * scale * fatScale;
  armBoneR_ = arms.uniform(10, 13) * scale;
  elbowT_ = arms.uniform(0.52, 0.6);

  tSacrum_ = bones.uniform(0.215, 0.245);
  tL1_ = bones.uniform(0.48, 0.52);
  domeApexR_ = organs.uniform(0.645, 0.675);
  domeApexL_ = domeApexR_ - organs.uniform(0.005, 0.03);
  liverTip_ = organs.uniform(0.36, 0.41);

  // Reference slices for structures defined in 3D.
  const Slice upperAbdomen = sliceAt(0.5);
  const Slice heartLevel = sliceAt(0.7);
  const Slice kidneyLevel = sliceAt(0.43);
  const Slice pelvis = sliceAt(0.08);

  // Diaphragm domes: ellipsoids whose sections push the lungs up; centred
  // anteriorly so the posterior recesses reach lowest.
  {
    const Slice& s = upperAbdomen;
    const double rz = 0.15 * extent_;
    for (double sgn : {-1.0, 1.0}) {
      const double apex = (sgn < 0 ? domeApexR_ : domeApexL_) * extent_;
      (sgn < 0 ? domeR_ : domeL_) =
          Ellipsoid::make(sgn * 0.4 * s.cavity.ru, s.cavity.cv - 0.2 * s.cavity.rv, apex - rz,
                          0.72 * s.cavity.ru, 1.25 * s.cavity.rv, rz);
    }
    domeCentreT_ = std::max(domeR_.cz, domeL_.cz) / extent_;
  }
  {
    const Slice& s = heartLevel;
    const double k = organs.uniform(0.9, 1.1);
    heart_ = Ellipsoid::make(0.1 * s.cavity.ru + organs.uniform(-6, 6),
                             s.cavity.cv - 0.2 * s.cavity.rv, organs.uniform(0.69, 0.72) * extent_,
                             0.34 * s.cavity.ru * k, 0.45 * s.cavity.rv * k, 0.085 * extent_ * k,
                             deg(organs.uniform(-40, -25)), deg(organs.uniform(5, 15)));
  }
  {
    const Slice& s = upperAbdomen;
    const double k = organs.uniform(0.8, 1.2);
    const double zc = organs.uniform(0.52, 0.55) * extent_;
    spleen_ = Ellipsoid::make(0.62 * s.cavity.ru, s.cavity.cv + 0.45 * s.cavity.rv, zc,
                              0.17 * s.cavity.ru * k, 0.33 * s.cavity.rv * k, 0.075 * extent_ * k,
                              deg(organs.uniform(45, 65)), deg(organs.uniform(-15, 0)));
    spleenNotch_ = Ellipsoid::make(0.45 * s.cavity.ru, s.cavity.cv + 0.3 * s.cavity.rv, zc,
                                   0.11 * s.cavity.ru * k, 0.2 * s.cavity.rv * k, 0.1 * extent_);
    stomach_ = Ellipsoid::make(0.3 * s.cavity.ru, s.cavity.cv - 0.25 * s.cavity.rv,
                               organs.uniform(0.56, 0.6) * extent_, 0.27 * s.cavity.ru,
                               0.27 * s.cavity.rv, 0.09 * extent_, deg(organs.uniform(10, 40)));
    stomachGasLevel_ = organs.uniform(-1.0, 0.2);
    stomachContentHu_ = organs.uniform(5, 35);
    hasGallbladder_ = organs.chance(0.6);
    gallbladder_ = Ellipsoid::make(-0.28 * s.cavity.ru, s.cavity.cv - 0.35 * s.cavity.rv,
                                   organs.uniform(0.45, 0.5) * extent_, organs.uniform(10, 16),
                                   organs.uniform(14, 22), organs.uniform(22, 32),
                                   deg(organs.uniform(40, 70)));
    liverSize_ = organs.uniform(0.9, 1.1);
    leftLobe_ = organs.uniform(0.6, 1.25);
    liverRight_.square = -organs.uniform(0.0, 0.04);
    randomHarmonics(organs, liverRight_, 0.08);
    randomHarmonics(organs, liverLeft_, 0.08);
    lungShape_.square = -organs.uniform(0.01, 0.04);
    randomHarmonics(organs, lungShape_, 0.04);
    // Pancreas: head by the duodenum, body over the spine, tail at the splenic hilum.
    const double pz = organs.uniform(0.46, 0.5) * extent_;
    const Point3 head{-0.15 * s.cavity.ru, s.vbV - s.vbRv - 28, pz - 10};
    const Point3 body{0.05 * s.cavity.ru, s.vbV - s.vbRv - 24, pz};
    const Point3 tail{0.42 * s.cavity.ru, s.vbV - 8, pz + 12};
    pancreas_ = {makePiece(head, body, organs.uniform(9, 13)),
                 makePiece(body, tail, organs.uniform(7, 10))};
  }
  for (int side = 0; side < 2; ++side) {
    const double sgn = side == 0 ? -1.0 : 1.0;  // 0: right (u < 0), 1: left
    const Slice& s = kidneyLevel;
    const double k = organs.uniform(0.9, 1.12);
    const double zc =
        (side == 0 ? organs.uniform(0.41, 0.44) : organs.uniform(0.43, 0.46)) * extent_;
    const double cu = sgn * (s.vbRu + organs.uniform(34, 46));
    const double cv = s.canalV - organs.uniform(8, 16);
    const double yaw = sgn * -deg(organs.uniform(30, 50));
    const double ru = 27 * k, rv = 19 * k, rz = 56 * k;
    kidneys_[side].organ = Ellipsoid::make(cu, cv, zc, ru, rv, rz, yaw, deg(sgn * 8));
    // Renal sinus fat opens towards the hilum: the short axis pointing
    // medially and anteriorly.
    double nu = -std::sin(yaw), nv = std::cos(yaw);
    if (-sgn * nu - nv < 0) {
      nu = -nu;
      nv = -nv;
    }
    kidneys_[side].sinus = Ellipsoid::make(cu + 0.55 * rv * nu, cv + 0.55 * rv * nv, zc, 0.5 * ru,
                                           0.45 * rv, 0.55 * rz, yaw);
  }
  psoas_ = organs.uniform(0.85, 1.2);
  {
    const Slice& s = pelvis;
    bladder_ = Ellipsoid::make(organs.uniform(-8, 8), s.cavity.cv - 0.3 * s.cavity.rv,
                               organs.uniform(0.06, 0.1) * extent_, organs.uniform(28, 50),
                               organs.uniform(22, 40), organs.uniform(25, 45));
    pelvicOrgan_ =
        Ellipsoid::make(0, s.cavity.cv + 0.12 * s.cavity.rv, 0.06 * extent_, organs.uniform(18, 35),
                        organs.uniform(15, 25), organs.uniform(20, 35));
    hipU_ = 0.6 * s.cavity.ru + bones.uniform(-5, 5);
    hipV_ = s.cavity.cv + bones.uniform(-8, 4);
    hipZ_ = bones.uniform(0.06, 0.085) * extent_;
    headR_ = bones.uniform(21, 25) * std::sqrt(scale);
    for (double sgn : {-1.0, 1.0}) {
      pelvicBones_.push_back(makePiece({sgn * (hipU_ - 18), hipV_ - 22, hipZ_ - 12},
                                       {sgn * 7, s.cavity.cv - 0.7 * s.cavity.rv, 0.01 * extent_},
                                       bones.uniform(8, 10)));
      pelvicBones_.push_back(makePiece({sgn * (hipU_ - 8), hipV_ + 22, hipZ_ - 8},
                                       {sgn * (hipU_ - 22), hipV_ + 40, -30},
                                       bones.uniform(11, 14)));
    }
  }

  // Small bowel: fluid-filled or collapsed loops, some with gas.
  const int loops = static_cast<int>(bowel.uniform(55, 85));
  for (int i = 0; i < loops; ++i) {
    const double z = bowel.uniform(0.1, 0.52) * extent_;
    const Slice s = sliceAt(z / extent_);
    Loop loop;
    const double r = bowel.uniform(9, 16), half = bowel.uniform(18, 42);
    const double cu = bowel.uniform(-0.62, 0.62) * s.cavity.ru;
    const double cv = s.cavity.cv + bowel.uniform(-0.75, 0.3) * s.cavity.rv;
    const double yaw = bowel.uniform(0, kPi), pitch = bowel.uniform(-1.3, 1.3);
    const Point3 d{std::cos(yaw) * std::cos(pitch) * half, std::sin(yaw) * std::cos(pitch) * half,
                   std::sin(pitch) * half};
    loop.piece = makePiece({cu - d[0], cv - d[1], z - d[2]}, {cu + d[0], cv + d[1], z + d[2]}, r);
    loop.contentHu = bowel.uniform(0, 35);
    loop.gas = bowel.chance(0.25);
    loop.gasLevel = bowel.uniform(-0.6, 0.5);
    bowel_.push_back(loop);
  }
  // Colon frame: caecum, ascending, transverse (sagging), descending, sigmoid, rectum.
  {
    const std::array<std::array<double, 3>, 11> path = {{{0.19, -0.6, -0.05},
                                                         {0.3, -0.68, 0.05},
                                                         {0.44, -0.6, -0.15},
                                                         {0.41, -0.25, -0.55},
                                                         {0.39, 0.1, -0.62},
                                                         {0.49, 0.6, -0.1},
                                                         {0.38, 0.7, 0.1},
                                                         {0.22, 0.66, 0.05},
                                                         {0.13, 0.3, -0.25},
                                                         {0.09, 0.02, 0.5},
                                                         {-0.02, 0.0, 0.55}}};
    std::vector<Point3> points;
    for (const auto& p : path) {
      const double t = p[0] + bowel.uniform(-0.015, 0.015);
      const Slice s = sliceAt(std::max(t, 0.0));
      points.push_back({(p[1] + bowel.uniform(-0.05, 0.05)) * s.cavity.ru,
                        s.cavity.cv + (p[2] + bowel.uniform(-0.05, 0.05)) * s.cavity.rv,
                        t * extent_});
    }
    const double radius = bowel.uniform(17, 24);
    for (std::size_t i = 0; i + 1 < points.size(); ++i) {
      for (int part = 0; part < 2; ++part) {
        const double a = part / 2.0, b = (part + 1) / 2.0;
        Point3 p0, p1;
        for (int k = 0; k < 3; ++k) {
          p0[k] = lerp(points[i][k], points[i + 1][k], a);
          p1[k] = lerp(points[i][k], points[i + 1][k], b);
        }
        Loop loop;
        const double r = i >= 8 ? radius * 0.75 : radius;
        loop.piece = makePiece(p0, p1, r * bowel.uniform(0.85, 1.1));
        loop.wallMm = 2.0;
        loop.gas = bowel.chance(0.55);
        loop.gasLevel = bowel.uniform(-0.4, 0.9);
        loop.contentHu = bowel.uniform(-40, 30);  // stool
        colon_.push_back(loop);
      }
    }
  }

  // Duodenum: a C around the pancreatic head, from the pylorus to the
  // duodenojejunal flexure.
  {
    const std::array<std::array<double, 3>, 7> path = {{{0.5, 0.05, -0.35},
                                                        {0.49, -0.18, -0.3},
                                                        {0.46, -0.32, -0.05},
                                                        {0.42, -0.3, 0.0},
                                                        {0.405, 0.0, -0.08},
                                                        {0.43, 0.14, -0.12},
                                                        {0.46, 0.16, -0.2}}};
    std::vector<Point3> points;
    for (const auto& p : path) {
      const Slice s = sliceAt(p[0]);
      points.push_back({(p[1] + bowel.uniform(-0.03, 0.03)) * s.cavity.ru,
                        s.cavity.cv + (p[2] + bowel.uniform(-0.03, 0.03)) * s.cavity.rv,
                        p[0] * extent_});
    }
    const double r = bowel.uniform(9, 13);
    for (std::size_t i = 0; i + 1 < points.size(); ++i) {
      Loop loop;
      loop.piece = makePiece(points[i], points[i + 1], r);
      loop.contentHu = bowel.uniform(5, 30);
      loop.gas = bowel.chance(0.2);
      loop.gasLevel = bowel.uniform(-0.5, 0.3);
      bowel_.push_back(loop);
    }
  }

  // Lung vessels: a branching tree per lung from the hilum.
  for (int side = 0; side < 2; ++side) {
    const double sgn = side == 0 ? -1.0 : 1.0;
    const Slice& s = heartLevel;
    const Point3 hilum{sgn * 0.3 * s.cavity.ru, s.cavity.cv + 0.05 * s.cavity.rv, 0.78 * extent_};
    growTree(vessels, hilum,
             {{sgn * 0.5, 0.0, 0.85},
              {sgn * 0.4, -0.5, 0.6},
              {sgn * 0.8, -0.4, 0.1},
              {sgn * 0.8, 0.4, 0.2},
              {sgn * 0.7, 0.3, -0.6},
              {sgn * 0.3, 0.7, -0.65},
              {sgn * 0.6, -0.3, -0.75},
              {sgn * 0.2, -0.6, -0.5}},
             5.0, 32, 6, lungVessels_);
  }
  // Mesenteric vessels fanning out from the root of the mesentery.
  {
    const Slice& s = upperAbdomen;
    const Point3 root{0.03 * s.cavity.ru, s.vbV - s.vbRv - 22, 0.46 * extent_};
    growTree(vessels, root,
             {{-0.4, -0.5, -0.75}, {0.0, -0.7, -0.7}, {0.45, -0.45, -0.75}, {0.7, -0.3, -0.6}}, 3.5,
             30, 4, mesentery_);
  }
  // Main bronchi from the carina.
  {
    const Slice& s = heartLevel;
    const double vT = s.vbV - s.vbRv - 24;
    for (int side = 0; side < 2; ++side) {
      const double sgn = side == 0 ? -1.0 : 1.0;
      bronchi_.push_back(makePiece({0, vT, 0.84 * extent_},
                                   {sgn * 0.3 * s.cavity.ru, vT + 10, 0.785 * extent_}, 6.5));
    }
  }
  aortaR_ = vessels.uniform(10, 13) * std::sqrt(scale);
  esophagusAir_ = vessels.chance(0.35) ? vessels.uniform(1.5, 3.5) : 0.0;

  // Ribs 1-12 leave thoracic vertebra i near its upper end plate.
  const double hT = (1.02 - tL1_) * extent_ / 12;
  for (int side = 0; side < 2; ++side) {
    for (int i = 1; i <= 12; ++i) {
      Rib rib;
      rib.zOrigin = (1.02 * extent_ - (i - 1) * hT) - 0.3 * hT + bones.uniform(-2, 2);
      rib.drop = (i == 1    ? 22.0
                  : i <= 10 ? 55.0 + 5.0 * i
                  : i == 11 ? 40.0
                            : 25.0) *
                 bones.uniform(0.85, 1.15) * std::sqrt(scale);
      rib.thetaEnd = deg(i <= 7 ? -55 : i <= 10 ? -35 + 6 * (i - 8) : i == 11 ? 5 : 35);
      rib.thetaCart = deg(i <= 7 ? -85 + 3 * i : i <= 10 ? -60 + 5 * (i - 8) : (i == 11 ? 5 : 35));
      rib.radius = (i <= 2 ? 4.0 : 3.5) * bones.uniform(0.9, 1.1);
      ribs_[side].push_back(rib);
    }
  }

  // Tables: a flat top is thicker and has no curve; a pad lifts the patient
  // (half of it taken from the table's position, so the body stays about
  // as centred).
  const double flatThick = extras.uniform(45, 60), pad = extras.uniform(15, 40);
  padHu_ = extras.uniform(-900, -700);
  if (table_ == PhantomTable::kFlat) {
    tableCurve_ = 0;
    tableThick_ = flatThick;
  } else if (table_ == PhantomTable::kPadded) {
    padMm_ = pad;
    tableTopY_ += 0.5 * pad;
  }

  // Implants, drawn in full for every case.
  metalHu_ = extras.uniform(3200, 4500);
  const double sideDraw = extras.uniform();
  const bool both = sideDraw < 0.25, left = sideDraw < 0.625;
  ballR_ = std::max(12.0, headR_ - extras.uniform(2.5, 4.5));
  const int levels = 2 + static_cast<int>(extras.uniform(0, 2.999));
  const int lowest = static_cast<int>(extras.uniform(0, 5 - levels + 0.999));
  const double screwR = extras.uniform(2.9, 3.6), rodR = extras.uniform(2.5, 3.1);
  if (options.metal == PhantomMetal::kHip) {
    for (int side = 0; side < 2; ++side) {
      hipImplant_[side] = both || (side == 1) == left;
      if (!hipImplant_[side]) continue;
      const double sgn = side == 0 ? -1.0 : 1.0;
      const Point3 ball{sgn * hipU_, hipV_, hipZ_};
      const Point3 neck{sgn * (hipU_ + 34), hipV_ + 4, hipZ_ - 40};
      const Point3 tip{sgn * (hipU_ + 38), hipV_ + 4, hipZ_ - 170};
      stems_.push_back(makePiece(ball, neck, 7.0));
      stems_.push_back(makePiece(neck, tip, 6.0));
    }
  } else if (options.metal == PhantomMetal::kSpine) {
    // Pedicle screws from the posterior elements into the vertebral body of
    // each instrumented lumbar level (0 = L5), joined by a rod on each side.
    const double zs = tSacrum_ * extent_, h = (tL1_ - tSacrum_) * extent_ / 5;
    std::array<std::vector<Point3>, 2> heads;
    for (int k = lowest; k < lowest + levels; ++k) {
      const double z = zs + (k + 0.38) * h;
      const Slice s = sliceAt(z / extent_);
      const double r = s.canalR;
      for (int side = 0; side < 2; ++side) {
        const double sgn = side == 0 ? -1.0 : 1.0;
        const Point3 entry{s.canalU + sgn * (r + 9), s.canalV + 0.5 * r + 3, z};
        const Point3 tip{s.canalU + sgn * 0.2 * s.vbRu, s.vbV - 0.2 * s.vbRv, z};
        spinalHardware_.push_back(makePiece(entry, tip, screwR));
        const Point3 head{entry[0], entry[1] + 5, z};
        spinalHardware_.push_back(makePiece(head, head, 5.5));
        heads[side].push_back(head);
      }
    }
    for (const auto& column : heads) {
      Point3 below = column.front(), above = column.back();
      below[2] -= 8;
      above[2] += 8;
      std::vector<Point3> path{below};
      path.insert(path.end(), column.begin(), column.end());
      path.push_back(above);
      for (std::size_t i = 0; i + 1 < path.size(); ++i)
        spinalHardware_.push_back(makePiece(path[i], path[i + 1], rodR));
    }
  }
}

Torso::Slice Torso::sliceAt(double t) const {
  Slice s;
  s.t = t;
  s.z = t * extent_;
  const double w = 0.5 * width_;
  const double widthProfile = piecewise<6>({{{0.0, hips_},
                                             {0.14, hips_},
                                             {0.3, waist_},
                                             {0.45, waist_ * 1.01},
                                             {0.68, chest_},
                                             {1.0, chest_ * 0.99}}},
                                           t);
  const double depthProfile = piecewise<6>(
      {{{0.0, 0.93}, {0.15, 0.97}, {0.35, belly_}, {0.55, 0.99}, {0.8, 0.95}, {1.0, 0.9}}}, t);
  s.halfWidth = w * widthProfile * (1 + wiggleW_(s.z));
  s.halfDepth = w * aspect_ * depthProfile;
  const double thorax = smoothstep(0.52, 0.7, t);

  Blob& body = s.body;
  body.ru = s.halfWidth;
  body.rv = s.halfDepth;
  body.square = square_ - 0.01 * thorax;
  for (int k = 0; k < 4; ++k) {
    body.ca[k] = lerp(bodyAbdomen_.ca[k], bodyThorax_.ca[k], thorax);
    body.sa[k] = lerp(bodyAbdomen_.sa[k], bodyThorax_.sa[k], thorax);
  }
  body.prepare();
  // The table flattens the back: it touches the outline's posterior point.
  s.backV = flat_ * body.boundary(kPi / 2)[1];

  const double skin = 2.0;
  const double pelvisWeight = smoothstep(0.3, 0.12, t);
  const double fatAnt = fat_ * (1.0 - 0.35 * thorax), fatLat = 0.8 * fat_ * (1 - 0.3 * thorax),
               fatPost = 0.45 * fat_ * (1 + 0.5 * pelvisWeight);
  const double ant = -s.halfDepth + skin + fatAnt, post = s.backV - skin - fatPost;
  s.fatInner = body;
  s.fatInner.ru = s.halfWidth - skin - fatLat;
  s.fatInner.cv = 0.5 * (ant + post);
  s.fatInner.rv = 0.5 * (post - ant);
  s.fatInner.prepare();

  const double pecs = 14 * smoothstep(0.72, 0.85, t);
  // Chest wall: ribs with intercostals inside, latissimus and serratus outside.
  const double chestWall = 9 * smoothstep(0.42, 0.55, t);
  const double mLat = muscle_ + 22 * pelvisWeight + chestWall, mAnt = muscle_ * 0.9 + pecs;
  const double mPost = muscle_ + 20 * pelvisWeight;
  s.cavity = s.fatInner;
  const double cAnt = ant + mAnt, cPost = post - mPost;
  s.cavity.ru = s.fatInner.ru - mLat;
  s.cavity.cv = 0.5 * (cAnt + cPost);
  s.cavity.rv = 0.5 * (cPost - cAnt);
  s.cavity.square = 0.6 * body.square;
  s.cavity.prepare();

  // Spine: lordosis / kyphosis as a gentle curve in depth.
  const double lumbar = smoothstep(tL1_ + 0.05, tL1_ - 0.1, t);
  const double depth = paraspinal_ * lerp(0.85, 1.1, lumbar);
  s.canalR = lerp(7.5, 9.5, lumbar);
  s.canalU = 0.5 * wiggleX_(s.z * 0.7);
  s.canalV = post - depth + 6 * std::sin(kPi * t);
  s.vbRu = lerp(14.0, 23.0, smoothstep(0.85, 0.3, t)) * width_ / 340.0;
  s.vbRv = lerp(11.0, 16.0, smoothstep(0.85, 0.3, t)) * width_ / 340.0;
  s.vbV = s.canalV - s.canalR - 2 - s.vbRv;

  s.cx = offX_ + wiggleX_(s.z);
  s.cy = tableTopY_ - tableGap_ - padMm_ - s.backV;
  s.roll = rollBase_ + wiggleRoll_(s.z);
  s.cosRoll = std::cos(s.roll);
  s.sinRoll = std::sin(s.roll);
  return s;
}

void Torso::setFrame(Canvas& c, const Slice& s) const {
  const Frame& im = c.image;
  const double cs = s.cosRoll, sn = s.sinRoll;
  Frame& f = c.body;
  f = im;
  f.u0 = cs * (im.u0 - s.cx) + sn * (im.v0 - s.cy);
  f.v0 = -sn * (im.u0 - s.cx) + cs * (im.v0 - s.cy);
  f.ui = cs * im.ui + sn * im.vi;
  f.vi = -sn * im.ui + cs * im.vi;
  f.uj = cs * im.uj + sn * im.vj;
  f.vj = -sn * im.uj + cs * im.vj;
}

// The body rests on the table: nothing of it lies below the table's top.
bool Torso::onTableSide(double u, double v, const Slice& s) const {
  const double x = s.cx + s.cosRoll * u - s.sinRoll * v, y = s.cy + s.sinRoll * u + s.cosRoll * v;
  return y > tableTopY_ - tableGap_ - padMm_ - tableCurve_ * x * x;
}

void Torso::paintTable(Canvas& c) const {
  // A carbon shell sandwich: two dense skins around a foam core (a flat top
  // also has two webs inside), under the pad if there is one. Not body.
  const Box box{-tableHalfWidth_, tableTopY_ - 20 - padMm_, tableHalfWidth_,
                tableTopY_ + tableThick_ + 2};
  const std::uint8_t bg = labelValue(L::kBackground);
  const bool flat = table_ == PhantomTable::kFlat;
  forEachPixel(c.image, box, [&](int index, double x, double y) {
    if (std::abs(x) > tableHalfWidth_) return;
    const double d = y - tableTop(x);
    const double edge = tableHalfWidth_ - std::abs(x);
    if (d < 0) {
      if (d >= -padMm_ && edge > 12) {
        c.label[index] = bg;
        c.hu[index] = static_cast<float>(padHu_);
      }
      return;
    }
    if (d > tableThick_) return;
    const bool shell = d < 2.5 || d > tableThick_ - 2.5 || edge < 3 ||
                       (flat && std::abs(std::abs(x) - 0.35 * tableHalfWidth_) < 1.5);
    c.label[index] = bg;
    c.hu[index] = shell ? 420.0f : -930.0f;
  });
}

void Torso::paintBodyZone(Canvas& c) const {
  const Slice s = sliceAt(c.t);
  setFrame(c, s);
  markZone(
      c, s.body.box(),
      [&](double u, double v) { return s.body.inside(u, v) && !onTableSide(u, v, s); }, kZoneBody);
  paintArms(c, s, true);
}

void Torso::paintArms(Canvas& c, const Slice& s, bool zoneOnly) const {
  if (!armsDown_ || s.t < 0.22 || s.t > 0.86) return;
  const std::uint8_t soft = labelValue(L::kSoftTissue), fat = labelValue(L::kFat);
  for (double side : {-1.0, 1.0}) {
    // Resting beside the body on the table, a little flattened by it.
    // Forearms (below the elbow) are slimmer than upper arms.
    const double k = s.t > elbowT_ ? 1.0 : 0.85, ru = k * armRu_, rv = k * armRv_;
    const double cu = side * (0.9 * s.halfWidth + armGap_ + ru), cv = s.backV - 0.9 * rv;
    const Ellipse arm = Ellipse::axes(cu, cv, ru, rv);
    const Ellipse dermis = arm.grown(-2.0), muscle = arm.grown(-2.0 - armFat_);
    forEachPixel(c.body, arm.box(), [&](int i, double u, double v) {
      if (c.zone[i] != 0 || !arm.inside(u, v) || onTableSide(u, v, s)) return;
      c.zone[i] |= kZoneBody;
      if (zoneOnly) return;
      const bool inFat = dermis.inside(u, v) && !muscle.inside(u, v);
      c.label[i] = inFat ? fat : soft;
      c.hu[i] = static_cast<float>(inFat                 ? fatHu_
                                   : dermis.inside(u, v) ? muscleHu_
                                                         : muscleHu_ - 12);
    });
    if (zoneOnly) continue;
    if (s.t > elbowT_ + 0.03) {
      paintBone(c, Ellipse::circle(cu, cv, armBoneR_), 3.0, cortexHu_, marrowHu_, kZoneBody);
    } else if (s.t > elbowT_ - 0.03) {
      paintBone(c, Ellipse::axes(cu, cv, 1.6 * armBoneR_, 1.1 * armBoneR_), 2.0, cortexHu_,
                marrowHu_, kZoneBody);
    } else {
      for (double d : {-0.4, 0.4})
        paintBone(c, Ellipse::circle(cu + d * ru, cv, 0.55 * armBoneR_), 1.5, cortexHu_, marrowHu_,
                  kZoneBody);
    }
  }
}

void Torso::paintLayers(Canvas& c, const Slice& s) const {
  // Skin, subcutaneous fat, muscle and the cavity (filled with fat) in one
  // pass: each layer lies inside the previous one.
  const Blob dermis = s.body.shrunk(2.0, 2.0);
  const std::uint8_t soft = labelValue(L::kSoftTissue), fat = labelValue(L::kFat);
  const float skinHu = static_cast<float>(muscleHu_ - 12), muscleHu = static_cast<float>(muscleHu_);
  const float fatHu = static_cast<float>(fatHu_), visceralHu = static_cast<float>(fatHu_ + 5);
  forEachPixel(c.body, s.body.box(), [&](int i, double u, double v) {
    // Most pixels lie in the cavity: test it first (it is inside the others).
    if (s.inCavity(u, v)) {
      c.zone[i] |= kZoneBody | kZoneInner | kZoneCavity;
      c.label[i] = fat;
      c.hu[i] = visceralHu;
      return;
    }
    if (s.body.rho(u, v) > 1 || onTableSide(u, v, s)) return;
    std::uint8_t zone = kZoneBody, label = soft;
    float hu = skinHu;
    if (dermis.rho(u, v) <= 1) {
      label = fat;
      hu = fatHu;
      if (s.fatInner.rho(u, v) <= 1) {
        zone |= kZoneInner;
        label = soft;
        hu = muscleHu;
      }
    }
    c.zone[i] |= zone;
    c.label[i] = label;
    c.hu[i] = hu;
  });
}

void Torso::paintThorax(Canvas& c, const Slice& s) const {
  const double t = s.t;
  const bool aboveDomes = t >= domeCentreT_;
  const double rc = s.cavity.ru, dc = s.cavity.rv, cvc = s.cavity.cv;
  if (aboveDomes) {
    // Lungs fill the hemithoraces; the apices taper.
    const double apex = t > 0.9 ? std::sqrt(std::max(0.0, 1 - std::pow((t - 0.9) / 0.14, 2))) : 1;
    for (double sgn : {-1.0, 1.0}) {
      Blob lung = lungShape_;
      lung.cu = sgn * 0.47 * rc;
      lung.cv = cvc + 0.05 * dc;
      lung.ru = 0.64 * rc * apex;
      lung.rv = 1.15 * dc * apex;
      if (sgn > 0) std::swap(lung.ca[0], lung.sa[0]);
      lung.prepare();
      paintRegion(
          c, lung.box(), [&](double u, double v) { return lung.inside(u, v); }, L::kLung,
          [&](double, double v) { return lungHu_ + 45 * (v - cvc) / dc; }, kZoneCavity);
    }
    // Mediastinum (fat) between the lungs, then the heart in its fat.
    Blob media;
    media.cu = 0.04 * rc;
    media.cv = cvc - 0.05 * dc;
    media.ru = lerp(0.2, 0.14, smoothstep(0.78, 0.92, t)) * rc;
    media.rv = 1.25 * dc;
    media.prepare();
    paintShape(c, media, L::kFat, fatHu_ + 8, kZoneCavity);
    if (auto h = heart_.section(s.z, 1.0 + 6.0 / 60))
      paintShape(c, *h, L::kFat, fatHu_, kZoneCavity);
    if (auto h = heart_.section(s.z)) paintShape(c, *h, L::kSoftTissue, bloodHu_, kZoneCavity);
  }
  // Below the domes: diaphragm muscle rim, abdominal fat, and the abdomen zone.
  for (const Ellipsoid* dome : {&domeR_, &domeL_}) {
    if (!aboveDomes) break;
    if (auto sec = dome->section(s.z)) {
      paintShape(c, sec->grown(4.0), L::kSoftTissue, muscleHu_, kZoneCavity);
      paintShape(c, *sec, L::kFat, fatHu_ + 5, kZoneCavity);
      markZone(
          c, sec->box(), [&](double u, double v) { return sec->inside(u, v); }, kZoneAbdomen,
          kZoneCavity);
    }
  }
  if (!aboveDomes)
    markZone(
        c, s.cavity.box(), [&](double u, double v) { return s.inCavity(u, v); }, kZoneAbdomen,
        kZoneCavity);
}

void Torso::paintLoops(Canvas& c, const std::vector<Loop>& loops, std::uint8_t zone) const {
  // Walls first, then contents, so touching pieces of one tube merge.
  for (const Loop& loop : loops) {
    if (missesSlice(loop.piece, c.zMm)) continue;
    if (auto e = loop.piece.e.section(c.zMm)) paintShape(c, *e, L::kSoftTissue, muscleHu_, zone);
  }
  for (const Loop& loop : loops) {
    if (missesSlice(loop.piece, c.zMm)) continue;
    const double inner = 1.0 - loop.wallMm / std::max(loop.piece.radius, 6.0);
    auto e = loop.piece.e.section(c.zMm, inner);
    if (!e) continue;
    paintShape(c, *e, L::kSoftTissue, loop.contentHu, zone);
    if (loop.gas) {
      const double level = e->cv + loop.gasLevel * loop.piece.radius;
      paintRegion(
          c, e->box(), [&](double u, double v) { return v < level && e->inside(u, v); },
          L::kInternalAir, airHu_, zone);
    }
  }
}

void Torso::paintAbdomen(Canvas& c, const Slice& s) const {
  const double t = s.t, z = s.z;
  const double rc = s.cavity.ru, dc = s.cavity.rv, cvc = s.cavity.cv;
  const std::uint8_t abd = kZoneCavity | kZoneAbdomen;
  paintLoops(c, bowel_, abd);
  paintLoops(c, colon_, abd);
  if (t > 0.03 && t < 0.5) {
    // Psoas: thin at L1, thick in the pelvis where it joins iliacus laterally.
    const double r = lerp(19.0, 5.0, smoothstep(0.15, 0.5, t)) * psoas_;
    const double pel = smoothstep(0.22, 0.08, t);
    for (double sgn : {-1.0, 1.0}) {
      const double cu = sgn * lerp(s.vbRu + 0.85 * r + 2, 0.45 * rc, pel);
      const double cv = lerp(s.vbV + 0.15 * s.vbRv, cvc + 0.15 * dc, pel);
      paintShape(c, Ellipse::axes(cu, cv, r, 1.15 * r, sgn * 0.3), L::kSoftTissue, muscleHu_, abd);
    }
  }
  if (t > 0.2 && t < 0.5) {
    // Quadratus lumborum against the posterior wall, lateral to the psoas.
    const double q = ellipsoidProfile(0.18, 0.52, t);
    for (double sgn : {-1.0, 1.0})
      paintShape(
          c, Ellipse::axes(sgn * (s.vbRu + 42), s.canalV - 2, 9 + 12 * q, 6 + 6 * q, sgn * -0.35),
          L::kSoftTissue, muscleHu_, abd);
  }
  if (auto e = stomach_.section(z)) {
    paintShape(c, *e, L::kSoftTissue, muscleHu_, abd);
    if (auto in = stomach_.section(z, 0.88)) {
      paintShape(c, *in, L::kSoftTissue, stomachContentHu_, abd);
      const Box b = in->box();
      const double level = in->cv + stomachGasLevel_ * 0.5 * (b.v1 - b.v0);
      paintRegion(
          c, b, [&](double u, double v) { return v < level && in->inside(u, v); }, L::kInternalAir,
          airHu_, abd);
    }
  }
  for (const Piece& p : pancreas_)
    if (auto e = p.e.section(z)) paintShape(c, *e, L::kSoftTissue, muscleHu_ - 6, abd);
  if (auto e = spleen_.section(z)) {
    const auto notch = spleenNotch_.section(z);
    paintRegion(
        c, e->box(),
        [&](double u, double v) { return e->inside(u, v) && !(notch && notch->inside(u, v)); },
        L::kSpleen, spleenHu_, abd);
  }
  // The right lobe narrows towards its inferior tip, which lies lateral and anterior.
  const double ls = smoothstep(liverTip_, liverTip_ + 0.12, t) * liverSize_;
  if (ls > 0.03) {
    Blob right = liverRight_;
    right.cu = (-0.5 - 0.25 * (1 - ls)) * rc;
    right.cv = cvc - 0.08 * dc - 0.15 * dc * (1 - ls);
    right.ru = 0.52 * rc * ls;
    right.rv = 0.8 * dc * ls;
    right.angle = 0.2;
    right.prepare();
    paintShape(c, right, L::kLiver, liverHu_, abd);
  }
  const double ll = smoothstep(0.47, 0.56, t) * leftLobe_;
  if (ll > 0.05) {
    Blob left = liverLeft_;
    left.cu = 0.02 * rc;
    left.cv = cvc - 0.5 * dc;
    left.ru = 0.45 * rc * ll;
    left.rv = 0.28 * dc * std::sqrt(ll);
    left.angle = -0.3;
    left.prepare();
    paintShape(c, left, L::kLiver, liverHu_, abd);
  }
  if (hasGallbladder_)
    if (auto e = gallbladder_.section(z)) paintShape(c, *e, L::kSoftTissue, 8, abd);
  for (const Kidney& k : kidneys_) {
    if (auto e = k.organ.section(z)) {
      paintShape(c, *e, L::kKidney, kidneyHu_, abd);
      if (auto f = k.sinus.section(z)) {
        paintShape(c, *f, L::kFat, fatHu_ + 10, abd);
        if (auto p = k.sinus.section(z, 0.45)) paintShape(c, *p, L::kSoftTissue, 10, abd);
      }
    }
  }
  if (auto e = bladder_.section(z)) {
    paintShape(c, *e, L::kSoftTissue, muscleHu_, abd);
    if (auto in = bladder_.section(z, 0.9)) paintShape(c, *in, L::kSoftTissue, 8, abd);
  }
  if (auto e = pelvicOrgan_.section(z)) paintShape(c, *e, L::kSoftTissue, muscleHu_ - 5, abd);
}

void Torso::paintVessels(Canvas& c, const Slice& s) const {
  const double t = s.t, z = s.z;
  const double rc = s.cavity.ru, dc = s.cavity.rv, cvc = s.cavity.cv;
  const std::uint8_t in = kZoneInner;
  const double th = smoothstep(0.55, 0.66, t);
  const double rA = aortaR_ * lerp(0.9, 1.12, th);
  const double descU = lerp(s.canalU + 0.35 * s.vbRu, s.canalU + s.vbRu + rA - 3, th);
  const double descV = lerp(s.vbV - s.vbRv - rA + 1, s.vbV - 0.2 * s.vbRv, th);
  if (t >= 0.2 && t <= 0.9)
    paintShape(c, Ellipse::circle(descU, descV, rA), L::kSoftTissue, bloodHu_, in);
  const double ascU = -0.08 * rc, ascV = cvc - 0.28 * dc, rAsc = 1.3 * aortaR_;
  if (t >= 0.73 && t <= 0.9)
    paintShape(c, Ellipse::circle(ascU, ascV, rAsc), L::kSoftTissue, bloodHu_, in);
  if (t >= 0.755 && t <= 0.805)
    paintShape(c, Ellipse::circle(0.08 * rc, cvc - 0.33 * dc, 13), L::kSoftTissue, bloodHu_, in);
  // Aortic arch: a horizontal tube from the ascending to the descending aorta.
  const double dzArch = z - 0.895 * extent_;
  if (std::abs(dzArch) < rA) {
    const double h = std::sqrt(rA * rA - dzArch * dzArch);
    const double au = ascU, av = ascV, bu = descU, bv = descV;
    const double lu = bu - au, lv = bv - av, l2 = lu * lu + lv * lv;
    const Box box{std::min(au, bu) - h, std::min(av, bv) - h, std::max(au, bu) + h,
                  std::max(av, bv) + h};
    paintRegion(
        c, box,
        [&](double u, double v) {
          const double k = std::clamp(((u - au) * lu + (v - av) * lv) / l2, 0.0, 1.0);
          const double du = u - au - k * lu, dv = v - av - k * lv;
          return du * du + dv * dv <= h * h;
        },
        L::kSoftTissue, bloodHu_, in);
  }
  if (t >= 0.22 && t <= 0.67)
    paintShape(c, Ellipse::axes(-(0.5 * s.vbRu + 14), s.vbV - s.vbRv - 6, 12, 9), L::kSoftTissue,
               bloodHu_ - 3, in);
  if (t >= 0.07 && t < 0.21) {
    const double f = (0.21 - t) / 0.14;
    for (double sgn : {-1.0, 1.0}) {
      paintShape(
          c, Ellipse::circle(sgn * lerp(8, 0.36 * rc, f), lerp(s.vbV - s.vbRv - 8, cvc, f), 6.5),
          L::kSoftTissue, bloodHu_, in);
      paintShape(c,
                 Ellipse::circle(sgn * lerp(16, 0.33 * rc, f),
                                 lerp(s.vbV - s.vbRv + 2, cvc + 0.12 * dc, f), 7.5),
                 L::kSoftTissue, bloodHu_ - 3, in);
    }
  }
  // Airways and oesophagus.
  const double vT = s.vbV - s.vbRv - 24;
  if (t >= 0.84) {
    paintShape(c, Ellipse::axes(0, vT, 10.5, 9.5), L::kSoftTissue, muscleHu_ + 20, in);
    paintShape(c, Ellipse::axes(0, vT, 8.5, 7.5), L::kInternalAir, airHu_ - 5, in);
  }
  for (const Piece& p : bronchi_) {
    if (missesSlice(p, z)) continue;
    if (auto e = p.e.section(z)) paintShape(c, *e, L::kSoftTissue, muscleHu_ + 20, in);
  }
  for (const Piece& p : bronchi_) {
    if (missesSlice(p, z)) continue;
    if (auto e = p.e.section(z, 0.72)) paintShape(c, *e, L::kInternalAir, airHu_ - 5, in);
  }
  if (t >= 0.6) {
    paintShape(c, Ellipse::circle(5, s.vbV - s.vbRv - 8, 7.5), L::kSoftTissue, muscleHu_, in);
    if (esophagusAir_ > 0)
      paintShape(c, Ellipse::circle(5, s.vbV - s.vbRv - 8, esophagusAir_), L::kInternalAir, airHu_,
                 in);
  }
  if (t >= 0.92) {
    paintShape(c, Ellipse::circle(-12, vT - 20, 7), L::kSoftTissue, bloodHu_, in);
    paintShape(c, Ellipse::circle(9, vT - 16, 5), L::kSoftTissue, bloodHu_, in);
    paintShape(c, Ellipse::circle(20, vT - 6, 6), L::kSoftTissue, bloodHu_, in);
  }
}

void Torso::paintSpine(Canvas& c, const Slice& s) const {
  const double z = s.z, zs = tSacrum_ * extent_, zL1 = tL1_ * extent_;
  if (z < zs) return;
  const bool lumbar = z < zL1;
  const double h = lumbar ? (zL1 - zs) / 5 : (1.02 * extent_ - zL1) / 12;
  const double x = (z - (lumbar ? zs : zL1)) / h;
  const double phase = x - std::floor(x);
  const double disc = lumbar ? 0.24 : 0.18;
  const std::uint8_t in = kZoneInner;
  const Ellipse body = Ellipse::axes(s.canalU, s.vbV, s.vbRu, s.vbRv);
  if (phase > 1 - disc) {
    paintShape(c, body.grown(1.0), L::kSoftTissue, 85, in);
  } else {
    const double toPlate = std::min(phase, 1 - disc - phase) * h;
    paintBone(c, body, 1.8, 0.85 * cortexHu_, toPlate < 1.5 ? 0.7 * cortexHu_ : marrowHu_, in);
  }
  paintShape(c, Ellipse::circle(s.canalU, s.canalV, s.canalR), L::kSoftTissue, 22, in);
  const double post = 0.75 * cortexHu_, r = s.canalR;
  const double cu = s.canalU, cv = s.canalV;
  if (phase > 0.25 && phase < 0.75)
    for (double sgn : {-1.0, 1.0})
      paintShape(c, Ellipse::axes(cu + sgn * (r + 2.5), cv - 1, 3.5, 0.9 * r), L::kBone, post, in);
  if (phase > 0.15 && phase < 0.95)
    for (double sgn : {-1.0, 1.0})
      paintShape(c, Ellipse::axes(cu + sgn * 0.6 * r, cv + r + 2.5, 0.85 * r, 3, sgn * 0.5),
                 L::kBone, post, in);
  const double spine = lumbar ? 28 : 32;
  if (phase > 0.1 && phase < 0.9)
    paintShape(c, Ellipse::axes(cu, cv + r + 4 + spine / 2, 3.5, spine / 2), L::kBone, post, in);
  if (phase > 0.35 && phase < 0.8) {
    const double len = lumbar ? 22 : 16;
    for (double sgn : {-1.0, 1.0})
      paintShape(c,
                 Ellipse::axes(cu + sgn * (r + 4 + len / 2), cv + (lumbar ? -2 : 4), len / 2, 4.5,
                               sgn * (lumbar ? 0.1 : 0.45)),
                 L::kBone, post, in);
  }
}

// A curved bone along a quadratic Bézier curve (parameter from..to), its
// radius interpolated through three values: cortex discs first, then
// marrow, so the overlapping discs form one bone.
void Torso::paintCurvedBone(Canvas& c, const std::array<std::array<double, 2>, 3>& b, double from,
                            double to, const std::array<double, 3>& radii) const {
  const double len = std::hypot(b[1][0] - b[0][0], b[1][1] - b[0][1]) +
                     std::hypot(b[2][0] - b[1][0], b[2][1] - b[1][1]);
  const int steps = std::max(2, static_cast<int>((to - from) * len / 1.2));
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i <= steps; ++i) {
      const double q = lerp(from, to, static_cast<double>(i) / steps);
      const double w0 = (1 - q) * (1 - q), w1 = 2 * q * (1 - q), w2 = q * q;
      const double u = w0 * b[0][0] + w1 * b[1][0] + w2 * b[2][0];
      const double v = w0 * b[0][1] + w1 * b[1][1] + w2 * b[2][1];
      const double r =
          q < 0.5 ? lerp(radii[0], radii[1], 2 * q) : lerp(radii[1], radii[2], 2 * q - 1);
      if (pass == 0)
        paintShape(c, Ellipse::circle(u, v, r), L::kBone, 0.9 * cortexHu_, kZoneInner);
      else if (r > 1.8)
        paintShape(c, Ellipse::circle(u, v, r - 1.3), L::kBone, marrowHu_, kZoneInner);
    }
  }
}

void Torso::paintRibs(Canvas& c, const Slice& s) const {
  const double t = s.t, z = s.z;
  if (t < 0.45) return;
  const double theta0 = deg(80);
  const double halfHeight = 5.5;
  struct Disc {
    double u, v, r;
    bool bone;
  };
  std::array<Disc, 512> discs;
  int count = 0;
  for (int side = 0; side < 2; ++side) {
    const double sgn = side == 0 ? -1.0 : 1.0;
    for (const Rib& rib : ribs_[side]) {
      auto psiAt = [&](double zz) {
        return zz >= rib.zOrigin ? 0.0 : std::pow((rib.zOrigin - zz) / rib.drop, 1 / 1.3);
      };
      const double span = theta0 - rib.thetaEnd;
      const double psiMax = (theta0 - rib.thetaCart) / span;
      const double psiA = psiAt(z + halfHeight), psiB = std::min(psiAt(z - halfHeight), psiMax);
      if (psiB <= psiA) continue;
      const double step = 1.2 / (span * 0.85 * s.cavity.ru);
      for (double psi = psiA; psi <= psiB && count < static_cast<int>(discs.size()); psi += step) {
        const double dz = std::abs(rib.zOrigin - rib.drop * std::pow(psi, 1.3) - z);
        if (dz > halfHeight) continue;
        const double theta = theta0 - psi * span;
        auto p = s.cavity.boundary(sgn > 0 ? theta : kPi - theta, 4.5);
        p[1] = std::min(p[1], s.cavityLimit(p[0]) + 6);
        const bool bone = psi <= 1.0;
        const double shrink = std::sqrt(1 - (dz / halfHeight) * (dz / halfHeight));
        discs[count++] = {p[0], p[1], rib.radius * (bone ? 1.0 : 0.85) * (0.55 + 0.45 * shrink),
                          bone};
      }
    }
  }
  for (int i = 0; i < count; ++i) {
    const Disc& d = discs[i];
    paintShape(c, Ellipse::circle(d.u, d.v, d.r), d.bone ? L::kBone : L::kSoftTissue,
               d.bone ? 0.8 * cortexHu_ : 115.0, kZoneBody);
  }
  for (int i = 0; i < count; ++i) {
    const Disc& d = discs[i];
    if (d.bone && d.r > 1.8)
      paintShape(c, Ellipse::circle(d.u, d.v, d.r - 1.2), L::kBone, marrowHu_ + 40, kZoneBody);
  }
  if (t > 0.66 && t < 0.93) {
    auto p = s.cavity.boundary(-kPi / 2, 6);
    const double ru = lerp(13.0, 24.0, smoothstep(0.86, 0.91, t)) * width_ / 340.0;
    paintBone(c, Ellipse::axes(p[0], p[1], ru, 6), 1.5, 0.8 * cortexHu_, marrowHu_, kZoneBody);
  }
  if (t > 0.8) {
    const double prof = ellipsoidProfile(0.79, 1.06, t);
    for (double sgn : {-1.0, 1.0}) {
      const double theta = sgn > 0 ? deg(52) : kPi - deg(52);
      const auto p = s.fatInner.boundary(theta, -10);
      const auto q = s.fatInner.boundary(theta + 0.05, -10);
      const double angle = std::atan2(q[1] - p[1], q[0] - p[0]);
      const Ellipse muscle = Ellipse::axes(p[0], p[1], 52 * prof + 10, 15, angle);
      const Ellipse blade = Ellipse::axes(p[0], p[1], 48 * prof, 3.5, angle);
      auto outsideCavity = [&](const Ellipse& e, TissueLabel label, double hu) {
        const std::uint8_t value = labelValue(label);
        forEachPixel(c.body, e.box(), [&](int index, double u, double v) {
          if ((c.zone[index] & kZoneBody) && !(c.zone[index] & kZoneCavity) && e.inside(u, v)) {
            c.label[index] = value;
            c.hu[index] = static_cast<float>(hu);
          }
        });
      };
      outsideCavity(muscle, L::kSoftTissue, muscleHu_);
      outsideCavity(blade, L::kBone, 0.85 * cortexHu_);
    }
  }
}

void Torso::paintPelvis(Canvas& c, const Slice& s) const {
  const double t = s.t, z = s.z;
  if (t > 0.32) return;
  const std::uint8_t in = kZoneInner;
  if (t < tSacrum_ + 0.004 && t > 0.02) {
    const double f = smoothstep(0.04, tSacrum_, t);
    const double ru = lerp(10.0, 50.0, f) * width_ / 340.0, rv = lerp(8.0, 15.0, f);
    const double cv = s.canalV - 4 + 22 * (1 - f);
    paintBone(c, Ellipse::axes(s.canalU, cv, ru, rv), 2.0, 0.85 * cortexHu_, marrowHu_, in);
    paintShape(c, Ellipse::circle(s.canalU, cv + 0.2 * rv, lerp(3.0, 7.0, f)), L::kSoftTissue, 22,
               in);
  }
  if (t > 0.12 && t < 0.3) {
    // Iliac wings: plates from the sacroiliac joints sweeping anterolaterally,
    // concave towards the pelvis; only their middle reaches the crest, and
    // lower down they converge on the acetabular roofs.
    const double crest = smoothstep(0.295, 0.25, t);
    const double low = smoothstep(0.17, 0.12, t);
    const double f = smoothstep(0.04, tSacrum_, t);
    const double sacRu = lerp(10.0, 50.0, f) * width_ / 340.0;
    const double sacCv = s.canalV - 4 + 22 * (1 - f);
    const double rc = s.cavity.ru, dc = s.cavity.rv, cvc = s.cavity.cv;
    for (double sgn : {-1.0, 1.0}) {
      std::array<std::array<double, 2>, 3> b = {{{sgn * (sacRu + 4), sacCv + 2},
                                                 {sgn * 0.9 * rc, sacCv - 8},
                                                 {sgn * 0.9 * rc, cvc - 0.2 * dc}}};
      const std::array<std::array<double, 2>, 3> roof = {{{sgn * (hipU_ - 12), hipV_ + 18},
                                                          {sgn * (hipU_ + 8), hipV_ + 8},
                                                          {sgn * (hipU_ + 6), hipV_ - 14}}};
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 2; ++k) b[i][k] = lerp(b[i][k], roof[i][k], low);
      paintCurvedBone(c, b, lerp(0.4, 0.0, crest), lerp(0.75, 1.0, crest),
                      {lerp(4.0, 7.5, crest) + 4 * low, 3.0 + 5 * low, 4.5 + 3 * low});
    }
  }
  for (double sgn : {-1.0, 1.0}) {
    const bool implant = hipImplant_[sgn > 0 ? 1 : 0];
    const Ellipsoid head = Ellipsoid::make(sgn * hipU_, hipV_, hipZ_, headR_, headR_, headR_);
    const Ellipsoid socket =
        Ellipsoid::make(sgn * hipU_, hipV_, hipZ_, headR_ + 9, headR_ + 9, headR_ + 9);
    if (auto e = socket.section(z); e && z > hipZ_ - 0.5 * headR_) {
      auto medial = [&](double u, double v) {
        return sgn * u < hipU_ + 0.3 * headR_ && e->inside(u, v);
      };
      paintRegion(c, e->box(), medial, L::kBone, 0.9 * cortexHu_, in);
      const Ellipse joint =
          head.section(z, 1.0 + 2.0 / headR_).value_or(Ellipse::circle(0, 0, 0.01));
      paintRegion(
          c, joint.box(), [&](double u, double v) { return medial(u, v) && joint.inside(u, v); },
          L::kSoftTissue, 30.0, in);
    }
    const Piece neck =
        makePiece({sgn * hipU_, hipV_, hipZ_}, {sgn * (hipU_ + 40), hipV_ + 6, hipZ_ - 28}, 13);
    if (!implant) {
      if (auto e = head.section(z)) paintBone(c, *e, 1.5, cortexHu_, marrowHu_, in);
      if (auto e = neck.e.section(z)) paintBone(c, *e, 2.0, cortexHu_, marrowHu_, in);
    }
    const Ellipsoid trochanter =
        Ellipsoid::make(sgn * (hipU_ + 48), hipV_ + 10, hipZ_ - 22, 15, 20, 22);
    if (auto e = trochanter.section(z)) paintBone(c, *e, 1.5, cortexHu_, marrowHu_, in);
    if (z < hipZ_ - 30)
      paintBone(c, Ellipse::circle(sgn * (hipU_ + 38), hipV_ + 4, 14), 4.0, 1.15 * cortexHu_, 60,
                in);
  }
  for (const Piece& p : pelvicBones_) {
    if (missesSlice(p, z)) continue;
    if (auto e = p.e.section(z)) paintBone(c, *e, 1.8, 0.9 * cortexHu_, marrowHu_, in);
  }
}

void Torso::paint(Canvas& c) const {
  const Slice s = sliceAt(c.t);
  setFrame(c, s);
  paintTable(c);
  paintLayers(c, s);
  paintThorax(c, s);
  paintAbdomen(c, s);
  paintVessels(c, s);
  for (const Piece& p : lungVessels_) {
    if (missesSlice(p, s.z)) continue;
    if (auto e = p.e.section(s.z)) shadeShape(c, *e, L::kLung, bloodHu_);
  }
  for (const Piece& p : mesentery_) {
    if (missesSlice(p, s.z)) continue;
    if (auto e = p.e.section(s.z)) {
      const std::uint8_t fat = labelValue(L::kFat), soft = labelValue(L::kSoftTissue);
      forEachPixel(c.body, e->box(), [&](int i, double u, double v) {
        if (c.label[i] == fat && (c.zone[i] & kZoneAbdomen) && e->inside(u, v)) {
          c.label[i] = soft;
          c.hu[i] = static_cast<float>(bloodHu_);
        }
      });
    }
  }
  paintSpine(c, s);
  paintRibs(c, s);
  paintPelvis(c, s);
  paintArms(c, s, false);
  paintImplants(c, s);
}

void Torso::paintImplants(Canvas& c, const Slice& s) const {
  const double z = s.z;
  for (int side = 0; side < 2; ++side) {
    if (!hipImplant_[side]) continue;
    // The cup: a metal shell around the ball, open laterally and inferiorly
    // (45°), in the acetabulum.
    const double sgn = side == 0 ? -1.0 : 1.0, dz = z - hipZ_;
    const double outer = headR_ + 2, inner = ballR_ + 0.5;
    if (std::abs(dz) < outer) {
      const double ro = std::sqrt(outer * outer - dz * dz);
      const double ri2 = inner * inner - dz * dz;
      const Ellipse shell = Ellipse::circle(sgn * hipU_, hipV_, ro);
      paintMetal(c,
                 region(shell.box(),
                        [&](double u, double v) {
                          const double du = u - sgn * hipU_, dv = v - hipV_;
                          const double r2 = du * du + dv * dv;
                          const double open = 0.7071 * (sgn * du - dz);
                          return r2 <= ro * ro && r2 > ri2 && open < 0.2 * outer;
                        }),
                 metalHu_);
    }
    const Ellipsoid ball = Ellipsoid::make(sgn * hipU_, hipV_, hipZ_, ballR_, ballR_, ballR_);
    if (auto e = ball.section(z)) paintMetal(c, *e, metalHu_);
  }
  for (const Piece& p : stems_)
    if (!missesSlice(p, z))
      if (auto e = p.e.section(z)) paintMetal(c, *e, metalHu_);
  for (const Piece& p : spinalHardware_)
    if (!missesSlice(p, z))
      if (auto e = p.e.section(z)) paintMetal(c, *e, 0.9 * metalHu_);
}

}  // namespace

std::unique_ptr<Anatomy> makeTorso(std::uint64_t caseSeed, double widthMm, double fovMm,
                                   const AnatomyOptions& options) {
  return std::make_unique<Torso>(caseSeed, widthMm, fovMm, options);
}

}  // namespace tessera::imaging::phantom
