// File › Open from PACS and Send to PACS against a real Orthanc started by
// the test on localhost (tests/support/orthanc_server.h).
#include <QAction>
#include <QLabel>

#include <filesystem>

#include "core/json.h"
#include "imaging/dicom/dicom.h"
#include "imaging/pacs/pacs.h"
#include "main_window_fixture.h"
#include "tests/support/orthanc_server.h"
#include "ui/widgets/pacs_dialog.h"

namespace tessera::ui::testing {
namespace {
namespace fs = std::filesystem;
using tessera::testing::OrthancServer;

class PacsWindowTest : public MainWindowTest {
 protected:
  void SetUp() override {
    if (!OrthancServer::installed())
      GTEST_SKIP() << tessera::testing::kOrthanc << " is missing (Debian orthanc, scripts/setup)";
    MainWindowTest::SetUp();
  }
  // The study as a DICOM series of a named patient, stored into the PACS.
  void storeStudy(const OrthancServer& orthanc) {
    imaging::DicomWriteOptions options;
    options.patientName = "Doe^Jane";
    options.patientId = "P-0042";
    options.studyDescription = "CT abdomen";
    const std::string series = dir_.toStdString() + "/series";
    ASSERT_TRUE(imaging::writeDicomSeries(study_.ct, series, options).ok());
    auto peer = imaging::parsePacsPeer(orthanc.peer());
    ASSERT_TRUE(peer.ok());
    auto sent = imaging::pacsSend(*peer, {series});
    ASSERT_TRUE(sent.ok()) << sent.error().toString();
  }
};

TEST_F(PacsWindowTest, OpenFromPacsListsRetrievesAndOpensThenSendToPacsStoresTheResults) {
  OrthancServer orthanc;
  ASSERT_TRUE(orthanc.ready()) << orthanc.log();
  storeStudy(orthanc);
  EXPECT_NE(window_->findChild<QAction*>("openFromPacsAction"), nullptr);
  EXPECT_NE(window_->findChild<QAction*>("sendToPacsAction"), nullptr);

  PacsDialog dialog(dir_ + "/cache", window_.get());
  dialog.peerEdit()->setText(QString::fromStdString(orthanc.peer()));
  dialog.patientEdit()->setText("P-0042");
  ASSERT_TRUE(dialog.search()) << dialog.messageLabel()->text().toStdString();
  ASSERT_EQ(dialog.studiesTable()->rowCount(), 1);
  EXPECT_EQ(dialog.studiesTable()->item(0, 0)->text(), "Doe^Jane");
  EXPECT_EQ(dialog.studiesTable()->item(0, 3)->text(), "CT abdomen");
  ASSERT_TRUE(dialog.selectStudy(0));
  ASSERT_EQ(dialog.seriesTable()->rowCount(), 1);
  EXPECT_EQ(dialog.seriesTable()->item(0, 1)->text(), "CT");
  ASSERT_TRUE(dialog.retrieveSelected()) << dialog.messageLabel()->text().toStdString();
  EXPECT_EQ(dialog.result(), QDialog::Accepted);
  const std::string folder = dialog.retrievedFolder();
  ASSERT_TRUE(fs::is_directory(folder));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(folder)) files += entry.is_regular_file();
  EXPECT_EQ(files, study_.ct.geometry().size[2]);

  ASSERT_TRUE(window_->openSeries(QString::fromStdString(folder), dialog.retrievedSeriesUid()));
  EXPECT_TRUE(window_->findChild<QLabel*>("patientBannerText")->text().startsWith("Doe, Jane"));
  EXPECT_TRUE(std::equal(study_.ct.data(), study_.ct.data() + study_.ct.voxelCount(),
                         model().document().ct().data()));

  LabelMap labels = study_.labels;
  labels.labels.geometry() = model().document().geometry();
  ASSERT_TRUE(model().setLabels(labels, "").ok());
  ASSERT_TRUE(window_->sendToPacs(QString::fromStdString(orthanc.peer())));
  // Orthanc's REST API: the study holds the CT, the SEG and the SR.
  auto listing = imaging::listDicomSeries(folder);
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(orthanc.studyModalities(listing->series[0].studyUid),
            (std::vector<std::string>{"CT", "SEG", "SR"}))
      << orthanc.log();
}

TEST_F(PacsWindowTest, AWrongOrUnreachablePacsSaysSoInTheDialog) {
  PacsDialog dialog(dir_ + "/cache", window_.get());
  dialog.peerEdit()->setText("no-at-sign");
  EXPECT_FALSE(dialog.search());
  EXPECT_TRUE(dialog.messageLabel()->text().contains("AET@HOST:PORT"))
      << dialog.messageLabel()->text().toStdString();
  dialog.peerEdit()->setText(QString("ORTHANC@127.0.0.1:%1").arg(tessera::testing::freePort()));
  EXPECT_FALSE(dialog.search());
  EXPECT_TRUE(dialog.messageLabel()->text().contains("cannot reach"))
      << dialog.messageLabel()->text().toStdString();
  EXPECT_EQ(dialog.studiesTable()->rowCount(), 0);
  EXPECT_FALSE(dialog.retrieveSelected());
  EXPECT_FALSE(fs::exists((dir_ + "/cache").toStdString() + "/x"));
  // Sending without a DICOM study open says why.
  openStudy();
  EXPECT_FALSE(window_->sendToPacs("ORTHANC@127.0.0.1:1"));
}

}  // namespace
}  // namespace tessera::ui::testing
