// Synthetic CT phantoms (docs/PHANTOMS.md): Tessera's own training and test data.
//
// A phantom is a CT volume in Hounsfield units with crisp ground-truth labels
// of the v1 label set, generated analytically from a seed: the same options
// give the same voxels on any machine and with any number of threads. Torso
// cases run from the pubic symphysis to the lung apices, head cases from the
// hard palate to the vertex; anatomy varies per case (body shape, size,
// position and roll, fat, organ shapes and positions, HU levels) and is
// consistent along z. Liver, spleen, kidney, muscle and brain HU ranges
// overlap on purpose: position and shape tell them apart. The patient table
// is dense but labelled background.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/image.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

enum class PhantomFamily { kTorso, kHead };

const char* phantomFamilyName(PhantomFamily family);  // "torso", "head"
Result<PhantomFamily> parsePhantomFamily(std::string_view name);
// The labels a full-length case of the family contains.
std::vector<TissueLabel> phantomFamilyLabels(PhantomFamily family);

// Reconstruction kernel: the texture of the image noise (its power
// spectrum), at the same standard deviation. kStandard is the phantoms'
// original noise (white, then the partial-volume blur); soft kernels
// correlate it over a few pixels, sharp ones push it to fine grain.
enum class PhantomKernel { kStandard, kSoft, kSharp };
const char* phantomKernelName(PhantomKernel kernel);  // "standard", "soft", "sharp"
Result<PhantomKernel> parsePhantomKernel(std::string_view name);

// Intravenous contrast (torso): HU added to blood (aorta, heart, vessels),
// liver, spleen and kidney after the case's own draws, so a seed is the
// same patient in every phase. Arterial: blood +250, kidney +110, spleen
// +50, liver +15; portal venous: blood +130, kidney +120, spleen +65, liver
// +55 (typical enhancement of adults at 70 s and 25-35 s).
enum class ContrastPhase { kNone, kArterial, kPortalVenous };
const char* contrastPhaseName(ContrastPhase phase);  // "none", "arterial", "portal"
Result<ContrastPhase> parseContrastPhase(std::string_view name);

// Body size of torso cases: kAdult is the original range (reference width
// 290-390 mm, field of view 300-500 mm); kChild 170-240 mm in a 220-360 mm
// field of view, with 0.7 x the fat; kLarge 390-460 mm in 440-500 mm, with
// 1.8 x the fat and a block occupancy drawn in 0.62-0.85 (adults and
// children: 0.35-0.72). Anatomy scales with the width as for adults.
enum class PhantomHabitus { kAdult, kChild, kLarge };
const char* phantomHabitusName(PhantomHabitus habitus);  // "adult", "child", "large"
Result<PhantomHabitus> parsePhantomHabitus(std::string_view name);

// Patient table of torso cases (tables, pads and the head's holder are
// background): kCurved, the original curved carbon shell (two dense skins
// around foam); kFlat, a flat radiotherapy top of 45-60 mm with two inner
// webs, flattening the back on it; kPadded, the curved shell under a foam
// mattress of 15-40 mm (-900 to -700 HU) that the patient lies on.
enum class PhantomTable { kCurved, kFlat, kPadded };
const char* phantomTableName(PhantomTable table);  // "curved", "flat", "padded"
Result<PhantomTable> parsePhantomTable(std::string_view name);

// Metal implants (3,000-4,000 HU before the scanner's 3,071 ceiling),
// labelled bone: the label set has no implant class, and hardware replaces
// bone or sits in it, so no organ is ever painted over metal. kHip: a total
// hip prosthesis (ball, cup and stem in place of the femoral head and neck)
// on one side or both (torso); kSpine: pedicle screws at 2-4 lumbar levels
// joined by two rods (torso); kDental: fillings in 1-4 upper teeth (head;
// implies headDetail). Metal adds what it does to a filtered
// back-projection: the square of each ray's metal path (beam hardening)
// and noise growing with it (photon starvation) back-projected, i.e. dark
// bands between implants and streaks radiating from them, slice by slice.
enum class PhantomMetal { kNone, kHip, kSpine, kDental };
const char* phantomMetalName(PhantomMetal metal);  // "none", "hip", "spine", "dental"
Result<PhantomMetal> parsePhantomMetal(std::string_view name);

// kClassic: the options as given. kRealistic: every scanner variation left
// at its default is drawn per case (from a stream of its own, so case i is
// the same patient as in kClassic): noise σ 5-40 HU, kernel (a third
// each), contrast phase of torso cases (none 40 %, arterial 20 %, portal
// 40 %), slice thickness 0.8-1.6 × the spacing (0.5-5 mm), cupping 0-30
// HU, rings 3-12 HU in 30 % of cases, off-centre 0-30 mm (15 % of cases
// 50-110 mm: truncated by the field of view), habitus of torso cases
// (adult 70 %, child 10 %, large 20 %), arms down in 35 % of torso cases,
// table of torso cases (curved 50 %, flat 25 %, padded 25 %), metal (torso:
// hip 8 %, spine 7 %; head: dental 30 %); head cases always get headDetail.
enum class PhantomVariety { kClassic, kRealistic };
const char* phantomVarietyName(PhantomVariety variety);  // "classic", "realistic"
Result<PhantomVariety> parsePhantomVariety(std::string_view name);

