#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "app/cli/console_progress.h"
#include "app/cli/interrupt.h"
#include "app/tessera/commands.h"
#include "app/tessera/deidentify_options.h"
#include "app/tessera/segment_options.h"
#include "models/pipeline/batch.h"

namespace tessera::cli {

namespace {
std::vector<std::string> splitPatterns(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void printCases(const models::BatchResult& r) {
  for (const models::CaseResult& c : r.cases) {
    switch (c.outcome) {
      case models::CaseOutcome::kFailed:
        std::printf("failed   %s: %s\n", c.name.c_str(), c.reason.c_str());
        break;
      case models::CaseOutcome::kNotRun:
        std::printf("not run  %s\n", c.name.c_str());
        break;
      default:
        break;
    }
  }
}
}  // namespace

int runBatch(const Args& given) {
  // `tessera batch --worker ARGS...`: a worker process of the batch started
  // with ARGS (hidden: the supervisor starts it with its own arguments).
  const bool worker = !given.empty() && given[0] == "--worker";
  const Args args = worker ? Args(given.begin() + 1, given.end()) : given;
  ArgParser p("batch", "Segment every case of a folder: volume files and DICOM series.");
  p.option("-i,--input", "IN_DIR", "folder searched recursively for cases");
  p.option("-o,--output", "OUT_DIR", "one folder per case, summary.csv, summary.json, manifest");
  addSegmentOptions(p, "CPU threads in all, split between the jobs (0: all cores)");
  p.option("--jobs", "N", "cases computed at once (threads are split between them)", "1");
  p.flag("--resume", "skip cases the manifest records as finished with intact outputs");
  p.flag("--retry-failed",
         "with --resume: run again the cases whose worker crashed or hit a limit");
  p.option("--case-timeout", "SECONDS", "fail a case that takes longer (0: no limit)", "0");
  p.option("--shard", "K/N", "process only shard K (0-based) of N: cases k with k mod N = K");
  p.flag("--fail-fast", "stop at the first failed case (default: record it and go on)");
  p.flag("--meshes", "also write one surface mesh per label (OUT_DIR/<case>/meshes/)");
  p.option("--mesh-format", "FMT", "stl or obj", "stl");
  p.flag("--dicom-seg",
         "also write a DICOM-SEG referencing the case's series (OUT_DIR/<case>/seg.dcm); "
         "non-DICOM cases then fail");
  p.flag("--rtstruct",
         "also write an RT Structure Set per case (OUT_DIR/<case>/rtstruct.dcm); non-DICOM "
         "cases then fail");
  p.flag("--sr",
         "with --dicom-seg: also a DICOM SR measurement report of its segments "
         "(OUT_DIR/<case>/sr.dcm)");
  addDeidentifyOptions(p);
  p.option("--include", "GLOBS",
           "only cases whose relative path or file name matches (comma-separated)");
  p.option("--exclude", "GLOBS", "leave out cases whose relative path or file name matches");
  p.epilog(
      "Cases: .nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd files, and one case per DICOM series.\n"
      "Each case is written to OUT_DIR/<case>/ (labels.nii.gz, report.json, meshes/) only when\n"
      "complete; a case that fails is recorded in summary.csv with its reason and the run goes\n"
      "on. Cases run in worker processes: a case that crashes its worker or runs past\n"
      "--memory-limit or --case-timeout fails and stays failed under --resume (unless\n"
      "--retry-failed); the rest go on. Ctrl-C stops cleanly; --resume continues. Shards of\n"
      "one cohort (Slurm arrays) are joined with `tessera merge`. See docs/BATCH.md.\n"
      "Exit codes: 0 every case done, 3 some cases failed, 1 the run could not proceed.");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  if (!p.has("input") || !p.has("output")) {
    std::fprintf(stderr, "tessera: error: batch needs -i IN_DIR and -o OUT_DIR (see --help)\n");
    return kExitUsage;
  }
  models::BatchOptions o;
  o.inputDir = p.get("input");
  o.outputDir = p.get("output");
  o.resume = p.has("resume");
  o.failFast = p.has("fail-fast");
  o.meshes = p.has("meshes");
  o.meshFormat = p.get("mesh-format");
  o.dicomSeg = p.has("dicom-seg");
  o.dicomSr = p.has("sr");
  o.rtstruct = p.has("rtstruct");
  std::string deidentifyError;
  if (!readDeidentifyOptions(p, &o.deidentify, &deidentifyError)) {
    std::fprintf(stderr, "tessera: error: %s\n", deidentifyError.c_str());
    return kExitUsage;
  }
  if (o.deidentify.enabled && !o.dicomSeg && !o.rtstruct) {
    std::fprintf(stderr,
                 "tessera: error: --deidentify applies to --dicom-seg, --rtstruct and --sr\n");
    return kExitUsage;
  }
  if (o.dicomSr && !o.dicomSeg) {
    std::fprintf(stderr, "tessera: error: --sr reports on the DICOM-SEG; give --dicom-seg too\n");
    return kExitUsage;
  }
  o.discovery.include = splitPatterns(p.get("include"));
  o.discovery.exclude = splitPatterns(p.get("exclude"));
  SegmentCommandOptions segment;
  std::string error;
  if (!readSegmentOptions(p, &segment, &error)) {
    std::fprintf(stderr, "tessera: error: %s\n", error.c_str());
    return kExitUsage;
  }
  o.modelPath = segment.modelPath;
  o.segment = segment.segment;
  o.stages = segment.stages;
  if (o.meshFormat != "stl" && o.meshFormat != "obj") {
    std::fprintf(stderr, "tessera: error: --mesh-format must be stl or obj\n");
    return kExitUsage;
  }
  if (p.has("shard") && !models::parseShard(p.get("shard"), &o.shard)) {
    std::fprintf(stderr, "tessera: error: --shard must be K/N with 0 <= K < N, e.g. 0/4\n");
    return kExitUsage;
  }
  long long jobs = 1;
  if (!p.getInt("jobs", &jobs, 1, 256)) {
    std::fprintf(stderr, "tessera: error: %s\n", p.error().c_str());
    return kExitUsage;
  }
  o.jobs = static_cast<int>(jobs);
  o.threads = segment.segment.threads;
  o.retryFailed = p.has("retry-failed");
  if (o.retryFailed && !o.resume) {
    std::fprintf(stderr, "tessera: error: --retry-failed needs --resume\n");
    return kExitUsage;
  }
  // --memory-limit (a segmentation option) is each worker's budget for its
  // buffers and, as resident memory, the line past which the supervisor
  // kills it; the default shares 3/4 of the available memory among the jobs.
  o.memoryLimitBytes = segment.memoryLimitMiB > 0 ? segment.memoryLimitMiB * 1024 * 1024
                                                  : models::defaultMemoryLimitBytes(o.jobs);
  if (!p.getDouble("case-timeout", &o.caseTimeoutSeconds) || o.caseTimeoutSeconds < 0) {
    std::fprintf(stderr, "tessera: error: --case-timeout must be a number of seconds >= 0\n");
    return kExitUsage;
  }
  if (worker) {
    // Answers go to the supervisor on what was standard output; anything
    // else printed goes to standard error.
    const int answers = ::dup(STDOUT_FILENO);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    o.cancel = &interruptToken();
    const Status s = models::runBatchWorker(o, STDIN_FILENO, answers);
    return s.ok() ? kExitOk : fail(s.error());
  }
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) {
    std::fprintf(stderr, "tessera: error: cannot find the tessera executable for the workers\n");
    return kExitFailure;
  }
  o.workerCommand = {std::string(self, static_cast<std::size_t>(length)), "batch", "--worker"};
  o.workerCommand.insert(o.workerCommand.end(), args.begin(), args.end());

