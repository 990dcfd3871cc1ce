// Head phantom: hard palate (t = 0) to the vertex (t = 1).
//
// Scalp (skin, fat, muscle) around a skull of two dense tables and diploë;
// the cranial cavity holds the brain (grey rim, white core, CSF spaces,
// ventricles, falx). The skull base carries orbits with globes in fat,
// ethmoid and mastoid air cells, sphenoid, maxillary and frontal sinuses,
// petrous bones and the posterior fossa; below it the nasal cavity,
// nasopharynx, mandibular rami and the upper cervical spine. The head rests
// in a plastic holder above the table; neither is body. With headDetail
// (phantom.h): the upper dental arch at the palate and intracranial
// calcifications; with dental metal, fillings in some teeth.
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

struct Cell {
  Ellipsoid e;
  double zLo, zHi;
};

Cell makeCell(const Ellipsoid& e) {
  const double h = e.halfHeight();
  return {e, e.cz - h, e.cz + h};
}

Cell segmentCell(const Point3& a, const Point3& b, double r) {
  return {Ellipsoid::segment(a, b, r), std::min(a[2], b[2]) - r, std::max(a[2], b[2]) + r};
}

bool misses(const Cell& c, double z) {
  return z < c.zLo || z > c.zHi;
}

class Head final : public Anatomy {
 public:
  Head(std::uint64_t seed, double widthMm, double fovMm, const AnatomyOptions& options);

  double extentMm() const override { return extent_; }
  void paint(Canvas& c) const override;
  void paintBodyZone(Canvas& c) const override;
  const TissueStyle& style() const override { return style_; }
  double representativeT() const override { return 0.27; }

 private:
  struct Slice {
    double t = 0, z = 0;
    Blob head, skull, cranium;  // outer skin, outer table, inner table
    Ellipse nose;
    bool hasNose = false;
    double skullThick = 7;
    double cx = 0, cy = 0, roll = 0;
  };

  Slice sliceAt(double t) const;
  void setFrame(Canvas& c, const Slice& s) const;
  bool insideHead(const Slice& s, double u, double v) const {
    return s.head.inside(u, v) || (s.hasNose && s.nose.inside(u, v));
  }
  void paintHolder(Canvas& c, const Slice& s) const;
  void paintScalpAndSkull(Canvas& c, const Slice& s) const;
  void paintBrain(Canvas& c, const Slice& s) const;
  void paintFace(Canvas& c, const Slice& s) const;
  void paintCells(Canvas& c, const std::vector<Cell>& cells, const Ellipsoid& region,
                  double z) const;
  void paintTeeth(Canvas& c, const Slice& s) const;
  void paintCalcifications(Canvas& c, double z) const;
  void paintSinus(Canvas& c, const Ellipsoid& sinus, double z, double wallMm, double mucosaMm,
                  double fluidLevel) const;

  double extent_ = 200, width_ = 150, fov_ = 240;
  TissueStyle style_;
  double aspect_ = 1.25, offX_ = 0, holderY_ = 0, rollBase_ = 0;
  Wiggle wiggleX_;
  Blob shape_;
  double scalp_ = 5, scalpFat_ = 3, skull_ = 7, temporalis_ = 8;
  double cortexHu_ = 1600, diploeHu_ = 700, greyHu_ = 38, whiteHu_ = 28, csfHu_ = 8;
  double muscleHu_ = 45, fatHu_ = -95;
  double airHu_ = -955;           // gas inside the body (bowel, airways, sinuses)
  double refA_ = 75, refB_ = 95;  // reference half width and depth

  Ellipsoid orbits_[2], globes_[2], lenses_[2], maxillary_[2], sphenoid_, frontal_;
  Ellipsoid ethmoid_, mastoid_[2], posteriorFossa_, temporalLobe_[2], pons_;
  Ellipsoid ventricles_[2], occipitalHorns_[2], thirdVentricle_, fourthVentricle_;
  Ellipsoid masseter_[2], nasopharynx_;
  std::vector<Cell> ethmoidCells_, mastoidCells_[2];
  std::vector<Cell> bones_;  // petrous ridges, rami, zygomatic arches
  std::vector<Cell> opticNerves_;
  std::vector<Cell> sulci_;  // CSF clefts running in from the brain surface
  bool hasFrontalSinus_ = true;
  double maxillaryMucosa_[2] = {0, 0}, maxillaryFluid_[2] = {1, 1};

