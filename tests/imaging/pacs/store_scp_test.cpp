// The storage SCP on a localhost port, with DCMTK's own SCU holding an
// association open: a second sender is served meanwhile, the limit of
// associations turns one more away as transient, and stopping waits for the
// association in progress.
#include "imaging/pacs/store_scp.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scu.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "imaging/dicom/dicom.h"
#include "imaging/pacs/pacs.h"
#include "tests/support/batch_fixture.h"
#include "tests/support/orthanc_server.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

class StoreScpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tessera::testing::writePhantomSeries(dir / "series", 0).ok());
    auto listing = listDicomSeries(dir / "series");
    ASSERT_TRUE(listing.ok());
    files = listing->series.at(0).files;
    ASSERT_GE(files.size(), 2u);
    fs::create_directories(dir / "store");
    config.aeTitle = "TESSERA";
    config.port = tessera::testing::freePort();
    config.storeDir = dir / "store";
    config.timeoutSeconds = 10;
  }
  void TearDown() override {
    stop.cancel();
    if (server.valid()) {
      EXPECT_TRUE(server.get().ok());
    }
  }

  void start() {
    server = std::async(std::launch::async, [this] {
      return serveStorage(
          config, [this](const StoredInstance&) { ++stored; }, stop);
    });
    // Listening once an echo is answered.
    for (int i = 0; i < 100 && !pacsEcho(peer()).ok(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  PacsPeer peer(int timeoutSeconds = 5) const {
    PacsPeer p;
    p.calledAe = "TESSERA";
    p.host = "127.0.0.1";
    p.port = config.port;
    p.callingAe = "SENDER";
    p.timeoutSeconds = timeoutSeconds;
    return p;
  }
  // An association of DCMTK's SCU, left open until released. `retry`: with
  // a limit of one association, the thread of start()'s echo may not have
  // ended yet when this one arrives, and the SCP rightly turns it away as
  // busy; a sender then tries again.
  std::unique_ptr<DcmSCU> openAssociation(bool retry = false) {
    for (int i = 0; retry && i < 50; ++i) {
      std::unique_ptr<DcmSCU> scu = tryAssociation();
      if (scu->isConnected()) return scu;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::unique_ptr<DcmSCU> scu = tryAssociation();
    EXPECT_TRUE(scu->isConnected());
    return scu;
  }
  std::unique_ptr<DcmSCU> tryAssociation() {
    auto scu = std::make_unique<DcmSCU>();
    scu->setAETitle("HOLDER");
    scu->setPeerAETitle("TESSERA");
    scu->setPeerHostName("127.0.0.1");
    scu->setPeerPort(static_cast<Uint16>(config.port));
    scu->setACSETimeout(5);
    scu->setDIMSETimeout(5);
    OFList<OFString> syntaxes;
    syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
    scu->addPresentationContext(UID_CTImageStorage, syntaxes);
    EXPECT_TRUE(scu->initNetwork().good());
    scu->negotiateAssociation();
    return scu;
  }
  bool storeOver(DcmSCU& scu, const std::string& file) {
    const T_ASC_PresentationContextID id =
        scu.findPresentationContextID(UID_CTImageStorage, UID_LittleEndianExplicitTransferSyntax);
    Uint16 status = 0xFFFF;
    const OFCondition c = scu.sendSTORERequest(id, file.c_str(), nullptr, status);
    return c.good() && status == 0;
  }
  std::size_t filesStored() const {
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir / "store"))
      n += e.is_regular_file() && e.path().extension() == ".dcm";
    return n;
  }

  TempDir dir;
  std::vector<std::string> files;
  StoreScpConfig config;
  CancelToken stop;
  std::atomic<int> stored{0};
  std::future<Status> server;
};

TEST_F(StoreScpTest, ASecondSenderIsServedWhileAnAssociationIsOpen) {
  start();
  std::unique_ptr<DcmSCU> holder = openAssociation();
  ASSERT_TRUE(holder->isConnected());
  // One association at a time would keep this sender waiting for the
  // holder's release until its own timeout.
  const auto begin = std::chrono::steady_clock::now();
  auto sent = pacsSend(peer(), {files[0]}, 0);
  ASSERT_TRUE(sent.ok()) << sent.error().toString();
  EXPECT_EQ(sent->sent, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
  EXPECT_TRUE(storeOver(*holder, files[1]));
  EXPECT_TRUE(holder->releaseAssociation().good());
  EXPECT_EQ(stored.load(), 2);
  EXPECT_EQ(filesStored(), 2u);
}

TEST_F(StoreScpTest, BeyondTheLimitAPeerIsTurnedAwayUntilAnAssociationEnds) {
  config.maxAssociations = 1;
  start();
  std::unique_ptr<DcmSCU> holder = openAssociation(/*retry=*/true);
  ASSERT_TRUE(holder->isConnected());
  auto echo = pacsEcho(peer());
  ASSERT_FALSE(echo.ok());
  EXPECT_NE(echo.error().toString().find("refused the association"), std::string::npos)
      << echo.error().toString();
  EXPECT_TRUE(holder->releaseAssociation().good());
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {
    answered = pacsEcho(peer()).ok();
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(answered);
}

TEST_F(StoreScpTest, StoppingWaitsForTheAssociationInProgressAndRefusesNewOnes) {
  start();
  std::unique_ptr<DcmSCU> holder = openAssociation();
  ASSERT_TRUE(holder->isConnected());
  stop.cancel();
  // The accept loop sees the stop within a second; the open association
  // keeps serveStorage from returning and can still deliver.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(server.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_FALSE(pacsEcho(peer(1)).ok());
  EXPECT_TRUE(storeOver(*holder, files[0]));
  EXPECT_TRUE(holder->releaseAssociation().good());
  ASSERT_EQ(server.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(server.get().ok());
  EXPECT_EQ(filesStored(), 1u);
}

TEST_F(StoreScpTest, APortInUseIsAClearError) {
  start();
  CancelToken other;
  const Status s = serveStorage(
      config, [](const StoredInstance&) {}, other);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.toString().find("cannot listen on DICOM port " + std::to_string(config.port)),
            std::string::npos)
      << s.toString();
}

}  // namespace
}  // namespace tessera::imaging
