// DICOM-SEG through DCMTK's dcmseg (DcmSegmentation), the functional groups
// of dcmfg and the references of dcmiod.
#include "imaging/dicom/dicom_seg.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmiod/cielabutil.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmiod/iodutil.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/files.h"
#include "imaging/dicom/dicom.h"
#include "imaging/internal/dicom_deid.h"
#include "imaging/internal/dicom_source.h"
#include "imaging/internal/dicom_values.h"

namespace tessera::imaging {
namespace {

using dicom::decimalString;
using dicom::quietDcmtk;
using dicom::text;

// DICOM-SEG's own codes, PS3.16.
const CodedConcept kTissue{"85756007", "SCT", "Tissue"};
const CodedConcept kAnatomicalStructure{"91723000", "SCT", "Anatomical Structure"};
const CodedConcept kBodySubstance{"91720002", "SCT", "Body Substance"};
const CodedConcept kArtificialIntelligence{"123110", "DCM", "Artificial Intelligence"};

Status dcmtkError(const OFCondition& condition, const std::string& what,
                  const std::string& context) {
  return Status(StatusCode::kInternal, what + " (" + condition.text() + ")", context);
}

// Binary SEG frames are stored as one bit per pixel, the first pixel in the
// lowest bit, each frame following the previous one without padding (PS3.5
// 8.1.1 with PS3.3 C.8.20.2). DCMTK 3.6.7's dcmseg aligns every frame to a
// byte instead, which puts frames of rows x columns not divisible by 8 at the
// wrong bits for every other reader; Tessera therefore writes and reads the
// Pixel Data itself.
void packFrame(const std::vector<std::uint8_t>& mask, std::int64_t frame,
               std::vector<std::uint8_t>* bits) {
  const auto pixels = static_cast<std::int64_t>(mask.size());
  const std::int64_t end = (frame + 1) * pixels;
  bits->resize(static_cast<std::size_t>((end + 7) / 8), 0);
  for (std::int64_t p = 0; p < pixels; ++p)
    if (mask[static_cast<std::size_t>(p)]) {
      const std::int64_t at = frame * pixels + p;
      (*bits)[static_cast<std::size_t>(at / 8)] |= static_cast<std::uint8_t>(1u << (at % 8));
    }
}

bool bit(const Uint8* bits, std::int64_t at) {
  return (bits[at / 8] >> (at % 8)) & 1u;
}

CodeSequenceMacro code(const CodedConcept& c) {
  return CodeSequenceMacro(c.value.c_str(), c.scheme.c_str(), c.meaning.c_str());
}

CodedConcept codedConcept(CodeSequenceMacro& macro) {
  OFString value, scheme, meaning;
  macro.getCodeValue(value);
  macro.getCodingSchemeDesignator(scheme);
  macro.getCodeMeaning(meaning);
  return {value.c_str(), scheme.c_str(), meaning.c_str()};
}

// LO values hold at most 64 characters.
std::string longString(std::string value) {
  if (value.size() > 64) value.resize(64);
  return value;
}

Result<std::unique_ptr<DcmSegment>> makeSegment(const Label& label, const DicomSegOptions& o) {
  SegmentProperty property{kTissue, {"85756007", "SCT", "Tissue"}};
  if (auto known = defaultSegmentProperty(label.name)) property = *known;
  if (auto it = o.properties.find(label.name); it != o.properties.end()) property = it->second;
  DcmSegment* raw = nullptr;
  const std::string name = label.name.empty() ? "label " + std::to_string(label.value) : label.name;
  OFCondition made = DcmSegment::create(raw, longString(name).c_str(), code(property.category),
                                        code(property.type), DcmSegTypes::SAT_AUTOMATIC,
                                        longString(o.algorithmName).c_str());
  std::unique_ptr<DcmSegment> segment(raw);
  if (made.bad() || !segment)
    return dcmtkError(made, "cannot describe the segment " + name, o.sourcePath);
  AlgorithmIdentificationMacro& algorithm = segment->getSegmentationAlgorithmIdentification();
  algorithm.getAlgorithmFamilyCode().set(kArtificialIntelligence.value.c_str(),
                                         kArtificialIntelligence.scheme.c_str(),
                                         kArtificialIntelligence.meaning.c_str());
  algorithm.setAlgorithmName(longString(o.algorithmName).c_str());
  algorithm.setAlgorithmVersion(longString(o.algorithmVersion).c_str());
  if (!o.algorithmParameters.empty())
    algorithm.setAlgorithmParameters(o.algorithmParameters.c_str());
  double l = 0, a = 0, b = 0;
  IODCIELabUtil::rgb2DicomLab(l, a, b, label.rgb[0] / 255.0, label.rgb[1] / 255.0,
                              label.rgb[2] / 255.0);
  segment->setRecommendedDisplayCIELabValue(static_cast<Uint16>(std::lround(l)),
                                            static_cast<Uint16>(std::lround(a)),
                                            static_cast<Uint16>(std::lround(b)));
  return segment;
}

}  // namespace

std::optional<SegmentProperty> defaultSegmentProperty(const std::string& labelName) {
  std::string name;
  for (char c : labelName) name += c == ' ' || c == '-' ? '_' : static_cast<char>(std::tolower(c));
  struct Entry {
    const char* name;
    const CodedConcept* category;
    CodedConcept type;
  };
  static const Entry kTable[] = {
      {"soft_tissue", &kTissue, {"87784001", "SCT", "Soft tissue"}},
      {"fat", &kTissue, {"55603005", "SCT", "Fat"}},
      {"adipose_tissue", &kTissue, {"55603005", "SCT", "Fat"}},
      {"bone", &kTissue, {"3138006", "SCT", "Bone"}},
      {"lung", &kAnatomicalStructure, {"39607008", "SCT", "Lung"}},
      {"lungs", &kAnatomicalStructure, {"39607008", "SCT", "Lung"}},
      {"liver", &kAnatomicalStructure, {"10200004", "SCT", "Liver"}},
      {"spleen", &kAnatomicalStructure, {"78961009", "SCT", "Spleen"}},
      {"kidney", &kAnatomicalStructure, {"64033007", "SCT", "Kidney"}},
      {"kidneys", &kAnatomicalStructure, {"64033007", "SCT", "Kidney"}},
      {"brain", &kAnatomicalStructure, {"12738006", "SCT", "Brain"}},
      {"internal_air", &kBodySubstance, {"74947009", "SCT", "Gas"}},
      {"air", &kBodySubstance, {"74947009", "SCT", "Gas"}},
  };
  for (const Entry& e : kTable)
    if (name == e.name) return SegmentProperty{*e.category, e.type};
  return std::nullopt;
}

Status writeDicomSeg(const LabelMap& labels, const std::string& path,
                     const DicomSegOptions& options) {
  std::lock_guard lock(dicom::derivedObjectMutex());
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  const Geometry& g = labels.labels.geometry();
  TESSERA_RETURN_IF_ERROR(validateGeometry(g));
  if (g.size[0] > 65535 || g.size[1] > 65535)
    return Status(StatusCode::kUnsupported, "DICOM images are limited to 65535 rows and columns",
                  path);
  TESSERA_ASSIGN_OR_RETURN(
      dicom::SourceSeries source,
      dicom::readSourceSeries(options.sourcePath, options.seriesUid, "a DICOM-SEG"));
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::size_t> match,
                           dicom::matchSlices(g, source, path, "a DICOM-SEG"));

