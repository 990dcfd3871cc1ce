// The DICOM objects derived from a label map: DICOM-SEG written and read
// back onto its CT, the TID 1500 measurement report and the RT Structure Set,
// through DCMTK; pydicom and dciodvfy check them too in the CLI tests
// (tests/app/dicom_objects_test.cpp).
#include "imaging/dicom/dicom_rtstruct.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/dicom/dicom_sr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "imaging/stats/label_stats.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Geometry obliqueGeometry() {
  Geometry g;
  g.size = {21, 17, 7};
  g.spacingMm = {0.7, 0.9, 2.5};
  g.originMm = {-80.5, 40.25, -300.125};
  const double a = 0.3, b = -0.2;
  const Mat3 rz{std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1};
  const Mat3 rx{1, 0, 0, 0, std::cos(b), -std::sin(b), 0, std::sin(b), std::cos(b)};
  g.direction = multiply(rx, rz);
  return g;
}

LabelTable table() {
  return LabelTable{{{0, "background", {0, 0, 0}},
                     {1, "soft_tissue", {200, 120, 100}},
                     {4, "lung", {80, 160, 220}},
                     {5, "liver", {170, 60, 40}},
                     {9, "tumour", {250, 250, 0}}}};
}

// A CT series on disk (written by Tessera's series writer) and the CT as the
// reader gives it back: the geometry segment outputs carry.
struct Study {
  std::string dir;
  Volume ct;
};

Study writeStudy(const TempDir& tmp, const Geometry& g) {
  Volume v = *Volume::create(g, -1000);
  for (std::int64_t k = 0; k < v.nz(); ++k)
    for (std::int64_t j = 0; j < v.ny(); ++j)
      for (std::int64_t i = 0; i < v.nx(); ++i) v.at(i, j, k) = static_cast<std::int16_t>(i + j);
  DicomWriteOptions options;
  options.patientName = "Doe^Jane";
  options.patientId = "P-0042";
  options.studyDescription = "CT abdomen";
  const std::string dir = tmp / "ct";
  EXPECT_TRUE(writeDicomSeries(v, dir, options).ok());
  auto back = readVolume(dir);
  EXPECT_TRUE(back.ok()) << back.error().toString();
  return {dir, std::move(*back)};
}

// Labels that differ per slice and in-plane position: slice 0 holds none,
// "liver" only some slices, "tumour" (a name without a default code) one.
LabelMap labelsFor(const Geometry& g) {
  LabelMap map{*Image<std::uint8_t>::create(g, 0), table()};
  for (std::int64_t k = 1; k < g.size[2]; ++k)
    for (std::int64_t j = 0; j < g.size[1]; ++j)
      for (std::int64_t i = 0; i < g.size[0]; ++i) {
        std::uint8_t v = 0;
        if (i > 2 && i < 12) v = 1;
        if (j > 10 && i > 5) v = 4;
        if (k >= 3 && i < 4 && j < 6) v = 5;
        if (k == 4 && i == 15 && j == 3) v = 9;
        map.labels.at(i, j, k) = v;
      }
  return map;
}

DicomSegOptions segOptions(const Study& study) {
  DicomSegOptions o;
  o.sourcePath = study.dir;
  o.algorithmName = "tessera-default";
  o.algorithmVersion = "3";
  o.algorithmParameters = "mode=sparse";
  return o;
}

