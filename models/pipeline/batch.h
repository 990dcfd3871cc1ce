// Cohort processing (`tessera batch`): finds the cases of an input folder,
// loads the model once and segments every case, with reading, computing and
// writing overlapped; isolates failures (a bad case is recorded with its
// reason and skipped), resumes from the manifest, splits a cohort into
// shards for job arrays and writes the cohort summary.
//
// Output layout, per case:   OUT_DIR/<case>/labels.nii.gz
//                            OUT_DIR/<case>/report.json   (segment_job.h's report)
//                            OUT_DIR/<case>/meshes/<label>.stl|obj  (optional)
// and for the run:           OUT_DIR/summary.csv, summary.json (summary.h)
//                            OUT_DIR/manifest.jsonl               (manifest.h)
// A case's files are written into a hidden staging folder and moved into
// place together, then recorded in the manifest: a failed, cancelled or
// killed case leaves no files under OUT_DIR/<case>.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "models/infer/segmenter.h"
#include "models/pipeline/summary.h"

namespace tessera::models {

struct BatchCase {
  // Unique in the cohort and stable: derived from the relative path alone
  // (plus the series UID when a folder holds several series). Also the
  // name of the case's output folder.
  std::string name;
  std::string relativePath;        // of the volume file, or of the series' folder
  std::string input;               // what to read: the file, or the series' folder
  std::string seriesUid;           // DICOM series; empty for volume files
  std::vector<std::string> files;  // every file the case's voxels come from
};

struct DiscoveryOptions {
  // Shell patterns (fnmatch) matched against the relative path of a volume
  // file or series folder, e.g. "*ct.nii.gz"; empty include takes all.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  // A folder left out of the search (the output folder when it lies inside
  // the input folder).
  std::string skipDirectory;
};

struct Discovery {
  std::vector<BatchCase> cases;  // sorted by name
  // DICOM-looking files that could not be parsed, with the reason; they
  // belong to no case and are listed so they are not lost silently.
  std::vector<std::string> unreadableFiles;
};

// Searches `inputDir` recursively (hidden entries skipped) for NIfTI
// (.nii, .nii.gz), NRRD (.nrrd, .nhdr) and MetaImage (.mha, .mhd) files, one
// case each, and DICOM series, one case per series. Names: the relative path
// without the extension, '/' becoming "__" and characters other than
// letters, digits, '.', '-' and '_' becoming '_' ("p01/ct.nii.gz" →
// "p01__ct"); a series takes its folder's relative path ("." → "dicom"),
// plus "__" and its UID when the folder holds more than one series. Names
// that still collide get "-" and 8 hex digits of their path's hash.
Result<Discovery> discoverCases(const std::string& inputDir, const DiscoveryOptions& options = {});

// Round-robin over the cases sorted by name: case k goes to shard k mod N.
std::vector<BatchCase> selectShard(const std::vector<BatchCase>& cases, ShardSpec shard);
// Hash of the sorted case names (and their inputs): equal for every shard
// of one cohort.
std::string cohortFingerprint(const std::vector<BatchCase>& cases);

struct BatchOptions {
  std::string inputDir;
  std::string outputDir;  // created when missing
  std::string modelPath;  // empty: the bundled default model
  SegmentMode mode = SegmentMode::kSparse;
  int jobs = 1;     // cases computed at once, each with its own Segmenter
  int threads = 0;  // all threads together; 0: all cores
  bool resume = false;
  bool failFast = false;
  bool meshes = false;
  std::string meshFormat = "stl";
  ShardSpec shard;
  DiscoveryOptions discovery;
  ProgressSink* progress = nullptr;
  const CancelToken* cancel = nullptr;
};

enum class CaseOutcome { kComputed, kResumed, kFailed, kNotRun };

struct CaseResult {
  std::string name;
  CaseOutcome outcome = CaseOutcome::kNotRun;
  std::string reason;    // failed: why; computed after --resume: why it was redone
  double seconds = 0.0;  // read to written
};

struct BatchResult {
  std::int64_t cohortCases = 0;   // before sharding
  std::vector<CaseResult> cases;  // this shard's cases, sorted by name
  std::vector<std::string> unreadableFiles;
  CohortSummary summary;
  double seconds = 0.0;
  std::int64_t count(CaseOutcome outcome) const;
  bool anyFailed() const { return count(CaseOutcome::kFailed) > 0; }
};

// Runs the batch. Errors only when the run itself cannot proceed: no input
// folder, no case found, output folder unusable or in use by another batch,
// model missing or unreadable, or cancelled (kCancelled; the manifest then
// holds every case finished so far and `resume` continues). Case failures
// are results, not errors. With failFast, the first failure stops the run:
// cases in flight are cancelled and the rest are reported as not run.
Result<BatchResult> runBatch(const BatchOptions& options);

// The subfolder names of OUT_DIR that a batch uses for staging (so that
// other tools can ignore them).
inline constexpr const char* kStagingPrefix = ".tessera-partial-";

}  // namespace tessera::models