  // Which labels each slice holds.
  const std::int64_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  std::vector<std::array<bool, 256>> present(static_cast<std::size_t>(nz));
  std::array<bool, 256> anywhere{};
  for (std::int64_t k = 0; k < nz; ++k) {
    auto& p = present[static_cast<std::size_t>(k)];
    p.fill(false);
    const std::uint8_t* slice = labels.labels.slice(k);
    for (std::int64_t v = 0; v < nx * ny; ++v) p[slice[v]] = true;
    for (int value = 1; value < 256; ++value) anywhere[value] = anywhere[value] || p[value];
  }
  if (std::none_of(anywhere.begin() + 1, anywhere.end(), [](bool b) { return b; }))
    return Status(StatusCode::kInvalidArgument,
                  "the label map holds no label; a DICOM-SEG needs at least one segment", path);

  IODGeneralEquipmentModule::EquipmentInfo equipment("Tessera", "Tessera", "TESSERA",
                                                     TESSERA_VERSION);
  ContentIdentificationMacro content("1", "TESSERA",
                                     longString("Segmentation by " + options.algorithmName), "");
  DcmSegmentation* raw = nullptr;
  OFCondition made = DcmSegmentation::createBinarySegmentation(
      raw, static_cast<Uint16>(ny), static_cast<Uint16>(nx), equipment, content);
  std::unique_ptr<DcmSegmentation> seg(raw);
  if (made.bad() || !seg) return dcmtkError(made, "cannot create the DICOM-SEG", path);
  // Patient, study and Frame of Reference of the source.
  if (OFCondition c = seg->importFromSourceImage(source.slices.front().file.c_str()); c.bad())
    return dcmtkError(c, "cannot take the patient and study from the source series",
                      source.slices.front().file);
  seg->getSeries().setSeriesDescription(longString(options.seriesDescription).c_str());
  seg->getSeries().setSeriesNumber(options.seriesNumber.c_str());

