#include "ui/model/workstation_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "imaging/dicom/dicom.h"
#include "imaging/dicom/dicom_rtstruct.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/dicom/dicom_sr.h"
#include "imaging/io/volume_io.h"
#include "models/io/onnx_model.h"
#include "tests/support/synthetic_study.h"
#include "ui/model/series_list.h"

namespace tessera::ui {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class WorkstationModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::makeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    study_ = testing::makeStudy();
    ctPath_ = dir_ + "/ct.nii.gz";
    labelsPath_ = dir_ + "/labels.nii.gz";
    ASSERT_TRUE(imaging::writeVolume(study_.ct, ctPath_).ok());
    ASSERT_TRUE(imaging::writeLabelMap(study_.labels, labelsPath_).ok());
    model_.addListener([this](unsigned changes) { changes_ |= changes; });
    for (int p = 0; p < kPlaneCount; ++p) model_.setViewport(static_cast<Plane>(p), 300, 300);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void openBoth() {
    ASSERT_TRUE(model_.openVolume(ctPath_).ok());
    ASSERT_TRUE(model_.openLabels(labelsPath_).ok());
  }

  std::string dir_, ctPath_, labelsPath_;
  testing::SyntheticStudy study_;
  WorkstationModel model_;
  unsigned changes_ = 0;
};

TEST_F(WorkstationModelTest, OpensCtAndLabelsAndFillsTheTable) {
  openBoth();
  EXPECT_TRUE(model_.hasImage());
  EXPECT_NE(changes_ & kChangeStudy, 0u);
  EXPECT_EQ(model_.recentFiles().paths().front(), ctPath_);
  // Views start on the middle slices through the crosshair.
  EXPECT_EQ(model_.crosshairVoxel(), (std::array<std::int64_t, 3>{32, 32, 16}));
  EXPECT_EQ(model_.view(Plane::kAxial).slice(), 16);
  EXPECT_EQ(model_.view(Plane::kCoronal).slice(), 32);
  const LabelRow* liver = model_.labelTable().find(5);
  ASSERT_NE(liver, nullptr);
  std::int64_t expected = 0;
  for (std::int64_t i = 0; i < study_.labels.labels.voxelCount(); ++i)
    expected += study_.labels.labels.data()[i] == 5;
  EXPECT_EQ(liver->voxels, expected);
  // NIfTI stores spacing as float: use the spacing that was read back.
  EXPECT_NEAR(liver->volumeMl, expected * model_.document().geometry().voxelVolumeMm3() / 1000.0,
              1e-12);
  EXPECT_NEAR(liver->volumeMl, expected * 0.8 * 0.8 * 2.5 / 1000.0, 1e-6);
  EXPECT_NEAR(liver->meanHu, 60.0, 1e-9);
  EXPECT_FALSE(model_.hasUnsavedEdits());
}