  // Head detail: the upper dental arch (an elliptical arc behind the lips,
  // from the incisors at the front to the molars), teeth of dentine with
  // enamel crowns, some missing; fillings of metal in some of them.
  struct Tooth {
    Ellipse section;  // at the crown (z = 0); roots taper upwards
    double zTop = 9;  // root apex above the palate's level (mm)
    bool missing = false;
    bool filled = false;
    double zFill = 4;  // height of the filling (mm)
  };
  struct Calcification {
    Cell cell;
    double hu = 300;
    TissueLabel label = TissueLabel::kBrain;
  };
  bool detail_ = false, dental_ = false;
  double archW_ = 30, archD_ = 45, archBackV_ = -28, enamelHu_ = 2800, dentineHu_ = 1900;
  double metalHu_ = 4000;
  std::vector<Tooth> teeth_;
  std::vector<Calcification> calcifications_;
};

Head::Head(std::uint64_t seed, double widthMm, double fovMm, const AnatomyOptions& options)
    : width_(widthMm), fov_(fovMm) {
  Rng rng(seed);
  Rng shape = rng.fork(21), parts = rng.fork(22), hu = rng.fork(23), cells = rng.fork(24);
  // Forked after the original streams and drawn in full whatever the
  // options, so that head detail changes nothing else.
  Rng detail = rng.fork(25);
  const double scale = width_ / 150.0;
  extent_ = shape.uniform(190, 215) * std::sqrt(scale);
  aspect_ = shape.uniform(1.18, 1.34);
  offX_ = shape.uniform(-0.03, 0.03) * fov_;
  rollBase_ = deg(shape.uniform(-5, 5));
  wiggleX_ = Wiggle(shape, 1.5, 80);
  shape_.square = -shape.uniform(0.0, 0.02);
  for (int k = 0; k < 4; ++k) {
    shape_.ca[k] = shape.uniform(-0.03, 0.03) / (k + 1);
    shape_.sa[k] = shape.uniform(-0.03, 0.03) / (k + 1);
  }
  shape_.sa[0] = shape.uniform(0.0, 0.04);  // occiput fuller than the forehead
  refA_ = 0.5 * width_;
  refB_ = refA_ * aspect_;
  // The head's back rests on the holder; centre it in the FOV with an offset.
  holderY_ = shape.uniform(-0.04, 0.04) * fov_ + refB_ + shape.uniform(2, 6);
  scalpFat_ = shape.uniform(2, 5);
  scalp_ = 2 + scalpFat_ + 1.5;
  skull_ = shape.uniform(4.5, 7.0) * std::sqrt(scale);
  temporalis_ = shape.uniform(5, 10);

  cortexHu_ = hu.uniform(1450, 1850);
  diploeHu_ = hu.uniform(550, 850);
  greyHu_ = hu.normal(38, 2.5);
  whiteHu_ = greyHu_ - hu.uniform(7, 12);
  csfHu_ = hu.uniform(4, 12);
  muscleHu_ = hu.normal(46, 4);
  fatHu_ = hu.normal(-95, 6);
  airHu_ = hu.uniform(-968, -945);
  style_.textureHu = {0, 8, 8, 60, 0, 0, 0, 0, 3, 10};

  const double a = refA_, b = refB_, e = extent_;
  auto tz = [&](double t) { return t * e; };
  const double tOrbit = parts.uniform(0.255, 0.285);
  for (int side = 0; side < 2; ++side) {
    const double s = side == 0 ? -1.0 : 1.0;
    const double ou = s * parts.uniform(0.33, 0.38) * a, ov = -0.66 * b;
    orbits_[side] = Ellipsoid::make(ou, ov, tz(tOrbit), 17, 25, 16, s * deg(-20));
    const double gv = -0.8 * b;
    globes_[side] = Ellipsoid::make(ou + s * 2, gv, tz(tOrbit), 12, 12, 12);
    lenses_[side] = Ellipsoid::make(ou + s * 2, gv - 9, tz(tOrbit), 4.5, 2, 4.5);
    opticNerves_.push_back(segmentCell({ou + s * 2, gv + 10, tz(tOrbit)},
                                       {s * 10, -0.28 * b, tz(tOrbit + 0.02)}, 2.5));
    maxillary_[side] =
        Ellipsoid::make(s * 0.38 * a, -0.48 * b, tz(parts.uniform(0.09, 0.12)),
                        parts.uniform(14, 19), parts.uniform(17, 22), parts.uniform(17, 22));
    maxillaryMucosa_[side] = parts.chance(0.25) ? parts.uniform(2, 5) : 0;
    maxillaryFluid_[side] = parts.chance(0.12) ? parts.uniform(0.0, 0.6) : 1.5;
    mastoid_[side] = Ellipsoid::make(s * 0.74 * a, 0.36 * b, tz(0.2), 11, 13, 14);
    temporalLobe_[side] =
        Ellipsoid::make(s * 0.48 * a, -0.1 * b, tz(0.31), 0.3 * a, 0.38 * b, 0.12 * e);
    ventricles_[side] =
        Ellipsoid::make(s * parts.uniform(7, 11), -0.05 * b, tz(parts.uniform(0.6, 0.64)),
                        parts.uniform(4, 8), 0.3 * b, 0.09 * e, s * deg(6));
    occipitalHorns_[side] =
        Ellipsoid::make(s * 14, 0.33 * b, tz(0.57), 4, 0.14 * b, 0.05 * e, s * deg(-15));
    masseter_[side] = Ellipsoid::make(s * 0.7 * a, -0.12 * b, tz(0.04), 10, 22, 30);
    bones_.push_back(segmentCell({s * 0.7 * a, 0.3 * b, tz(0.2)}, {s * 12, -0.04 * b, tz(0.22)},
                                 parts.uniform(5.5, 7)));
    bones_.push_back(
        segmentCell({s * 0.62 * a, -0.18 * b, tz(-0.05)}, {s * 0.6 * a, 0.0, tz(0.15)}, 5.5));
    bones_.push_back(
        segmentCell({s * 0.6 * a, -0.55 * b, tz(0.17)}, {s * 0.8 * a, -0.05 * b, tz(0.18)}, 3.5));
  }
  sphenoid_ = Ellipsoid::make(0, -0.24 * b, tz(0.22), parts.uniform(9, 14), 11, 11);
  hasFrontalSinus_ = parts.chance(0.85);
  frontal_ =
      Ellipsoid::make(parts.uniform(-4, 4), -b + scalp_ + 0.5 * skull_ + 3,
                      tz(parts.uniform(0.4, 0.44)), parts.uniform(12, 22), 6, parts.uniform(9, 14));
  ethmoid_ = Ellipsoid::make(0, -0.66 * b, tz(0.27), 12, 22, 0.055 * e);
  posteriorFossa_ = Ellipsoid::make(0, 0.42 * b, tz(0.24), 0.7 * a, 0.45 * b, 0.13 * e);
  pons_ = Ellipsoid::make(0, 0.08 * b, tz(0.24), 14, 13, 0.12 * e);
  thirdVentricle_ = Ellipsoid::make(0, 0, tz(0.52), 2.5, 12, 0.04 * e);
  fourthVentricle_ = Ellipsoid::make(0, 0.26 * b, tz(0.24), 5, 4, 0.04 * e);
  nasopharynx_ = Ellipsoid::make(0, -0.28 * b, tz(0.04), 13, 8, 0.07 * e);
  // Sulci: thin radial clefts from the cortical surface, 10-25 mm deep.
  {
    const int count = static_cast<int>(parts.uniform(50, 80));
    for (int i = 0; i < count; ++i) {
      const double t = parts.uniform(0.36, 0.95);
      const Slice s = sliceAt(t);
      const double theta = parts.uniform(0, 2 * kPi);
      const auto outer = s.cranium.boundary(theta, -1.0);
      const double depth = parts.uniform(10, 25);
      const auto inner = s.cranium.boundary(theta, -1.0 - depth);
      const double dz = parts.uniform(-8, 8);
      sulci_.push_back(segmentCell({outer[0], outer[1], tz(t) + dz}, {inner[0], inner[1], tz(t)},
                                   parts.uniform(0.7, 1.3)));
    }
  }
  // Air cells on a jittered 3D grid, consistent along z.
  auto fillCells = [&](const Ellipsoid& region, std::vector<Cell>& out, double spacing) {
    const double h = region.halfHeight();
    for (double z = region.cz - h; z <= region.cz + h; z += spacing)
      for (double v = region.cv - 25; v <= region.cv + 25; v += spacing)
        for (double u = region.cu - 25; u <= region.cu + 25; u += spacing) {
          const double ju = u + cells.uniform(-1, 1), jv = v + cells.uniform(-1, 1),
                       jz = z + cells.uniform(-1, 1);
          const auto sec = region.section(jz, 0.9);
          if (!sec || !sec->inside(ju, jv)) continue;
          const double r = cells.uniform(0.34, 0.45) * spacing;
          out.push_back(makeCell(Ellipsoid::make(ju, jv, jz, r, r, r * 1.2)));
        }
  };
  fillCells(ethmoid_, ethmoidCells_, 6.5);
  for (int side = 0; side < 2; ++side) fillCells(mastoid_[side], mastoidCells_[side], 4.5);

  dental_ = options.metal == PhantomMetal::kDental;
  detail_ = options.headDetail || dental_;
  archW_ = detail.uniform(0.37, 0.43) * a;
  archD_ = detail.uniform(0.46, 0.54) * b;
  archBackV_ = -0.3 * b;
  enamelHu_ = detail.uniform(2500, 3000);
  dentineHu_ = detail.uniform(1700, 2100);
  metalHu_ = detail.uniform(3500, 5000);
  // Eight teeth a side: incisors, canine, premolars, molars, wider backwards.
  for (int side = 0; side < 2; ++side) {
    const double sgn = side == 0 ? -1.0 : 1.0;
    for (int k = 0; k < 8; ++k) {
      const double phi = sgn * (k + 0.5) / 8 * 0.52 * kPi;
      const double u = archW_ * std::sin(phi), v = archBackV_ - archD_ * std::cos(phi);
      const double along = std::atan2(archD_ * std::sin(phi), archW_ * std::cos(phi));
      const double f = k / 7.0;
      Tooth tooth;
      tooth.section = Ellipse::axes(u, v, lerp(3.0, 4.8, f) * detail.uniform(0.92, 1.08),
                                    lerp(2.8, 5.0, f) * detail.uniform(0.92, 1.08), along);
      tooth.zTop = detail.uniform(7, 11);
      tooth.missing = detail.chance(0.08);
      tooth.zFill = detail.uniform(3.0, 5.5);
      teeth_.push_back(tooth);
    }
  }
  // Fillings in 1-4 premolars or molars (k >= 3).
  const int fillings = 1 + static_cast<int>(detail.uniform(0, 3.999));
  for (int i = 0; i < fillings; ++i) {
    const int side = detail.chance(0.5) ? 1 : 0;
    const int k = 3 + static_cast<int>(detail.uniform(0, 4.999));
    teeth_[side * 8 + k].filled = true;
  }
  // Calcifications: pineal gland, choroid plexus in the atria, basal
  // ganglia, plaques of the falx (brain), and of the carotid siphons (soft
  // tissue), each drawn with its frequency in adults. They change the HU of
  // their tissue only, never a label.
  auto add = [&](bool present, const Ellipsoid& e, double huLo, double huHi, TissueLabel label) {
    const double value = detail.uniform(huLo, huHi);
    if (present) calcifications_.push_back({makeCell(e), value, label});
  };
  {
    const bool pineal = detail.chance(0.6);
    const double r = detail.uniform(1.5, 3.5);
    add(pineal, Ellipsoid::make(0, 0.15 * b, tz(0.5), r, r, r), 200, 800, L::kBrain);
    const bool choroid = detail.chance(0.5);
    for (double sgn : {-1.0, 1.0}) {
      const double rc = detail.uniform(2, 4);
      add(choroid, Ellipsoid::make(sgn * 14, 0.3 * b, tz(0.57), rc, rc * 1.3, rc), 150, 600,
          L::kBrain);
    }
    const bool ganglia = detail.chance(0.1);
    for (double sgn : {-1.0, 1.0}) {
      const double rg = detail.uniform(2, 4);
      add(ganglia, Ellipsoid::make(sgn * 18, -0.05 * b, tz(0.48), rg, rg, rg), 100, 300, L::kBrain);
    }
    const bool falx = detail.chance(0.25);
    add(falx,
        Ellipsoid::make(0, detail.uniform(-0.5, 0.4) * b, tz(detail.uniform(0.6, 0.85)), 1.2,
                        detail.uniform(5, 10), detail.uniform(3, 6)),
        300, 900, L::kBrain);
    const bool siphon = detail.chance(0.3);
    for (double sgn : {-1.0, 1.0}) {
      const double rs = detail.uniform(1.5, 2.5);
      add(siphon, Ellipsoid::make(sgn * 17, -0.18 * b, tz(0.22), rs, rs, rs), 200, 700,
          L::kSoftTissue);
    }
  }
}

