// `tessera pacs` against a real Orthanc started by the test on localhost: a
// phantom stored as a DICOM series goes in, is found and retrieved,
// segmented, and its DICOM-SEG goes back into the same study; refusals,
// unreachable and silent peers give clear errors and leave nothing behind.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/json.h"
#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "tests/support/batch_fixture.h"
#include "tests/support/cli_run.h"
#include "tests/support/orthanc_server.h"
#include "tests/support/temp_dir.h"

namespace tessera {
namespace {
namespace fs = std::filesystem;
using tessera::testing::CommandRun;
using tessera::testing::contains;
using tessera::testing::expectFailure;
using tessera::testing::kTessera;
using tessera::testing::OrthancServer;
using tessera::testing::TempDir;

class Pacs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kTessera)) GTEST_SKIP() << kTessera << " was not built";
    if (!OrthancServer::installed())
      GTEST_SKIP() << tessera::testing::kOrthanc << " is missing (Debian orthanc, scripts/setup)";
  }
  CommandRun tessera(const std::vector<std::string>& args) const {
    return tessera::testing::runTessera(capture, args);
  }
  // A phantom CT as a DICOM series of a named patient; its study UID.
  std::string writeSeries(const std::string& name) {
    EXPECT_TRUE(tessera::testing::writePhantomSeries(dir / name, 0).ok());
    auto listing = imaging::listDicomSeries(dir / name);
    EXPECT_TRUE(listing.ok());
    return listing->series.at(0).studyUid;
  }
  // `get` (with the PACS named by `target`, e.g. {"--peer", P}) into
  // dir/retrieved, which must equal dir/series voxel for voxel; segments it
  // and sends the SEG back.
  void retrieveSegmentAndSendBack(const std::vector<std::string>& target,
                                  const std::vector<std::string>& what) {
    std::vector<std::string> get = {"pacs", "get"};
    get.insert(get.end(), target.begin(), target.end());
    get.insert(get.end(), what.begin(), what.end());
    get.insert(get.end(), {"-o", dir / "retrieved"});
    CommandRun run = tessera(get);
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(dir.entries("retrieved").size(), 8u);
    auto original = imaging::readVolume(dir / "series");
    auto retrieved = imaging::readVolume(dir / "retrieved");
    ASSERT_TRUE(original.ok() && retrieved.ok());
    EXPECT_TRUE(
        std::equal(original->data(), original->data() + original->voxelCount(), retrieved->data()));
    ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
    run = tessera({"segment", "-i", dir / "retrieved", "-o", dir / "labels.nii.gz", "--dicom-seg",
                   dir / "seg.dcm", "--model", dir / "model.onnx"});
    ASSERT_EQ(run.code, 0) << run.err;
    std::vector<std::string> send = {"pacs", "send"};
    send.insert(send.end(), target.begin(), target.end());
    send.push_back(dir / "seg.dcm");
    run = tessera(send);
    ASSERT_EQ(run.code, 0) << run.err;
  }
  TempDir capture;
  TempDir dir;
};

