// Cohort summaries: shard parsing, label statistics read back from a case
// report, CSV/JSON text, and merging the summaries of shards.
#include "models/pipeline/summary.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/files.h"
#include "core/json.h"
#include "imaging/stats/label_stats.h"
#include "models/pipeline/segment_job.h"
#include "tests/support/batch_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera::models {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

TEST(Shard, ParsesKOverN) {
  ShardSpec s;
  ASSERT_TRUE(parseShard("2/3", &s));
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 3);
  ASSERT_TRUE(parseShard("0/1", &s));
  EXPECT_TRUE(s.whole());
  for (const char* bad : {"3/3", "-1/3", "1/0", "1", "/3", "1/", "a/3", "1/3x", "1 /3", ""})
    EXPECT_FALSE(parseShard(bad, &s)) << bad;
}

// The report a case of a batch writes, from real statistics of `labels`.
std::string reportFor(const Volume& ct, const LabelMap& labels, std::int64_t slices = 0) {
  SegmentJobOptions options;
  options.input = "in.nii.gz";
  options.output = "labels.nii.gz";
  SegmentJobResult result;
  result.geometry = ct.geometry();
  result.stats.slices = slices;
  result.statistics = *imaging::computeLabelStatistics(ct, labels);
  ModelInfo info;
  return segmentReportJson(options, result, info);
}

// The honest end of the volume chain: labels whose truth is known (a
// phantom's ground truth) go through the statistics module, the case
// report and the summary rows the batch builds from it; every volume must
// equal the ground-truth voxel count × voxel volume, counted here directly.
TEST(Summary, VolumesFromReportsMatchGroundTruthCounts) {
  auto phantom = tessera::testing::smallPhantom(3, 96, 12);
  ASSERT_TRUE(phantom.ok()) << phantom.error().toString();
  std::map<int, std::int64_t> counts;
  const auto& gt = phantom->labels.labels;
  for (std::int64_t i = 0; i < gt.voxelCount(); ++i) ++counts[gt.data()[i]];
  const Geometry& g = gt.geometry();
  const double voxelMl = g.spacingMm[0] * g.spacingMm[1] * g.spacingMm[2] / 1000.0;

  auto report = parseCaseReport(reportFor(phantom->ct, phantom->labels));
  ASSERT_TRUE(report.ok()) << report.error().toString();
  const std::vector<imaging::LabelStatistics>& rows = report->labels;
  ASSERT_EQ(rows.size() + 1, counts.size());  // background is not a row
  for (const imaging::LabelStatistics& r : rows) {
    ASSERT_TRUE(counts.count(r.value)) << static_cast<int>(r.value);
    EXPECT_EQ(r.voxelCount, counts[r.value]) << r.name;
    EXPECT_NEAR(r.volumeMl, counts[r.value] * voxelMl, 1e-9 * counts[r.value] * voxelMl + 1e-9)
        << r.name;
    EXPECT_EQ(r.name, defaultLabelTable().nameOf(static_cast<std::uint8_t>(r.value)));
    EXPECT_TRUE(r.hasHu);
    EXPECT_LE(r.huP05, r.huMedian);
    EXPECT_LE(r.huMedian, r.huP95);
  }
}

