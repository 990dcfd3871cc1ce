// The run of a batch: a reader thread, `jobs` compute threads and a writer
// thread joined by bounded queues, so that at most one volume waits while
// others compute. Discovery and the output folder's bookkeeping live in
// batch_discovery.cpp and batch_outputs.cpp.
#include "models/pipeline/batch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"
#include "imaging/io/volume_io.h"
#include "imaging/mesh/label_mesh.h"
#include "imaging/stats/label_stats.h"
#include "models/pipeline/manifest.h"
#include "models/pipeline/model_store.h"
#include "models/pipeline/segment_job.h"
#include "models/pipeline/segment_study.h"

namespace tessera::models {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::int64_t BatchResult::count(CaseOutcome outcome) const {
  return std::count_if(cases.begin(), cases.end(),
                       [&](const CaseResult& c) { return c.outcome == outcome; });
}

// ---------------------------------------------------------------- pipeline

namespace {

// Blocking queue with a capacity; close() wakes everyone: push then fails,
// pop drains what is left and then fails.
template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}
  // Waits until there is room (false when closed): lets a producer wait
  // before it allocates the item.
  bool waitForRoom() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    return !closed_;
  }
  bool push(T item) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    changed_.notify_all();
    return true;
  }
  bool pop(T* item) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *item = std::move(items_.front());
    items_.pop_front();
    changed_.notify_all();
    return true;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<T> items_;
  std::size_t capacity_;
  bool closed_ = false;
};

struct ReadItem {
  std::size_t index = 0;
  Volume volume;
  InputIdentity identity;
  std::string redoReason;
  double readSeconds = 0.0;
  Clock::time_point started;
};

struct WriteItem {
  std::size_t index = 0;
  LabelMap labels;
  SegmentJobResult job;  // geometry, stats, statistics, read time
  InputIdentity identity;
  std::string redoReason;
  Clock::time_point started;
};

struct Event {
  std::size_t index = 0;
  CaseOutcome outcome = CaseOutcome::kNotRun;
  std::string reason;
  CaseReport report;  // computed or resumed cases: what the summary states
  double seconds = 0.0;
};

class Pipeline {
 public:
  Pipeline(const BatchOptions& options, std::vector<BatchCase> cases,
           std::shared_ptr<const Model> model, std::string modelHash, Manifest* manifest)
      : o_(options),
        cases_(std::move(cases)),
        model_(std::move(model)),
        modelHash_(std::move(modelHash)),
        manifest_(manifest),
        options_("mode=" + std::string(segmentModeName(options.segment.mode)) +
                 " settle=" + settlingName(options.segment.settling) +
                 " dilation=" + std::to_string(options.segment.detector.dilation) +
                 " meshes=" + (options.meshes ? options.meshFormat : std::string("none")) +
                 " version=" + TESSERA_VERSION),
        inputRoot_(absoluteNormalPath(options.inputDir)),
        readQueue_(1),
        writeQueue_(1),
        fractions_(cases_.size(), 0.0),
        messages_(cases_.size()) {
    // A copy: the writer appends to the manifest while the reader consults it.
    recorded_.resize(cases_.size());
    for (std::size_t i = 0; i < cases_.size(); ++i)
      if (const ManifestEntry* e = manifest->find(cases_[i].name)) recorded_[i] = *e;
  }

  // Runs every case; one event per case, in `events` by case index.
  std::vector<Event> run();
  bool cancelledByUser() const { return userCancelled_; }

 private:
  void readStage();
  void computeStage();
  void writeStage();
  void emit(Event event);
  // A case that stopped with `status`: failed, or not run when the run is stopping.
  Event stopped(std::size_t index, const Status& status, Clock::time_point started);
  void stop(const std::string& reason);
  std::string portableReason(std::string reason) const;
  std::string caseDir(std::size_t index) const {
    return (fs::path(o_.outputDir) / cases_[index].name).string();
  }
  // The compute stage's work on one case: segment, then measure the labels.
  Status computeCase(Segmenter& segmenter, ReadItem& item, WriteItem* out);
  Status writeCase(WriteItem& item);