TEST(DicomSeg, WritesOneSegmentPerLabelPresentAndReadsBackVoxelForVoxel) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  const LabelMap labels = labelsFor(study.ct.geometry());
  const std::string path = tmp / "seg.dcm";
  const Status written = writeDicomSeg(labels, path, segOptions(study));
  ASSERT_TRUE(written.ok()) << written.toString();
  EXPECT_TRUE(isDicomSegFile(path));
  EXPECT_FALSE(isDicomSegFile(study.dir + "/IM000001.dcm"));

  auto info = describeDicomSeg(path);
  ASSERT_TRUE(info.ok()) << info.error().toString();
  auto listing = listDicomSeries(study.dir);
  ASSERT_TRUE(listing.ok());
  const DicomSeriesInfo& source = listing->series.at(0);
  EXPECT_EQ(info->patientName, "Doe^Jane");
  EXPECT_EQ(info->patientId, "P-0042");
  EXPECT_EQ(info->studyUid, source.studyUid);
  EXPECT_NE(info->seriesUid, source.seriesUid);
  ASSERT_EQ(info->referencedSeriesUids.size(), 1u);
  EXPECT_EQ(info->referencedSeriesUids[0], source.seriesUid);
  EXPECT_EQ(info->segmentationType, "BINARY");
  EXPECT_EQ(info->rows, 17);
  EXPECT_EQ(info->columns, 21);

  ASSERT_EQ(info->segments.size(), 4u);
  const char* names[] = {"soft_tissue", "lung", "liver", "tumour"};
  const std::int64_t frames[] = {6, 6, 4, 1};  // slices holding each label
  for (int s = 0; s < 4; ++s) {
    EXPECT_EQ(info->segments[s].number, s + 1);
    EXPECT_EQ(info->segments[s].label, names[s]);
    EXPECT_EQ(info->segments[s].frames, frames[s]) << names[s];
    EXPECT_EQ(info->segments[s].algorithmType, "AUTOMATIC");
    EXPECT_EQ(info->segments[s].algorithmName, "tessera-default");
  }
  EXPECT_EQ(info->frames, 17);
  EXPECT_EQ(info->segments[1].property.type.value, "39607008");
  EXPECT_EQ(info->segments[1].property.type.scheme, "SCT");
  EXPECT_EQ(info->segments[1].property.category.meaning, "Anatomical Structure");
  EXPECT_EQ(info->segments[0].property.type.meaning, "Soft tissue");
  EXPECT_EQ(info->segments[3].property.type.meaning, "Tissue");  // no default code
  // The recommended colour survives the CIELab round trip to within one step.
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(info->segments[2].rgb[c], table().labels[3].rgb[c], 1);

  const LabelTable names2 = table();
  auto back = readDicomSeg(path, study.ct.geometry(), &names2);
  ASSERT_TRUE(back.ok()) << back.error().toString();
  ASSERT_EQ(back->labels.voxelCount(), labels.labels.voxelCount());
  EXPECT_TRUE(std::equal(labels.labels.data(), labels.labels.data() + labels.labels.voxelCount(),
                         back->labels.data()));
  EXPECT_EQ(back->table.nameOf(9), "tumour");
  for (const std::string& name : tmp.entries()) EXPECT_NE(name[0], '.') << "temporary left";
}

TEST(DicomSeg, WithoutNamesSegmentNumbersBecomeTheValues) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  const LabelMap labels = labelsFor(study.ct.geometry());
  ASSERT_TRUE(writeDicomSeg(labels, tmp / "seg.dcm", segOptions(study)).ok());
  auto back = readDicomSeg(tmp / "seg.dcm", study.ct.geometry());
  ASSERT_TRUE(back.ok()) << back.error().toString();
  const std::uint8_t number[10] = {0, 1, 0, 0, 2, 3, 0, 0, 0, 4};
  for (std::int64_t v = 0; v < labels.labels.voxelCount(); ++v)
    ASSERT_EQ(back->labels.data()[v], number[labels.labels.data()[v]]) << "voxel " << v;
  EXPECT_EQ(back->table.nameOf(3), "liver");
}

TEST(DicomSeg, ALeftHandedSeriesKeepsEveryFrameOnItsSourceSlice) {
  TempDir tmp;
  Geometry g;
  g.size = {8, 6, 5};
  g.spacingMm = {0.5, 0.75, 3.0};
  g.originMm = {3, -4, 50};
  g.direction = {1, 0, 0, 0, 1, 0, 0, 0, -1};
  const Study study = writeStudy(tmp, g);
  const LabelMap labels = labelsFor(study.ct.geometry());
  ASSERT_TRUE(writeDicomSeg(labels, tmp / "seg.dcm", segOptions(study)).ok());
  const LabelTable names = table();
  auto back = readDicomSeg(tmp / "seg.dcm", study.ct.geometry(), &names);
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_TRUE(std::equal(labels.labels.data(), labels.labels.data() + labels.labels.voxelCount(),
                         back->labels.data()));
}

