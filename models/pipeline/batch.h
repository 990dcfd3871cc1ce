// Cohort processing (`tessera batch`): finds the cases of an input folder,
// loads the model once and segments every case, with reading, computing and
// writing overlapped; isolates failures (a bad case is recorded with its
// reason and skipped), resumes from the manifest, splits a cohort into
// shards for job arrays and writes the cohort summary.
//
// Output layout, per case:   OUT_DIR/<case>/labels.nii.gz
//                            OUT_DIR/<case>/report.json   (segment_job.h's report)
//                            OUT_DIR/<case>/meshes/<label>.stl|obj  (optional)
//                            OUT_DIR/<case>/seg.dcm       (optional, DICOM cases)
//                            OUT_DIR/<case>/sr.dcm        (optional, with seg.dcm)
//                            OUT_DIR/<case>/rtstruct.dcm  (optional, DICOM cases)
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
#include "imaging/dicom/deidentify.h"
#include "models/infer/segmenter.h"
#include "models/pipeline/batch_discovery.h"
#include "models/pipeline/batch_outputs.h"
#include "models/pipeline/plugins.h"
#include "models/pipeline/summary.h"

namespace tessera::models {

struct BatchOptions {
  std::string inputDir;
  std::string outputDir;  // created when missing
  std::string modelPath;  // empty: the bundled default model
  // What `tessera segment` takes (mode, output-driven sparsity, detector);
  // threads, progress, cancel and onSlice are set per case by the batch.
  SegmentOptions segment;
  // Plugin stages (plugins.h) run on every case, in order; their spec
  // (stageSpec) is part of the options the manifest records.
  std::vector<StageCall> stages;
  int jobs = 1;     // cases computed at once, each with its own Segmenter
  int threads = 0;  // all threads together; 0: all cores
  bool resume = false;
  // With resume: also run again the cases the manifest records as failed
  // (their worker crashed or ran past a limit); without it they stay failed.
  bool retryFailed = false;
  bool failFast = false;
  bool meshes = false;
  std::string meshFormat = "stl";
  // A DICOM-SEG per case referencing its series; a case that is not DICOM
  // fails with the reason (its labels would have no series to reference).
  bool dicomSeg = false;
  bool dicomSr = false;                   // a TID 1500 report of the SEG's segments; needs dicomSeg
  bool rtstruct = false;                  // an RT Structure Set per case (DICOM cases, as dicomSeg)
  imaging::DeidentifyOptions deidentify;  // for the DICOM outputs
  ShardSpec shard;
  DiscoveryOptions discovery;
  ProgressSink* progress = nullptr;
  const CancelToken* cancel = nullptr;

  // Process isolation. Empty: the cases are segmented in this process.
  // Otherwise the argument vector of a worker (argv[0] a program path, no
  // PATH search) that runs runBatchWorker with these same options: `jobs`
  // workers each load the model once and take cases one at a time, so
  // that a case that crashes the process (a signal, an abort), or runs
  // past the limits below, is killed and recorded as failed with the reason,
  // a new worker is started and the rest go on.
  std::vector<std::string> workerCommand;
  // With workers: the most resident memory (VmRSS) one worker may use, in
  // bytes; a worker above it is killed and its case fails. 0: no limit.
  std::int64_t memoryLimitBytes = 0;
  // With workers: the most wall-clock seconds one case may take (from the
  // moment its worker starts it); 0: no limit.
  double caseTimeoutSeconds = 0.0;
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

// The worker side of process isolation: loads the model, then reads one
// request per line from requestFd (a JSON object naming the case) and
// answers on answerFd with JSON lines: "started", progress, and "done" with
// the case's outputs or its error. Each case is written into OUT_DIR and
// moved into place as runBatch does; the supervisor records it in the
// manifest. Returns at the end of the requests, or when cancelled; errors
// when the model cannot be loaded.
//
// For tests of isolation, the environment variable TESSERA_BATCH_STALL
// names a case at whose start the worker stops (sleeps until killed), as a
// hung decoder would; TESSERA_BATCH_GROW names one at whose start it takes
// resident memory outside the job's budget (up to 1 GiB), as a decoder
// with buffers of its own would.
Status runBatchWorker(const BatchOptions& options, int requestFd, int answerFd);

// The default memory limit of one worker: 3/4 of the memory available now
// (MemAvailable of /proc/meminfo) shared by `jobs` workers; 0 when unknown.
std::int64_t defaultMemoryLimitBytes(int jobs);

}  // namespace tessera::models