  // Progress of one case on [begin, end] of its share of the run.
  class CaseProgress : public ProgressSink {
   public:
    CaseProgress(Pipeline* p, std::size_t index, double begin, double end)
        : p_(p), index_(index), begin_(begin), end_(end) {}
    void update(const ProgressUpdate& u) override {
      std::lock_guard lock(p_->progressMutex_);
      p_->fractions_[index_] = begin_ + (end_ - begin_) * u.fraction;
      p_->messages_[index_] = u.message;
      // The line names the case being segmented or written, not the one
      // being prefetched.
      if (begin_ > 0.0) p_->lastActive_ = index_;
    }

   private:
    Pipeline* p_;
    std::size_t index_;
    double begin_, end_;
  };
  void reportProgress(ProgressTracker& tracker, bool final);

  const BatchOptions& o_;
  std::vector<BatchCase> cases_;
  std::shared_ptr<const Model> model_;
  std::string modelHash_;
  Manifest* manifest_;                                  // appended to by the writer only
  std::vector<std::optional<ManifestEntry>> recorded_;  // at the start, by case index
  const std::string options_;
  int threadsPerJob_ = 1;

  const std::string inputRoot_;
  CancelToken stop_;
  std::mutex stopMutex_;
  std::string stopReason_;
  bool userCancelled_ = false;
  BoundedQueue<ReadItem> readQueue_;
  BoundedQueue<WriteItem> writeQueue_;
  std::atomic<int> computeRunning_{0};

  std::mutex eventMutex_;
  std::condition_variable eventReady_;
  std::deque<Event> pending_;

  std::mutex progressMutex_;
  std::vector<double> fractions_;
  std::vector<std::string> messages_;
  std::size_t lastActive_ = 0;
  std::size_t resumed_ = 0, finished_ = 0, failed_ = 0;
};

void Pipeline::emit(Event event) {
  // Stop here, not when the collector sees the event, so that no case
  // starts after the first failure.
  if (event.outcome == CaseOutcome::kFailed && o_.failFast)
    stop("not run: the run stopped at the first failure (--fail-fast)");
  {
    std::lock_guard lock(progressMutex_);
    fractions_[event.index] = 1.0;
  }
  std::lock_guard lock(eventMutex_);
  pending_.push_back(std::move(event));
  eventReady_.notify_all();
}

void Pipeline::stop(const std::string& reason) {
  {
    std::lock_guard lock(stopMutex_);
    if (stop_.cancelled()) return;
    stopReason_ = reason;
    stop_.cancel();
  }
  readQueue_.close();
  writeQueue_.close();
}

Event Pipeline::stopped(std::size_t index, const Status& status, Clock::time_point started) {
  Event e;
  e.index = index;
  e.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::lock_guard lock(stopMutex_);
  if (stop_.cancelled()) {
    e.outcome = CaseOutcome::kNotRun;
    e.reason = stopReason_;
  } else {
    e.outcome = CaseOutcome::kFailed;
    e.reason = portableReason(status.error().toString());
  }
  return e;
}

std::string Pipeline::portableReason(std::string reason) const {
  // Paths relative to the input folder, so that shards run where the cohort
  // is mounted elsewhere still merge into the single-run summary.
  const std::string root = inputRoot_ + "/";
  for (std::size_t at; (at = reason.find(root)) != std::string::npos;)
    reason.erase(at, root.size());
  // Toolkit messages name objects by address ("NrrdImageIO(0x7f...)"),
  // which differs from run to run.
  for (std::size_t at = 0; (at = reason.find("(0x", at)) != std::string::npos;) {
    std::size_t end = at + 3;
    while (end < reason.size() && std::isxdigit(static_cast<unsigned char>(reason[end]))) ++end;
    if (end > at + 3 && end < reason.size() && reason[end] == ')')
      reason.erase(at, end + 1 - at);
    else
      at = end;
  }
  return reason;
}