// Cases computed in a run hand their statistics to the summary in memory;
// resumed cases read them back from report.json. Both must give the same
// summary, byte for byte, and the report keeps every field it holds.
TEST(Summary, StatisticsInMemoryAndFromTheReportGiveTheSameSummary) {
  auto phantom = tessera::testing::smallPhantom(2, 96, 12);
  ASSERT_TRUE(phantom.ok()) << phantom.error().toString();
  auto statistics = imaging::computeLabelStatistics(phantom->ct, phantom->labels);
  ASSERT_TRUE(statistics.ok()) << statistics.error().toString();
  auto report = parseCaseReport(reportFor(phantom->ct, phantom->labels, 12));
  ASSERT_TRUE(report.ok()) << report.error().toString();
  EXPECT_EQ(report->slices, 12);

  CohortSummary computed, resumed;
  CaseSummary c;
  c.name = "case";
  c.input = "case.nii.gz";
  c.slices = 12;
  computed.cases = resumed.cases = {c};
  for (const imaging::LabelStatistics& s : *statistics)
    if (s.value != 0) computed.cases[0].labels.push_back(s);
  resumed.cases[0].labels = report->labels;
  ASSERT_EQ(computed.cases[0].labels.size(), resumed.cases[0].labels.size());
  ASSERT_FALSE(computed.cases[0].labels.empty());
  EXPECT_EQ(summaryCsv(resumed), summaryCsv(computed));
  EXPECT_EQ(summaryJson(resumed), summaryJson(computed));

  for (std::size_t i = 0; i < report->labels.size(); ++i) {
    const imaging::LabelStatistics& want = computed.cases[0].labels[i];
    const imaging::LabelStatistics& got = report->labels[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(got.value, want.value);
    EXPECT_EQ(got.bbox.minIndex, want.bbox.minIndex);
    EXPECT_EQ(got.bbox.maxIndex, want.bbox.maxIndex);
    EXPECT_EQ(got.fovFaces, want.fovFaces);
    EXPECT_EQ(got.huMin, want.huMin);
    EXPECT_EQ(got.huMax, want.huMax);
    for (int a = 0; a < 3; ++a) {
      EXPECT_NEAR(got.centroidLpsMm[a], want.centroidLpsMm[a], 1e-6);
      EXPECT_NEAR(got.bbox.sizeMm[a], want.bbox.sizeMm[a], 1e-6);
    }
  }
}

TEST(Summary, AMalformedReportIsAnErrorNamingItsFile) {
  TempDir dir;
  const std::string path = dir / "report.json";
  auto missing = readCaseReport(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().context, path);

  ASSERT_TRUE(writeTextFileAtomic(path, "{\"statistics\": {\"labels\": [").ok());
  auto torn = readCaseReport(path);
  ASSERT_FALSE(torn.ok());
  EXPECT_EQ(torn.error().code, StatusCode::kCorruptData);
  EXPECT_EQ(torn.error().context, path);
  EXPECT_NE(torn.error().toString().find(path), std::string::npos) << torn.error().toString();

  const std::string label =
      "{\"value\": 3, \"name\": \"x\", \"voxel_count\": 4, \"volume_ml\": 0.5, "
      "\"bbox\": {\"lps_min_mm\": [0, 0, 0], \"lps_max_mm\": [1, 1, 1]}, "
      "\"touches_fov_edge\": true, \"fov_faces\": [FACES]}";
  const auto reportWith = [&](const std::string& faces) {
    std::string entry = label;
    entry.replace(entry.find("FACES"), 5, faces);
    return "{\"segmentation\": {\"slices\": 7}, \"statistics\": {\"labels\": [" + entry + "]}}";
  };
  ASSERT_TRUE(writeTextFileAtomic(path, reportWith("\"i_min\", \"k_max\"")).ok());
  auto good = readCaseReport(path);
  ASSERT_TRUE(good.ok()) << good.error().toString();
  EXPECT_EQ(good->slices, 7);
  ASSERT_EQ(good->labels.size(), 1u);
  EXPECT_EQ(good->labels[0].fovFaces, imaging::kFaceIMin | imaging::kFaceKMax);

  ASSERT_TRUE(writeTextFileAtomic(path, reportWith("\"top\"")).ok());
  auto face = readCaseReport(path);
  ASSERT_FALSE(face.ok());
  EXPECT_NE(face.error().message.find("\"top\""), std::string::npos) << face.error().toString();
  EXPECT_EQ(face.error().context, path);

  std::string noBox = reportWith("");
  noBox.replace(noBox.find("\"bbox\""), 6, "\"box\"");
  ASSERT_TRUE(writeTextFileAtomic(path, noBox).ok());
  auto box = readCaseReport(path);
  ASSERT_FALSE(box.ok());
  EXPECT_NE(box.error().message.find("bounding box"), std::string::npos);
  EXPECT_EQ(box.error().context, path);
}

CohortSummary sampleSummary() {
  CohortSummary s;
  s.modelName = "m";
  s.modelVersion = "1";
  s.modelHash = "00000000000000ff";
  s.mode = "sparse";
  s.cohortCases = 3;
  s.cohortFingerprint = "abc";
  CaseSummary ok;
  ok.name = "p01__ct";
  ok.input = "p01/ct.nii.gz";
  ok.slices = 12;
  imaging::LabelStatistics liver;
  liver.value = 5;
  liver.name = "liver";
  liver.voxelCount = 1234;
  liver.volumeMl = 1.0 / 3.0;
  liver.hasHu = true;
  liver.huMean = 55.25;
  liver.huStd = 7.125;
  liver.huMedian = 56;
  liver.huP05 = 40.5;
  liver.huP95 = 70;
  liver.bbox.minLpsMm[0] = -10.25;
  liver.bbox.maxLpsMm[2] = 99.5;
  liver.touchesFovEdge = true;
  liver.fovFaces = imaging::kFaceKMin | imaging::kFaceKMax;
  ok.labels.push_back(liver);
  CaseSummary failed;
  failed.name = "p02, \"odd\"";
  failed.input = "p02.nii.gz";
  failed.status = CaseStatus::kFailed;
  failed.reason = "not a NIfTI file, says the reader";
  CaseSummary empty;
  empty.name = "p03";
  empty.input = "dicom/p03";
  empty.seriesUid = "1.2.3";
  empty.slices = 4;
  s.cases = {ok, failed, empty};
  return s;
}

TEST(Summary, CsvHasOneRowPerCaseAndLabel) {
  const std::string csv = summaryCsv(sampleSummary());
  std::vector<std::string> lines;
  std::size_t at = 0;
  for (std::size_t nl; (nl = csv.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(csv.substr(at, nl - at));
  ASSERT_EQ(lines.size(), 4u);
  const auto columns = [](const std::string& line) {
    int n = 1;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) ++n;
    }
    return n;
  };
  for (const std::string& l : lines) EXPECT_EQ(columns(l), columns(lines[0])) << l;
  EXPECT_EQ(lines[1],
            "p01__ct,ok,,p01/ct.nii.gz,,12,5,liver,1234,0.3333333333,55.25,7.125,56,40.5,70,"
            "-10.25,0,0,0,0,99.5,true,k_min;k_max");
  EXPECT_EQ(lines[2],
            "\"p02, \"\"odd\"\"\",failed,\"not a NIfTI file, says the reader\",p02.nii.gz,," +
                std::string(17, ','));
  EXPECT_EQ(lines[3].substr(0, 22), "p03,ok,,dicom/p03,1.2.");
}

// Splits CSV text into records of fields by RFC 4180's grammar (quoted
// fields may hold commas, doubled quotes and line breaks).
std::vector<std::vector<std::string>> parseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record(1);
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        record.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        record.back() += c;
      }
    } else if (c == '"' && record.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      record.emplace_back();
    } else if (c == '\n') {
      records.push_back(std::move(record));
      record.assign(1, "");
    } else {
      EXPECT_NE(c, '"') << "a bare quote in an unquoted field";
      record.back() += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_EQ(record, std::vector<std::string>(1)) << "the last record lacks its line break";
  return records;
}

