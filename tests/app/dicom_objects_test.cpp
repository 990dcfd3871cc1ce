// DICOM objects out of the real `tessera` executable, checked by readers that
// are not Tessera: pydicom (tests/app/dicom_seg_check.py) and dciodvfy
// (Debian dicom3tools), the IOD validator of David Clunie's dicom3tools.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json.h"
#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "tests/support/batch_fixture.h"
#include "tests/support/cli_run.h"
#include "tests/support/temp_dir.h"

namespace tessera {
namespace {
namespace fs = std::filesystem;
using tessera::testing::CommandRun;
using tessera::testing::contains;
using tessera::testing::expectFailure;
using tessera::testing::kTessera;
using tessera::testing::quote;
using tessera::testing::runCommand;
using tessera::testing::TempDir;

const std::string kCheckSeg = std::string(TESSERA_SOURCE_DIR) + "/tests/app/dicom_seg_check.py";
const std::string kCheckRtStruct = std::string(TESSERA_SOURCE_DIR) + "/tests/app/rtstruct_check.py";

bool haveProgram(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// dciodvfy's findings that are errors ("Error - ..."), one per line.
std::string dciodvfyErrors(const std::string& text) {
  std::istringstream lines(text);
  std::string errors;
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("Error", 0) == 0) errors += line + "\n";
  return errors;
}

class DicomObjects : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kTessera)) GTEST_SKIP() << kTessera << " was not built";
    ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  }
  CommandRun tessera(const std::vector<std::string>& args) const {
    return tessera::testing::runTessera(capture, args);
  }
  // A phantom CT written as a DICOM series of a named patient.
  std::string writeSeries(const std::string& name, int caseIndex) {
    EXPECT_TRUE(tessera::testing::writePhantomSeries(dir / name, caseIndex).ok());
    return dir / name;
  }
  TempDir capture;
  TempDir dir;
};