void Pipeline::readStage() {
  for (std::size_t i = 0; i < cases_.size(); ++i) {
    const BatchCase& c = cases_[i];
    const auto started = Clock::now();
    if (stop_.cancelled()) {
      emit(stopped(i, Status(StatusCode::kCancelled, "stopped"), started));
      continue;
    }
    try {
      auto stamp = stampInput(c.files);
      if (!stamp.ok()) {
        emit(stopped(i, stamp.status(), started));
        continue;
      }
      ManifestEntry wanted;
      wanted.input = manifestInput(c);
      wanted.inputIdentity = *stamp;
      wanted.modelHash = modelHash_;
      wanted.options = options_;
      std::string redoReason;
      if (const ManifestEntry* recorded = o_.resume && recorded_[i] ? &*recorded_[i] : nullptr) {
        if (!sameStamp(recorded->inputIdentity, *stamp))
          if (Status s = hashInput(inputRoot_, c.files, &wanted.inputIdentity); !s.ok()) {
            emit(stopped(i, s, started));
            continue;
          }
        redoReason = staleReason(*recorded, wanted, caseDir(i));
        if (redoReason.empty()) {
          auto report = readCaseReport((fs::path(caseDir(i)) / "report.json").string());
          if (report.ok()) {
            emit({i, CaseOutcome::kResumed, {}, std::move(*report), 0.0});
            continue;
          }
          logWarning("case ", c.name, " is redone: ", report.error().toString());
          redoReason = "its report cannot be read";
        }
      }
      if (wanted.inputIdentity.hash.empty())
        if (Status s = hashInput(inputRoot_, c.files, &wanted.inputIdentity); !s.ok()) {
          emit(stopped(i, s, started));
          continue;
        }
      // Wait for room before reading: at most one volume waits while others compute.
      if (!readQueue_.waitForRoom()) {
        emit(stopped(i, Status(StatusCode::kCancelled, "stopped"), started));
        continue;
      }
      const auto readStart = Clock::now();
      CaseProgress progress(this, i, 0.0, 0.1);
      imaging::ReadOptions read;
      read.seriesUid = c.seriesUid;
      read.progress = &progress;
      read.cancel = &stop_;
      auto volume = imaging::readVolume(c.input, read);
      if (!volume.ok()) {
        emit(stopped(i, volume.status(), started));
        continue;
      }
      ReadItem item;
      item.index = i;
      item.volume = std::move(*volume);
      item.identity = wanted.inputIdentity;
      item.redoReason = std::move(redoReason);
      item.readSeconds = std::chrono::duration<double>(Clock::now() - readStart).count();
      item.started = readStart;  // the report's total: read to written
      if (!readQueue_.push(std::move(item)))
        emit(stopped(i, Status(StatusCode::kCancelled, "stopped"), started));
    } catch (const std::exception& e) {
      emit(stopped(i, Status(StatusCode::kResourceExhausted, e.what()), started));
    }
  }
  readQueue_.close();
}

Status Pipeline::computeCase(Segmenter& segmenter, ReadItem& item, WriteItem* out) {
  const std::size_t i = item.index;
  CaseProgress progress(this, i, 0.1, 0.8);
  SegmentOptions options = o_.segment;
  options.threads = threadsPerJob_;
  options.keepBlockMap = false;
  options.onSlice = nullptr;
  options.progress = &progress;
  options.cancel = &stop_;
  TESSERA_ASSIGN_OR_RETURN(StudySegmentation seg, segmentStudy(segmenter, item.volume, options));
  out->index = i;
  out->job.geometry = item.volume.geometry();
  out->job.stats = seg.stats;
  out->job.readSeconds = item.readSeconds;
  out->job.statistics = std::move(seg.statistics);
  out->labels = std::move(seg.labels);
  return Status();
}