Head::Slice Head::sliceAt(double t) const {
  Slice s;
  s.t = t;
  s.z = t * extent_;
  // Dome above mid-height; a slightly narrower face below the skull base.
  const double dome = t > 0.5 ? std::sqrt(std::max(0.0, 1 - std::pow((t - 0.5) / 0.53, 2))) : 1.0;
  const double low = smoothstep(0.3, 0.05, t);
  s.head = shape_;
  s.head.ru = refA_ * dome * (1 - 0.07 * low);
  s.head.rv = refB_ * (dome * 0.15 + 0.85 * std::sqrt(dome)) * (1 - 0.04 * low);
  s.head.cv = 0.05 * refB_ * low;
  s.head.prepare();
  const double noseLen = lerp(19.0, 5.0, smoothstep(0.03, 0.24, t));
  s.hasNose = t < 0.24;
  s.nose = Ellipse::axes(0, -s.head.rv + s.head.cv + 4, lerp(17.0, 8.0, t / 0.24), noseLen + 4);
  const double temporal = temporalis_ * ellipsoidProfile(0.22, 0.62, t);
  s.skull = s.head.shrunk(scalp_ + temporal, scalp_);
  s.skullThick = std::min(skull_, 0.25 * std::min(s.skull.ru, s.skull.rv));
  s.cranium = s.skull.shrunk(s.skullThick, s.skullThick * 1.1);
  s.cx = offX_ + wiggleX_(s.z);
  s.cy = holderY_ - (s.head.cv + s.head.rv);
  s.roll = rollBase_;
  return s;
}