TEST_F(WorkstationModelTest, ExportsDicomObjectsOfADicomCtAndOpensTheSegBack) {
  const std::string series = dir_ + "/series";
  ASSERT_TRUE(imaging::writeDicomSeries(study_.ct, series).ok());
  ASSERT_TRUE(model_.openVolume(series).ok());
  LabelMap labels = study_.labels;
  labels.labels.geometry() = model_.document().geometry();  // as read back from DICOM
  ASSERT_TRUE(model_.setLabels(labels, "").ok());
  ASSERT_TRUE(model_.exportDicomSeg(dir_ + "/seg.dcm").ok());
  ASSERT_TRUE(model_.exportRtStruct(dir_ + "/rs.dcm").ok());
  const Status both = model_.exportDicomSegAndSr(dir_ + "/seg2.dcm", dir_ + "/sr.dcm");
  ASSERT_TRUE(both.ok()) << both.toString();
  auto info = imaging::describeDicomSeg(dir_ + "/seg.dcm");
  ASSERT_TRUE(info.ok());
  auto rois = imaging::describeRtStruct(dir_ + "/rs.dcm");
  ASSERT_TRUE(rois.ok());
  auto groups = imaging::readDicomSrMeasurements(dir_ + "/sr.dcm");
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(rois->size(), info->segments.size());
  EXPECT_EQ(groups->size(), info->segments.size());

  EXPECT_EQ(info->segments.at(0).property.type.value,
            imaging::defaultSegmentProperty(info->segments.at(0).label)->type.value);

  // With a model whose metadata codes a label, the SEG carries that code.
  ASSERT_TRUE(model_.modelSession().load("").ok());
  const std::string& coded = info->segments.at(0).label;
  models::MetadataEdit edit;
  edit.labelCodes = std::map<std::string, models::LabelCoding>{
      {coded, {{"85756007", "SCT", "Tissue"}, {"91727004", "SCT", "Muscle"}}}};
  ASSERT_TRUE(
      models::writeWithMetadata(model_.modelSession().path(), dir_ + "/coded.onnx", edit).ok());
  ASSERT_TRUE(model_.modelSession().load(dir_ + "/coded.onnx").ok());
  ASSERT_TRUE(model_.exportDicomSeg(dir_ + "/coded-seg.dcm").ok());
  auto codedInfo = imaging::describeDicomSeg(dir_ + "/coded-seg.dcm");
  ASSERT_TRUE(codedInfo.ok());
  EXPECT_EQ(codedInfo->segments.at(0).label, coded);
  EXPECT_EQ(codedInfo->segments.at(0).property.type.value, "91727004");
  EXPECT_EQ(codedInfo->segments.at(0).property.type.meaning, "Muscle");
  EXPECT_EQ(codedInfo->segments.at(1).property.type.value,
            imaging::defaultSegmentProperty(codedInfo->segments.at(1).label)->type.value);

  // A fresh session: the CT from DICOM, then the SEG as its segmentation.
  WorkstationModel other;
  ASSERT_TRUE(other.openVolume(series).ok());
  ASSERT_TRUE(other.isSegmentationOfOpenCt(dir_ + "/seg.dcm"));
  const Status opened = other.openLabels(dir_ + "/seg.dcm");
  ASSERT_TRUE(opened.ok()) << opened.toString();
  const LabelMap& back = other.document().labels();
  EXPECT_TRUE(back.labels.buffer() == labels.labels.buffer()) << "voxel values differ";
  EXPECT_EQ(back.table.nameOf(5), labels.table.nameOf(5));
}

TEST_F(WorkstationModelTest, TheBannerShowsThePatientAndStudyFromTheDicomHeader) {
  imaging::DicomWriteOptions options;
  options.patientName = "Doe^Jane";
  options.patientId = "P-0042";
  options.studyDescription = "CT abdomen";
  options.studyDate = "20260314";
  options.seriesDescription = "Axial 2.5 mm";
  ASSERT_TRUE(imaging::writeDicomSeries(study_.ct, dir_ + "/series", options).ok());
  ASSERT_TRUE(model_.openVolume(dir_ + "/series").ok());
  EXPECT_EQ(
      model_.studyBanner(),
      "Doe, Jane \u00B7 ID P-0042 \u00B7 2026-03-14 \u00B7 CT abdomen \u00B7 Axial 2.5 mm (CT)");
  ASSERT_TRUE(model_.openVolume(ctPath_).ok());
  EXPECT_EQ(model_.studyBanner(), "No patient identity (ct.nii.gz)");
}

