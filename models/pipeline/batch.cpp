#include "models/pipeline/batch.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"
#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "imaging/mesh/label_mesh.h"
#include "imaging/stats/label_stats.h"
#include "models/pipeline/manifest.h"
#include "models/pipeline/model_store.h"
#include "models/pipeline/segment_job.h"

namespace tessera::models {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- discovery

namespace {

constexpr const char* kVolumeExtensions[] = {".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"};
constexpr const char* kOldPrefix = ".tessera-old-";
constexpr const char* kLockFile = ".tessera-batch.lock";

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Length of the volume extension `name` ends with, 0 when none.
std::size_t volumeExtensionLength(const std::string& name) {
  const std::string lower = lowercase(name);
  for (const char* ext : kVolumeExtensions) {
    const std::string e = ext;
    if (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0)
      return e.size();
  }
  return 0;
}

std::string sanitizeName(const std::string& relative) {
  std::string out;
  for (char c : relative) {
    if (c == '/')
      out += "__";
    else if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')
      out += c;
    else
      out += '_';
  }
  return out;
}

bool matchesAny(const std::vector<std::string>& patterns, const std::string& relative) {
  const std::string base = fs::path(relative).filename().string();
  for (const std::string& p : patterns)
    if (::fnmatch(p.c_str(), relative.c_str(), 0) == 0 ||
        ::fnmatch(p.c_str(), base.c_str(), 0) == 0)
      return true;
  return false;
}

bool selected(const DiscoveryOptions& o, const std::string& relative) {
  if (!o.include.empty() && !matchesAny(o.include, relative)) return false;
  return !matchesAny(o.exclude, relative);
}

bool isInside(const fs::path& path, const fs::path& directory) {
  if (directory.empty()) return false;
  const fs::path p = path.lexically_normal(), d = directory.lexically_normal();
  auto [dEnd, pIt] = std::mismatch(d.begin(), d.end(), p.begin(), p.end());
  return dEnd == d.end() || (std::next(dEnd) == d.end() && dEnd->empty());
}

fs::path absoluteNormal(const std::string& path) {
  std::error_code error;
  fs::path p = fs::weakly_canonical(fs::absolute(path), error);
  return error ? fs::absolute(path).lexically_normal() : p;
}

fs::path commonParent(const std::vector<std::string>& files) {
  fs::path common = fs::path(files.front()).parent_path();
  for (const std::string& f : files) {
    const fs::path parent = fs::path(f).parent_path();
    while (!isInside(parent, common)) common = common.parent_path();
  }
  return common;
}

bool reservedName(const std::string& name) {
  return name == kSummaryCsvFile || name == kSummaryJsonFile || name == kManifestFile ||
         name.empty() || name[0] == '.';
}
}  // namespace

Result<Discovery> discoverCases(const std::string& inputDir, const DiscoveryOptions& options) {
  std::error_code error;
  if (!fs::is_directory(inputDir, error))
    return Error{StatusCode::kNotFound, "the input folder does not exist or is not a folder",
                 inputDir};
  const fs::path root = absoluteNormal(inputDir);
  const fs::path skip =
      options.skipDirectory.empty() ? fs::path() : absoluteNormal(options.skipDirectory);
  Discovery found;
  std::int64_t otherFiles = 0;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, error);
  if (error)
    return Error{StatusCode::kIoError, "cannot list the input folder: " + error.message(),
                 inputDir};
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    const bool directory = it->is_directory(error);
    if ((!name.empty() && name[0] == '.') || (directory && isInside(path, skip))) {
      if (directory) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(error)) continue;
    const std::size_t extension = volumeExtensionLength(name);
    if (extension == 0) {
      ++otherFiles;
      continue;
    }
    const std::string relative = path.lexically_relative(root).generic_string();
    if (!selected(options, relative)) continue;
    BatchCase c;
    c.relativePath = relative;
    c.name = sanitizeName(relative.substr(0, relative.size() - extension));
    c.input = path.string();
    c.files = {path.string()};
    // NRRD/MetaImage headers may keep their voxels in a separate file.
    const std::string lower = lowercase(name);
    if (lower.ends_with(".mhd") || lower.ends_with(".nhdr")) {
      const fs::path stem = path.parent_path() / name.substr(0, name.size() - extension);
      for (const char* data : {".raw", ".zraw", ".raw.gz"})
        if (fs::is_regular_file(stem.string() + data, error))
          c.files.push_back(stem.string() + data);
    }
    found.cases.push_back(std::move(c));
  }
  if (error)
    return Error{StatusCode::kIoError, "cannot list the input folder: " + error.message(),
                 inputDir};

  if (otherFiles > 0) {
    // Any other file may be DICOM: one scan of the tree groups them by series.
    auto listing = imaging::listDicomSeries(root.string());
    if (!listing.ok() && listing.error().code != StatusCode::kNotFound) return listing.error();
    if (listing.ok()) {
      found.unreadableFiles = listing->unreadableFiles;
      std::map<std::string, int> seriesPerFolder;
      std::vector<BatchCase> series;
      for (const imaging::DicomSeriesInfo& s : listing->series) {
        std::vector<std::string> files;
        for (const std::string& f : s.files)
          if (!isInside(f, skip)) files.push_back(f);
        if (files.empty()) continue;
        std::sort(files.begin(), files.end());
        const fs::path folder = commonParent(files);
        std::string relative = folder.lexically_relative(root).generic_string();
        if (relative.empty()) relative = ".";
        if (!selected(options, relative)) continue;
        BatchCase c;
        c.relativePath = relative;
        c.input = folder.string();
        c.seriesUid = s.seriesUid;
        c.files = std::move(files);
        ++seriesPerFolder[relative];
        series.push_back(std::move(c));
      }
      for (BatchCase& c : series) {
        c.name = c.relativePath == "." ? "dicom" : sanitizeName(c.relativePath);
        if (seriesPerFolder[c.relativePath] > 1) c.name += "__" + sanitizeName(c.seriesUid);
        found.cases.push_back(std::move(c));
      }
    }
  }

  std::map<std::string, int> uses;
  for (const BatchCase& c : found.cases) ++uses[c.name];
  for (BatchCase& c : found.cases)
    if (uses[c.name] > 1 || reservedName(c.name))
      c.name += "-" + hashHex(hash64(c.relativePath + "\n" + c.seriesUid)).substr(0, 8);
  std::sort(found.cases.begin(), found.cases.end(),
            [](const BatchCase& a, const BatchCase& b) { return a.name < b.name; });
  return found;
}