void Head::setFrame(Canvas& c, const Slice& s) const {
  const Frame& im = c.image;
  const double cs = std::cos(s.roll), sn = std::sin(s.roll);
  Frame& f = c.body;
  f = im;
  f.u0 = cs * (im.u0 - s.cx) + sn * (im.v0 - s.cy);
  f.v0 = -sn * (im.u0 - s.cx) + cs * (im.v0 - s.cy);
  f.ui = cs * im.ui + sn * im.vi;
  f.vi = -sn * im.ui + cs * im.vi;
  f.uj = cs * im.uj + sn * im.vj;
  f.vj = -sn * im.uj + cs * im.vj;
}

void Head::paintBodyZone(Canvas& c) const {
  const Slice s = sliceAt(c.t);
  setFrame(c, s);
  if (s.head.ru < 2) return;
  Box box = s.head.box();
  box.v0 -= 40;
  markZone(
      c, box, [&](double u, double v) { return insideHead(s, u, v); }, kZoneBody);
}

void Head::paintHolder(Canvas& c, const Slice& s) const {
  // A plastic cradle under the occiput, then the table: dense, not body.
  const double r0 = refB_ + 2, r1 = refB_ + 7;
  const double hx = s.cx, hy = holderY_ - refB_;
  const Box box{hx - r1, hy, hx + r1, holderY_ + 60};
  const std::uint8_t bg = labelValue(L::kBackground);
  forEachPixel(c.image, box, [&](int index, double x, double y) {
    const double dx = x - hx, dy = y - hy;
    const double r = std::sqrt(dx * dx + dy * dy);
    if (dy > 0.45 * r && r >= r0 && r <= r1) {
      c.label[index] = bg;
      c.hu[index] = 160;
    }
    const double d = y - (holderY_ + 22);
    if (std::abs(x) < 0.4 * fov_ && d >= 0 && d < 30) {
      c.label[index] = bg;
      c.hu[index] = (d < 2.5 || d > 27.5) ? 400.0f : -930.0f;
    }
  });
}