TEST_F(WorkstationModelTest, DicomExportsOfANonDicomCtOrAForeignSegAreRefused) {
  openBoth();
  const Status s = model_.exportDicomSeg(dir_ + "/seg.dcm");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.toString().find("not from DICOM"), std::string::npos) << s.toString();
  EXPECT_FALSE(fs::exists(dir_ + "/seg.dcm"));
  EXPECT_FALSE(model_.exportDicomSegAndSr(dir_ + "/a.dcm", dir_ + "/b.dcm").ok());
  EXPECT_FALSE(fs::exists(dir_ + "/a.dcm"));

  // A SEG made on another CT (shifted by 10 slices) does not open over this one.
  Volume shifted = study_.ct;
  shifted.geometry().originMm[2] += 25.0;
  const std::string series = dir_ + "/other";
  ASSERT_TRUE(imaging::writeDicomSeries(shifted, series).ok());
  WorkstationModel maker;
  ASSERT_TRUE(maker.openVolume(series).ok());
  LabelMap labels = study_.labels;
  labels.labels.geometry() = maker.document().geometry();
  ASSERT_TRUE(maker.setLabels(labels, "").ok());
  ASSERT_TRUE(maker.exportDicomSeg(dir_ + "/foreign.dcm").ok());
  WorkstationModel dicomCt;
  ASSERT_TRUE(imaging::writeDicomSeries(study_.ct, dir_ + "/series").ok());
  ASSERT_TRUE(dicomCt.openVolume(dir_ + "/series").ok());
  const Status refused = dicomCt.openLabels(dir_ + "/foreign.dcm");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.toString().find("does not lie on a slice"), std::string::npos)
      << refused.toString();
  EXPECT_TRUE(dicomCt.hasImage());
}

TEST_F(WorkstationModelTest, BadFilesGiveReadableErrorsAndKeepTheStudy) {
  openBoth();
  const std::string corrupt = dir_ + "/corrupt.nii.gz";
  std::ofstream(corrupt) << "this is not a NIfTI file";
  Status status = model_.openVolume(corrupt);
  ASSERT_FALSE(status.ok());
  EXPECT_FALSE(status.error().message.empty());
  EXPECT_EQ(status.error().context, corrupt);
  EXPECT_TRUE(model_.hasImage());
  EXPECT_EQ(model_.document().ctPath(), ctPath_);

  const std::string empty = dir_ + "/empty";
  fs::create_directories(empty);
  EXPECT_FALSE(model_.openVolume(empty).ok());

  Geometry other = study_.ct.geometry();
  other.size = {32, 32, 16};
  LabelMap small{*Image<std::uint8_t>::create(other, 0), defaultLabelTable()};
  const std::string smallPath = dir_ + "/small.nii.gz";
  ASSERT_TRUE(imaging::writeLabelMap(small, smallPath).ok());
  status = model_.openLabels(smallPath);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("does not match"), std::string::npos);
  EXPECT_EQ(model_.document().labelsPath(), labelsPath_);
}

TEST_F(WorkstationModelTest, ScrollAndClickMoveTheLinkedCrosshair) {
  openBoth();
  model_.scroll(Plane::kAxial, 3);
  EXPECT_EQ(model_.view(Plane::kAxial).slice(), 19);  // identity direction: +k is superior
  EXPECT_EQ(model_.crosshairVoxel()[2], 19);
  model_.scroll(Plane::kAxial, -100);
  EXPECT_EQ(model_.view(Plane::kAxial).slice(), 0);

  // Clicking the liver's centre in the axial view moves the coronal and
  // sagittal views to the slices through it.
  model_.scroll(Plane::kAxial, 16);
  const SliceViewModel& axial = model_.view(Plane::kAxial);
  model_.setCrosshairFromScreen(Plane::kAxial, axial.screenFromVoxel({40, 28, 16}));
  EXPECT_EQ(model_.crosshairVoxel(), (std::array<std::int64_t, 3>{40, 28, 16}));
  EXPECT_EQ(model_.view(Plane::kCoronal).slice(), 28);
  EXPECT_EQ(model_.view(Plane::kSagittal).slice(), 40);
  const Vec3 world = model_.document().geometry().worldFromVoxel({40, 28, 16});
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(model_.crosshairMm()[a], world[a], 1e-9);

  // Coronal forward is anterior, i.e. towards lower j for this direction.
  model_.scroll(Plane::kCoronal, 2);
  EXPECT_EQ(model_.view(Plane::kCoronal).slice(), 26);
}

