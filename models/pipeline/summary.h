// Cohort summaries of `tessera batch`: one row per case × label in
// summary.csv (volume in mL, voxel count, HU statistics, extent in mm, field
// of view contact) plus rows for failed cases with their reason, and the same
// content as summary.json. Shards of one cohort (`--shard K/N`, Slurm array
// tasks) each write a summary; mergeSummaries joins them into the summary a
// single machine would have written over the whole cohort, byte for byte.
//
// Summaries hold no time stamps or durations (those live in each case's
// report.json), so that equal inputs give equal summaries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "imaging/stats/label_stats.h"

namespace tessera::models {

// Case k of a cohort belongs to shard (k mod count), cases sorted by name.
// index is 0-based: 0 <= index < count.
struct ShardSpec {
  int index = 0;
  int count = 1;
  bool whole() const { return count == 1; }
};
// "K/N" with 0 <= K < N; false (and *shard untouched) when malformed.
bool parseShard(std::string_view text, ShardSpec* shard);

enum class CaseStatus { kOk, kFailed, kNotRun };
const char* caseStatusName(CaseStatus status);  // "ok", "failed", "not_run"

struct CaseSummary {
  std::string name;       // the case's output folder under OUT_DIR
  std::string input;      // relative to the input directory
  std::string seriesUid;  // DICOM series; empty for volume files
  CaseStatus status = CaseStatus::kOk;
  std::string reason;  // failed / not run: why, in words
  std::int64_t slices = 0;
  // Ok cases: the foreground labels present, by value (mL, HU, mm in the LPS
  // frame). A summary states value, name, voxelCount, volumeMl, the HU
  // statistics but their range (when hasHu), bbox.minLpsMm / maxLpsMm,
  // touchesFovEdge and fovFaces; read back from summary.json, the other
  // fields stay at their defaults.
  std::vector<imaging::LabelStatistics> labels;
};

struct CohortSummary {
  std::string modelName, modelVersion;
  std::string modelHash;   // of the model file (manifest.h: hash64Hex)
  std::string mode;        // "sparse" or "dense"
  std::string meshFormat;  // "stl", "obj" or empty when no meshes were written
  // The whole cohort before sharding: its size and a fingerprint of its case
  // names, so that a merge can tell shards of different cohorts apart.
  std::int64_t cohortCases = 0;
  std::string cohortFingerprint;
  ShardSpec shard;
  std::vector<CaseSummary> cases;  // sorted by name

  std::int64_t count(CaseStatus status) const;
};

// What a cohort summary takes from one case's report.json (segment_job.h's
// report). Cases computed in a run hand these over in memory; the report is
// read back only for cases found finished by --resume.
struct CaseReport {
  std::int64_t slices = 0;                       // "segmentation"."slices"
  std::vector<imaging::LabelStatistics> labels;  // "statistics"."labels", background left out
};
// kCorruptData when the text is not JSON or a label entry lacks its value,
// count, volume, bounding box or edge flag.
Result<CaseReport> parseCaseReport(std::string_view reportJson);
// Reads and parses a report.json file; every error names the file.
Result<CaseReport> readCaseReport(const std::string& path);

std::string summaryCsv(const CohortSummary& summary);
std::string summaryJson(const CohortSummary& summary);
Result<CohortSummary> parseSummaryJson(std::string_view text);

inline constexpr const char* kSummaryCsvFile = "summary.csv";
inline constexpr const char* kSummaryJsonFile = "summary.json";

// Writes DIR/summary.csv and DIR/summary.json, each atomically.
Status writeSummary(const CohortSummary& summary, const std::string& directory);

// Reads DIR/summary.json of every shard directory and joins them. Refuses
// (naming the directory) shards of different cohorts, models, modes or
// shard counts, a shard given twice, a missing shard, or a case that
// appears in two shards. The result describes the whole cohort (shard 0/1).
Result<CohortSummary> mergeSummaries(const std::vector<std::string>& shardDirectories);

}  // namespace tessera::models