void Head::paintScalpAndSkull(Canvas& c, const Slice& s) const {
  const double t = s.t;
  Box box = s.head.box();
  box.v0 -= 40;
  markZone(
      c, box, [&](double u, double v) { return insideHead(s, u, v); }, kZoneBody);
  paintRegion(
      c, box, [&](double u, double v) { return insideHead(s, u, v); }, L::kSoftTissue,
      muscleHu_ - 10, kZoneBody);
  const double faceFat = lerp(scalpFat_, scalpFat_ + 6, smoothstep(0.3, 0.1, t));
  const Blob fat = s.head.shrunk(2, 2);
  const Blob muscle = s.head.shrunk(2 + faceFat, 2 + faceFat);
  paintShape(c, fat, L::kFat, fatHu_, kZoneBody);
  if (s.hasNose) paintShape(c, s.nose.grown(-2), L::kFat, fatHu_, kZoneBody);
  paintShape(c, muscle, L::kSoftTissue, muscleHu_, kZoneBody);
  markZone(
      c, muscle.box(), [&](double u, double v) { return muscle.inside(u, v); }, kZoneInner,
      kZoneBody);
  if (t < 0.1) return;
  // Skull: dense outer and inner tables around the diploë. Below the orbital
  // roofs only the occipital and temporal parts are a ring.
  const double cut = t < 0.3 ? lerp(-0.35, 0.15, smoothstep(0.3, 0.12, t)) * refB_ : -1e9;
  auto ring = [&](double u, double v) { return v > cut && s.skull.inside(u, v); };
  paintRegion(c, s.skull.box(), ring, L::kBone, cortexHu_, kZoneBody);
  const Blob diploe = s.skull.shrunk(1.6, 1.6);
  const Blob inner = s.cranium.shrunk(-1.6, -1.6);
  paintRegion(
      c, s.skull.box(),
      [&](double u, double v) { return v > cut && diploe.inside(u, v) && !inner.inside(u, v); },
      L::kBone, diploeHu_, kZoneBody);
  markZone(
      c, s.cranium.box(), [&](double u, double v) { return s.cranium.inside(u, v); }, kZoneCavity,
      kZoneBody);
  // Inside the ring: soft tissue by default (skull base, face); the brain
  // replaces it where it is.
  paintRegion(
      c, s.cranium.box(), [&](double u, double v) { return v > cut && s.cranium.inside(u, v); },
      L::kSoftTissue, muscleHu_, kZoneBody);
}

