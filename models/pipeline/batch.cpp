// The run of a batch: a reader thread, `jobs` compute threads and a writer
// thread joined by bounded queues, so that at most one volume waits while
// others compute. Discovery and the output folder's bookkeeping live in
// batch_discovery.cpp and batch_outputs.cpp.
#include "models/pipeline/batch.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/parallel.h"
#include "imaging/dicom/dicom_rtstruct.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/dicom/dicom_sr.h"
#include "imaging/io/volume_io.h"
#include "imaging/mesh/label_mesh.h"
#include "imaging/stats/label_stats.h"
#include "models/pipeline/manifest.h"
#include "models/pipeline/model_store.h"
#include "models/pipeline/process.h"
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

// The canonical text of the options that change outputs (the manifest's "options").
std::string outputOptions(const BatchOptions& o) {
  return "mode=" + std::string(segmentModeName(o.segment.mode)) +
         " settle=" + settlingName(o.segment.settling) +
         " dilation=" + std::to_string(o.segment.detector.dilation) +
         " meshes=" + (o.meshes ? o.meshFormat : std::string("none")) +
         (o.dicomSeg ? " dicom_seg=yes" : "") + (o.dicomSr ? " dicom_sr=yes" : "") +
         (o.rtstruct ? " rtstruct=yes" : "") +
         (o.deidentify.enabled
              ? (o.deidentify.keepDates ? " deidentify=keep-dates" : " deidentify=yes")
              : "") +
         (o.stages.empty() ? std::string() : " stages=" + stageSpec(o.stages)) +
         " version=" + TESSERA_VERSION;
}

// Writes a segmented case's labels, meshes and report into its staging
// folder and moves it into OUT_DIR/<case>; returns the records of its files.
// `progress` (may be null) follows the meshes.
Result<std::vector<OutputRecord>> writeCaseFiles(const BatchOptions& o, const BatchCase& c,
                                                 const ModelInfo& info, const LabelMap& labels,
                                                 SegmentJobResult& job, Clock::time_point started,
                                                 const CancelToken& stop, ProgressSink* progress,
                                                 std::string* finalPath) {
  CaseStaging staging(o.outputDir, c.name);
  TESSERA_RETURN_IF_ERROR(staging.create());
  const fs::path dir = staging.path();

  const auto writeStart = Clock::now();
  std::vector<std::string> files = {"labels.nii.gz"};
  TESSERA_RETURN_IF_ERROR(imaging::writeLabelMap(labels, (dir / files[0]).string()));
  if (o.meshes) {
    imaging::MeshOptions meshOptions;
    meshOptions.cancel = &stop;
    meshOptions.progress = progress;
    TESSERA_ASSIGN_OR_RETURN(std::vector<imaging::Mesh> meshes,
                             imaging::buildLabelMeshes(labels, meshOptions));
    std::error_code error;
    if (!meshes.empty()) fs::create_directory(dir / "meshes", error);
    for (const imaging::Mesh& mesh : meshes) {
      const std::string name = "meshes/" + imaging::meshFileName(mesh, "." + o.meshFormat);
      TESSERA_RETURN_IF_ERROR(imaging::writeMesh(mesh, (dir / name).string()));
      files.push_back(name);
    }
  }
  if (o.dicomSeg) {
    imaging::DicomSegOptions dicomSeg;
    dicomSeg.sourcePath = c.input;
    dicomSeg.seriesUid = c.seriesUid;
    dicomSeg.algorithmName = info.name;
    dicomSeg.algorithmVersion = info.version;
    dicomSeg.algorithmParameters = std::string("mode=") + segmentModeName(o.segment.mode);
    dicomSeg.deidentify = o.deidentify;
    dicomSeg.properties = segmentProperties(info);
    TESSERA_RETURN_IF_ERROR(imaging::writeDicomSeg(labels, (dir / "seg.dcm").string(), dicomSeg));
    files.push_back("seg.dcm");
    if (o.dicomSr) {
      imaging::DicomSrOptions sr;
      sr.sourcePath = c.input;
      sr.seriesUid = c.seriesUid;
      sr.segPath = (dir / "seg.dcm").string();
      sr.algorithmName = info.name;
      sr.algorithmVersion = info.version;
      sr.deidentify = o.deidentify;
      TESSERA_RETURN_IF_ERROR(imaging::writeDicomSr(job.statistics, (dir / "sr.dcm").string(), sr));
      files.push_back("sr.dcm");
    }
  }
  if (o.rtstruct) {
    imaging::RtStructOptions rt;
    rt.sourcePath = c.input;
    rt.seriesUid = c.seriesUid;
    rt.algorithmName = info.name;
    rt.deidentify = o.deidentify;
    TESSERA_RETURN_IF_ERROR(imaging::writeRtStruct(labels, (dir / "rtstruct.dcm").string(), rt));
    files.push_back("rtstruct.dcm");
  }
  TESSERA_RETURN_IF_ERROR(stop.check());
  job.writeSeconds = std::chrono::duration<double>(Clock::now() - writeStart).count();
  job.totalSeconds = std::chrono::duration<double>(Clock::now() - started).count();

  // The report names the files where they will be, not the staging folder.
  SegmentJobOptions jobOptions;
  jobOptions.input = c.input;
  jobOptions.seriesUid = c.seriesUid;
  jobOptions.output = (fs::path(staging.finalPath()) / "labels.nii.gz").string();
  jobOptions.segment = o.segment;
  jobOptions.stages = o.stages;
  TESSERA_RETURN_IF_ERROR(writeTextFileAtomic((dir / "report.json").string(),
                                              segmentReportJson(jobOptions, job, info)));
  files.push_back("report.json");
  TESSERA_ASSIGN_OR_RETURN(std::vector<OutputRecord> outputs, recordOutputs(dir.string(), files));
  TESSERA_RETURN_IF_ERROR(stop.check());
  TESSERA_RETURN_IF_ERROR(staging.place());
  *finalPath = staging.finalPath();
  return outputs;
}

