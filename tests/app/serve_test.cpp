// `tessera serve` against a real Orthanc and a real Prometheus started by the
// test on localhost: Orthanc forwards a study to Tessera's AE, the SEG and SR
// arrive back in the same study, Prometheus scrapes /metrics and reads the
// counts back; SIGKILL with a study received or waiting for a destination
// that is down loses nothing; a non-CT series and one of mixed image sizes
// go to failed/ with their reasons; bad configurations are refused with the
// member named.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "imaging/dicom/dicom.h"
#include "tests/support/batch_fixture.h"
#include "tests/support/child_process.h"
#include "tests/support/cli_run.h"
#include "tests/support/orthanc_server.h"
#include "tests/support/prometheus_server.h"
#include "tests/support/temp_dir.h"

namespace tessera {
namespace {
namespace fs = std::filesystem;
using tessera::testing::CommandRun;
using tessera::testing::contains;
using tessera::testing::freePort;
using tessera::testing::kTessera;
using tessera::testing::OrthancServer;
using tessera::testing::PrometheusServer;
using tessera::testing::slurp;
using tessera::testing::TempDir;

bool eventually(const std::function<bool()>& done, int seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

// `tessera serve --config FILE` as a child process, its output in a file.
class ServeProcess {
 public:
  ServeProcess(const std::string& config, const std::string& log) : log_(log) {
    process_.start({kTessera, "serve", "--config", config}, log);
  }
  // Sends `signal` and waits (at most 120 s); the exit code, or 128 + the
  // signal that ended it.
  int stop(int signal) { return process_.stop(signal, 120); }
  // Waits for the exit (at most `seconds`, then kills it: -1).
  int wait(int seconds) { return process_.wait(seconds); }
  std::string log() const { return slurp(log_); }
  bool waitFor(const std::string& text, int seconds) const {
    return eventually([&] { return contains(log(), text); }, seconds);
  }

 private:
  std::string log_;
  tessera::testing::ChildProcess process_;
};

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kTessera)) GTEST_SKIP() << kTessera << " was not built";
    if (!OrthancServer::installed())
      GTEST_SKIP() << tessera::testing::kOrthanc << " is missing (Debian orthanc, scripts/setup)";
    dicomPort = freePort();
    httpPort = freePort();
  }
  // `extra`: further members, each preceded by a comma.
  std::string writeConfig(const std::string& destination, double quietSeconds,
                          const std::string& extra = "") {
    const std::string name = "serve.json";
    const std::string path = dir / name;
    std::ofstream(path) << "{\"ae_title\": \"TESSERA\", \"dicom_port\": " << dicomPort
                        << ", \"http\": \"127.0.0.1:" << httpPort << "\", \"spool\": \""
                        << (dir / "spool")
                        << "\", \"threads\": 2, \"quiet_seconds\": " << quietSeconds
                        << ", \"destination\": {\"peer\": \"" << destination
                        << "\"}, \"retry\": {\"first_seconds\": 0.5, \"max_seconds\": 2}" << extra
                        << "}";
    return path;
  }
  std::string tesseraPeer() const { return "TESSERA@127.0.0.1:" + std::to_string(dicomPort); }
  CommandRun tessera(const std::vector<std::string>& args) const {
    return tessera::testing::runTessera(capture, args);
  }
  CommandRun http(const std::string& path) const {
    const std::string script =
        "import sys, urllib.request, urllib.error\n"
        "try:\n"
        "    r = urllib.request.urlopen(sys.argv[1], timeout=10)\n"
        "    sys.stdout.write(str(r.status) + '\\n' + r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        "    sys.stdout.write(str(e.code) + '\\n' + e.read().decode())\n";
    return tessera::testing::runCommand(
        capture,
        "/usr/bin/python3 -c " + tessera::testing::quote(script) + " " +
            tessera::testing::quote("http://127.0.0.1:" + std::to_string(httpPort) + path));
  }
  // A phantom CT series written for the test; its study UID.
  std::string writeSeries(const std::string& name, int caseIndex = 0) {
    EXPECT_TRUE(tessera::testing::writePhantomSeries(dir / name, caseIndex).ok());
    auto listing = imaging::listDicomSeries(dir / name);
    EXPECT_TRUE(listing.ok());
    return listing->series.at(0).studyUid;
  }
  std::size_t count(const std::string& spoolFolder) const {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(dir / "spool") / spoolFolder, ec))
      n += e.path().filename().string()[0] != '.';
    return n;
  }

  TempDir dir, capture;
  int dicomPort = 0, httpPort = 0;
};