void Head::paintBrain(Canvas& c, const Slice& s) const {
  const double t = s.t, z = s.z;
  if (t < 0.08) return;
  const Blob& cr = s.cranium;
  // Supratentorial brain fills the cranium above the orbital roofs; below,
  // the posterior fossa, pons and temporal lobes.
  const double full = smoothstep(0.31, 0.36, t);
  const auto fossa = posteriorFossa_.section(z);
  const auto pons = pons_.section(z);
  const auto tl0 = temporalLobe_[0].section(z), tl1 = temporalLobe_[1].section(z);
  // The anterior cranial fossa floor (orbital roofs) sinks away above t ≈ 0.31.
  const Ellipse frontalFloor = Ellipse::axes(0, -0.98 * refB_, 0.62 * refA_ * (1 - full) + 0.01,
                                             0.6 * refB_ * (1 - full) + 0.01);
  auto brainRegion = [&](double u, double v) {
    if (!cr.inside(u, v)) return false;
    if (full >= 1) return true;
    if (full > 0 && !frontalFloor.inside(u, v)) return true;
    return (fossa && fossa->inside(u, v)) || (pons && pons->inside(u, v)) ||
           (tl0 && tl0->inside(u, v)) || (tl1 && tl1->inside(u, v));
  };
  const Blob grey = cr.shrunk(1.5, 1.5), white = cr.shrunk(5, 5.5);
  paintRegion(c, cr.box(), brainRegion, L::kBrain, csfHu_);
  paintRegion(
      c, cr.box(), [&](double u, double v) { return brainRegion(u, v) && grey.inside(u, v); },
      L::kBrain, greyHu_);
  if (full > 0.5)
    paintRegion(
        c, cr.box(), [&](double u, double v) { return brainRegion(u, v) && white.inside(u, v); },
        L::kBrain, whiteHu_);
  if (t > 0.42) {
    // Falx with the interhemispheric fissure; Sylvian fissures lower down.
    paintRegion(
        c, cr.box(), [&](double u, double v) { return std::abs(u) < 2.2 && cr.inside(u, v); },
        L::kBrain, csfHu_);
    paintRegion(
        c, cr.box(), [&](double u, double v) { return std::abs(u) < 0.8 && cr.inside(u, v); },
        L::kBrain, 65.0);
  }
  if (t > 0.38 && t < 0.52) {
    for (double sgn : {-1.0, 1.0}) {
      const Ellipse fissure =
          Ellipse::axes(sgn * 0.72 * cr.ru, -0.05 * refB_, 0.22 * cr.ru, 1.8, sgn * 0.35);
      paintRegion(
          c, fissure.box(),
          [&](double u, double v) { return fissure.inside(u, v) && cr.inside(u, v); }, L::kBrain,
          csfHu_);
    }
  }
  const std::uint8_t brain = labelValue(L::kBrain);
  for (const Cell& sulcus : sulci_) {
    if (misses(sulcus, z)) continue;
    if (auto e = sulcus.e.section(z)) {
      forEachPixel(c.body, e->box(), [&](int i, double u, double v) {
        if (c.label[i] == brain && e->inside(u, v)) c.hu[i] = static_cast<float>(csfHu_);
      });
    }
  }
  for (const Ellipsoid* e : {&ventricles_[0], &ventricles_[1], &occipitalHorns_[0],
                             &occipitalHorns_[1], &thirdVentricle_, &fourthVentricle_})
    if (auto sec = e->section(z)) paintShape(c, *sec, L::kBrain, csfHu_, kZoneCavity);
}