std::vector<BatchCase> selectShard(const std::vector<BatchCase>& cases, ShardSpec shard) {
  std::vector<BatchCase> out;
  for (std::size_t k = 0; k < cases.size(); ++k)
    if (static_cast<int>(k % static_cast<std::size_t>(shard.count)) == shard.index)
      out.push_back(cases[k]);
  return out;
}

std::string cohortFingerprint(const std::vector<BatchCase>& cases) {
  Hash64 hash;
  for (const BatchCase& c : cases) {
    const std::string line = c.name + '\0' + c.relativePath + '\0' + c.seriesUid + '\n';
    hash.update(line.data(), line.size());
  }
  return hashHex(hash.digest());
}

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
  std::string reportJson;  // computed or resumed cases
  double seconds = 0.0;
};

// Holds an exclusive lock on OUT_DIR for the run (released by the kernel
// even when the process is killed).
class DirectoryLock {
 public:
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status acquire(const std::string& directory) {
    const std::string path = (fs::path(directory) / kLockFile).string();
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0)
      return Status(StatusCode::kIoError, "cannot create a lock file in the output folder", path);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
      return Status(StatusCode::kUnsupported,
                    "another tessera batch is writing into this output folder", directory);
    return Status();
  }

 private:
  int fd_ = -1;
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
        options_("mode=" + std::string(segmentModeName(options.mode)) +
                 " meshes=" + (options.meshes ? options.meshFormat : std::string("none")) +
                 " version=" + TESSERA_VERSION),
        inputRoot_(absoluteNormal(options.inputDir).string()),
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
  Status writeCase(WriteItem& item, std::string* reportJson);

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
      wanted.input = c.relativePath + (c.seriesUid.empty() ? "" : "#" + c.seriesUid);
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
          auto report = readTextFile((fs::path(caseDir(i)) / "report.json").string());
          if (report.ok() && labelRowsFromReport(*report).ok()) {
            emit({i, CaseOutcome::kResumed, {}, std::move(*report), 0.0});
            continue;
          }
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