TEST_F(WorkstationModelTest, CursorInfoReportsHuLabelAndPosition) {
  openBoth();
  model_.scroll(Plane::kAxial, 0);
  const SliceViewModel& axial = model_.view(Plane::kAxial);
  const auto info = model_.cursorInfo(Plane::kAxial, axial.screenFromVoxel({40, 28, 16}));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->hu, 60);
  EXPECT_EQ(info->labelName, "liver");
  const std::string text = describeCursor(*info);
  EXPECT_NE(text.find("HU 60"), std::string::npos) << text;
  EXPECT_NE(text.find("liver"), std::string::npos) << text;
  EXPECT_NE(text.find("mm (LPS)"), std::string::npos) << text;
  EXPECT_FALSE(model_.cursorInfo(Plane::kAxial, {-100, -100}));
}

TEST_F(WorkstationModelTest, WindowPresetChangesRenderedGrey) {
  openBoth();
  model_.setLabelOpacity(0.0);
  model_.applyPreset(3);  // brain W80/L40
  EXPECT_EQ(model_.windowLevel(), (WindowLevel{80, 40}));
  EXPECT_NE(changes_ & kChangeWindow, 0u);
  const SliceImage image = model_.renderView(Plane::kAxial);
  // Body voxel (HU 40) sits at mid-grey, the kidney-free liver (HU 60) brighter.
  const std::uint32_t body = image.at(32, 50), liver = image.at(40, 28);
  EXPECT_EQ(body & 0xFF, greyFor(40, {80, 40}));
  EXPECT_EQ(liver & 0xFF, greyFor(60, {80, 40}));
  EXPECT_GT(liver & 0xFF, body & 0xFF);
}

TEST_F(WorkstationModelTest, StrokeUndoRedoUpdateLabelsTableAndUnsavedFlag) {
  openBoth();
  model_.setSelectedLabel(8);
  model_.setBrushRadiusMm(3.0);
  const auto before = model_.document().labels().labels.buffer();
  ASSERT_TRUE(model_.beginStroke(Plane::kAxial, {150, 150}));
  model_.continueStroke({170, 160});
  model_.endStroke();
  EXPECT_TRUE(model_.hasUnsavedEdits());
  const std::int64_t painted = model_.labelTable().find(8)->voxels;
  EXPECT_GT(painted, 10);
  ASSERT_TRUE(model_.undo());
  EXPECT_TRUE(model_.document().labels().labels.buffer() == before);
  EXPECT_EQ(model_.labelTable().find(8)->voxels, 0);
  EXPECT_FALSE(model_.hasUnsavedEdits());
  ASSERT_TRUE(model_.redo());
  EXPECT_EQ(model_.labelTable().find(8)->voxels, painted);
  // Background is not a paintable label.
  model_.setSelectedLabel(0);
  EXPECT_FALSE(model_.beginStroke(Plane::kAxial, {150, 150}));
}

TEST_F(WorkstationModelTest, SavedLabelsReadBackEqualAndClearUnsaved) {
  openBoth();
  model_.setSelectedLabel(9);
  ASSERT_TRUE(model_.beginStroke(Plane::kCoronal, {150, 150}));
  model_.endStroke();
  ASSERT_TRUE(model_.hasUnsavedEdits());
  for (const char* name : {"edited.nii.gz", "edited.nrrd"}) {
    const std::string path = dir_ + "/" + name;
    ASSERT_TRUE(model_.saveLabels(path).ok());
    auto back = imaging::readLabelMap(path);
    ASSERT_TRUE(back.ok()) << back.error().toString();
    EXPECT_TRUE(sameGeometry(back->labels.geometry(), study_.ct.geometry()));
    EXPECT_TRUE(back->labels.buffer() == model_.document().labels().labels.buffer());
  }
  EXPECT_FALSE(model_.hasUnsavedEdits());
  EXPECT_FALSE(model_.saveLabels(dir_ + "/labels.png").ok());
  EXPECT_FALSE(model_.saveLabels(dir_ + "/missing/dir/labels.nii.gz").ok());
}