struct PhantomOptions {
  PhantomFamily family = PhantomFamily::kTorso;
  std::uint64_t seed = 1;
  int caseIndex = 0;  // case i of a seed: an independent patient
  // Number of axial slices; 0 picks ~2.5 mm (torso) or ~2 mm (head) spacing
  // over the whole extent.
  int slices = 0;
  int matrix = 512;  // in-plane pixels (square); 64..1024
  // 0: the slices span the family's whole extent, spacing = extent / slices.
  // > 0: slices × sliceSpacingMm centred at zCenter (fraction of the extent,
  // 0 = inferior end), e.g. 24 slices of 2 mm through the upper abdomen.
  double sliceSpacingMm = 0;
  double zCenter = 0.5;
  // Target fraction of 16×16 blocks holding body, averaged over the slices
  // (0.2..0.85); 0 draws one per case in [0.35, 0.72] (head: [0.3, 0.5]).
  // The body's size relative to the field of view follows from it; heads
  // above ~0.55 no longer fit the field of view and are cut at the face.
  double occupancy = 0;
  double noiseHu = 0;  // σ of the image noise; 0 draws one per case in [10, 20]
  // Reconstructed slice thickness (mm), independent of the spacing (thicker
  // than the spacing: overlapping slices; thinner: gaps). Each slice is
  // the mean of the anatomy over its thickness (a box slice profile,
  // sampled every 0.5 mm or finer), so structures blur along z as on a
  // scanner; labels stay those of the slice's centre plane. 0: a plane
  // (the original phantoms, byte for byte); else 0.5 to 10.
  double sliceThicknessMm = 0;
  PhantomKernel kernel = PhantomKernel::kStandard;
  ContrastPhase phase = ContrastPhase::kNone;  // torso only
  // Beam hardening: HU taken from the body's centre, falling to 0 at its
  // outline (parabolic in the normalised radius), 0-60.
  double cuppingHu = 0;
  // Ring artefacts: 3-6 thin rings around the centre of the field of view
  // (the scanner's isocentre) of up to this many HU, either sign, 0-30.
  double ringsHu = 0;
  // The patient (with the table) this far from the isocentre, in a
  // direction drawn per case, 0-150 mm; beyond the field of view's edge the
  // body is cut (field-of-view truncation), labels included.
  double offCentreMm = 0;
  PhantomHabitus habitus = PhantomHabitus::kAdult;  // torso only
  // Torso: the arms beside the body from the hips to the shoulders (skin,
  // fat, muscle, humerus or forearm bones) instead of raised out of the
  // field of view (the original phantoms).
  bool armsDown = false;
  PhantomTable table = PhantomTable::kCurved;  // torso only
  PhantomMetal metal = PhantomMetal::kNone;
  // Head: the upper dental arch in the lowest ~10 mm (teeth of dentine and
  // enamel in alveolar bone, some missing) and intracranial calcifications
  // (pineal gland, choroid plexus, basal ganglia, falx plaques; labelled
  // brain), drawn per case. Sinuses and the skull base are always drawn.
  bool headDetail = false;
  PhantomVariety variety = PhantomVariety::kClassic;

  ProgressSink* progress = nullptr;  // slice progress (fraction of the case)
  const CancelToken* cancel = nullptr;
};

struct PhantomInfo {
  PhantomFamily family = PhantomFamily::kTorso;
  std::uint64_t seed = 0;
  int caseIndex = 0;
  int slices = 0;
  int matrix = 0;
  double fovMm = 0;
  double sliceSpacingMm = 0;
  double zStart = 0, zEnd = 0;   // covered fraction of the family's extent
  double targetOccupancy = 0;    // as asked for (or drawn)
  double measuredOccupancy = 0;  // of the generated labels (bodyBlockOccupancy)
  double noiseHu = 0;
  double sliceThicknessMm = 0;  // 0: a plane
  PhantomKernel kernel = PhantomKernel::kStandard;
  ContrastPhase phase = ContrastPhase::kNone;
  double cuppingHu = 0, ringsHu = 0;
  double offCentreXMm = 0, offCentreYMm = 0;  // where the patient's centre lies in the image
  PhantomHabitus habitus = PhantomHabitus::kAdult;
  bool armsDown = false;
  PhantomTable table = PhantomTable::kCurved;
  PhantomMetal metal = PhantomMetal::kNone;
  bool headDetail = false;
  PhantomVariety variety = PhantomVariety::kClassic;
  int representativeSlice = 0;  // a slice that shows the family's anatomy well
};

struct Phantom {
  Volume ct;        // HU, int16, LPS identity direction, slices along +z (superior)
  LabelMap labels;  // defaultLabelTable(); same geometry as ct
  PhantomInfo info;
};

Status validatePhantomOptions(const PhantomOptions& options);
Result<Phantom> generatePhantom(const PhantomOptions& options);

// Mean over slices of the fraction of blockSize² blocks that hold at least
// one non-background voxel: the "body occupancy" the sparse engine sees.
double bodyBlockOccupancy(const LabelMap& labels, int blockSize = 16);

// "case_0007".
std::string phantomCaseName(int caseIndex);
// phantom.json: seed, family, slices, geometry, occupancy (no time stamps).
std::string phantomInfoJson(const PhantomInfo& info);
// Writes OUT_DIR/case_NNNN/ct.nii.gz, labels.nii.gz and phantom.json (last),
// each through a temporary file. Creates the case directory; OUT_DIR must
// exist. Returns the case directory.
Result<std::string> writePhantomCase(const std::string& outDir, const Phantom& phantom);

}  // namespace tessera::imaging