  FGPixelMeasures measures;
  measures.setPixelSpacing(
      dicom::decimalStrings({g.spacingMm[1], g.spacingMm[0]}).c_str());  // rows\columns
  measures.setSliceThickness(decimalString(g.spacingMm[2]).c_str());
  measures.setSpacingBetweenSlices(decimalString(g.spacingMm[2]).c_str());
  FGPlaneOrientationPatient orientation;
  orientation.setImageOrientationPatient(
      decimalString(g.direction[0]).c_str(), decimalString(g.direction[3]).c_str(),
      decimalString(g.direction[6]).c_str(), decimalString(g.direction[1]).c_str(),
      decimalString(g.direction[4]).c_str(), decimalString(g.direction[7]).c_str());
  if (OFCondition c = seg->addForAllFrames(measures); c.bad())
    return dcmtkError(c, "cannot write the pixel measures", path);
  if (OFCondition c = seg->addForAllFrames(orientation); c.bad())
    return dcmtkError(c, "cannot write the plane orientation", path);

  // Dimensions: segment number, then position along the stack.
  const std::string organization = dicom::newUid();
  IODMultiframeDimensionModule& dimensions = seg->getDimensions();
  dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, organization.c_str(),
                               DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber");
  dimensions.addDimensionIndex(DCM_ImagePositionPatient, organization.c_str(),
                               DCM_PlanePositionSequence, "ImagePositionPatient");

  std::vector<std::uint8_t> mask(static_cast<std::size_t>(nx * ny));
  std::vector<std::uint8_t> pixelData;  // every frame, bit-packed (packFrame)
  std::int64_t frameCount = 0;
  for (int value = 1; value < 256; ++value) {
    if (!anywhere[value]) continue;
    Label label{static_cast<std::uint8_t>(value), {}, {255, 255, 255}};
    if (const Label* known = labels.table.find(static_cast<std::uint8_t>(value))) label = *known;
    TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<DcmSegment> segment, makeSegment(label, options));
    Uint16 number = 0;
    if (OFCondition c = seg->addSegment(segment.get(), number); c.bad())
      return dcmtkError(c, "cannot add the segment " + label.name, path);
    segment.release();  // owned by seg
    for (std::int64_t k = 0; k < nz; ++k) {
      if (!present[static_cast<std::size_t>(k)][value]) continue;
      const std::uint8_t* slice = labels.labels.slice(k);
      for (std::int64_t v = 0; v < nx * ny; ++v) mask[v] = slice[v] == value ? 1 : 0;
      const dicom::SourceSlice& s = source.slices[match[static_cast<std::size_t>(k)]];
      FGFrameContent frameContent;
      frameContent.setDimensionIndexValues(number, 0);
      frameContent.setDimensionIndexValues(static_cast<Uint32>(k + 1), 1);
      FGPlanePosPatient position;
      const Vec3 p = g.worldFromVoxel({0.0, 0.0, static_cast<double>(k)});
      position.setImagePositionPatient(decimalString(p[0]).c_str(), decimalString(p[1]).c_str(),
                                       decimalString(p[2]).c_str());
      ImageSOPInstanceReferenceMacro reference;
      reference.setReferencedSOPClassUID(s.sopClassUid.c_str());
      reference.setReferencedSOPInstanceUID(s.sopInstanceUid.c_str());
      OFVector<ImageSOPInstanceReferenceMacro> references;
      references.push_back(reference);
      std::unique_ptr<FGDerivationImage> derivation(
          DcmSegmentation::createDerivationImageFG(references, "Segmented by Tessera"));
      if (!derivation)
        return Status(StatusCode::kInternal, "cannot reference a source slice", path);
      OFVector<FGBase*> perFrame;
      perFrame.push_back(&frameContent);
      perFrame.push_back(&position);
      perFrame.push_back(derivation.get());
      if (OFCondition c = seg->addFrame(mask.data(), number, perFrame); c.bad())
        return dcmtkError(c, "cannot add a frame of " + label.name, path);
      packFrame(mask, frameCount++, &pixelData);
    }
  }

  IODReferences references;
  for (const dicom::SourceSlice& s : source.slices)
    references.add(new IODImageReference(source.patientId.c_str(), source.studyUid.c_str(),
                                         source.seriesUid.c_str(), s.sopInstanceUid.c_str(),
                                         s.sopClassUid.c_str()));
  seg->getCommonInstanceReference().addReferences(references);

  DcmFileFormat format;
  if (OFCondition c = seg->writeDataset(*format.getDataset()); c.bad())
    return dcmtkError(c, "cannot encode the DICOM-SEG", path);
  if (pixelData.size() % 2) pixelData.push_back(0);  // OB values have even length
  if (OFCondition c = format.getDataset()->putAndInsertUint8Array(
          DCM_PixelData, pixelData.data(), static_cast<unsigned long>(pixelData.size()));
      c.bad())
    return dcmtkError(c, "cannot encode the DICOM-SEG's frames", path);
  if (options.deidentify.enabled)
    TESSERA_RETURN_IF_ERROR(dicom::deidentifyDataset(*format.getDataset(), options.deidentify));
  return dicom::saveAtomically(format, path, "the DICOM-SEG");
}