TEST_F(WorkstationModelTest, StatisticsExportCarriesMillilitres) {
  openBoth();
  const std::string csv = dir_ + "/stats.csv", json = dir_ + "/stats.json";
  ASSERT_TRUE(model_.exportStatistics(csv).ok());
  ASSERT_TRUE(model_.exportStatistics(json).ok());
  const LabelRow* liver = model_.labelTable().find(5);
  ASSERT_NE(liver, nullptr);

  // The CSV row of the liver: value, name, voxel count, volume in mL.
  auto text = readTextFile(csv);
  ASSERT_TRUE(text.ok());
  const std::size_t row = text->find("\n5,liver,");
  ASSERT_NE(row, std::string::npos) << *text;
  long long voxels = 0;
  double ml = 0;
  ASSERT_EQ(std::sscanf(text->c_str() + row, "\n5,liver,%lld,%lf", &voxels, &ml), 2);
  EXPECT_EQ(voxels, liver->voxels);
  EXPECT_NEAR(ml, liver->volumeMl, 1e-3);

  auto parsed = parseJson(*readTextFile(json));
  ASSERT_TRUE(parsed.ok()) << parsed.error().toString();
  EXPECT_EQ(parsed->getString("ct"), ctPath_);
  const JsonValue* stats = parsed->find("statistics");
  ASSERT_TRUE(stats && stats->isObject());
  const JsonValue* labels = stats->find("labels");
  ASSERT_TRUE(labels && labels->isArray());
  bool found = false;
  for (const JsonValue& entry : labels->items())
    if (entry.getString("name") == "liver") {
      found = true;
      EXPECT_NEAR(entry.getNumber("volume_ml"), liver->volumeMl, 1e-9);
      EXPECT_NEAR(entry.getNumber("hu_mean"), 60.0, 1e-9);
    }
  EXPECT_TRUE(found);
  EXPECT_FALSE(model_.exportStatistics(dir_ + "/stats.txt").ok());
}

// Binary STL: 80-byte header, triangle count, then 50 bytes per triangle
// (normal, three vertices as float32, attribute).
struct StlFile {
  std::string header;
  std::vector<std::array<float, 3>> vertices;
};

StlFile readStl(const std::string& path) {
  StlFile stl;
  std::ifstream in(path, std::ios::binary);
  char header[80];
  in.read(header, 80);
  stl.header.assign(header, 80);
  std::uint32_t count = 0;
  in.read(reinterpret_cast<char*>(&count), 4);
  for (std::uint32_t t = 0; t < count && in; ++t) {
    float data[12];
    std::uint16_t attribute;
    in.read(reinterpret_cast<char*>(data), 48);
    in.read(reinterpret_cast<char*>(&attribute), 2);
    for (int v = 1; v < 4; ++v)
      stl.vertices.push_back({data[3 * v], data[3 * v + 1], data[3 * v + 2]});
  }
  return stl;
}

TEST_F(WorkstationModelTest, MeshesAreWrittenPerLabelAtTheirPlaceInPatientSpace) {
  openBoth();
  auto written = model_.exportMeshes(dir_, ".stl");
  ASSERT_TRUE(written.ok()) << written.error().toString();
  EXPECT_EQ(written->size(), 3u);  // soft tissue, liver, kidney
  const StlFile liver = readStl(dir_ + "/liver.stl");
  EXPECT_NE(liver.header.find("Tessera label liver (5) frame LPS units mm"), std::string::npos);
  ASSERT_GT(liver.vertices.size(), 300u);
  // Every vertex lies near the sphere of radius 9 mm around the liver's
  // centre in patient coordinates (the smoothed surface sits within about
  // a voxel of the voxelised sphere).
  const Vec3 centre = model_.document().geometry().worldFromVoxel({40, 28, 16});
  for (const auto& v : liver.vertices) {
    const double r = std::sqrt((v[0] - centre[0]) * (v[0] - centre[0]) +
                               (v[1] - centre[1]) * (v[1] - centre[1]) +
                               (v[2] - centre[2]) * (v[2] - centre[2]));
    ASSERT_GT(r, 9.0 - 2.5);
    ASSERT_LT(r, 9.0 + 1.5);
  }
  auto obj = model_.exportMeshes(dir_, ".obj");
  ASSERT_TRUE(obj.ok());
  auto text = readTextFile(dir_ + "/kidney.obj");
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("frame LPS"), std::string::npos);
  EXPECT_NE(text->find("\nv "), std::string::npos);
  EXPECT_NE(text->find("\nf "), std::string::npos);
  EXPECT_FALSE(model_.exportMeshes(dir_ + "/missing", ".stl").ok());
  EXPECT_FALSE(model_.exportMeshes(dir_, ".ply").ok());
}