void Pipeline::computeStage() {
  Segmenter segmenter(model_);
  ReadItem item;
  while (readQueue_.pop(&item)) {
    const std::size_t i = item.index;
    const auto started = item.started;
    try {
      WriteItem out;
      if (Status s = computeCase(segmenter, item, &out); !s.ok()) {
        emit(stopped(i, s, started));
        continue;
      }
      out.identity = item.identity;
      out.redoReason = std::move(item.redoReason);
      out.started = started;
      item = ReadItem();  // the volume is no longer needed
      if (!writeQueue_.push(std::move(out)))
        emit(stopped(i, Status(StatusCode::kCancelled, "stopped"), started));
    } catch (const std::exception& e) {
      emit(stopped(i, Status(StatusCode::kResourceExhausted, e.what()), started));
    }
  }
  if (computeRunning_.fetch_sub(1) == 1) writeQueue_.close();
}

Status Pipeline::writeCase(WriteItem& item) {
  const BatchCase& c = cases_[item.index];
  CaseStaging staging(o_.outputDir, c.name);
  TESSERA_RETURN_IF_ERROR(staging.create());
  const fs::path dir = staging.path();

  const auto writeStart = Clock::now();
  std::vector<std::string> files = {"labels.nii.gz"};
  TESSERA_RETURN_IF_ERROR(imaging::writeLabelMap(item.labels, (dir / files[0]).string()));
  if (o_.meshes) {
    CaseProgress progress(this, item.index, 0.85, 0.98);
    imaging::MeshOptions meshOptions;
    meshOptions.cancel = &stop_;
    meshOptions.progress = &progress;
    TESSERA_ASSIGN_OR_RETURN(std::vector<imaging::Mesh> meshes,
                             imaging::buildLabelMeshes(item.labels, meshOptions));
    std::error_code error;
    if (!meshes.empty()) fs::create_directory(dir / "meshes", error);
    for (const imaging::Mesh& mesh : meshes) {
      const std::string name = "meshes/" + imaging::meshFileName(mesh, "." + o_.meshFormat);
      TESSERA_RETURN_IF_ERROR(imaging::writeMesh(mesh, (dir / name).string()));
      files.push_back(name);
    }
  }
  TESSERA_RETURN_IF_ERROR(stop_.check());
  item.job.writeSeconds = std::chrono::duration<double>(Clock::now() - writeStart).count();
  item.job.totalSeconds = std::chrono::duration<double>(Clock::now() - item.started).count();

  // The report names the files where they will be, not the staging folder.
  SegmentJobOptions job;
  job.input = c.input;
  job.seriesUid = c.seriesUid;
  job.output = (fs::path(staging.finalPath()) / "labels.nii.gz").string();
  job.segment = o_.segment;
  TESSERA_RETURN_IF_ERROR(writeTextFileAtomic((dir / "report.json").string(),
                                              segmentReportJson(job, item.job, model_->info)));
  files.push_back("report.json");
  TESSERA_ASSIGN_OR_RETURN(std::vector<OutputRecord> outputs, recordOutputs(dir.string(), files));
  TESSERA_RETURN_IF_ERROR(stop_.check());
  TESSERA_RETURN_IF_ERROR(staging.place());

  ManifestEntry entry;
  entry.caseName = c.name;
  entry.input = manifestInput(c);
  entry.inputIdentity = item.identity;
  entry.modelHash = modelHash_;
  entry.options = options_;
  entry.outputs = std::move(outputs);
  return recordCase(*manifest_, entry, staging.finalPath());
}

void Pipeline::writeStage() {
  WriteItem item;
  while (writeQueue_.pop(&item)) {
    const std::size_t i = item.index;
    try {
      Status s = stop_.check();
      if (s.ok()) s = writeCase(item);
      if (s.ok()) {
        const double seconds = std::chrono::duration<double>(Clock::now() - item.started).count();
        // The summary takes the statistics as computed, not read back from the report.
        CaseReport report;
        report.slices = item.job.stats.slices;
        for (imaging::LabelStatistics& label : item.job.statistics)
          if (label.value != 0) report.labels.push_back(std::move(label));
        emit({i, CaseOutcome::kComputed, std::move(item.redoReason), std::move(report), seconds});
      } else {
        emit(stopped(i, s, item.started));
      }
    } catch (const std::exception& e) {
      emit(stopped(i, Status(StatusCode::kResourceExhausted, e.what()), item.started));
    }
    item = WriteItem();
  }
}