TEST(Summary, CsvFieldsAreQuotedPerRfc4180) {
  CohortSummary s = sampleSummary();
  s.cases[1].reason = "line one\nline \"two\", with a comma\r\nend";
  s.cases[2].input = "dicom/p03, \"second\"";
  s.cases[0].labels[0].name = "liver, \"left\"";
  const std::string csv = summaryCsv(s);
  const auto records = parseCsv(csv);
  ASSERT_EQ(records.size(), 4u) << csv;
  for (const auto& r : records) EXPECT_EQ(r.size(), 23u) << csv;
  EXPECT_EQ(records[1][0], "p01__ct");
  EXPECT_EQ(records[1][7], "liver, \"left\"");
  EXPECT_EQ(records[1][9], "0.3333333333");
  EXPECT_EQ(records[2][0], "p02, \"odd\"");
  EXPECT_EQ(records[2][1], "failed");
  EXPECT_EQ(records[2][2], s.cases[1].reason);
  EXPECT_EQ(records[3][3], s.cases[2].input);
  EXPECT_EQ(records[3][4], "1.2.3");
  EXPECT_EQ(records[3][5], "4");
}

TEST(Summary, JsonRoundTripIsExact) {
  const CohortSummary s = sampleSummary();
  const std::string text = summaryJson(s);
  auto back = parseSummaryJson(text);
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_EQ(summaryJson(*back), text);
  EXPECT_EQ(summaryCsv(*back), summaryCsv(s));
  auto json = parseJson(text);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->find("counts")->getNumber("failed"), 1);
  EXPECT_EQ(json->find("units")->getString("volume"), "mL");
  EXPECT_FALSE(parseSummaryJson("{\"cases\": []}").ok());
}