TEST_F(Serve, OrthancForwardsAStudyAndTheSegAndSrComeBackWhilePrometheusScrapesTheCounts) {
  if (!PrometheusServer::installed())
    GTEST_SKIP() << "prometheus/promtool are missing (Debian prometheus, scripts/setup)";
  OrthancServer orthanc(false, "TESSERA", dicomPort);
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  ServeProcess serve(writeConfig(orthanc.peer(), 1.0, ", \"outputs\": {\"rtstruct\": true}"),
                     dir / "serve.log");
  ASSERT_TRUE(serve.waitFor("listening on DICOM port", 60)) << serve.log();
  PrometheusServer prometheus("127.0.0.1:" + std::to_string(httpPort));
  ASSERT_TRUE(prometheus.ready()) << prometheus.log();

  CommandRun health = http("/healthz");
  EXPECT_EQ(health.out, "200\nok\n") << health.err;

  const std::string study = writeSeries("series");
  const std::size_t slices = imaging::listDicomSeries(dir / "series")->series.at(0).files.size();
  CommandRun run = tessera({"pacs", "send", "--peer", orthanc.peer(), dir / "series"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto found = parseJson(orthanc.rest("/tools/lookup", study).out);
  ASSERT_TRUE(found.ok() && found->items().size() == 1);
  // Orthanc routes the study to Tessera's AE, as a PACS rule would.
  run = orthanc.rest("/modalities/tessera/store", found->items()[0].getString("ID"));
  ASSERT_EQ(run.code, 0) << run.err << orthanc.log();

  EXPECT_TRUE(eventually(
      [&] {
        return orthanc.studyModalities(study) ==
               std::vector<std::string>{"CT", "RTSTRUCT", "SEG", "SR"};
      },
      120))
      << serve.log();
  EXPECT_TRUE(eventually([&] { return count("done") == 1u; }, 30)) << serve.log();
  EXPECT_EQ(count("queue") + count("outbox") + count("incoming") + count("failed"), 0u);

  // The metrics: Prometheus' text format (promtool's linter), and the counts
  // as Prometheus scraped them.
  CommandRun metrics = http("/metrics");
  ASSERT_TRUE(contains(metrics.out, "200\n")) << metrics.err;
  const std::string text = metrics.out.substr(4);
  std::ofstream(dir / "metrics.txt") << text;
  CommandRun lint =
      tessera::testing::runCommand(capture, tessera::testing::kPromtool + " check metrics < " +
                                                tessera::testing::quote(dir / "metrics.txt"));
  EXPECT_EQ(lint.code, 0) << lint.out << lint.err << text;
  EXPECT_TRUE(contains(text, "tessera_stage_seconds_bucket{stage=\"segment\",le=\"+Inf\"} 1"))
      << text;
  EXPECT_TRUE(eventually([&] { return prometheus.query("tessera_studies_done_total") == 1.0; }, 30))
      << prometheus.log();
  EXPECT_EQ(prometheus.query("tessera_instances_received_total"), static_cast<double>(slices));
  EXPECT_EQ(prometheus.query("tessera_queue_depth"), 0.0);
  const double fraction = prometheus.query("tessera_blocks_computed_fraction");
  EXPECT_GT(fraction, 0.0);
  EXPECT_LE(fraction, 1.0);

  // SIGTERM drains and exits cleanly.
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();
  EXPECT_TRUE(contains(serve.log(), "stopped; 0 queued, 0 waiting to be sent")) << serve.log();
}

TEST_F(Serve, SigkillLosesNothingWhetherTheSeriesIsArrivingOrItsResultsWaitForTheDestination) {
  const int deadPort = freePort();  // nobody listens: the destination is down
  const std::string seriesA = writeSeries("a", 0);
  const std::string seriesB = writeSeries("b", 1);
  {
    // A's results wait for the destination; B is received but not yet
    // complete (its quiet period has not passed) when the service is killed.
    ServeProcess serve(writeConfig("ORTHANC@127.0.0.1:" + std::to_string(deadPort), 1.0),
                       dir / "serve1.log");
    ASSERT_TRUE(serve.waitFor("listening on DICOM port", 60)) << serve.log();
    CommandRun run = tessera({"pacs", "send", "--peer", tesseraPeer(), dir / "a"});
    ASSERT_EQ(run.code, 0) << run.err;
    ASSERT_TRUE(serve.waitFor("next try in", 120)) << serve.log();
    EXPECT_EQ(count("outbox"), 1u);
    EXPECT_EQ(serve.stop(SIGKILL), 128 + SIGKILL);
  }
  {
    ServeProcess serve(writeConfig("ORTHANC@127.0.0.1:" + std::to_string(deadPort), 3600.0),
                       dir / "serve2.log");
    ASSERT_TRUE(serve.waitFor("listening on DICOM port", 60)) << serve.log();
    CommandRun run = tessera({"pacs", "send", "--peer", tesseraPeer(), dir / "b"});
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(count("incoming"), 1u);
    EXPECT_EQ(serve.stop(SIGKILL), 128 + SIGKILL);
  }
  // Started again with the destination up, both arrive.
  OrthancServer orthanc(false, "TESSERA", dicomPort);
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  ServeProcess serve(writeConfig(orthanc.peer(), 0.5), dir / "serve3.log");
  const std::vector<std::string> expected = {"SEG", "SR"};
  EXPECT_TRUE(eventually(
      [&] {
        return orthanc.studyModalities(seriesA) == expected &&
               orthanc.studyModalities(seriesB) == expected;
      },
      180))
      << serve.log();
  EXPECT_TRUE(eventually([&] { return count("done") == 2u; }, 30)) << serve.log();
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();
}

TEST_F(Serve, TwoSendersAtOnceAndTwoSeriesSegmentedSideBySideAreEachDeliveredOnce) {
  OrthancServer orthanc(false, "TESSERA", dicomPort);
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  const std::string studyA = writeSeries("a", 0);
  const std::string studyB = writeSeries("b", 1);
  ServeProcess serve(writeConfig(orthanc.peer(), 0.5, ", \"concurrent_series\": 2"),
                     dir / "serve.log");
  ASSERT_TRUE(serve.waitFor("listening on DICOM port", 60)) << serve.log();
  TempDir captureA, captureB;
  CommandRun sentA, sentB;
  std::thread a([&] {
    sentA = tessera::testing::runTessera(captureA,
                                         {"pacs", "send", "--peer", tesseraPeer(), dir / "a"});
  });
  std::thread b([&] {
    sentB = tessera::testing::runTessera(captureB,
                                         {"pacs", "send", "--peer", tesseraPeer(), dir / "b"});
  });
  a.join();
  b.join();
  ASSERT_EQ(sentA.code, 0) << sentA.err;
  ASSERT_EQ(sentB.code, 0) << sentB.err;
  const std::vector<std::string> expected = {"SEG", "SR"};
  EXPECT_TRUE(eventually(
      [&] {
        return orthanc.studyModalities(studyA) == expected &&
               orthanc.studyModalities(studyB) == expected;
      },
      180))
      << serve.log();
  EXPECT_TRUE(eventually([&] { return count("done") == 2u; }, 30)) << serve.log();
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();
  // The two workers split the two threads, and no series was taken twice.
  const std::string log = serve.log();
  std::size_t segmenting = 0;
  for (std::size_t at = log.find("segmenting "); at != std::string::npos;
       at = log.find("segmenting ", at + 1)) {
    ++segmenting;
    EXPECT_EQ(log.substr(log.find('(', at), 11), "(1 thread)\n") << log;
  }
  EXPECT_EQ(segmenting, 2u) << log;
  EXPECT_EQ(count("failed"), 0u);
}

TEST_F(Serve, InstancesArrivingAfterTheSeriesWasQueuedAreSetAsideUnlessTheWholeSeriesComesAgain) {
  writeSeries("series");
  std::vector<std::string> files = imaging::listDicomSeries(dir / "series")->series.at(0).files;
  ASSERT_GE(files.size(), 4u);
  fs::create_directories(dir / "first");
  fs::create_directories(dir / "late");
  for (std::size_t i = 0; i < files.size(); ++i)
    fs::copy_file(files[i], fs::path(dir / (i < files.size() / 2 ? "first" : "late")) /
                                fs::path(files[i]).filename());
  // The destination is down: results wait in the outbox.
  ServeProcess serve(writeConfig("ORTHANC@127.0.0.1:" + std::to_string(freePort()), 0.5),
                     dir / "serve.log");
  ASSERT_TRUE(serve.waitFor("listening on DICOM port", 60)) << serve.log();
  CommandRun run = tessera({"pacs", "send", "--peer", tesseraPeer(), dir / "first"});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(serve.waitFor("segmented ", 60)) << serve.log();
  // The rest of the series after its quiet period: not a second, partial
  // series, but set aside with the reason and every instance.
  run = tessera({"pacs", "send", "--peer", tesseraPeer(), dir / "late"});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(eventually([&] { return count("failed") == 1u; }, 60)) << serve.log();
  const fs::path entry = fs::directory_iterator(fs::path(dir / "spool") / "failed")->path();
  const std::string reason = slurp(entry / "reason.txt");
  EXPECT_TRUE(contains(
      reason, "late: " + std::to_string(files.size() - files.size() / 2) + " instances of series"))
      << reason;
  EXPECT_TRUE(contains(
      reason, "arrived after the series was queued with " + std::to_string(files.size() / 2)))
      << reason;
  std::size_t kept = 0;
  for (const auto& e : fs::directory_iterator(entry)) kept += e.path().extension() == ".dcm";
  EXPECT_EQ(kept, files.size() - files.size() / 2);
  EXPECT_EQ(count("outbox"), 1u);
  CommandRun metrics = http("/metrics");
  EXPECT_TRUE(contains(metrics.out, "tessera_studies_failed_total{stage=\"late\"} 1"))
      << metrics.out;
  // The whole series sent again is segmented anew.
  run = tessera({"pacs", "send", "--peer", tesseraPeer(), dir / "series"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(eventually([&] { return count("outbox") == 2u; }, 60)) << serve.log();
  EXPECT_EQ(count("failed"), 1u);
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();
}

TEST_F(Serve, ResultsGoToADicomWebServerOverStowRs) {
  if (!OrthancServer::dicomWebInstalled())
    GTEST_SKIP() << tessera::testing::kDicomWebPlugin << " is missing (orthanc-dicomweb)";
  OrthancServer orthanc(true);
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  std::string config = writeConfig("unused@127.0.0.1:1", 0.5);
  std::string text = slurp(config);
  const std::string peer = "{\"peer\": \"unused@127.0.0.1:1\"}";
  ASSERT_TRUE(contains(text, peer));
  text.replace(text.find(peer), peer.size(), "{\"dicomweb\": \"" + orthanc.url() + "\"}");
  std::ofstream(config) << text;
  ServeProcess serve(config, dir / "serve.log");
  ASSERT_TRUE(serve.waitFor("listening on DICOM port", 60)) << serve.log();
  const std::string study = writeSeries("series");
  // A Frame of Reference UID of odd length (padded in the file): the SEG
  // still references it as it is.
  CommandRun edit = tessera::testing::runCommand(
      capture, "dcmodify -nb -m '(0020,0052)=1.2.826.0.1.3680043.2.1143.123456' " +
                   tessera::testing::quote(dir / "series") + "/*");
  ASSERT_EQ(edit.code, 0) << edit.err;
  CommandRun run = tessera({"pacs", "send", "--peer", tesseraPeer(), dir / "series"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(eventually(
      [&] {
        return orthanc.studyModalities(study) == std::vector<std::string>{"SEG", "SR"};
      },
      120))
      << serve.log();
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();
}

TEST_F(Serve, ANonCtOrMixedSizeSeriesGoesToTheFailedFolderWithItsReason) {
  writeSeries("mr");
  CommandRun edit = tessera::testing::runCommand(
      capture, "dcmodify -nb -m '(0008,0060)=MR' " + tessera::testing::quote(dir / "mr") + "/*");
  ASSERT_EQ(edit.code, 0) << edit.err;
  ServeProcess serve(writeConfig("ORTHANC@127.0.0.1:" + std::to_string(freePort()), 0.5),
                     dir / "serve.log");
  ASSERT_TRUE(serve.waitFor("listening on DICOM port", 60)) << serve.log();
  CommandRun run = tessera({"pacs", "send", "--peer", tesseraPeer(), dir / "mr"});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(serve.waitFor("failed ", 60)) << serve.log();
  ASSERT_EQ(count("failed"), 1u);
  const fs::path entry = fs::directory_iterator(fs::path(dir / "spool") / "failed")->path();
  EXPECT_TRUE(contains(slurp(entry / "reason.txt"), "not a CT series (modality MR)"))
      << slurp(entry / "reason.txt");
  std::size_t kept = 0;
  for (const auto& e : fs::directory_iterator(entry)) kept += e.path().extension() == ".dcm";
  EXPECT_EQ(kept, imaging::listDicomSeries(dir / "mr")->series.at(0).files.size());

  // A series whose slices have two sizes (a second series' slices relabelled
  // with its UIDs): refused with the reason, not read in part.
  writeSeries("mixed");
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "big.nii.gz", 1, 96).ok());
  ASSERT_TRUE(tessera({"convert", dir / "big.nii.gz", dir / "big/", "--patient-name", "Doe^Jane",
                       "--patient-id", "P-0042"})
                  .code == 0);
  const imaging::DicomSeriesInfo mixed = imaging::listDicomSeries(dir / "mixed")->series.at(0);
  edit = tessera::testing::runCommand(capture, "dcmodify -nb -m '(0020,000e)=" + mixed.seriesUid +
                                                   "' -m '(0020,000d)=" + mixed.studyUid + "' " +
                                                   tessera::testing::quote(dir / "big") + "/*");
  ASSERT_EQ(edit.code, 0) << edit.err;
  for (const auto& e : fs::directory_iterator(dir / "big"))
    fs::copy_file(e.path(), fs::path(dir / "mixed") / ("big-" + e.path().filename().string()));
  run = tessera({"pacs", "send", "--peer", tesseraPeer(), dir / "mixed"});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(eventually([&] { return count("failed") == 2u; }, 60)) << serve.log();
  bool mixedReason = false;
  for (const auto& e : fs::directory_iterator(fs::path(dir / "spool") / "failed"))
    mixedReason |= contains(slurp(e.path() / "reason.txt"), "the series mixes image sizes");
  EXPECT_TRUE(mixedReason) << serve.log();

  CommandRun metrics = http("/metrics");
  EXPECT_TRUE(contains(metrics.out, "tessera_studies_failed_total{stage=\"segment\"} 2"))
      << metrics.out;
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();
}

TEST_F(Serve, ABadConfigurationABusyPortOrAnUnlistedCallerIsRefusedWithTheReason) {
  auto check = [&](const std::string& json, const std::string& reason) {
    std::ofstream(dir / "bad.json") << json;
    CommandRun run = tessera({"serve", "--config", dir / "bad.json", "--check"});
    EXPECT_EQ(run.code, 2) << json;
    EXPECT_TRUE(contains(run.err, reason)) << run.err;
  };
  check(
      "{\"spool\": \"/tmp/x\", \"destination\": {\"peer\": \"PACS@host:104\"}, "
      "\"quiet_second\": 5}",
      "unknown member \"quiet_second\"");
  check("{\"spool\": \"/tmp/x\"}", "\"destination\" must say where results go");
  check("{\"spool\": \"/tmp/x\", \"destination\": {\"peer\": \"PACS@host\"}}", "AET@HOST:PORT");
  check(
      "{\"spool\": \"/tmp/x\", \"dicom_port\": 70000, \"destination\": {\"peer\": "
      "\"PACS@host:104\"}}",
      "\"dicom_port\" must be a whole number from 1 to 65535");
  check("{\"destination\": {\"peer\": \"PACS@host:104\"}}", "\"spool\" must name the folder");
  check(
      "{\"spool\": \"/tmp/x\", \"concurrent_series\": 0, \"destination\": {\"peer\": "
      "\"PACS@host:104\"}}",
      "\"concurrent_series\" must be a whole number from 1 to 64");
  check("[1, 2", "invalid JSON");
  check(
      "{\"spool\": \"/tmp/x\", \"allowed_callers\": \"ORTHANC\", \"destination\": "
      "{\"peer\": \"PACS@host:104\"}}",
      "\"allowed_callers\" must be a list of AE titles");
  CommandRun run = tessera({"serve", "--config", writeConfig("PACS@host:104", 1), "--check"});
  EXPECT_EQ(run.code, 0) << run.err;

  // An allow list of calling AE titles: others are refused at association.
  {
    ServeProcess serve(writeConfig("PACS@127.0.0.1:1", 1, ", \"allowed_callers\": [\"ORTHANC\"]"),
                       dir / "allowed.log");
    ASSERT_TRUE(serve.waitFor("listening on DICOM port", 60)) << serve.log();
    run = tessera({"pacs", "echo", "--peer", tesseraPeer(), "--aet", "STRANGER"});
    EXPECT_EQ(run.code, 1) << run.out;
    EXPECT_TRUE(contains(run.err, "refused the association")) << run.err;
    run = tessera({"pacs", "echo", "--peer", tesseraPeer(), "--aet", "ORTHANC"});
    EXPECT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();
  }

  // The DICOM port taken by another service: a clear error at start.
  OrthancServer orthanc;
  ASSERT_TRUE(orthanc.ready());
  dicomPort = orthanc.dicomPort();
  ServeProcess serve(writeConfig(orthanc.peer(), 1.0), dir / "busy.log");
  EXPECT_EQ(serve.wait(60), 1) << serve.log();
  EXPECT_TRUE(contains(serve.log(),
                       "tessera: error: cannot listen on DICOM port " + std::to_string(dicomPort)))
      << serve.log();
}

TEST(ServeDeployment, PromtoolAcceptsTheShippedScrapeConfigAndAlertRules) {
  if (!PrometheusServer::installed())
    GTEST_SKIP() << "prometheus/promtool are missing (Debian prometheus, scripts/setup)";
  TempDir capture;
  const std::string dir = std::string(TESSERA_SOURCE_DIR) + "/resources/serve/";
  CommandRun run = tessera::testing::runCommand(
      capture, "cd " + tessera::testing::quote(dir) + " && " + tessera::testing::kPromtool +
                   " check config prometheus.yml && " + tessera::testing::kPromtool +
                   " check rules tessera-alerts.yml");
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "SUCCESS: 4 rules found")) << run.out;
}

}  // namespace
}  // namespace tessera