void Head::paintSinus(Canvas& c, const Ellipsoid& sinus, double z, double wallMm, double mucosaMm,
                      double fluidLevel) const {
  const auto e = sinus.section(z);
  if (!e) return;
  paintShape(c, e->grown(wallMm), L::kBone, 0.6 * cortexHu_, kZoneBody);
  paintShape(c, *e, L::kSoftTissue, muscleHu_ - 10, kZoneBody);
  const Ellipse air = e->grown(-mucosaMm);
  const Box b = air.box();
  const double level = b.v0 + fluidLevel * (b.v1 - b.v0);
  paintRegion(
      c, b, [&](double u, double v) { return v < level && air.inside(u, v); }, L::kInternalAir,
      airHu_, kZoneBody);
}

void Head::paintCells(Canvas& c, const std::vector<Cell>& cells, const Ellipsoid& region,
                      double z) const {
  const auto r = region.section(z);
  if (!r) return;
  paintShape(c, *r, L::kBone, 0.45 * cortexHu_, kZoneBody);
  for (const Cell& cell : cells) {
    if (misses(cell, z)) continue;
    if (auto e = cell.e.section(z)) paintShape(c, *e, L::kInternalAir, airHu_ + 5, kZoneBody);
  }
}

void Head::paintFace(Canvas& c, const Slice& s) const {
  const double t = s.t, z = s.z, a = refA_, b = refB_;
  if (t > 0.5) {
    if (hasFrontalSinus_) paintSinus(c, frontal_, z, 1.5, 0, 1.5);
    return;
  }
  if (hasFrontalSinus_) paintSinus(c, frontal_, z, 1.5, 0, 1.5);
  const std::uint8_t body = kZoneBody;
  // Masticator muscles, parapharyngeal fat and the nasopharynx.
  for (int side = 0; side < 2; ++side) {
    const double sgn = side == 0 ? -1.0 : 1.0;
    if (auto e = masseter_[side].section(z)) paintShape(c, *e, L::kSoftTissue, muscleHu_, body);
    if (t < 0.14)
      paintShape(c, Ellipse::axes(sgn * 0.32 * a, -0.12 * b, 7, 12), L::kFat, fatHu_, body);
  }
  if (auto e = nasopharynx_.section(z)) paintShape(c, *e, L::kInternalAir, airHu_, body);
  // Nasal cavity: two air channels either side of the septum, turbinates
  // along the lateral walls, nostrils opening at the bottom of the nose.
  if (t < 0.22) {
    const double depth = lerp(21.0, 15.0, t / 0.22);
    for (double sgn : {-1.0, 1.0}) {
      const Ellipse wall = Ellipse::axes(sgn * 8.5, -0.66 * b, 8.0, depth + 1.5);
      paintShape(c, wall, L::kBone, 0.5 * cortexHu_, body);
      paintShape(c, Ellipse::axes(sgn * 8.5, -0.66 * b, 6.5, depth), L::kInternalAir, airHu_, body);
      paintShape(c, Ellipse::axes(sgn * 12.5, -0.64 * b, 3.2, 0.55 * depth, sgn * 0.1),
                 L::kSoftTissue, muscleHu_, body);
    }
    paintShape(c, Ellipse::axes(0, -0.66 * b, 1.1, depth), L::kBone, 0.5 * cortexHu_, body);
  }
  for (int side = 0; side < 2; ++side)
    paintSinus(c, maxillary_[side], z, 1.8, maxillaryMucosa_[side], maxillaryFluid_[side]);
  paintSinus(c, sphenoid_, z, 1.8, 0, 1.5);
  paintCells(c, ethmoidCells_, ethmoid_, z);
  for (int side = 0; side < 2; ++side) paintCells(c, mastoidCells_[side], mastoid_[side], z);
  // Orbits: bony walls, fat, the globe with its lens, the optic nerve.
  for (int side = 0; side < 2; ++side) {
    if (auto e = orbits_[side].section(z)) {
      paintShape(c, e->grown(2.0), L::kBone, 0.6 * cortexHu_, body);
      paintShape(c, *e, L::kFat, fatHu_ + 15, body);
    }
  }
  for (const Cell& n : opticNerves_)
    if (!misses(n, z))
      if (auto e = n.e.section(z)) paintShape(c, *e, L::kSoftTissue, muscleHu_ - 10, body);
  for (int side = 0; side < 2; ++side) {
    if (auto e = globes_[side].section(z)) paintShape(c, *e, L::kSoftTissue, 12, body);
    if (auto e = lenses_[side].section(z)) paintShape(c, *e, L::kSoftTissue, 95, body);
  }
  for (const Cell& bone : bones_) {
    if (misses(bone, z)) continue;
    if (auto e = bone.e.section(z)) paintBone(c, *e, 1.5, cortexHu_, 0.5 * diploeHu_, body);
  }
  // Clivus, and the upper cervical spine below the foramen magnum.
  if (t > 0.1 && t < 0.27)
    paintBone(c, Ellipse::axes(0, lerp(0.05, -0.08, (t - 0.1) / 0.17) * b, 12, 10), 2.0,
              0.8 * cortexHu_, diploeHu_, body);
  if (t < 0.12) {
    paintShape(c, Ellipse::circle(0, 0.24 * b, 11), L::kSoftTissue, 30, body);
    paintBone(c, Ellipse::circle(0, 0.06 * b, 6), 1.5, 0.8 * cortexHu_, diploeHu_, body);
    if (t < 0.07)
      for (double sgn : {-1.0, 1.0})
        paintBone(c, Ellipse::circle(sgn * 18, 0.12 * b, 8), 1.5, 0.8 * cortexHu_, diploeHu_, body);
  }
  if (t >= 0.1 && t < 0.2) paintShape(c, Ellipse::circle(0, 0.22 * b, 11), L::kBrain, whiteHu_);
}