TEST_F(WorkstationModelTest, DicomFolderListsItsSeriesAndOpensTheChosenOne) {
  imaging::DicomWriteOptions options;
  options.patientName = "DOE^JANE";
  options.patientId = "P42";
  options.studyDescription = "Abdomen";
  options.seriesDescription = "Portal venous";
  const std::string folder = dir_ + "/dicom";
  ASSERT_TRUE(imaging::writeDicomSeries(study_.ct, folder, options).ok());
  auto listing = listStudySeries(folder);
  ASSERT_TRUE(listing.ok()) << listing.error().toString();
  ASSERT_EQ(listing->series.size(), 1u);
  EXPECT_EQ(listing->defaultIndex, 0);
  const SeriesEntry& entry = listing->series[0];
  EXPECT_EQ(entry.patient, "DOE JANE (P42)");
  EXPECT_EQ(entry.study, "Abdomen");
  EXPECT_NE(entry.description.find("Portal venous"), std::string::npos);
  EXPECT_EQ(entry.modality, "CT");
  EXPECT_EQ(entry.slices, 32);
  EXPECT_TRUE(entry.readable);
  ASSERT_TRUE(model_.openVolume(folder, entry.uid).ok());
  EXPECT_EQ(model_.document().geometry().size, study_.ct.geometry().size);
  EXPECT_EQ(model_.document().ct().at(20, 38, 12), 160);

  const std::string empty = dir_ + "/empty";
  fs::create_directories(empty);
  auto none = listStudySeries(empty);
  ASSERT_FALSE(none.ok());
  EXPECT_FALSE(none.error().message.empty());
}

TEST_F(WorkstationModelTest, BlockMapLoadsAndTurnsOverlayOn) {
  openBoth();
  LabelMap blocks{*Image<std::uint8_t>::create(study_.ct.geometry(), 0), {}};
  for (int y = 16; y < 32; ++y)
    for (int x = 16; x < 32; ++x) blocks.labels.at(x, y, 16) = 1;
  const std::string path = dir_ + "/blocks.nii.gz";
  ASSERT_TRUE(imaging::writeLabelMap(blocks, path).ok());
  const SliceImage without = model_.renderView(Plane::kAxial);
  ASSERT_TRUE(model_.openBlockMap(path).ok());
  EXPECT_TRUE(model_.showBlocks());
  const SliceImage with = model_.renderView(Plane::kAxial);
  EXPECT_NE(with.at(16, 20), without.at(16, 20));
  EXPECT_EQ(with.at(5, 5), without.at(5, 5));
  model_.setShowBlocks(false);
  EXPECT_EQ(model_.renderView(Plane::kAxial).pixels, without.pixels);
}