TEST(DicomSeg, CodesGivenPerLabelReplaceTheDefaults) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  DicomSegOptions o = segOptions(study);
  o.properties["tumour"] = {{"49755003", "SCT", "Morphologically Altered Structure"},
                            {"108369006", "SCT", "Neoplasm"}};
  ASSERT_TRUE(writeDicomSeg(labelsFor(study.ct.geometry()), tmp / "seg.dcm", o).ok());
  auto info = describeDicomSeg(tmp / "seg.dcm");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->segments.back().property.type.value, "108369006");
  EXPECT_EQ(info->segments.back().property.category.value, "49755003");
}

TEST(DicomSeg, DefaultCodesCoverTheBundledLabels) {
  for (const char* name : {"soft_tissue", "fat", "bone", "lung", "liver", "spleen", "kidney",
                           "brain", "Soft Tissue"}) {
    auto p = defaultSegmentProperty(name);
    ASSERT_TRUE(p.has_value()) << name;
    EXPECT_EQ(p->type.scheme, "SCT");
    EXPECT_FALSE(p->type.meaning.empty());
  }
  EXPECT_FALSE(defaultSegmentProperty("tumour").has_value());
  EXPECT_EQ(defaultSegmentProperty("kidney")->type.value, "64033007");
}

TEST(DicomSeg, ALabelMapOffTheSourceGeometryIsRefusedAndNothingWritten) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  Geometry shifted = study.ct.geometry();
  shifted.originMm[2] += 1.0;  // 0.4 slices off
  const std::string path = tmp / "seg.dcm";
  Status s = writeDicomSeg(labelsFor(shifted), path, segOptions(study));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(s.toString(), "source")) << s.toString();

  Geometry smaller = study.ct.geometry();
  smaller.size[0] -= 1;
  s = writeDicomSeg(labelsFor(smaller), path, segOptions(study));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(s.toString(), "20x17")) << s.toString();

  Geometry turned = study.ct.geometry();
  turned.direction = {0, -1, 0, 1, 0, 0, 0, 0, 1};
  s = writeDicomSeg(labelsFor(turned), path, segOptions(study));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(s.toString(), "orientation")) << s.toString();

  LabelMap empty{*Image<std::uint8_t>::create(study.ct.geometry(), 0), table()};
  s = writeDicomSeg(empty, path, segOptions(study));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(s.toString(), "no label")) << s.toString();

  DicomSegOptions noSource = segOptions(study);
  noSource.sourcePath.clear();
  s = writeDicomSeg(labelsFor(study.ct.geometry()), path, noSource);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);

  DicomSegOptions otherSeries = segOptions(study);
  otherSeries.seriesUid = "1.2.3.4";
  s = writeDicomSeg(labelsFor(study.ct.geometry()), path, otherSeries);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);

  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(tmp.entries().size(), 1u);  // the CT series alone
}

TEST(DicomSeg, ASegOnAnotherCtIsRefusedWithTheReason) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  ASSERT_TRUE(
      writeDicomSeg(labelsFor(study.ct.geometry()), tmp / "seg.dcm", segOptions(study)).ok());
  Geometry other = study.ct.geometry();
  other.originMm = {0, 0, 0};
  auto back = readDicomSeg(tmp / "seg.dcm", other);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().code, StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(back.error().toString(), "does not lie on a slice"))
      << back.error().toString();
  Geometry wider = study.ct.geometry();
  wider.size[1] += 3;
  back = readDicomSeg(tmp / "seg.dcm", wider);
  ASSERT_FALSE(back.ok());
  EXPECT_TRUE(contains(back.error().toString(), "21x17")) << back.error().toString();
}

TEST(DicomSeg, FilesThatAreNotASegAreRefused) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  auto info = describeDicomSeg(study.dir + "/IM000001.dcm");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, StatusCode::kUnsupported);
  EXPECT_TRUE(contains(info.error().toString(), "not a DICOM Segmentation"));
  const std::string junk = tmp / "junk.dcm";
  std::ofstream(junk) << "not dicom at all";
  info = describeDicomSeg(junk);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, StatusCode::kCorruptData);
  EXPECT_FALSE(isDicomSegFile(junk));
  EXPECT_FALSE(isDicomSegFile(tmp / "missing.dcm"));
}