void Head::paintTeeth(Canvas& c, const Slice& s) const {
  const double z = s.z;
  const double top =
      3 + std::max_element(teeth_.begin(), teeth_.end(), [](const auto& x, const auto& y) {
            return x.zTop < y.zTop;
          })->zTop;
  if (z > top) return;
  // Alveolar bone along the arch, the hard palate inside it at its level.
  const std::uint8_t body = kZoneBody;
  auto archRho = [&](double u, double v, double grow) {
    const double du = u / (archW_ + grow), dv = (v - archBackV_) / (archD_ + grow);
    return du * du + dv * dv;
  };
  const Box box{-archW_ - 8, archBackV_ - archD_ - 8, archW_ + 8, archBackV_ + 8};
  paintRegion(
      c, box,
      [&](double u, double v) {
        return v < archBackV_ + 6 && archRho(u, v, 6.5) <= 1 && archRho(u, v, -7) > 1;
      },
      L::kBone, 0.45 * cortexHu_, body);
  if (z < 3)
    paintRegion(
        c, box, [&](double u, double v) { return v < archBackV_ + 6 && archRho(u, v, -7) <= 1; },
        L::kBone, 0.6 * cortexHu_, body);
  for (const Tooth& tooth : teeth_) {
    if (tooth.missing || z > tooth.zTop) continue;
    const Ellipse e = tooth.section.scaled(1 - 0.5 * z / tooth.zTop);
    paintShape(c, e, L::kBone, z < 3 ? enamelHu_ : dentineHu_, body);
    if (z >= 2) paintShape(c, e.scaled(0.3), L::kSoftTissue, 40, body);
    if (dental_ && tooth.filled && z < tooth.zFill) paintMetal(c, e.scaled(0.55), metalHu_);
  }
}

void Head::paintCalcifications(Canvas& c, double z) const {
  for (const Calcification& k : calcifications_) {
    if (misses(k.cell, z)) continue;
    if (auto e = k.cell.e.section(z)) shadeShape(c, *e, k.label, k.hu);
  }
}

void Head::paint(Canvas& c) const {
  const Slice s = sliceAt(c.t);
  setFrame(c, s);
  paintHolder(c, s);
  if (s.head.ru < 2) return;
  paintScalpAndSkull(c, s);
  paintBrain(c, s);
  paintFace(c, s);
  if (detail_) {
    paintTeeth(c, s);
    paintCalcifications(c, s.z);
  }
}

}  // namespace

std::unique_ptr<Anatomy> makeHead(std::uint64_t caseSeed, double widthMm, double fovMm,
                                  const AnatomyOptions& options) {
  return std::make_unique<Head>(caseSeed, widthMm, fovMm, options);
}

}  // namespace tessera::imaging::phantom