class Pipeline {
 public:
  Pipeline(const BatchOptions& options, std::vector<BatchCase> cases,
           std::shared_ptr<const Model> model, std::string modelHash, Manifest* manifest)
      : o_(options),
        cases_(std::move(cases)),
        model_(std::move(model)),
        modelHash_(std::move(modelHash)),
        manifest_(manifest),
        options_(outputOptions(options)),
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
  // With workers, in place of computeStage: hands cases to one worker
  // process and watches it.
  void isolatedStage();
  void superviseCase(ChildProcess& worker, std::string& answers, ReadItem& item);
  void recordFailure(std::size_t index, const std::string& failure, const InputIdentity& identity,
                     Clock::time_point started);
  void writeStage();
  void emit(Event event);
  // A case that stopped with `status`: failed, or not run when the run is stopping.
  Event stopped(std::size_t index, const Status& status, Clock::time_point started);
  void stop(const std::string& reason);
  std::string portableReason(std::string reason) const;
  // What the manifest records of case `c` whatever its outcome.
  ManifestEntry entryFor(const BatchCase& c, const InputIdentity& identity) const {
    ManifestEntry entry;
    entry.caseName = c.name;
    entry.input = manifestInput(c);
    entry.inputIdentity = identity;
    entry.modelHash = modelHash_;
    entry.options = options_;
    return entry;
  }
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
  Manifest* manifest_;  // appended to under manifestMutex_
  std::mutex manifestMutex_;
  std::vector<std::optional<ManifestEntry>> recorded_;  // at the start, by case index
  const std::string options_;
  const bool isolated_ = !o_.workerCommand.empty();
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
      ManifestEntry wanted = entryFor(c, *stamp);
      std::string redoReason;
      if (const ManifestEntry* recorded = o_.resume && recorded_[i] ? &*recorded_[i] : nullptr) {
        if (!sameStamp(recorded->inputIdentity, *stamp))
          if (Status s = hashInput(inputRoot_, c.files, &wanted.inputIdentity); !s.ok()) {
            emit(stopped(i, s, started));
            continue;
          }
        // A case that crashed its worker would crash it again: it stays
        // failed unless asked for, or unless its input, model or options changed.
        if (!recorded->failure.empty() && !o_.retryFailed &&
            changedReason(*recorded, wanted).empty()) {
          emit({i, CaseOutcome::kFailed, recorded->failure, {}, 0.0});
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
      if (o_.dicomSeg || o_.rtstruct) {
        const auto format = imaging::formatFromPath(c.input);
        if (format != imaging::FileFormat::kDicomDirectory &&
            format != imaging::FileFormat::kDicomFile) {
          emit(stopped(i,
                       Status(StatusCode::kInvalidArgument,
                              "the case is not a DICOM series, so a DICOM-SEG or RTSTRUCT "
                              "has no series to reference"),
                       started));
          continue;
        }
      }
      if (wanted.inputIdentity.hash.empty())
        if (Status s = hashInput(inputRoot_, c.files, &wanted.inputIdentity); !s.ok()) {
          emit(stopped(i, s, started));
          continue;
        }
      if (isolated_) {  // the worker reads the case
        ReadItem item;
        item.index = i;
        item.identity = wanted.inputIdentity;
        item.redoReason = std::move(redoReason);
        item.started = started;
        if (!readQueue_.push(std::move(item)))
          emit(stopped(i, Status(StatusCode::kCancelled, "stopped"), started));
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
  TESSERA_ASSIGN_OR_RETURN(StudySegmentation seg,
                           segmentStudy(segmenter, item.volume, options, o_.stages));
  out->index = i;
  out->job.geometry = item.volume.geometry();
  out->job.stats = seg.stats;
  out->job.stageReport = std::move(seg.stageReport);
  out->job.postProcessing = std::move(seg.postProcessing);
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
  CaseProgress progress(this, item.index, 0.85, 0.98);
  std::string finalPath;
  TESSERA_ASSIGN_OR_RETURN(std::vector<OutputRecord> outputs,
                           writeCaseFiles(o_, c, model_->info, item.labels, item.job, item.started,
                                          stop_, &progress, &finalPath));
  ManifestEntry entry = entryFor(c, item.identity);
  entry.outputs = std::move(outputs);
  std::lock_guard lock(manifestMutex_);
  return recordCase(*manifest_, entry, finalPath);
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

std::string formatSeconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

void Pipeline::isolatedStage() {
  ChildProcess worker;
  std::string answers;  // the worker's output not yet parsed (a partial line)
  ReadItem item;
  while (readQueue_.pop(&item)) {
    const std::size_t i = item.index;
    try {
      superviseCase(worker, answers, item);
    } catch (const std::exception& e) {
      emit(stopped(i, Status(StatusCode::kResourceExhausted, e.what()), item.started));
    }
  }
  // At the end of its requests an idle worker exits; one that does not is
  // killed by the handle.
  worker.closeInput();
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (worker.running() && Clock::now() < deadline)
    if (!worker.read(&answers, 100)) worker.wait();
  worker = ChildProcess();
  if (computeRunning_.fetch_sub(1) == 1) writeQueue_.close();
}

void Pipeline::recordFailure(std::size_t index, const std::string& failure,
                             const InputIdentity& identity, Clock::time_point started) {
  const BatchCase& c = cases_[index];
  // A killed worker leaves its staging folder behind.
  std::error_code error;
  fs::remove_all(fs::path(o_.outputDir) / (kStagingPrefix + c.name), error);
  ManifestEntry entry = entryFor(c, identity);
  entry.failure = failure;
  {
    std::lock_guard lock(manifestMutex_);
    if (Status s = manifest_->append(entry); !s.ok())
      logWarning("case ", c.name, ": ", s.error().toString());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  emit({index, CaseOutcome::kFailed, failure, {}, seconds});
}

void Pipeline::superviseCase(ChildProcess& worker, std::string& answers, ReadItem& item) {
  const std::size_t i = item.index;
  const BatchCase& c = cases_[i];
  const auto started = item.started;
  if (stop_.cancelled()) {
    emit(stopped(i, Status(StatusCode::kCancelled, "stopped"), started));
    return;
  }
  JsonWriter request(false);
  request.beginObject().field("case", c.name).field("input", c.input);
  request.field("series_uid", c.seriesUid).field("threads", threadsPerJob_);
  request.key("files").beginArray();
  for (const std::string& f : c.files) request.value(f);
  request.endArray().endObject();

  std::string failure;  // the worker crashed or was killed: recorded in the manifest
  std::optional<JsonValue> done;
  for (int attempt = 0;; ++attempt) {
    const bool fresh = !worker.running();
    if (fresh) {
      auto spawned = ChildProcess::start(o_.workerCommand);
      if (!spawned.ok()) {
        emit(stopped(i, spawned.status(), started));
        return;
      }
      worker = std::move(*spawned);
      answers.clear();
    }
    std::optional<Clock::time_point> caseStart, terminated;
    if (worker.write(request.str() + "\n")) {
      while (!done && failure.empty()) {
        if (!worker.read(&answers, 100)) break;  // the worker is gone
        for (std::size_t end; !done && (end = answers.find('\n')) != std::string::npos;) {
          auto answer = parseJson(std::string_view(answers.data(), end));
          answers.erase(0, end + 1);
          if (!answer.ok()) continue;
          const std::string event = answer->getString("event");
          if (event == "started") {
            caseStart = Clock::now();
          } else if (event == "progress") {
            std::lock_guard lock(progressMutex_);
            fractions_[i] = std::clamp(answer->getNumber("fraction"), 0.0, 0.99);
            messages_[i] = answer->getString("message");
            lastActive_ = i;
          } else if (event == "done") {
            done = std::move(*answer);
          }
        }
        if (done) break;
        const auto now = Clock::now();
        if (stop_.cancelled() && !terminated) {
          worker.signal(SIGTERM);  // it removes its staging folder and answers
          terminated = now;
        }
        if (terminated && now - *terminated > std::chrono::seconds(10)) worker.signal(SIGKILL);
        if (o_.caseTimeoutSeconds > 0 && caseStart &&
            std::chrono::duration<double>(now - *caseStart).count() > o_.caseTimeoutSeconds)
          failure = "exceeded the time limit of " + formatSeconds(o_.caseTimeoutSeconds) +
                    " s per case (--case-timeout)";
        if (o_.memoryLimitBytes > 0 && residentBytes(worker.pid()) > o_.memoryLimitBytes)
          failure = "exceeded the memory limit of " +
                    std::to_string(o_.memoryLimitBytes / (1024 * 1024)) +
                    " MiB per worker (--memory-limit)";
      }
    }
    if (done) break;
    if (!failure.empty()) worker.signal(SIGKILL);
    worker.closeInput();
    const ProcessResult exit = worker.wait();
    if (!failure.empty()) break;
    if (stop_.cancelled()) {
      emit(stopped(i, Status(StatusCode::kCancelled, "stopped"), started));
      return;
    }
    // A worker kept from the case before that died before it took this
    // case: not this case's doing; a new worker gets it.
    if (!fresh && !caseStart && attempt == 0) continue;
    failure = exit.signal != 0
                  ? "the worker process crashed: killed by signal " + signalName(exit.signal) +
                        " (" + ::strsignal(exit.signal) + ")"
                  : "the worker process " + exit.describeExit() + " before the case was finished";
    break;
  }
  if (!done) {
    recordFailure(i, failure, item.identity, started);
    return;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!done->find("ok") || !done->find("ok")->asBool()) {
    Event e;
    e.index = i;
    e.seconds = seconds;
    {
      // A Ctrl-C reaches the worker too, maybe before this run notices it.
      std::lock_guard lock(stopMutex_);
      const bool stopping = stop_.cancelled() || (o_.cancel && o_.cancel->cancelled());
      e.outcome = stopping ? CaseOutcome::kNotRun : CaseOutcome::kFailed;
      e.reason = stopping ? (stop_.cancelled() ? stopReason_ : "cancelled")
                          : portableReason(done->getString("reason"));
    }
    emit(std::move(e));
    return;
  }
  ManifestEntry entry = entryFor(c, item.identity);
  if (const JsonValue* outputs = done->find("outputs"))
    for (const JsonValue& o : outputs->items())
      entry.outputs.push_back({o.getString("file"), static_cast<std::int64_t>(o.getNumber("size")),
                               o.getString("xxh64")});
  const std::string finalPath = caseDir(i);
  Status recorded;
  {
    std::lock_guard lock(manifestMutex_);
    recorded = recordCase(*manifest_, entry, finalPath);
  }
  if (!recorded.ok()) {
    emit(stopped(i, recorded, started));
    return;
  }
  auto report = readCaseReport((fs::path(finalPath) / "report.json").string());
  if (!report.ok()) {
    emit(stopped(i, report.status(), started));
    return;
  }
  emit({i, CaseOutcome::kComputed, std::move(item.redoReason), std::move(*report), seconds});
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
  for (int j = 0; j < jobs; ++j)
    threads.emplace_back([this] { isolated_ ? isolatedStage() : computeStage(); });
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
  o.segment = resolveSegmentMode(o.segment, model->info);
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

// ------------------------------------------------------------------ worker

namespace {

// The worker's answers, one JSON line each; progress comes from the
// computing threads, hence the lock.
class AnswerChannel {
 public:
  explicit AnswerChannel(int fd) : fd_(fd) {}
  bool send(const std::string& json) {
    const std::string line = json + "\n";
    std::lock_guard lock(mutex_);
    for (std::size_t done = 0; done < line.size();) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n > 0)
        done += static_cast<std::size_t>(n);
      else if (n < 0 && errno != EINTR)
        return false;
    }
    return true;
  }

 private:
  int fd_;
  std::mutex mutex_;
};

// Progress of the case on [begin, end] of its work, sent at most every 100
// ms (and whenever the message changes).
class AnswerProgress : public ProgressSink {
 public:
  AnswerProgress(AnswerChannel* answers, double begin, double end)
      : answers_(answers), begin_(begin), end_(end) {}
  void update(const ProgressUpdate& u) override {
    const auto now = Clock::now();
    {
      std::lock_guard lock(mutex_);
      if (u.message == message_ && now - last_ < std::chrono::milliseconds(100)) return;
      message_ = u.message;
      last_ = now;
    }
    JsonWriter w(false);
    w.beginObject().field("event", "progress");
    w.field("fraction", begin_ + (end_ - begin_) * u.fraction).field("message", u.message);
    answers_->send(w.endObject().str());
  }

 private:
  AnswerChannel* answers_;
  double begin_, end_;
  std::mutex mutex_;
  std::string message_;
  Clock::time_point last_{};
};

// Reads, segments and writes one case (as the stages of a Pipeline do).
Status workCase(const BatchOptions& o, Segmenter& segmenter, const ModelInfo& info,
                const BatchCase& c, int threads, const CancelToken& cancel, AnswerChannel& answers,
                std::vector<OutputRecord>* outputs) {
  const auto started = Clock::now();
  AnswerProgress readProgress(&answers, 0.0, 0.1);
  imaging::ReadOptions read;
  read.seriesUid = c.seriesUid;
  read.progress = &readProgress;
  read.cancel = &cancel;
  TESSERA_ASSIGN_OR_RETURN(Volume volume, imaging::readVolume(c.input, read));
  const double readSeconds = std::chrono::duration<double>(Clock::now() - started).count();
  AnswerProgress computeProgress(&answers, 0.1, 0.8);
  SegmentOptions options = o.segment;
  options.threads = threads;
  options.keepBlockMap = false;
  options.onSlice = nullptr;
  options.progress = &computeProgress;
  options.cancel = &cancel;
  TESSERA_ASSIGN_OR_RETURN(StudySegmentation seg,
                           segmentStudy(segmenter, volume, options, o.stages));
  SegmentJobResult job;
  job.geometry = volume.geometry();
  job.stats = seg.stats;
  job.stageReport = std::move(seg.stageReport);
  job.postProcessing = std::move(seg.postProcessing);
  job.readSeconds = readSeconds;
  job.statistics = std::move(seg.statistics);
  volume = Volume();
  AnswerProgress writeProgress(&answers, 0.85, 0.98);
  std::string finalPath;
  TESSERA_ASSIGN_OR_RETURN(*outputs, writeCaseFiles(o, c, info, seg.labels, job, started, cancel,
                                                    &writeProgress, &finalPath));
  return Status();
}

}  // namespace

namespace {
// TESSERA_BATCH_GROW: memory the job's budget never sees, as a third-party
// decoder's own buffers are, touched 16 MiB at a time (every page resident)
// until the supervisor kills the worker or the case is cancelled. Past 1 GiB
// it lets go and the case goes on, so that a supervisor that does not
// enforce its limit shows as a finished case, not as a machine out of memory.
void growUntilStopped(const CancelToken& cancel) {
  constexpr std::size_t kStep = std::size_t{16} << 20;
  std::vector<std::unique_ptr<char[]>> held;
  while (!cancel.cancelled() && held.size() < 64) {
    held.emplace_back(new (std::nothrow) char[kStep]);
    if (!held.back()) break;
    std::memset(held.back().get(), 1, kStep);
    ::usleep(10'000);
  }
}
}  // namespace

Status runBatchWorker(const BatchOptions& o, int requestFd, int answerFd) {
  // A supervisor that dies (even by SIGKILL) stops its workers.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  const CancelToken none;
  const CancelToken& cancel = o.cancel ? *o.cancel : none;
  std::string modelPath = o.modelPath;
  if (modelPath.empty()) {
    TESSERA_ASSIGN_OR_RETURN(modelPath, defaultModelPath());
  }
  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, loadModel(modelPath));
  Segmenter segmenter(model);
  AnswerChannel answers(answerFd);
  const char* stall = std::getenv("TESSERA_BATCH_STALL");
  const char* grow = std::getenv("TESSERA_BATCH_GROW");
  std::string pending;
  char buffer[4096];
  while (!cancel.cancelled()) {
    std::size_t end;
    while ((end = pending.find('\n')) == std::string::npos) {
      const ssize_t n = ::read(requestFd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR && !cancel.cancelled()) continue;
      if (n <= 0) return Status();  // the supervisor is done
      pending.append(buffer, static_cast<std::size_t>(n));
    }
    auto request = parseJson(std::string_view(pending.data(), end));
    pending.erase(0, end + 1);
    if (!request.ok()) return request.status();
    BatchCase c;
    c.name = request->getString("case");
    c.input = request->getString("input");
    c.seriesUid = request->getString("series_uid");
    if (const JsonValue* files = request->find("files"))
      for (const JsonValue& f : files->items()) c.files.push_back(f.asString());
    const int threads = std::max(1, static_cast<int>(request->getNumber("threads", 1)));
    answers.send(R"({"event":"started"})");
    if (stall && c.name == stall)
      while (!cancel.cancelled()) ::pause();
    if (grow && c.name == grow) growUntilStopped(cancel);
    setNumThreads(threads);
    std::vector<OutputRecord> outputs;
    Status status;
    try {
      status = workCase(o, segmenter, model->info, c, threads, cancel, answers, &outputs);
    } catch (const std::exception& e) {
      status = Status(StatusCode::kResourceExhausted, e.what());
    }
    // Blocks one case freed and the allocator kept for reuse are resident:
    // left in place they would count against the next case's --memory-limit,
    // which the supervisor applies to resident memory.
    releaseCachedMemory();
    JsonWriter w(false);
    w.beginObject().field("event", "done").field("ok", status.ok());
    if (status.ok()) {
      w.key("outputs").beginArray();
      for (const OutputRecord& r : outputs)
        w.beginObject()
            .field("file", r.file)
            .field("size", r.size)
            .field("xxh64", r.hash)
            .endObject();
      w.endArray();
    } else {
      w.field("reason", status.error().toString());
    }
    if (!answers.send(w.endObject().str())) return Status();
  }
  return Status();  // stopped as asked: nothing to report
}

std::int64_t defaultMemoryLimitBytes(int jobs) {
  const std::int64_t available = availableMemoryBytes();
  if (available <= 0) return 0;
  return available / 4 * 3 / std::max(1, jobs);
}

}  // namespace tessera::models
