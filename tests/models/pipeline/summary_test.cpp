// Cohort summaries: shard parsing, label rows read back from a case report,
// CSV/JSON text, and merging the summaries of shards.
#include "models/pipeline/summary.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/files.h"
#include "core/json.h"
#include "imaging/stats/label_stats.h"
#include "models/pipeline/segment_job.h"
#include "tests/support/temp_dir.h"
#include "tests/support/batch_fixture.h"

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
std::string reportFor(const Volume& ct, const LabelMap& labels) {
  SegmentJobOptions options;
  options.input = "in.nii.gz";
  options.output = "labels.nii.gz";
  SegmentJobResult result;
  result.geometry = ct.geometry();
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

  auto rows = labelRowsFromReport(reportFor(phantom->ct, phantom->labels));
  ASSERT_TRUE(rows.ok()) << rows.error().toString();
  ASSERT_EQ(rows->size() + 1, counts.size());  // background is not a row
  for (const LabelRow& r : *rows) {
    ASSERT_TRUE(counts.count(r.value)) << r.value;
    EXPECT_EQ(r.voxelCount, counts[r.value]) << r.name;
    EXPECT_NEAR(r.volumeMl, counts[r.value] * voxelMl, 1e-9 * counts[r.value] * voxelMl + 1e-9)
        << r.name;
    EXPECT_EQ(r.name, defaultLabelTable().nameOf(static_cast<std::uint8_t>(r.value)));
    EXPECT_TRUE(r.hasHu);
    EXPECT_LE(r.huP05, r.huMedian);
    EXPECT_LE(r.huMedian, r.huP95);
  }
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
  LabelRow liver;
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
  liver.bboxMinLpsMm[0] = -10.25;
  liver.bboxMaxLpsMm[2] = 99.5;
  liver.touchesFovEdge = true;
  liver.fovFaces = {"k_min", "k_max"};
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