bool isDicomSegFile(const std::string& path) {
  return dicom::sopClassOf(path) == UID_SegmentationStorage;
}

namespace {

struct LoadedSeg {
  DcmFileFormat format;
  std::unique_ptr<DcmSegmentation> seg;
};

// DCMTK 3.6.7's DcmSegmentation::loadDataset leaks the whole object when its
// read() fails (it deletes its still-null out-parameter instead; found by
// tests/fuzz/fuzz_derived). Its steps are repeated here with the object
// owned from the start: refuse possibly lossy compression, decompress RLE,
// read.
class ReadableSegmentation : public DcmSegmentation {
 public:
  ReadableSegmentation() = default;
  using DcmSegmentation::read;
};

OFCondition readSegmentation(DcmDataset& ds, ReadableSegmentation& seg) {
  const DcmXfer xfer(ds.getOriginalXfer());
  if (!ds.hasRepresentation(EXS_LittleEndianExplicit, nullptr) && xfer.isEncapsulated()) {
    if (xfer.getXfer() != EXS_RLELossless) return IOD_EC_CannotDecompress;
    if (OFCondition c = DcmIODUtil::decompress(ds); c.bad()) return c;
  }
  return seg.read(ds);
}

Result<std::unique_ptr<LoadedSeg>> loadSeg(const std::string& path) {
  quietDcmtk();
  auto loaded = std::make_unique<LoadedSeg>();
  if (OFCondition c = loaded->format.loadFile(path.c_str()); c.bad())
    return Status(StatusCode::kCorruptData, std::string("not a readable DICOM file: ") + c.text(),
                  path);
  DcmDataset& ds = *loaded->format.getDataset();
  if (text(ds, DCM_SOPClassUID) != UID_SegmentationStorage)
    return Status(StatusCode::kUnsupported, "not a DICOM Segmentation (SEG) object", path);
  auto seg = std::make_unique<ReadableSegmentation>();
  if (const OFCondition c = readSegmentation(ds, *seg); c.bad())
    return Status(StatusCode::kCorruptData,
                  std::string("the DICOM-SEG cannot be read: ") + c.text(), path);
  loaded->seg = std::move(seg);
  return loaded;
}

const char* algorithmTypeName(DcmSegTypes::E_SegmentAlgoType type) {
  switch (type) {
    case DcmSegTypes::SAT_AUTOMATIC:
      return "AUTOMATIC";
    case DcmSegTypes::SAT_SEMIAUTOMATIC:
      return "SEMIAUTOMATIC";
    case DcmSegTypes::SAT_MANUAL:
      return "MANUAL";
    default:
      return "UNKNOWN";
  }
}

DicomSegInfo describe(LoadedSeg& loaded) {
  DcmDataset& ds = *loaded.format.getDataset();
  DcmSegmentation& seg = *loaded.seg;
  DicomSegInfo info;
  info.patientName = text(ds, DCM_PatientName);
  info.patientId = text(ds, DCM_PatientID);
  info.studyUid = text(ds, DCM_StudyInstanceUID);
  info.seriesUid = text(ds, DCM_SeriesInstanceUID);
  info.sopInstanceUid = text(ds, DCM_SOPInstanceUID);
  info.seriesDescription = text(ds, DCM_SeriesDescription);
  info.frameOfReferenceUid = text(ds, DCM_FrameOfReferenceUID);
  info.segmentationType = text(ds, DCM_SegmentationType);
  for (unsigned long i = 0;; ++i) {
    DcmItem* item = nullptr;
    if (ds.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, item, static_cast<int>(i)).bad() ||
        !item)
      break;
    info.referencedSeriesUids.push_back(text(*item, DCM_SeriesInstanceUID));
  }
  Uint16 rows = 0, columns = 0;
  ds.findAndGetUint16(DCM_Rows, rows);
  ds.findAndGetUint16(DCM_Columns, columns);
  info.rows = rows;
  info.columns = columns;
  info.frames = static_cast<std::int64_t>(seg.getNumberOfFrames());
  for (size_t n = 1; n <= seg.getNumberOfSegments(); ++n) {
    DcmSegment* segment = seg.getSegment(n);
    if (!segment) continue;
    DicomSegSegment s;
    s.number = static_cast<int>(n);
    OFString value;
    segment->getSegmentLabel(value);
    s.label = value.c_str();
    s.property.category = codedConcept(segment->getSegmentedPropertyCategoryCode());
    s.property.type = codedConcept(segment->getSegmentedPropertyTypeCode());
    s.algorithmType = algorithmTypeName(segment->getSegmentAlgorithmType());
    if (segment->getSegmentAlgorithmName(value).good()) s.algorithmName = value.c_str();
    OFVector<size_t> frames;
    seg.getFramesForSegment(n, frames);
    s.frames = static_cast<std::int64_t>(frames.size());
    Uint16 l = 0, a = 0, b = 0;
    if (segment->getRecommendedDisplayCIELabValue(l, a, b).good()) {
      double r = 0, gr = 0, bl = 0;
      IODCIELabUtil::dicomLab2RGB(r, gr, bl, l, a, b);
      const auto channel = [](double x) {
        return static_cast<std::uint8_t>(std::clamp(std::lround(x * 255.0), 0L, 255L));
      };
      s.rgb = {channel(r), channel(gr), channel(bl)};
    }
    info.segments.push_back(std::move(s));
  }
  return info;
}

}  // namespace