void Pipeline::computeStage() {
  Segmenter segmenter(model_);
  ReadItem item;
  while (readQueue_.pop(&item)) {
    const std::size_t i = item.index;
    const auto started = item.started;
    try {
      CaseProgress progress(this, i, 0.1, 0.8);
      SegmentOptions options;
      options.mode = o_.mode;
      options.threads = threadsPerJob_;
      options.progress = &progress;
      options.cancel = &stop_;
      auto seg = segmenter.segment(item.volume, options);
      if (!seg.ok()) {
        emit(stopped(i, seg.status(), started));
        continue;
      }
      imaging::StatisticsOptions statsOptions;
      statsOptions.cancel = &stop_;
      auto statistics = imaging::computeLabelStatistics(item.volume, seg->labels, statsOptions);
      if (!statistics.ok()) {
        emit(stopped(i, statistics.status(), started));
        continue;
      }
      WriteItem out;
      out.index = i;
      out.job.geometry = item.volume.geometry();
      out.job.stats = seg->stats;
      out.job.readSeconds = item.readSeconds;
      out.job.statistics = std::move(*statistics);
      out.labels = std::move(seg->labels);
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

Status Pipeline::writeCase(WriteItem& item, std::string* reportJson) {
  const BatchCase& c = cases_[item.index];
  const fs::path finalDir = caseDir(item.index);
  const fs::path staging = fs::path(o_.outputDir) / (std::string(kStagingPrefix) + c.name);
  std::error_code error;
  fs::remove_all(staging, error);
  if (!fs::create_directory(staging, error))
    return Status(StatusCode::kIoError, "cannot create a staging folder: " + error.message(),
                  staging.string());
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ignored;
      if (!path.empty()) fs::remove_all(path, ignored);
    }
  } cleanup{staging};

  const auto writeStart = Clock::now();
  std::vector<std::string> files = {"labels.nii.gz"};
  TESSERA_RETURN_IF_ERROR(imaging::writeLabelMap(item.labels, (staging / files[0]).string()));
  if (o_.meshes) {
    CaseProgress progress(this, item.index, 0.85, 0.98);
    imaging::MeshOptions meshOptions;
    meshOptions.cancel = &stop_;
    meshOptions.progress = &progress;
    TESSERA_ASSIGN_OR_RETURN(std::vector<imaging::Mesh> meshes,
                             imaging::buildLabelMeshes(item.labels, meshOptions));
    if (!meshes.empty()) fs::create_directory(staging / "meshes", error);
    for (const imaging::Mesh& mesh : meshes) {
      const std::string name = "meshes/" + imaging::meshFileName(mesh, "." + o_.meshFormat);
      TESSERA_RETURN_IF_ERROR(imaging::writeMesh(mesh, (staging / name).string()));
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
  job.output = (finalDir / "labels.nii.gz").string();
  job.segment.mode = o_.mode;
  *reportJson = segmentReportJson(job, item.job, model_->info);
  TESSERA_RETURN_IF_ERROR(writeTextFileAtomic((staging / "report.json").string(), *reportJson));
  files.push_back("report.json");
  TESSERA_ASSIGN_OR_RETURN(std::vector<OutputRecord> outputs,
                           recordOutputs(staging.string(), files));
  TESSERA_RETURN_IF_ERROR(stop_.check());

  // Swap the folder into place: the old one (a case redone) goes aside first.
  const fs::path old = fs::path(o_.outputDir) / (std::string(kOldPrefix) + c.name);
  fs::remove_all(old, error);
  if (fs::exists(finalDir, error)) {
    fs::rename(finalDir, old, error);
    if (error)
      return Status(StatusCode::kIoError, "cannot replace the earlier outputs: " + error.message(),
                    finalDir.string());
  }
  fs::rename(staging, finalDir, error);
  if (error)
    return Status(StatusCode::kIoError, "cannot move the outputs into place: " + error.message(),
                  finalDir.string());
  cleanup.path.clear();
  fs::remove_all(old, error);

  ManifestEntry entry;
  entry.caseName = c.name;
  entry.input = c.relativePath + (c.seriesUid.empty() ? "" : "#" + c.seriesUid);
  entry.inputIdentity = item.identity;
  entry.modelHash = modelHash_;
  entry.options = options_;
  entry.outputs = std::move(outputs);
  Status recorded = manifest_->append(entry);
  if (!recorded.ok()) fs::remove_all(finalDir, error);  // a failed case leaves no outputs
  return recorded;
}

void Pipeline::writeStage() {
  WriteItem item;
  while (writeQueue_.pop(&item)) {
    const std::size_t i = item.index;
    try {
      std::string report;
      Status s = stop_.check();
      if (s.ok()) s = writeCase(item, &report);
      if (s.ok()) {
        const double seconds = std::chrono::duration<double>(Clock::now() - item.started).count();
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

// Removes what a killed run may have left: staging folders, folders set
// aside and temporaries of the summary and manifest writers.
void removeLeftovers(const std::string& outputDir) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(outputDir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kStagingPrefix) || name.starts_with(kOldPrefix) ||
        name.starts_with(".summary.tmp-") || name.starts_with(".manifest.tmp-")) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
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

  if (isInside(absoluteNormal(o.outputDir), absoluteNormal(o.inputDir)))
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
  summary.mode = segmentModeName(o.mode);
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
      auto rows = labelRowsFromReport(e.reportJson);
      auto report = parseJson(e.reportJson);
      if (rows.ok() && report.ok()) {
        cs.labels = std::move(*rows);
        const JsonValue* seg = report->find("segmentation");
        cs.slices = seg ? static_cast<std::int64_t>(seg->getNumber("slices")) : 0;
      } else {
        e.outcome = CaseOutcome::kFailed;
        e.reason = "its report cannot be read back";
      }
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