class Merge : public ::testing::Test {
 protected:
  // Splits sampleSummary() round-robin into `count` shard folders.
  std::vector<std::string> writeShards(int count) {
    const CohortSummary whole = sampleSummary();
    std::vector<std::string> dirs;
    for (int k = 0; k < count; ++k) {
      CohortSummary shard = whole;
      shard.shard = {k, count};
      shard.cases.clear();
      for (std::size_t i = 0; i < whole.cases.size(); ++i)
        if (static_cast<int>(i) % count == k) shard.cases.push_back(whole.cases[i]);
      dirs.push_back(dir.makeDir("shard-" + std::to_string(k)));
      EXPECT_TRUE(writeSummary(shard, dirs.back()).ok());
    }
    return dirs;
  }
  TempDir dir;
};

TEST_F(Merge, ShardsJoinIntoTheWholeCohortsSummary) {
  std::vector<std::string> dirs = writeShards(2);
  std::reverse(dirs.begin(), dirs.end());  // order of the arguments does not matter
  auto merged = mergeSummaries(dirs);
  ASSERT_TRUE(merged.ok()) << merged.error().toString();
  CohortSummary whole = sampleSummary();
  std::sort(whole.cases.begin(), whole.cases.end(),
            [](const CaseSummary& a, const CaseSummary& b) { return a.name < b.name; });
  EXPECT_EQ(summaryJson(*merged), summaryJson(whole));
  EXPECT_EQ(summaryCsv(*merged), summaryCsv(whole));
}

TEST_F(Merge, RefusesIncompleteOrMismatchedShards) {
  std::vector<std::string> dirs = writeShards(3);
  auto missing = mergeSummaries({dirs[0], dirs[2]});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("shard 1/3 is missing"), std::string::npos)
      << missing.error().toString();
  auto twice = mergeSummaries({dirs[0], dirs[1], dirs[1]});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("given twice"), std::string::npos);

  CohortSummary other = *parseSummaryJson(*readTextFile(dirs[2] + "/summary.json"));
  other.cohortFingerprint = "another cohort";
  ASSERT_TRUE(writeSummary(other, dirs[2]).ok());
  auto foreign = mergeSummaries(dirs);
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().message.find("another cohort"), std::string::npos);
  EXPECT_EQ(foreign.error().context, dirs[2]);

  other.cohortFingerprint = "abc";
  other.modelHash = "1";
  ASSERT_TRUE(writeSummary(other, dirs[2]).ok());
  EXPECT_NE(mergeSummaries(dirs).error().message.find("another model"), std::string::npos);
  EXPECT_EQ(mergeSummaries({dir / "nowhere"}).error().code, StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::models