  ConsoleProgress progress("batch");
  o.progress = &progress;
  o.cancel = &interruptToken();
  auto result = models::runBatch(o);
  progress.finish();
  if (!result.ok()) return fail(result.error());
  const models::BatchResult& r = *result;
  printCases(r);
  for (const std::string& f : r.unreadableFiles)
    std::printf("unreadable (no case): %s\n", f.c_str());
  const std::string shard = o.shard.whole() ? ""
                                            : " (shard " + std::to_string(o.shard.index) + "/" +
                                                  std::to_string(o.shard.count) + " of " +
                                                  std::to_string(r.cohortCases) + ")";
  std::printf(
      "%zu cases%s: %lld done, %lld already finished, %lld failed, %lld not run in %.1f s\n",
      r.cases.size(), shard.c_str(),
      static_cast<long long>(r.count(models::CaseOutcome::kComputed)),
      static_cast<long long>(r.count(models::CaseOutcome::kResumed)),
      static_cast<long long>(r.count(models::CaseOutcome::kFailed)),
      static_cast<long long>(r.count(models::CaseOutcome::kNotRun)), r.seconds);
  std::printf("wrote %s/%s and %s\n", o.outputDir.c_str(), models::kSummaryCsvFile,
              models::kSummaryJsonFile);
  return r.anyFailed() ? kExitPartial : kExitOk;
}

int runMerge(const Args& args) {
  ArgParser p("merge", "Join the summaries of batch shards into one cohort summary.");
  p.option("-o,--output", "OUT_DIR", "folder for the merged summary.csv and summary.json");
  p.positional("SHARD_DIR...", "output folders of `tessera batch --shard K/N`, one per shard");
  p.epilog(
      "Refuses shards of different cohorts, models or options, a shard given twice and a\n"
      "missing shard. The merged summary equals the one a single run over the whole cohort\n"
      "writes. Exit code 3 when the cohort has failed cases.");
  // ArgParser takes one value per positional: pull the shard folders out
  // first and let it check the options (and print --help).
  Args options;
  std::vector<std::string> shards;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "-o" || a == "--output") && i + 1 < args.size()) {
      options.push_back(a);
      options.push_back(args[++i]);
    } else if (a.rfind("--output=", 0) == 0 || a == "-h" || a == "--help" ||
               (!a.empty() && a[0] == '-')) {
      options.push_back(a);
    } else {
      shards.push_back(a);
    }
  }
  if (!shards.empty()) options.push_back(shards.front());
  int exit = kExitOk;
  if (!parseOrExit(p, options, &exit)) return exit;
  if (!p.has("output") || shards.empty()) {
    std::fprintf(stderr, "tessera: error: merge needs -o OUT_DIR and shard folders (see --help)\n");
    return kExitUsage;
  }
  auto merged = models::mergeSummaries(shards);
  if (!merged.ok()) return fail(merged.error());
  std::error_code error;
  std::filesystem::create_directories(p.get("output"), error);
  if (Status s = models::writeSummary(*merged, p.get("output")); !s.ok()) return fail(s);
  const std::int64_t failed = merged->count(models::CaseStatus::kFailed);
  std::printf("merged %zu shards: %zu cases, %lld ok, %lld failed, %lld not run\n", shards.size(),
              merged->cases.size(), static_cast<long long>(merged->count(models::CaseStatus::kOk)),
              static_cast<long long>(failed),
              static_cast<long long>(merged->count(models::CaseStatus::kNotRun)));
  std::printf("wrote %s/%s and %s\n", p.get("output").c_str(), models::kSummaryCsvFile,
              models::kSummaryJsonFile);
  return failed > 0 ? kExitPartial : kExitOk;
}

}  // namespace tessera::cli
