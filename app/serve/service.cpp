#include "app/serve/service.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "app/serve/metrics.h"
#include "core/files.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/parallel.h"
#include "imaging/dicom/dicom.h"
#include "imaging/pacs/dicomweb.h"
#include "imaging/pacs/pacs.h"
#include "imaging/pacs/store_scp.h"
#include "models/pipeline/model_store.h"
#include "models/pipeline/segment_job.h"

namespace tessera::serve {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Folders of `dir` in name order (oldest first for queue ids), hidden and
// partial ones (".name") skipped.
std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && e.path().filename().string()[0] != '.') out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Seconds since the newest file of `dir` was written (after a restart the
// quiet period continues from the files themselves).
double quietFor(const fs::path& dir) {
  std::error_code ec;
  auto newest = fs::last_write_time(dir, ec);
  for (const auto& e : fs::directory_iterator(dir, ec))
    newest = std::max(newest, e.last_write_time(ec));
  return std::chrono::duration<double>(fs::file_time_type::clock::now() - newest).count();
}

std::string stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

// Moves `from` to `to`, replacing an earlier `to` (a retry of the same id).
Status move(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::rename(from, to, ec);
  if (ec)
    return Status(StatusCode::kIoError, "cannot move " + from.string() + ": " + ec.message(),
                  to.string());
  return Status::success();
}

class Service {
 public:
  Service(const ServeConfig& config, std::shared_ptr<const models::Model> model)
      : config_(config), model_(std::move(model)) {
    const fs::path spool(config.spoolDir);
    incoming_ = spool / "incoming";
    queue_ = spool / "queue";
    outbox_ = spool / "outbox";
    done_ = spool / "done";
    failed_ = spool / "failed";
    declareMetrics();
  }

  Status prepareSpool() {
    for (const fs::path& d : {incoming_, queue_, outbox_, done_, failed_}) {
      std::error_code ec;
      fs::create_directories(d, ec);
      if (ec)
        return Status(StatusCode::kIoError, "cannot create the spool folder: " + ec.message(),
                      d.string());
    }
    // Partial results of a run that was killed: the study is still queued.
    for (const auto& e : fs::directory_iterator(outbox_))
      if (e.path().filename().string()[0] == '.') fs::remove_all(e.path());
    return writeTextFileAtomic((fs::path(config_.spoolDir) / ".writable").string(), "ok\n");
  }

  Status run(const CancelToken& stop, const CancelToken& abort) {
    TESSERA_RETURN_IF_ERROR(prepareSpool());
    httplib::Server http;
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
      updateGauges();
      response.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Get("/healthz", [this](const httplib::Request&, httplib::Response& response) {
      const std::string problem = health();
      response.status = problem.empty() ? 200 : 503;
      response.set_content(problem.empty() ? "ok\n" : problem + "\n", "text/plain");
    });
    if (!http.bind_to_port(config_.httpHost.c_str(), config_.httpPort))
      return Status(StatusCode::kIoError, "cannot listen for HTTP on " + config_.httpHost + ":" +
                                              std::to_string(config_.httpPort) +
                                              " (is another program using it?)");
    std::thread httpThread([&http] { http.listen_after_bind(); });

    imaging::StoreScpConfig scp;
    scp.aeTitle = config_.aeTitle;
    scp.port = config_.dicomPort;
    scp.storeDir = incoming_.string();
    scp.timeoutSeconds = config_.timeoutSeconds;
    scp.allowedCallingAes = config_.allowedCallers;
    scp.maxAssociations = config_.maxAssociations;
    Status scpStatus;
    std::thread scpThread([&] {
      scpStatus = imaging::serveStorage(
          scp, [this](const imaging::StoredInstance& i) { onStored(i); }, stop, &spoolLock_);
      scpRunning_ = false;
    });
    // The SCP either fails at once (port in use) or serves.
    for (int i = 0; i < 10 && scpRunning_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!scpRunning_ && !stop.cancelled()) {
      http.stop();
      httpThread.join();
      scpThread.join();
      return scpStatus;
    }
    std::printf("tessera serve: %s listening on DICOM port %d, metrics on http://%s:%d/metrics\n",
                config_.aeTitle.c_str(), config_.dicomPort, config_.httpHost.c_str(),
                config_.httpPort);
    std::fflush(stdout);

    // Series are segmented by `concurrentSeries` workers and results sent by
    // a thread of their own, so that neither a long study nor a destination
    // that times out holds up queueing what has arrived.
    std::vector<std::thread> workers;
    workersRunning_ = config_.concurrentSeries;
    for (int i = 0; i < config_.concurrentSeries; ++i)
      workers.emplace_back([&] { work(stop, abort); });
    std::thread sender([&] {
      while (!stop.cancelled()) {
        sendDue(stop, false);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
    while (!stop.cancelled()) {
      sealQuietSeries();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    // Draining: the SCP stops accepting, the workers finish their series, the
    // results are offered once more.
    scpThread.join();
    for (std::thread& w : workers) w.join();
    sender.join();
    sendDue(abort, true);
    http.stop();
    httpThread.join();
    updateGauges();
    std::printf("tessera serve: stopped; %d queued, %d waiting to be sent (kept in %s)\n",
                static_cast<int>(entries(queue_).size()), static_cast<int>(entries(outbox_).size()),
                config_.spoolDir.c_str());
    return Status::success();
  }

 private:
  void declareMetrics() {
    metrics_.declare("tessera_instances_received_total", "counter",
                     "DICOM instances received and written to the spool");
    metrics_.declare("tessera_studies_received_total", "counter",
                     "series received completely (quiet period over) and queued");
    metrics_.declare("tessera_studies_done_total", "counter",
                     "series segmented and their results delivered");
    metrics_.declare("tessera_studies_failed_total", "counter",
                     "series moved to the failed folder, by stage (segment, send, late)");
    metrics_.declare("tessera_send_failures_total", "counter",
                     "attempts to deliver results that failed (destination down); retried");
    metrics_.declare("tessera_queue_depth", "gauge", "series waiting for the model");
    metrics_.declare("tessera_outbox_depth", "gauge", "results waiting for the destination");
    metrics_.declare("tessera_incoming_series", "gauge", "series still arriving");
    metrics_.declare("tessera_slices_per_second", "gauge",
                     "network throughput of the last series segmented");
    metrics_.declare("tessera_blocks_computed_fraction", "gauge",
                     "fraction of 16x16 blocks the network computed in the last series");
    metrics_.declare("tessera_memory_resident_bytes", "gauge", "resident memory of the service");
    metrics_.declareHistogram("tessera_stage_seconds",
                              "seconds per stage: queued (waiting for the model), segment, send",
                              {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800});
  }

  void updateGauges() {
    metrics_.set("tessera_queue_depth", static_cast<double>(entries(queue_).size()));
    metrics_.set("tessera_outbox_depth", static_cast<double>(entries(outbox_).size()));
    metrics_.set("tessera_incoming_series", static_cast<double>(entries(incoming_).size()));
    metrics_.set("tessera_memory_resident_bytes", static_cast<double>(residentBytes()));
  }

  std::string health() {
    if (!scpRunning_) return "the DICOM listener is not running";
    if (!isDirectory(queue_.string())) return "the spool is missing: " + config_.spoolDir;
    if (workersRunning_ < config_.concurrentSeries) return "a segmenting thread stopped";
    return "";
  }

  void onStored(const imaging::StoredInstance& instance) {
    metrics_.add("tessera_instances_received_total");
    logDebug("received ", instance.sopInstanceUid, " of series ", instance.seriesUid, " from ",
             instance.callingAe);
  }

  // The newest queue, outbox or done entry of the same series (ids end in
  // "-<series UID>"), or empty.
  fs::path earlierEntry(const std::string& uid) const {
    fs::path found;
    std::string foundId;
    for (const fs::path& dir : {queue_, outbox_, done_})
      for (const fs::path& e : entries(dir)) {
        const std::string id = e.filename().string();
        if (id.size() > uid.size() && id.compare(id.size() - uid.size(), uid.size(), uid) == 0 &&
            id[id.size() - uid.size() - 1] == '-' && id > foundId) {
          found = e;
          foundId = id;
        }
      }
    return found;
  }

  // Instances of a series that was already queued: merged into it while no
  // worker has taken it; otherwise, when none of them was part of it (the
  // sender paused longer than the quiet period), set aside in failed/ with
  // the reason instead of being segmented as a second, partial series. A
  // series sent again (some instances the same) is segmented anew. True
  // when `series` was dealt with here.
  bool lateInstances(const fs::path& series) {
    const std::string uid = series.filename().string();
    const fs::path earlier = earlierEntry(uid);
    if (earlier.empty()) return false;
    const std::set<std::string> arrived = instanceNames(series);
    std::error_code ec;
    if (earlier.parent_path() == queue_) {
      std::lock_guard lock(takenLock_);
      if (!taken_.count(earlier.filename().string())) {
        for (const std::string& name : arrived) {
          fs::rename(series / name, earlier / name, ec);
          if (ec) {  // the rest stays in incoming/ for the next pass
            logError("cannot move ", (series / name).string(), ": ", ec.message());
            return true;
          }
        }
        fs::remove(series, ec);
        std::printf("added %zu instances to %s\n", arrived.size(),
                    earlier.filename().string().c_str());
        std::fflush(stdout);
        return true;
      }
    }
    std::set<std::string> before = earlierInstances(earlier);
    if (before.empty()) before = earlierInstances(earlierEntry(uid));  // it just moved on
    if (before.empty()) return false;                                  // cannot tell: segment anew
    for (const std::string& name : arrived)
      if (before.count(name)) return false;
    fail(series, stamp() + "-" + uid, "late",
         std::to_string(arrived.size()) + " instances of series " + uid +
             " arrived after the series was queued with " + std::to_string(before.size()) + " (" +
             earlier.filename().string() +
             "), whose results cover those only; send the whole series again (a longer "
             "quiet_seconds keeps a series whole)");
    return true;
  }

  // The instances an earlier entry was (or is being) segmented from: its
  // files while queued, then the list its results keep.
  std::set<std::string> earlierInstances(const fs::path& entry) const {
    if (entry.empty()) return {};
    if (entry.parent_path() == queue_) return instanceNames(entry);
    std::set<std::string> names;
    auto text = readTextFile((entry / "instances.txt").string());
    if (!text.ok()) return names;  // results of an earlier version
    std::size_t start = 0;
    for (std::size_t end; (end = text->find('\n', start)) != std::string::npos; start = end + 1)
      names.insert(text->substr(start, end - start));
    return names;
  }

  static std::set<std::string> instanceNames(const fs::path& dir) {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".dcm") names.insert(e.path().filename().string());
    return names;
  }

  void sealQuietSeries() {
    std::lock_guard lock(spoolLock_);
    for (const fs::path& series : entries(incoming_)) {
      if (quietFor(series) < config_.quietSeconds) continue;
      std::error_code ec;
      if (fs::is_empty(series, ec)) {  // its only instance could not be written
        fs::remove(series, ec);
        continue;
      }
      if (lateInstances(series)) continue;
      const fs::path target = queue_ / (stamp() + "-" + series.filename().string());
      if (Status s = move(series, target); !s.ok()) {
        logError(s.toString());
        continue;
      }
      metrics_.add("tessera_studies_received_total");
      queuedAt_[target.filename().string()] = Clock::now();
      std::printf("queued %s\n", target.filename().string().c_str());
      std::fflush(stdout);
    }
  }

  void fail(const fs::path& from, const std::string& id, const std::string& stage,
            const std::string& reason) {
    // The reason goes in first, so that the folder appears in failed/ whole.
    const fs::path target = failed_ / id;
    if (Status w =
            writeTextFileAtomic((from / "reason.txt").string(), stage + ": " + reason + "\n");
        !w.ok())
      logError(w.toString());
    if (Status s = move(from, target); !s.ok()) logError(s.toString());
    metrics_.add("tessera_studies_failed_total", 1.0, "stage=\"" + stage + "\"");
    std::printf("failed %s (%s): %s\n", id.c_str(), stage.c_str(), reason.c_str());
    std::fflush(stdout);
  }

  // Why a queued series cannot be segmented, or "".
  std::string refusal(const fs::path& series) {
    auto listing = imaging::listDicomSeries(series.string());
    if (!listing.ok()) return listing.error().toString();
    if (listing->series.empty()) return "no DICOM image";
    const std::string& modality = listing->series[0].modality;
    if (modality != "CT")
      return "not a CT series (modality " + (modality.empty() ? "missing" : modality) +
             "); the model segments CT";
    return "";
  }

  // The oldest queued series no other worker has taken, now taken; empty
  // when there is none.
  fs::path take() {
    std::lock_guard lock(takenLock_);
    for (const fs::path& series : entries(queue_))
      if (taken_.insert(series.filename().string()).second) return series;
    return {};
  }

  void work(const CancelToken& stop, const CancelToken& abort) {
    models::Segmenter segmenter(model_);
    while (!stop.cancelled()) {
      const fs::path series = take();
      if (series.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      segment(segmenter, series, abort);
      std::lock_guard lock(takenLock_);
      taken_.erase(series.filename().string());
    }
    --workersRunning_;
  }

  void segment(models::Segmenter& segmenter, const fs::path& series, const CancelToken& abort) {
    const std::string id = series.filename().string();
    {
      std::lock_guard lock(spoolLock_);
      auto queuedAt = queuedAt_.find(id);
      if (queuedAt != queuedAt_.end()) {
        metrics_.observe("tessera_stage_seconds", secondsSince(queuedAt->second),
                         "stage=\"queued\"");
        queuedAt_.erase(queuedAt);
      }
    }
    if (const std::string why = refusal(series); !why.empty())
      return fail(series, id, "segment", why);
    const fs::path partial = outbox_ / ("." + id);
    std::error_code ec;
    fs::remove_all(partial, ec);
    fs::create_directories(partial, ec);
    std::string names;
    for (const std::string& name : instanceNames(series)) names += name + "\n";
    if (Status w = writeTextFileAtomic((partial / "instances.txt").string(), names); !w.ok()) {
      fs::remove_all(partial, ec);
      return fail(series, id, "segment", w.toString());
    }
    models::SegmentJobOptions job;
    job.input = series.string();
    job.output = (partial / "labels.nii.gz").string();
    job.reportPath = (partial / "report.json").string();
    job.dicomSegPath = (partial / "seg.dcm").string();
    if (config_.sr) job.dicomSrPath = (partial / "sr.dcm").string();
    if (config_.rtstruct) job.rtstructPath = (partial / "rtstruct.dcm").string();
    job.segment.mode = config_.dense ? models::SegmentMode::kDense : models::SegmentMode::kSparse;
    job.segment.denseWhenSparseUnavailable = true;
    const int threads = config_.threads > 0 ? config_.threads : hardwareThreads();
    job.segment.threads = std::max(1, threads / config_.concurrentSeries);
    job.segment = models::resolveSegmentMode(job.segment, model_->info);
    std::printf("segmenting %s (%d thread%s)\n", id.c_str(), job.segment.threads,
                job.segment.threads == 1 ? "" : "s");
    std::fflush(stdout);
    const Clock::time_point start = Clock::now();
    auto result = models::runSegmentJob(segmenter, job, nullptr, &abort);
    if (!result.ok()) {
      fs::remove_all(partial, ec);
      if (result.error().code == StatusCode::kCancelled) return;  // stays queued
      return fail(series, id, "segment", result.error().toString());
    }
    const double seconds = secondsSince(start);
    metrics_.observe("tessera_stage_seconds", seconds, "stage=\"segment\"");
    const models::SegmentationStats& s = result->stats;
    if (s.engineSeconds > 0)
      metrics_.set("tessera_slices_per_second", static_cast<double>(s.slices) / s.engineSeconds);
    metrics_.set("tessera_blocks_computed_fraction", s.meanActiveFraction);
    if (Status m = move(partial, outbox_ / id); !m.ok()) {
      fs::remove_all(partial, ec);
      return fail(series, id, "segment", m.toString());
    }
    fs::remove_all(series, ec);
    std::printf("segmented %s: %lld slices in %.1f s\n", id.c_str(),
                static_cast<long long>(s.slices), seconds);
    std::fflush(stdout);
  }

  // Offers every result whose back-off has passed (`now`: every result).
  void sendDue(const CancelToken& cancel, bool now) {
    for (const fs::path& result : entries(outbox_)) {
      if (cancel.cancelled()) return;
      const std::string id = result.filename().string();
      Backoff& b = backoff_[id];
      if (!now && Clock::now() < b.next) continue;
      std::vector<std::string> files;
      for (const char* name : {"seg.dcm", "sr.dcm", "rtstruct.dcm"})
        if (fileExists((result / name).string())) files.push_back((result / name).string());
      const Clock::time_point start = Clock::now();
      auto sent = config_.toDicomWeb ? imaging::dicomWebSend(config_.dicomWeb, files, 0)
                                     : imaging::pacsSend(config_.peer, files, 0);
      if (sent.ok() && sent->failed.empty()) {
        metrics_.observe("tessera_stage_seconds", secondsSince(start), "stage=\"send\"");
        if (Status m = move(result, done_ / id); !m.ok()) logError(m.toString());
        metrics_.add("tessera_studies_done_total");
        backoff_.erase(id);
        std::printf("sent %s\n", id.c_str());
        std::fflush(stdout);
        continue;
      }
      if (sent.ok() || sent.error().code == StatusCode::kUnsupported) {
        // The destination answered and refused: retrying would not help.
        std::string why = "the destination refused";
        if (sent.ok())
          for (const std::string& f : sent->failed) why += "; " + f;
        else
          why += " every instance: " + sent.error().toString();
        backoff_.erase(id);
        fail(result, id, "send", why);
        continue;
      }
      metrics_.add("tessera_send_failures_total");
      b.delay = b.delay <= 0 ? config_.retryFirstSeconds
                             : std::min(config_.retryMaxSeconds, b.delay * 2.0);
      b.next = Clock::now() + std::chrono::milliseconds(static_cast<long long>(b.delay * 1000));
      std::printf("sending %s failed (%s); next try in %.0f s\n", id.c_str(),
                  sent.error().toString().c_str(), b.delay);
      std::fflush(stdout);
    }
  }

  struct Backoff {
    Clock::time_point next{};
    double delay = 0.0;
  };

  const ServeConfig& config_;
  std::shared_ptr<const models::Model> model_;
  fs::path incoming_, queue_, outbox_, done_, failed_;
  Metrics metrics_;
  std::mutex spoolLock_;  // the SCP writing into incoming/ vs sealing its folders
  std::atomic<bool> scpRunning_{true};
  std::atomic<int> workersRunning_{0};
  std::mutex takenLock_;
  std::set<std::string> taken_;  // queue ids being segmented; guarded by takenLock_
  // When each series was queued (this run); guarded by spoolLock_.
  std::map<std::string, Clock::time_point> queuedAt_;
  std::map<std::string, Backoff> backoff_;  // the sending thread only
};

}  // namespace

Status runService(const ServeConfig& config, const CancelToken& stop, const CancelToken& abort) {
  auto model = models::loadModel(config.modelPath);
  if (!model.ok()) return Status(model.error());
  Service service(config, *model);
  return service.run(stop, abort);
}

}  // namespace tessera::serve
