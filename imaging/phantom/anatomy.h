// Anatomy models of the phantom families (private to imaging/phantom). A
// model holds one case's random shape parameters, drawn once, and paints any
// axial slice analytically from them, so slices can be generated in any order
// on any thread and neighbouring slices agree.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/labels.h"
#include "imaging/phantom/phantom.h"
#include "imaging/phantom/raster.h"

namespace tessera::imaging::phantom {

// Zone bits: where later structures may be painted.
enum Zone : std::uint8_t {
  kZoneBody = 1,     // inside the skin
  kZoneInner = 2,    // inside the subcutaneous fat (muscle and deeper)
  kZoneCavity = 4,   // thoracic / abdominal / cranial cavity
  kZoneAbdomen = 8,  // below the diaphragm (torso)
  kZoneMetal = 16,   // an implant: the source of metal streaks (phantom.cpp)
};

// One slice being painted: labels and HU before texture, noise and blur.
struct Canvas {
  Frame body;           // pixel -> body coordinates (mm)
  Frame image;          // pixel -> image coordinates (mm, FOV centre at 0, LPS x and y)
  double zMm = 0;       // position along the family's extent (0 = inferior end)
  double t = 0;         // zMm / extent
  std::uint8_t* label;  // TissueLabel values
  float* hu;
  std::uint8_t* zone;
};

inline std::uint8_t labelValue(TissueLabel l) {
  return static_cast<std::uint8_t>(l);
}

// Paints `label` and `hu(u, v)` where `inside(u, v)` holds and every zone bit
// of `required` is set. Returns nothing: painting later overrides earlier.
template <class Inside, class Hu>
void paintRegion(Canvas& c, const Box& box, Inside&& inside, TissueLabel label, Hu&& hu,
                 std::uint8_t required = 0) {
  const std::uint8_t value = labelValue(label);
  forEachPixel(c.body, box, [&](int index, double u, double v) {
    if ((c.zone[index] & required) == required && inside(u, v)) {
      c.label[index] = value;
      c.hu[index] = static_cast<float>(hu(u, v));
    }
  });
}

template <class Inside>
void paintRegion(Canvas& c, const Box& box, Inside&& inside, TissueLabel label, double hu,
                 std::uint8_t required = 0) {
  paintRegion(
      c, box, inside, label, [hu](double, double) { return hu; }, required);
}

template <class Shape>
void paintShape(Canvas& c, const Shape& shape, TissueLabel label, double hu,
                std::uint8_t required = 0) {
  paintRegion(
      c, shape.box(), [&](double u, double v) { return shape.inside(u, v); }, label, hu, required);
}

// Changes HU only, where the label is `only` (vessels inside the lung).
template <class Shape>
void shadeShape(Canvas& c, const Shape& shape, TissueLabel only, double hu) {
  const std::uint8_t value = labelValue(only);
  forEachPixel(c.body, shape.box(), [&](int index, double u, double v) {
    if (c.label[index] == value && shape.inside(u, v)) c.hu[index] = static_cast<float>(hu);
  });
}

template <class Inside>
void markZone(Canvas& c, const Box& box, Inside&& inside, std::uint8_t bit,
              std::uint8_t required = 0) {
  forEachPixel(c.body, box, [&](int index, double u, double v) {
    if ((c.zone[index] & required) == required && inside(u, v)) c.zone[index] |= bit;
  });
}

// A bone cross-section: cortex of `cortexMm` at `cortexHu` around marrow.
inline void paintBone(Canvas& c, const Ellipse& e, double cortexMm, double cortexHu,
                      double marrowHu, std::uint8_t required = 0) {
  paintShape(c, e, TissueLabel::kBone, cortexHu, required);
  paintShape(c, e.grown(-cortexMm), TissueLabel::kBone, marrowHu, required);
}

// A shape given by its bounding box and a predicate, for paintShape and
// paintMetal.
template <class Inside>
struct Region {
  Box bounds;
  Inside test;
  Box box() const { return bounds; }
  bool inside(double u, double v) const { return test(u, v); }
};
template <class Inside>
Region<Inside> region(const Box& bounds, Inside test) {
  return {bounds, std::move(test)};
}

// Metal: labelled bone, `hu` (above the scanner's ceiling, so that the blur
// leaves it saturated), marked kZoneMetal; inside the body only.
template <class Shape>
void paintMetal(Canvas& c, const Shape& shape, double hu) {
  const std::uint8_t bone = labelValue(TissueLabel::kBone);
  forEachPixel(c.body, shape.box(), [&](int index, double u, double v) {
    if ((c.zone[index] & kZoneBody) && shape.inside(u, v)) {
      c.label[index] = bone;
      c.hu[index] = static_cast<float>(hu);
      c.zone[index] |= kZoneMetal;
    }
  });
}

// Per-case HU design of each label's tissue and its texture (σ of the
// fine-grained variation inside the tissue, as it remains after the blur).
struct TissueStyle {
  std::array<float, kTissueLabelCount> textureHu{};
};

class Anatomy {
 public:
  virtual ~Anatomy() = default;
  // Length of the family's anatomy along z (mm): t = 0 .. 1 spans it.
  virtual double extentMm() const = 0;
  // Sets canvas.body for this slice (body position and roll) from
  // canvas.image, then paints everything.
  virtual void paint(Canvas& canvas) const = 0;
  // Marks kZoneBody only (for calibrating the body size against the FOV).
  virtual void paintBodyZone(Canvas& canvas) const = 0;
  virtual const TissueStyle& style() const = 0;
  // Where a preview slice shows the family best (fraction of the extent).
  virtual double representativeT() const = 0;
};

// What a case's anatomy is built with besides its seed and size (phantom.h
// documents each): fatScale multiplies the subcutaneous fat drawn for the
// case (habitus); armsDown puts the arms beside the body (the original
// phantoms have them raised, out of the field of view).
struct AnatomyOptions {
  ContrastPhase phase = ContrastPhase::kNone;
  double fatScale = 1.0;
  bool armsDown = false;
  PhantomTable table = PhantomTable::kCurved;
  PhantomMetal metal = PhantomMetal::kNone;
  bool headDetail = false;
};

// widthMm: the body's (head's) reference width; fovMm: the square field of
// view. All random draws come from `caseSeed` and do not depend on the sizes
// or the options, so a calibration can rebuild the model at other sizes and
// a variation leaves the rest of the patient as it was.
std::unique_ptr<Anatomy> makeTorso(std::uint64_t caseSeed, double widthMm, double fovMm,
                                   const AnatomyOptions& options = {});
std::unique_ptr<Anatomy> makeHead(std::uint64_t caseSeed, double widthMm, double fovMm,
                                  const AnatomyOptions& options = {});

}  // namespace tessera::imaging::phantom