TEST_F(Pacs, SeriesInFoundRetrievedSegmentedAndTheSegBackInTheSameStudy) {
  OrthancServer orthanc;
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  const std::string studyUid = writeSeries("series");
  const std::string peer = orthanc.peer();

  CommandRun run = tessera({"pacs", "echo", "--peer", peer});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "answered C-ECHO")) << run.out;

  run = tessera({"pacs", "send", "--peer", peer, dir / "series"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "sent 8 instances")) << run.out;

  run = tessera({"pacs", "find", "--peer", peer, "--patient-id", "P-0042", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto studies = parseJson(run.out);
  ASSERT_TRUE(studies.ok()) << run.out;
  ASSERT_EQ(studies->items().size(), 1u) << run.out;
  EXPECT_EQ(studies->items()[0].getString("study_uid"), studyUid);
  EXPECT_EQ(studies->items()[0].getString("patient_name"), "Doe^Jane");
  EXPECT_EQ(studies->items()[0].getNumber("instances"), 8);
  run = tessera({"pacs", "find", "--peer", peer, "--patient-id", "SOMEONE-ELSE"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "0 studies")) << run.out;

  run = tessera(
      {"pacs", "find", "--peer", peer, "--level", "series", "--study-uid", studyUid, "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto series = parseJson(run.out);
  ASSERT_TRUE(series.ok() && series->items().size() == 1u) << run.out;
  EXPECT_EQ(series->items()[0].getString("modality"), "CT");

  ASSERT_NO_FATAL_FAILURE(retrieveSegmentAndSendBack(
      {"--peer", peer},
      {"--study-uid", studyUid, "--series-uid", series->items()[0].getString("series_uid")}));
  // Orthanc's REST API: the study now holds the CT series and a SEG.
  EXPECT_EQ(orthanc.studyModalities(studyUid), (std::vector<std::string>{"CT", "SEG"}))
      << orthanc.log();
}

TEST_F(Pacs, TheSameOverDicomWeb) {
  if (!OrthancServer::dicomWebInstalled())
    GTEST_SKIP() << tessera::testing::kDicomWebPlugin
                 << " is missing (Debian orthanc-dicomweb, scripts/setup)";
  OrthancServer orthanc(true);
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  const std::string studyUid = writeSeries("series");
  const std::string url = orthanc.url();

  CommandRun run = tessera({"pacs", "echo", "--dicomweb", url});
  ASSERT_EQ(run.code, 0) << run.err << orthanc.log();
  run = tessera({"pacs", "send", "--dicomweb", url, dir / "series"});  // STOW-RS
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "sent 8 instances")) << run.out;
  run =
      tessera({"pacs", "find", "--dicomweb", url, "--patient-id", "P-0042", "--json"});  // QIDO-RS
  ASSERT_EQ(run.code, 0) << run.err;
  auto studies = parseJson(run.out);
  ASSERT_TRUE(studies.ok() && studies->items().size() == 1u) << run.out;
  EXPECT_EQ(studies->items()[0].getString("study_uid"), studyUid);
  EXPECT_EQ(studies->items()[0].getString("patient_name"), "Doe^Jane");
  run = tessera(
      {"pacs", "find", "--dicomweb", url, "--level", "series", "--study-uid", studyUid, "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto series = parseJson(run.out);
  ASSERT_TRUE(series.ok() && series->items().size() == 1u) << run.out;
  EXPECT_EQ(series->items()[0].getString("modality"), "CT");
  EXPECT_EQ(series->items()[0].getNumber("instances"), 8);

  // WADO-RS, then STOW-RS of the SEG.
  ASSERT_NO_FATAL_FAILURE(
      retrieveSegmentAndSendBack({"--dicomweb", url}, {"--study-uid", studyUid}));
  run = tessera(
      {"pacs", "find", "--dicomweb", url, "--level", "series", "--study-uid", studyUid, "--json"});
  series = parseJson(run.out);
  ASSERT_TRUE(series.ok()) << run.out;
  std::vector<std::string> modalities;
  for (const JsonValue& s : series->items()) modalities.push_back(s.getString("modality"));
  std::sort(modalities.begin(), modalities.end());
  EXPECT_EQ(modalities, (std::vector<std::string>{"CT", "SEG"})) << run.out;

  // 4xx answers and an unreachable server: exit 1 with the status, nothing written.
  expectFailure(
      tessera({"pacs", "get", "--dicomweb", url, "--study-uid", "1.2.3", "-o", dir / "got"}),
      "answered HTTP 404");
  EXPECT_FALSE(fs::exists(dir / "got"));
  expectFailure(tessera({"pacs", "find", "--dicomweb",
                         "http://127.0.0.1:" + std::to_string(orthanc.httpPort()) + "/elsewhere"}),
                "answered HTTP 404");
  expectFailure(tessera({"pacs", "echo", "--dicomweb",
                         "http://127.0.0.1:" + std::to_string(tessera::testing::freePort()),
                         "--timeout", "2"}),
                "no answer from the DICOMweb server");
  EXPECT_EQ(tessera({"pacs", "echo", "--dicomweb", "ftp://x"}).code, 2);
  EXPECT_EQ(tessera({"pacs", "echo", "--dicomweb", url, "--peer", orthanc.peer()}).code, 2);
  for (const std::string& name : dir.entries()) EXPECT_NE(name[0], '.') << "temporary left";
}

TEST_F(Pacs, AStowRsServerRefusingSomeInstancesIsExitOneWithEachRefusedFileNamed) {
  if (!OrthancServer::dicomWebInstalled())
    GTEST_SKIP() << tessera::testing::kDicomWebPlugin
                 << " is missing (Debian orthanc-dicomweb, scripts/setup)";
  OrthancServer orthanc(true);
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  const std::string studyUid = writeSeries("series");
  // One instance without its Study Instance UID: Orthanc stores the others
  // and answers 400 with that one in the Failed SOP Sequence.
  const std::vector<std::string> files =
      imaging::listDicomSeries(dir / "series")->series.at(0).files;
  CommandRun edit = tessera::testing::runCommand(
      capture, "dcmodify -nb -e '(0020,000d)' " + tessera::testing::quote(files.at(2)));
  ASSERT_EQ(edit.code, 0) << edit.err;
  CommandRun run = tessera({"pacs", "send", "--dicomweb", orthanc.url(), dir / "series"});
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "sent 7 instances")) << run.out << run.err;
  EXPECT_TRUE(contains(run.err, "tessera: error: not stored: " + files.at(2) +
                                    ": the server refused it (failure reason 0xC000)"))
      << run.err;
  EXPECT_FALSE(contains(run.err, "answered HTTP")) << run.err;
  run = tessera({"pacs", "find", "--dicomweb", orthanc.url(), "--level", "series", "--study-uid",
                 studyUid, "--json"});
  auto series = parseJson(run.out);
  ASSERT_TRUE(series.ok() && series->items().size() == 1u) << run.out;
  EXPECT_EQ(series->items()[0].getNumber("instances"), 7);
}

TEST_F(Pacs, RefusedUnreachableAndUnknownAreClearErrorsAndLeaveNothing) {
  OrthancServer orthanc;
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  const std::string port = std::to_string(orthanc.dicomPort());

  expectFailure(tessera({"pacs", "echo", "--peer", "NOTORTHANC@127.0.0.1:" + port}),
                "refused the association");
  // Orthanc stores from anyone but answers queries only from modalities it knows.
  expectFailure(tessera({"pacs", "find", "--peer", orthanc.peer(), "--aet", "STRANGER"}),
                "does not allow the AE title STRANGER");
  expectFailure(tessera({"pacs", "echo", "--peer",
                         "ORTHANC@127.0.0.1:" + std::to_string(tessera::testing::freePort())}),
                "cannot reach the peer");

  const CommandRun unknown = tessera(
      {"pacs", "get", "--peer", orthanc.peer(), "--study-uid", "1.2.3.4", "-o", dir / "got"});
  expectFailure(unknown, "sent no instance");
  EXPECT_FALSE(fs::exists(dir / "got"));

  fs::create_directory(dir / "notdicom");
  std::ofstream(dir / "notdicom/readme.txt") << "not a DICOM file";
  expectFailure(tessera({"pacs", "send", "--peer", orthanc.peer(), dir / "notdicom"}),
                "no DICOM file to send");

  // Usage errors: exit 2.
  EXPECT_EQ(tessera({"pacs", "echo", "--peer", "ORTHANC-127.0.0.1"}).code, 2);
  EXPECT_EQ(tessera({"pacs", "echo", "--peer", "ORTHANC@127.0.0.1:99999"}).code, 2);
  EXPECT_EQ(
      tessera({"pacs", "echo", "--peer", orthanc.peer(), "--aet", "A_TITLE_LONGER_THAN_16"}).code,
      2);
  EXPECT_EQ(tessera({"pacs", "find", "--peer", orthanc.peer(), "--level", "series"}).code, 2);
  EXPECT_EQ(tessera({"pacs", "fetch"}).code, 2);
  for (const std::string& name : dir.entries()) EXPECT_NE(name[0], '.') << "temporary left";
}

TEST_F(Pacs, APeerThatNeverAnswersTimesOut) {
  // A socket that listens but never accepts: the connection is made by the
  // kernel, the association request is never answered.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string peer = "SILENT@127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  const auto start = std::chrono::steady_clock::now();
  const CommandRun run = tessera({"pacs", "echo", "--peer", peer, "--timeout", "2"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  expectFailure(run, "SILENT@127.0.0.1");
  EXPECT_LT(seconds, 30.0) << "the timeout was not applied";
}

}  // namespace
}  // namespace tessera