// The engine's seam: a job on a worker thread whose slices show while it
// runs; the user's labels and history survive a cancelled job.
SegmentationJob gatedThresholdJob(std::atomic<int>* released) {
  return [released](const Volume& ct, ProgressSink* sink, const CancelToken& cancel,
                    SliceCallback onSlice) -> Result<SegmentationOutput> {
    TESSERA_ASSIGN_OR_RETURN(auto labels, Image<std::uint8_t>::create(ct.geometry(), 0));
    ProgressTracker tracker(sink, 0.0);
    for (std::int64_t k = 0; k < ct.nz(); ++k) {
      while (released->load() <= k) {
        TESSERA_RETURN_IF_ERROR(cancel.check());
        std::this_thread::sleep_for(1ms);
      }
      for (std::int64_t i = 0; i < ct.nx() * ct.ny(); ++i)
        labels.slice(k)[i] = ct.slice(k)[i] > 100 ? 3 : 0;
      onSlice(SlicePlacement::axial(ct.geometry().size, k), labels.slice(k));
      tracker.report(double(k + 1) / ct.nz(), "slice");
    }
    return SegmentationOutput{LabelMap{std::move(labels), defaultLabelTable()}, {}, "threshold"};
  };
}

TEST_F(WorkstationModelTest, SegmentationShowsSlicesAsTheyArriveThenReplacesLabels) {
  openBoth();
  std::atomic<int> released{0};
  ASSERT_TRUE(model_.startSegmentation(gatedThresholdJob(&released)).ok());
  EXPECT_TRUE(model_.segmentationState().running);
  EXPECT_FALSE(model_.beginStroke(Plane::kAxial, {150, 150})) << "no painting while segmenting";
  released = 13;  // slices 0..12 (the kidney sphere reaches slice 12)
  while (model_.segmentationState().slicesDone < 13) {
    ASSERT_TRUE(model_.pollSegmentation().ok());
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(model_.displayedLabels().at(20, 38, 12), 3);           // kidney, HU 160
  EXPECT_EQ(model_.displayedLabels().at(40, 28, 16), 0);           // slice not done yet
  EXPECT_EQ(model_.document().labels().labels.at(40, 28, 16), 5);  // document untouched
  EXPECT_GT(model_.labelTable().find(3)->voxels, 0);
  EXPECT_GT(model_.segmentationState().fraction, 0.3);
  released = 1000;
  ASSERT_TRUE(model_.finishSegmentation().ok());
  EXPECT_FALSE(model_.segmentationState().running);
  EXPECT_EQ(model_.document().labels().labels.at(40, 28, 16), 0);
  EXPECT_EQ(model_.document().labels().labels.at(20, 38, 12), 3);
  EXPECT_TRUE(model_.hasUnsavedEdits());
}

TEST_F(WorkstationModelTest, CancelledSegmentationKeepsLabelsAndHistory) {
  openBoth();
  model_.setSelectedLabel(8);
  ASSERT_TRUE(model_.beginStroke(Plane::kAxial, {150, 150}));
  model_.endStroke();
  const auto edited = model_.document().labels().labels.buffer();
  std::atomic<int> released{5};
  ASSERT_TRUE(model_.startSegmentation(gatedThresholdJob(&released)).ok());
  while (model_.segmentationState().slicesDone < 5) {
    ASSERT_TRUE(model_.pollSegmentation().ok());
    std::this_thread::sleep_for(1ms);
  }
  model_.cancelSegmentation();
  EXPECT_TRUE(model_.finishSegmentation().ok()) << "cancelling is not an error";
  EXPECT_EQ(model_.segmentationState().message, "Cancelled");
  EXPECT_TRUE(model_.document().labels().labels.buffer() == edited);
  EXPECT_TRUE(model_.document().canUndo());
  EXPECT_EQ(&model_.displayedLabels(), &model_.document().labels().labels);
  EXPECT_EQ(model_.labelTable().find(3)->voxels, 0);
}

TEST_F(WorkstationModelTest, FailedSegmentationReportsItsError) {
  openBoth();
  ASSERT_TRUE(model_
                  .startSegmentation([](const Volume&, ProgressSink*, const CancelToken&,
                                        SliceCallback) -> Result<SegmentationOutput> {
                    return Error{StatusCode::kResourceExhausted, "not enough memory", ""};
                  })
                  .ok());
  const Status status = model_.finishSegmentation();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(model_.document().labels().labels.at(40, 28, 16), 5);
}

}  // namespace
}  // namespace tessera::ui
