// Anatomy models of the phantom families (private to imaging/phantom). A
// model holds one case's random shape parameters, drawn once, and paints any
// axial slice analytically from them, so slices can be generated in any order
// on any thread and neighbouring slices agree.
#pragma once

#include <cstdint>
#include <memory>
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

// widthMm: the body's (head's) reference width; fovMm: the square field of
// view. All random draws come from `caseSeed` and do not depend on the sizes,
// so a calibration can rebuild the model at other sizes.
// fatScale multiplies the subcutaneous fat drawn for the case (habitus);
// armsDown puts the arms beside the body (the original phantoms have them
// raised, out of the field of view).
std::unique_ptr<Anatomy> makeTorso(std::uint64_t caseSeed, double widthMm, double fovMm,
                                   ContrastPhase phase = ContrastPhase::kNone,
                                   double fatScale = 1.0, bool armsDown = false);
std::unique_ptr<Anatomy> makeHead(std::uint64_t caseSeed, double widthMm, double fovMm);

}  // namespace tessera::imaging::phantom