TEST(DicomSr, OneMeasurementGroupPerSegmentWithItsVolumeAndHu) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  const LabelMap labels = labelsFor(study.ct.geometry());
  ASSERT_TRUE(writeDicomSeg(labels, tmp / "seg.dcm", segOptions(study)).ok());
  auto statistics = computeLabelStatistics(study.ct, labels);
  ASSERT_TRUE(statistics.ok());
  DicomSrOptions o;
  o.sourcePath = study.dir;
  o.segPath = tmp / "seg.dcm";
  const Status written = writeDicomSr(*statistics, tmp / "sr.dcm", o);
  ASSERT_TRUE(written.ok()) << written.toString();
  EXPECT_TRUE(isDicomSrFile(tmp / "sr.dcm"));
  EXPECT_FALSE(isDicomSrFile(tmp / "seg.dcm"));
  auto groups = readDicomSrMeasurements(tmp / "sr.dcm");
  ASSERT_TRUE(groups.ok()) << groups.error().toString();
  auto seg = describeDicomSeg(tmp / "seg.dcm");
  ASSERT_TRUE(seg.ok());
  ASSERT_EQ(groups->size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const DicomSrMeasurement& m = (*groups)[i];
    const LabelStatistics& s = (*statistics)[i];
    EXPECT_EQ(m.trackingId, s.name);
    EXPECT_EQ(m.referencedSegment, seg->segments[i].number);
    EXPECT_EQ(m.referencedSegUid, seg->sopInstanceUid);
    EXPECT_EQ(m.finding, seg->segments[i].property.type.meaning);
    EXPECT_NEAR(m.volumeMl, s.volumeMl, 0.005);
    EXPECT_NEAR(m.meanHu, s.huMean, 0.005);
    EXPECT_NEAR(m.sdHu, s.huStd, 0.005);
    EXPECT_EQ(m.touchesFovEdge, s.touchesFovEdge);
  }
  EXPECT_TRUE((*groups)[1].touchesFovEdge);   // lung reaches the last row
  EXPECT_FALSE((*groups)[3].touchesFovEdge);  // the one-voxel tumour lies inside
}

TEST(DicomSr, LabelsTheSegDoesNotHoldOrStatisticsWithoutHuAreRefused) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  LabelMap labels = labelsFor(study.ct.geometry());
  LabelMap fewer = labels;
  for (std::int64_t v = 0; v < fewer.labels.voxelCount(); ++v)
    if (fewer.labels.data()[v] == 9) fewer.labels.data()[v] = 0;
  ASSERT_TRUE(writeDicomSeg(fewer, tmp / "seg.dcm", segOptions(study)).ok());
  DicomSrOptions o;
  o.sourcePath = study.dir;
  o.segPath = tmp / "seg.dcm";
  auto all = computeLabelStatistics(study.ct, labels);
  ASSERT_TRUE(all.ok());
  Status s = writeDicomSr(*all, tmp / "sr.dcm", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(s.toString(), "tumour is not a segment")) << s.toString();
  auto noHu = computeLabelStatistics(fewer);
  ASSERT_TRUE(noHu.ok());
  s = writeDicomSr(*noHu, tmp / "sr.dcm", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(s.toString(), "HU")) << s.toString();
  o.segPath = tmp / "missing.dcm";
  EXPECT_FALSE(writeDicomSr(*all, tmp / "sr.dcm", o).ok());
  EXPECT_FALSE(fs::exists(tmp / "sr.dcm"));
}

// Signed area (shoelace) of a contour in voxel units of `g`'s slice plane.
double areaInVoxels(const PlanarContour& c, const Geometry& g) {
  double area = 0;
  for (std::size_t p = 0; p < c.pointsMm.size(); ++p) {
    const Vec3 a = g.voxelFromWorld(c.pointsMm[p]);
    const Vec3 b = g.voxelFromWorld(c.pointsMm[(p + 1) % c.pointsMm.size()]);
    area += a[0] * b[1] - b[0] * a[1];
  }
  return std::abs(area) / 2;
}

