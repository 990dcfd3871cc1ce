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
//
// Finding the cases, their names and shards: batch_discovery.h. The output
// folder's lock, staging and manifest records: batch_outputs.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "models/infer/segmenter.h"
#include "models/pipeline/batch_discovery.h"
#include "models/pipeline/batch_outputs.h"
#include "models/pipeline/summary.h"

namespace tessera::models {

struct BatchOptions {
  std::string inputDir;
  std::string outputDir;  // created when missing
  std::string modelPath;  // empty: the bundled default model
  // What `tessera segment` takes (mode, output-driven sparsity, detector);
  // threads, progress, cancel and onSlice are set per case by the batch.
  SegmentOptions segment;
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

}  // namespace tessera::models