void Pipeline::reportProgress(ProgressTracker& tracker, bool final) {
  std::lock_guard lock(progressMutex_);
  const std::size_t total = cases_.size();
  double work = 0.0;
  for (double f : fractions_) work += f;
  // Cases found finished by --resume take no time: leave them out of the
  // fraction the ETA is derived from.
  const double units = static_cast<double>(total - resumed_);
  const double fraction =
      final ? 1.0 : (units > 0 ? std::clamp((work - resumed_) / units, 0.0, 0.999) : 0.0);
  std::string message = std::to_string(finished_) + "/" + std::to_string(total) + " cases";
  if (failed_ > 0) message += ", " + std::to_string(failed_) + " failed";
  if (!final && lastActive_ < total && fractions_[lastActive_] < 1.0)
    message += " · " + cases_[lastActive_].name +
               (messages_[lastActive_].empty() ? "" : ": " + messages_[lastActive_]);
  tracker.report(fraction, message);
}

std::vector<Event> Pipeline::run() {
  const int totalThreads = o_.threads > 0 ? o_.threads : hardwareThreads();
  const int jobs = std::clamp(o_.jobs, 1, std::max<int>(1, static_cast<int>(cases_.size())));
  threadsPerJob_ = std::max(1, totalThreads / jobs);
  const int callersThreads = numThreads();
  setNumThreads(threadsPerJob_);

  std::vector<std::optional<Event>> events(cases_.size());
  ProgressTracker tracker(o_.progress, 0.0);
  reportProgress(tracker, false);
  computeRunning_ = jobs;
  std::vector<std::thread> threads;
  threads.emplace_back([this] { readStage(); });
  for (int j = 0; j < jobs; ++j) threads.emplace_back([this] { computeStage(); });
  threads.emplace_back([this] { writeStage(); });

  std::size_t received = 0;
  auto lastReport = Clock::now();
  while (received < cases_.size()) {
    std::deque<Event> batch;
    {
      std::unique_lock lock(eventMutex_);
      eventReady_.wait_for(lock, std::chrono::milliseconds(200), [&] { return !pending_.empty(); });
      batch.swap(pending_);
    }
    if (o_.cancel && o_.cancel->cancelled() && !stop_.cancelled()) {
      userCancelled_ = true;
      stop("cancelled");
    }
    for (Event& e : batch) {
      {
        std::lock_guard lock(progressMutex_);
        if (e.outcome == CaseOutcome::kResumed) ++resumed_;
        if (e.outcome == CaseOutcome::kFailed) ++failed_;
        ++finished_;
      }
      if (e.outcome == CaseOutcome::kFailed) {
        logWarning("case ", cases_[e.index].name, " failed: ", e.reason);
      }
      const std::size_t index = e.index;
      events[index] = std::move(e);
      ++received;
    }
    if (Clock::now() - lastReport > std::chrono::milliseconds(200) || !batch.empty()) {
      reportProgress(tracker, false);
      lastReport = Clock::now();
    }
  }
  readQueue_.close();
  writeQueue_.close();
  for (std::thread& t : threads) t.join();
  setNumThreads(callersThreads);
  reportProgress(tracker, true);
  std::vector<Event> out;
  for (auto& e : events) out.push_back(std::move(*e));
  return out;
}

}  // namespace