TEST(RtStruct, ARectangleAndARingHaveTheirOutlinesAQuarterVoxelInsideTheirEdges) {
  Geometry g = obliqueGeometry();
  Image<std::uint8_t> labels = *Image<std::uint8_t>::create(g, 0);
  for (std::int64_t j = 2; j <= 6; ++j)  // 7 x 5 voxels on slice 1
    for (std::int64_t i = 3; i <= 9; ++i) labels.at(i, j, 1) = 1;
  for (std::int64_t j = 4; j <= 12; ++j)  // a 9 x 9 ring with a 3 x 3 hole on slice 3
    for (std::int64_t i = 8; i <= 16; ++i)
      labels.at(i, j, 3) = (i >= 11 && i <= 13 && j >= 7 && j <= 9) ? 0 : 1;
  const std::vector<PlanarContour> contours = labelContours(labels, 1);
  ASSERT_EQ(contours.size(), 3u);
  EXPECT_EQ(contours[0].slice, 1);
  EXPECT_FALSE(contours[0].hole);
  EXPECT_NEAR(areaInVoxels(contours[0], g), 6.5 * 4.5, 1e-9);
  int holes = 0;
  for (const PlanarContour& c : contours) {
    for (const Vec3& p : c.pointsMm)  // in the slice's plane
      EXPECT_NEAR(g.voxelFromWorld(p)[2], static_cast<double>(c.slice), 1e-9);
    if (c.slice != 3) continue;
    holes += c.hole;
    // The outer outline a quarter voxel inside; the hole's a quarter voxel
    // into the ring, with its four corners cut diagonally by the border
    // following (a triangle of 1/8 voxel each, far from any voxel centre).
    EXPECT_NEAR(areaInVoxels(c, g), c.hole ? 3.5 * 3.5 - 4 * 0.125 : 8.5 * 8.5, 1e-9);
  }
  EXPECT_EQ(holes, 1);
  EXPECT_TRUE(labelContours(labels, 2).empty());
}

TEST(RtStruct, OneRoiPerLabelWithItsContoursAndRefusals) {
  TempDir tmp;
  const Study study = writeStudy(tmp, obliqueGeometry());
  const LabelMap labels = labelsFor(study.ct.geometry());
  RtStructOptions o;
  o.sourcePath = study.dir;
  const Status written = writeRtStruct(labels, tmp / "rs.dcm", o);
  ASSERT_TRUE(written.ok()) << written.toString();
  EXPECT_TRUE(isRtStructFile(tmp / "rs.dcm"));
  EXPECT_FALSE(isRtStructFile(study.dir + "/IM000001.dcm"));
  auto rois = describeRtStruct(tmp / "rs.dcm");
  ASSERT_TRUE(rois.ok()) << rois.error().toString();
  ASSERT_EQ(rois->size(), 4u);
  const char* names[] = {"soft_tissue", "lung", "liver", "tumour"};
  for (std::size_t r = 0; r < 4; ++r) {
    EXPECT_EQ((*rois)[r].number, static_cast<int>(r + 1));
    EXPECT_EQ((*rois)[r].name, names[r]);
    EXPECT_EQ((*rois)[r].generationAlgorithm, "AUTOMATIC");
    EXPECT_EQ((*rois)[r].contours,
              static_cast<std::int64_t>(
                  labelContours(labels.labels, labels.table.labels[r + 1].value).size()));
  }
  EXPECT_EQ((*rois)[3].contours, 1);  // the one-voxel tumour

  Geometry shifted = study.ct.geometry();
  shifted.originMm[2] += 1.0;
  EXPECT_EQ(writeRtStruct(labelsFor(shifted), tmp / "other.dcm", o).code(),
            StatusCode::kInvalidArgument);
  LabelMap empty{*Image<std::uint8_t>::create(study.ct.geometry(), 0), table()};
  const Status s = writeRtStruct(empty, tmp / "other.dcm", o);
  EXPECT_TRUE(contains(s.toString(), "no label")) << s.toString();
  EXPECT_FALSE(fs::exists(tmp / "other.dcm"));
  EXPECT_EQ(describeRtStruct(study.dir + "/IM000001.dcm").error().code, StatusCode::kUnsupported);
}

}  // namespace
}  // namespace tessera::imaging