TEST_F(DicomObjects, SegmentWritesADicomSegThatPydicomAndDciodvfyRead) {
  const std::string series = writeSeries("series", 0);
  CommandRun run =
      tessera({"segment", "-i", series, "-o", dir / "labels.nii", "--dicom-seg", dir / "seg.dcm",
               "--sr", dir / "sr.dcm", "--model", dir / "model.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "wrote " + dir / "seg.dcm")) << run.out;
  EXPECT_TRUE(contains(run.out, "wrote " + dir / "sr.dcm")) << run.out;

  run = tessera({"info", dir / "seg.dcm"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "DICOM-SEG (BINARY")) << run.out;
  EXPECT_TRUE(contains(run.out, "Doe^Jane (P-0042)")) << run.out;
  run = tessera({"info", "--json", dir / "seg.dcm"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto json = parseJson(run.out);
  ASSERT_TRUE(json.ok()) << run.out;
  auto listing = imaging::listDicomSeries(series);
  ASSERT_TRUE(listing.ok());
  const JsonValue* referenced = json->find("referenced_series");
  ASSERT_TRUE(referenced && referenced->items().size() == 1) << run.out;
  EXPECT_EQ(referenced->items()[0].asString(), listing->series[0].seriesUid);
  EXPECT_EQ(json->getString("study_uid"), listing->series[0].studyUid);
  const JsonValue* segments = json->find("segments");
  ASSERT_TRUE(segments && !segments->items().empty()) << run.out;
  const JsonValue& first = segments->items()[0];
  EXPECT_EQ(first.getString("algorithm_name"), "batch-test");
  ASSERT_TRUE(first.find("type"));
  EXPECT_EQ(first.find("type")->getString("scheme"), "SCT");

  if (std::system("/usr/bin/python3 -c 'import pydicom, numpy' >/dev/null 2>&1") == 0) {
    run =
        runCommand(capture, "/usr/bin/python3 " + quote(kCheckSeg) + " " + quote(dir / "seg.dcm") +
                                " " + quote(dir / "labels.nii") + " " + quote(series));
    EXPECT_EQ(run.code, 0) << run.out << run.err;
    EXPECT_TRUE(contains(run.out, "ok:")) << run.out;
  } else {
    ADD_FAILURE() << "/usr/bin/python3 with pydicom and numpy is needed (scripts/setup)";
  }
  if (!haveProgram("dciodvfy")) GTEST_SKIP() << "dciodvfy is missing (Debian dicom3tools)";
  run = runCommand(capture, "dciodvfy " + quote(dir / "seg.dcm"));
  std::string report = run.out + run.err;
  EXPECT_TRUE(contains(report, "Segmentation")) << report;
  EXPECT_EQ(dciodvfyErrors(report), "") << report;
  run = runCommand(capture, "dciodvfy " + quote(dir / "sr.dcm"));
  report = run.out + run.err;
  EXPECT_TRUE(contains(report, "EnhancedSR")) << report;
  EXPECT_EQ(dciodvfyErrors(report), "") << report;
}

TEST_F(DicomObjects, SegmentWritesAnRtStructWhoseContoursRebuildTheLabels) {
  const std::string series = writeSeries("series", 2);
  CommandRun run = tessera({"segment", "-i", series, "-o", dir / "labels.nii", "--rtstruct",
                            dir / "rs.dcm", "--model", dir / "model.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "wrote " + dir / "rs.dcm")) << run.out;
  run = tessera({"info", dir / "rs.dcm"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "RT Structure Set")) << run.out;
  ASSERT_EQ(std::system("/usr/bin/python3 -c 'import pydicom, numpy' >/dev/null 2>&1"), 0)
      << "/usr/bin/python3 with pydicom and numpy is needed (scripts/setup)";
  run = runCommand(capture, "/usr/bin/python3 " + quote(kCheckRtStruct) + " " +
                                quote(dir / "rs.dcm") + " " + quote(dir / "labels.nii") + " " +
                                quote(series));
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "ok:")) << run.out;
  if (!haveProgram("dciodvfy")) GTEST_SKIP() << "dciodvfy is missing (Debian dicom3tools)";
  run = runCommand(capture, "dciodvfy " + quote(dir / "rs.dcm"));
  const std::string report = run.out + run.err;
  EXPECT_TRUE(contains(report, "RTStructureSet")) << report;
  EXPECT_EQ(dciodvfyErrors(report), "") << report;
}

TEST_F(DicomObjects, DeidentifiedSeriesAndObjectsKeepReferencingEachOther) {
  const std::string series = writeSeries("series", 0);
  std::ofstream(dir / "site.key") << "a secret of the site, long enough\n";
  const std::vector<std::string> deid = {"--deidentify", "--deidentify-key", dir / "site.key"};
  std::vector<std::string> convert = {"convert", series, dir / "deid/"};
  convert.insert(convert.end(), deid.begin(), deid.end());
  CommandRun run = tessera(convert);
  ASSERT_EQ(run.code, 0) << run.err;
  std::vector<std::string> segment = {"segment",          "-i",          series,          "-o",
                                      dir / "labels.nii", "--dicom-seg", dir / "seg.dcm", "--sr",
                                      dir / "sr.dcm",     "--rtstruct",  dir / "rs.dcm",  "--model",
                                      dir / "model.onnx"};
  segment.insert(segment.end(), deid.begin(), deid.end());
  run = tessera(segment);
  ASSERT_EQ(run.code, 0) << run.err;

  // The objects name the de-identified patient and reference the
  // de-identified series (the checks compare with that series).
  run = tessera({"info", "--json", dir / "seg.dcm"});
  auto seg = parseJson(run.out);
  ASSERT_TRUE(seg.ok()) << run.out;
  EXPECT_EQ(seg->getString("patient_name").rfind("ANON", 0), 0u) << run.out;
  auto listing = imaging::listDicomSeries(dir / "deid");
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(seg->getString("patient_id"), listing->series[0].patientId);
  EXPECT_EQ(seg->find("referenced_series")->items()[0].asString(), listing->series[0].seriesUid);
  ASSERT_EQ(std::system("/usr/bin/python3 -c 'import pydicom, numpy' >/dev/null 2>&1"), 0);
  run = runCommand(capture, "/usr/bin/python3 " + quote(kCheckSeg) + " " + quote(dir / "seg.dcm") +
                                " " + quote(dir / "labels.nii") + " " + quote(dir / "deid") + " " +
                                quote(dir / "sr.dcm"));
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  run = runCommand(capture, "/usr/bin/python3 " + quote(kCheckRtStruct) + " " +
                                quote(dir / "rs.dcm") + " " + quote(dir / "labels.nii") + " " +
                                quote(dir / "deid"));
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  for (const char* name : {"seg.dcm", "sr.dcm", "rs.dcm"}) {
    const std::string bytes = tessera::testing::slurp(dir / name);
    EXPECT_EQ(bytes.find("Doe^Jane"), std::string::npos) << name << " names the patient";
    EXPECT_EQ(bytes.find("P-0042"), std::string::npos) << name << " holds the patient ID";
    if (!haveProgram("dciodvfy")) continue;
    run = runCommand(capture, "dciodvfy " + quote(dir / name));
    EXPECT_EQ(dciodvfyErrors(run.out + run.err), "") << name << "\n" << run.out << run.err;
  }
}

TEST_F(DicomObjects, ConvertKeepsTheSourcesPatientOrSaysItHasNone) {
  const std::string series = writeSeries("series", 0);
  CommandRun run = tessera({"convert", series, dir / "copy/"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto source = imaging::listDicomSeries(series), copy = imaging::listDicomSeries(dir / "copy");
  ASSERT_TRUE(source.ok() && copy.ok());
  EXPECT_EQ(copy->series[0].patientName, "Doe^Jane");
  EXPECT_EQ(copy->series[0].patientId, "P-0042");
  EXPECT_EQ(copy->series[0].studyUid, source->series[0].studyUid);
  EXPECT_NE(copy->series[0].seriesUid, source->series[0].seriesUid);

  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  run = tessera({"convert", dir / "ct.nii.gz", dir / "anonymous/"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.err, "carries no patient identity")) << run.err;
  run = tessera({"convert", dir / "ct.nii.gz", dir / "named/", "--patient-name", "Roe^Richard",
                 "--patient-id", "R-1"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto named = imaging::listDicomSeries(dir / "named");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->series[0].patientName, "Roe^Richard");
  EXPECT_EQ(named->series[0].patientId, "R-1");

  // Usage errors: exit 2, nothing written.
  EXPECT_EQ(tessera({"convert", dir / "ct.nii.gz", dir / "x/", "--deidentify"}).code, 2);
  EXPECT_EQ(tessera({"convert", series, dir / "x.nii.gz", "--deidentify"}).code, 2);
  EXPECT_EQ(tessera({"convert", series, dir / "x/", "--keep-dates"}).code, 2);
  EXPECT_EQ(tessera({"convert", series, dir / "x/", "--patient-name", "A^B"}).code, 2);
  EXPECT_FALSE(fs::exists(dir / "x"));
  expectFailure(tessera({"segment", "-i", series, "-o", dir / "l.nii.gz", "--deidentify", "--model",
                         dir / "model.onnx"}),
                "--deidentify applies to the DICOM outputs");
}

TEST_F(DicomObjects, TheModelsLabelCodesReachTheSeg) {
  const std::string series = writeSeries("series", 0);
  std::ofstream(dir / "codes.json")
      << R"({"soft_tissue": {"category": ["85756007", "SCT", "Tissue"],
                             "type": ["91727004", "SCT", "Muscle"]}})";
  CommandRun run = tessera(
      {"model", dir / "model.onnx", "--label-codes", dir / "codes.json", "-o", dir / "coded.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  run = tessera({"model", dir / "coded.onnx"});
  EXPECT_TRUE(contains(run.out, "\"soft_tissue\"")) << run.out;
  run = tessera({"segment", "-i", series, "-o", dir / "labels.nii.gz", "--dicom-seg",
                 dir / "seg.dcm", "--model", dir / "coded.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  run = tessera({"info", "--json", dir / "seg.dcm"});
  auto seg = parseJson(run.out);
  ASSERT_TRUE(seg.ok()) << run.out;
  bool found = false;
  for (const JsonValue& s : seg->find("segments")->items()) {
    if (s.getString("label") == "soft_tissue") {
      found = true;
      EXPECT_EQ(s.find("type")->getString("value"), "91727004");
      EXPECT_EQ(s.find("type")->getString("meaning"), "Muscle");
    } else if (s.getString("label") == "fat") {
      EXPECT_EQ(s.find("type")->getString("value"), "55603005");  // the default stays
    }
  }
  EXPECT_TRUE(found) << run.out;
  std::ofstream(dir / "bad.json")
      << R"({"heart": {"category": ["1","SCT","x"], "type": ["2","SCT","y"]}})";
  expectFailure(tessera({"model", dir / "model.onnx", "--label-codes", dir / "bad.json", "-o",
                         dir / "bad.onnx"}),
                "not a label of the model");
  EXPECT_FALSE(fs::exists(dir / "bad.onnx"));
}

TEST_F(DicomObjects, InfoListsTheMeasurementsOfAReport) {
  const std::string series = writeSeries("series", 1);
  CommandRun run =
      tessera({"segment", "-i", series, "-o", dir / "labels.nii.gz", "--dicom-seg", dir / "seg.dcm",
               "--sr", dir / "sr.dcm", "--report", dir / "r.json", "--model", dir / "model.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  run = tessera({"info", "--json", dir / "sr.dcm"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto sr = parseJson(run.out);
  auto report = parseJson(tessera::testing::slurp(dir / "r.json"));
  ASSERT_TRUE(sr.ok() && report.ok()) << run.out;
  const JsonValue* groups = sr->find("measurement_groups");
  ASSERT_TRUE(groups);
  // The report's labels (background excluded) and the SR's groups, in order.
  const JsonValue* statistics = report->find("statistics");
  ASSERT_TRUE(statistics && statistics->find("labels")) << tessera::testing::slurp(dir / "r.json");
  std::vector<const JsonValue*> labels;
  for (const JsonValue& l : statistics->find("labels")->items())
    if (l.getString("name") != "background") labels.push_back(&l);
  ASSERT_EQ(groups->items().size(), labels.size()) << run.out;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const JsonValue& g = groups->items()[i];
    EXPECT_EQ(g.getString("tracking_id"), labels[i]->getString("name"));
    EXPECT_NEAR(g.getNumber("volume_ml"), labels[i]->getNumber("volume_ml"), 0.005);
    EXPECT_EQ(g.getNumber("referenced_segment"), static_cast<double>(i + 1));
  }
}

TEST_F(DicomObjects, ReportWithoutSegIsAUsageError) {
  const std::string series = writeSeries("series", 0);
  const CommandRun run = tessera({"segment", "-i", series, "-o", dir / "labels.nii.gz", "--sr",
                                  dir / "sr.dcm", "--model", dir / "model.onnx"});
  expectFailure(run, "give --dicom-seg too");
  EXPECT_FALSE(fs::exists(dir / "labels.nii.gz"));
  EXPECT_EQ(tessera({"batch", "-i", series, "-o", dir / "out", "--sr"}).code, 2);
}

TEST_F(DicomObjects, DicomSegOfANonDicomInputIsRefusedBeforeAnyWork) {
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  const std::string out = dir.makeDir("out");
  const CommandRun run = tessera({"segment", "-i", dir / "ct.nii.gz", "-o", out + "/labels.nii",
                                  "--dicom-seg", out + "/seg.dcm", "--model", dir / "model.onnx"});
  expectFailure(run, "give a DICOM directory or file as input");
  EXPECT_TRUE(dir.entries("out").empty());
}

TEST_F(DicomObjects, BatchWritesASegPerDicomCaseAndFailsOtherCasesWithTheReason) {
  const std::string in = dir.makeDir("in");
  writeSeries("in/patient1", 0);
  ASSERT_TRUE(tessera::testing::writePhantomCt(in + "/volume.nii.gz", 1).ok());
  const CommandRun run = tessera({"batch", "-i", in, "-o", dir / "out", "--dicom-seg", "--sr",
                                  "--rtstruct", "--model", dir / "model.onnx"});
  EXPECT_EQ(run.code, 3) << run.err;  // some cases failed
  int segs = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "out"))
    if (entry.path().filename() == "seg.dcm") {
      ++segs;
      const CommandRun info = tessera({"info", entry.path().string()});
      EXPECT_EQ(info.code, 0) << info.err;
      EXPECT_TRUE(contains(info.out, "DICOM-SEG")) << info.out;
    }
  EXPECT_EQ(segs, 1);
  int reports = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "out"))
    if (entry.path().filename() == "sr.dcm") {
      ++reports;
      const CommandRun info = tessera({"info", entry.path().string()});
      EXPECT_TRUE(contains(info.out, "measurement report")) << info.out << info.err;
    }
  EXPECT_EQ(reports, 1) << run.err;
  int structureSets = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "out"))
    structureSets += entry.path().filename() == "rtstruct.dcm";
  EXPECT_EQ(structureSets, 1);
  const std::string summary = tessera::testing::slurp(dir / "out/summary.csv");
  EXPECT_TRUE(contains(summary, "not a DICOM series")) << summary;
}

}  // namespace
}  // namespace tessera