Result<BatchResult> runBatch(const BatchOptions& options) {
  const auto start = Clock::now();
  BatchOptions o = options;
  if (o.meshes && o.meshFormat != "stl" && o.meshFormat != "obj")
    return Error{StatusCode::kInvalidArgument, "mesh format must be stl or obj"};
  std::error_code error;
  if (!fs::is_directory(o.inputDir, error))
    return Error{StatusCode::kNotFound, "the input folder does not exist or is not a folder",
                 o.inputDir};
  fs::create_directories(o.outputDir, error);
  if (!fs::is_directory(o.outputDir, error))
    return Error{StatusCode::kIoError, "cannot create the output folder", o.outputDir};
  TESSERA_RETURN_IF_ERROR(checkOutputPath((fs::path(o.outputDir) / kSummaryJsonFile).string()));
  DirectoryLock lock;
  TESSERA_RETURN_IF_ERROR(lock.acquire(o.outputDir));
  removeLeftovers(o.outputDir);

  if (isInsideDirectory(absoluteNormalPath(o.outputDir), absoluteNormalPath(o.inputDir)))
    o.discovery.skipDirectory = o.outputDir;
  TESSERA_ASSIGN_OR_RETURN(Discovery discovery, discoverCases(o.inputDir, o.discovery));
  for (const std::string& f : discovery.unreadableFiles)
    logWarning("not part of any case, unreadable: ", f);
  if (discovery.cases.empty())
    return Error{StatusCode::kNotFound,
                 "no cases found (looked for .nii/.nii.gz/.nrrd/.nhdr/.mha/.mhd files and DICOM "
                 "series)",
                 o.inputDir};
  std::vector<BatchCase> cases = selectShard(discovery.cases, o.shard);

  std::string modelPath = o.modelPath;
  if (modelPath.empty()) {
    TESSERA_ASSIGN_OR_RETURN(modelPath, defaultModelPath());
  }
  TESSERA_ASSIGN_OR_RETURN(std::uint64_t modelHash, hashFile(modelPath));
  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, loadModel(modelPath));
  TESSERA_ASSIGN_OR_RETURN(
      Manifest manifest,
      Manifest::open((fs::path(o.outputDir) / kManifestFile).string(), o.resume));
  if (manifest.skippedLines() > 0)
    logWarning("the manifest had ", manifest.skippedLines(),
               " unreadable lines (a run killed while writing); those cases are redone");
  if (o.cancel) TESSERA_RETURN_IF_ERROR(o.cancel->check());

  Pipeline pipeline(o, cases, model, hashHex(modelHash), &manifest);
  std::vector<Event> events = pipeline.run();
  if (pipeline.cancelledByUser())
    return Error{StatusCode::kCancelled,
                 "cancelled; the cases finished so far are kept, run again with --resume to "
                 "continue",
                 o.outputDir};

  BatchResult result;
  result.cohortCases = static_cast<std::int64_t>(discovery.cases.size());
  result.unreadableFiles = discovery.unreadableFiles;
  CohortSummary& summary = result.summary;
  summary.modelName = model->info.name;
  summary.modelVersion = model->info.version;
  summary.modelHash = hashHex(modelHash);
  summary.mode = segmentModeName(o.segment.mode);
  summary.meshFormat = o.meshes ? o.meshFormat : "";
  summary.cohortCases = result.cohortCases;
  summary.cohortFingerprint = cohortFingerprint(discovery.cases);
  summary.shard = o.shard;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    Event& e = events[i];
    CaseSummary cs;
    cs.name = cases[i].name;
    cs.input = cases[i].relativePath;
    cs.seriesUid = cases[i].seriesUid;
    if (e.outcome == CaseOutcome::kComputed || e.outcome == CaseOutcome::kResumed) {
      cs.slices = e.report.slices;
      cs.labels = std::move(e.report.labels);
    }
    cs.status = e.outcome == CaseOutcome::kFailed   ? CaseStatus::kFailed
                : e.outcome == CaseOutcome::kNotRun ? CaseStatus::kNotRun
                                                    : CaseStatus::kOk;
    if (cs.status != CaseStatus::kOk) cs.reason = e.reason;
    summary.cases.push_back(std::move(cs));
    result.cases.push_back({cases[i].name, e.outcome, e.reason, e.seconds});
  }
  TESSERA_RETURN_IF_ERROR(writeSummary(summary, o.outputDir));
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace tessera::models