Result<DicomSegInfo> describeDicomSeg(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<LoadedSeg> loaded, loadSeg(path));
  return describe(*loaded);
}

Result<LabelMap> readDicomSeg(const std::string& path, const Geometry& geometry,
                              const LabelTable* names) {
  TESSERA_RETURN_IF_ERROR(validateGeometry(geometry));
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<LoadedSeg> loaded, loadSeg(path));
  const DicomSegInfo info = describe(*loaded);
  DcmSegmentation& seg = *loaded->seg;
  if (info.segmentationType != "BINARY")
    return Status(
        StatusCode::kUnsupported,
        "only binary DICOM-SEG objects are read (this one is " + info.segmentationType + ")", path);
  if (info.rows != geometry.size[1] || info.columns != geometry.size[0])
    return Status(StatusCode::kInvalidArgument,
                  "the segmentation's frames are " + std::to_string(info.columns) + "x" +
                      std::to_string(info.rows) + ", the CT's slices " +
                      std::to_string(geometry.size[0]) + "x" + std::to_string(geometry.size[1]),
                  path);
  // Segment numbers to label values.
  LabelMap out;
  std::vector<std::uint8_t> valueOf(info.segments.size() + 1, 0);
  for (const DicomSegSegment& s : info.segments) {
    int value = s.number;
    if (names)
      if (const Label* named = names->findByName(s.label)) value = named->value;
    if (value < 1 || value > 255)
      return Status(StatusCode::kUnsupported, "more than 255 segments", path);
    if (out.table.find(static_cast<std::uint8_t>(value)))
      return Status(StatusCode::kInvalidArgument, "two segments are named " + s.label, path);
    valueOf[static_cast<std::size_t>(s.number)] = static_cast<std::uint8_t>(value);
    out.table.labels.push_back(Label{static_cast<std::uint8_t>(value), s.label, s.rgb});
  }
  out.table.labels.insert(out.table.labels.begin(), Label{0, "background", {0, 0, 0}});
  std::sort(out.table.labels.begin(), out.table.labels.end(),
            [](const Label& a, const Label& b) { return a.value < b.value; });
  TESSERA_ASSIGN_OR_RETURN(out.labels, Image<std::uint8_t>::create(geometry, 0));

  // The frames' bits, read from Pixel Data directly (see packFrame).
  const Uint8* bits = nullptr;
  unsigned long bytes = 0;
  if (loaded->format.getDataset()->findAndGetUint8Array(DCM_PixelData, bits, &bytes).bad() ||
      !bits ||
      static_cast<std::uint64_t>(bytes) * 8 <
          static_cast<std::uint64_t>(info.frames) * geometry.sliceVoxelCount())
    return Status(StatusCode::kCorruptData, "the DICOM-SEG's pixel data is shorter than its frames",
                  path);
  FGInterface& groups = seg.getFunctionalGroups();
  const double tolerance =
      0.1 * std::min({geometry.spacingMm[0], geometry.spacingMm[1], geometry.spacingMm[2]});
  const std::int64_t nx = geometry.size[0], ny = geometry.size[1];
  for (Uint32 f = 0; f < static_cast<Uint32>(info.frames); ++f) {
    auto* orientation =
        dynamic_cast<FGPlaneOrientationPatient*>(groups.get(f, DcmFGTypes::EFG_PLANEORIENTPATIENT));
    auto* position =
        dynamic_cast<FGPlanePosPatient*>(groups.get(f, DcmFGTypes::EFG_PLANEPOSPATIENT));
    auto* segment = dynamic_cast<FGSegmentation*>(groups.get(f, DcmFGTypes::EFG_SEGMENTATION));
    if (!orientation || !position || !segment)
      return Status(StatusCode::kCorruptData,
                    "frame " + std::to_string(f + 1) +
                        " has no plane position, orientation or segment number",
                    path);
    Float64 o[6] = {0, 0, 0, 0, 0, 0};
    orientation->getImageOrientationPatient(o[0], o[1], o[2], o[3], o[4], o[5]);
    for (int c = 0; c < 2; ++c)
      for (int r = 0; r < 3; ++r)
        if (std::abs(geometry.direction[3 * r + c] - o[3 * c + r]) > 1e-3)
          return Status(StatusCode::kInvalidArgument,
                        "the segmentation's orientation is not that of the CT", path);
    Vec3 p{0, 0, 0};
    position->getImagePositionPatient(p[0], p[1], p[2]);
    const Vec3 ijk = geometry.voxelFromWorld(p);
    const double k = std::round(ijk[2]);
    const Vec3 onSlice = geometry.worldFromVoxel({0.0, 0.0, k});
    const double offMm = std::sqrt((onSlice[0] - p[0]) * (onSlice[0] - p[0]) +
                                   (onSlice[1] - p[1]) * (onSlice[1] - p[1]) +
                                   (onSlice[2] - p[2]) * (onSlice[2] - p[2]));
    if (offMm > tolerance || k < 0 || k >= static_cast<double>(geometry.size[2]))
      return Status(StatusCode::kInvalidArgument,
                    "frame " + std::to_string(f + 1) +
                        " does not lie on a slice of the CT; is it the series the segmentation "
                        "was made from?",
                    path);
    Uint16 number = 0;
    segment->getReferencedSegmentNumber(number);
    if (number < 1 || number >= valueOf.size())
      return Status(StatusCode::kCorruptData,
                    "frame " + std::to_string(f + 1) + " refers to a segment that does not exist",
                    path);
    std::uint8_t* slice = out.labels.slice(static_cast<std::int64_t>(k));
    const std::uint8_t value = valueOf[number];
    const std::int64_t first = static_cast<std::int64_t>(f) * nx * ny;
    for (std::int64_t v = 0; v < nx * ny; ++v) {
      if (!bit(bits, first + v)) continue;
      if (slice[v] != 0 && slice[v] != value)
        return Status(StatusCode::kUnsupported,
                      "segments overlap (frame " + std::to_string(f + 1) +
                          "); a label map holds one label per voxel",
                      path);
      slice[v] = value;
    }
  }
  return out;
}

}  // namespace tessera::imaging
