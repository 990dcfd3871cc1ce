// A radiologist's edits are never lost, with real widgets and real
// processes: Segment over painted labels asks and each answer does what it
// says (undo goes back in one step); a workstation killed with SIGKILL, or
// stopped with SIGTERM, leaves its unsaved labels for the next one to offer
// and restore; and the workstation reads a DICOM series with decimal
// positions under a German locale.
#include <signal.h>
#include <sys/wait.h>

#include <QCoreApplication>
#include <QMessageBox>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QTimer>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/parallel.h"
#include "imaging/io/volume_io.h"
#include "main_window_fixture.h"
#include "tests/support/dicom_fixture.h"
#include "tests/support/engine_study.h"
#include "ui/model/recovery.h"
#include "ui/widgets/application.h"

namespace tessera::ui::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::uint8_t kLiver = 5, kBrain = 8;

class EditSafetyWindowTest : public MainWindowTest {
 protected:
  void SetUp() override {
    MainWindowTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    setNumThreads(1);
    modelPath_ = dir_ + "/constant.onnx";
    writeConstantModel(modelPath_.toStdString(), kLiver);
  }
  void TearDown() override {
    MainWindowTest::TearDown();
    setNumThreads(0);
  }
  SegmentSettings settings() const {
    SegmentSettings s;
    s.modelPath = modelPath_.toStdString();
    return s;
  }
  // A brain stroke across slice 16 of the axial view, with the mouse.
  void paintStroke() {
    window_->labelTable()->setCurrentCell(window_->labelTable()->rowOf(kBrain),
                                          LabelTableWidget::kNameColumn);
    action("Paint")->trigger();
    axial()->setCrosshairVisible(false);
    const QPoint a = pointOf(axial(), {20, 20, 16}), b = pointOf(axial(), {44, 20, 16});
    press(axial(), Qt::LeftButton, a);
    moveTo(axial(), (a + b) / 2, Qt::LeftButton);
    moveTo(axial(), b, Qt::LeftButton);
    release(axial(), Qt::LeftButton, b);
  }
  QPushButton* rerunButton(const char* name) {
    QMessageBox* box = findMessageBox("segmentOverEditsDialog");
    return box ? box->findChild<QPushButton*>(name) : nullptr;
  }
  void answerAndWait(const char* button) {
    EXPECT_FALSE(window_->segmentAsking(settings())) << "asks first";
    QPushButton* answer = rerunButton(button);
    ASSERT_NE(answer, nullptr) << button;
    answer->click();
    ASSERT_TRUE(waitUntil([&] { return !model().segmentationState().running; }, 60000));
    EXPECT_EQ(findMessageBox("errorDialog"), nullptr);
  }

  QString modelPath_;
};

TEST_F(EditSafetyWindowTest, SegmentOverEditsAsksAndEachAnswerDoesWhatItSays) {
  openStudy();
  // Without edits there is nothing to ask.
  ASSERT_TRUE(window_->segmentAsking(settings()));
  ASSERT_TRUE(waitUntil([&] { return !model().segmentationState().running; }, 60000));
  ASSERT_EQ(model().segmentationState().message, "Done");
  EXPECT_EQ(findMessageBox("segmentOverEditsDialog"), nullptr);
  const auto segmented = model().document().labels().labels.buffer();
  const auto& labels = model().document().labels().labels;
  const std::int64_t painted = labels.index(32, 20, 16), untouched = labels.index(32, 40, 16);
  ASSERT_EQ(segmented[painted], kLiver) << "the constant model labels everything";

  paintStroke();
  const auto edited = labels.buffer();
  ASSERT_EQ(edited[painted], kBrain);

  // Cancel: nothing runs, nothing changes.
  EXPECT_FALSE(window_->segmentAsking(settings()));
  ASSERT_NE(rerunButton("cancelSegment"), nullptr);
  rerunButton("cancelSegment")->click();
  settle(50);
  EXPECT_FALSE(model().segmentationState().running);
  EXPECT_TRUE(labels.buffer() == edited);

  // Keep my edits: painted voxels stay brain, the rest is the new result.
  answerAndWait("keepEdits");
  EXPECT_EQ(labels.data()[painted], kBrain);
  EXPECT_EQ(labels.data()[untouched], kLiver);
  EXPECT_TRUE(model().hasUnsavedEdits());
  action("Undo")->trigger();
  EXPECT_TRUE(labels.buffer() == edited) << "one undo step back to the edits";

  // Replace: the result everywhere; one undo brings the edits back.
  answerAndWait("replaceEdits");
  EXPECT_EQ(labels.data()[painted], kLiver);
  EXPECT_TRUE(labels.buffer() == segmented);
  EXPECT_TRUE(action("Undo")->text().contains("Segment")) << action("Undo")->text().toStdString();
  action("Undo")->trigger();
  EXPECT_TRUE(labels.buffer() == edited);
  action("Undo")->trigger();
  EXPECT_TRUE(labels.buffer() == segmented) << "the history before Segment is kept";
}

// --- a child workstation, killed ---------------------------------------------------

// Runs only as the child of the tests below (TESSERA_RECOVERY_CHILD set):
// opens their CT, paints, writes the labels it expects back to
// "$TESSERA_RECOVERY_OUT/expected.nii.gz" and "ready", then waits to be
// killed ("kill", after the autosave is on disk) or stopped by SIGTERM ("term").
TEST_F(EditSafetyWindowTest, ChildPaintsAndWaitsForItsEnd) {
  const char* mode = std::getenv("TESSERA_RECOVERY_CHILD");
  if (!mode) GTEST_SKIP() << "runs as the child of the recovery tests";
  const std::string out = std::getenv("TESSERA_RECOVERY_OUT");
  bool terminated = false;
  installTerminationHandler([&] {
    window_->closeKeepingRecovery();
    terminated = true;
  });
  ASSERT_TRUE(window_->openPath(QString::fromLocal8Bit(std::getenv("TESSERA_RECOVERY_CT"))));
  settle(30);
  paintStroke();
  ASSERT_TRUE(model().hasUnsavedEdits());
  ASSERT_TRUE(imaging::writeLabelMap(model().document().labels(), out + "/expected.nii.gz").ok());
  const std::string manifest = model().recoveryStore().manifestFile();
  if (std::string(mode) == "kill") {
    ASSERT_TRUE(waitUntil([&] { return fs::exists(manifest); }, 30000));
  }
  std::ofstream(out + "/ready") << "ready\n";
  ASSERT_TRUE(waitUntil([&] { return terminated; }, 120000));
  EXPECT_TRUE(fs::exists(manifest));
}

class RecoveryProcessTest : public EditSafetyWindowTest {
 protected:
  // Starts this test binary as the child above; returns once it is ready.
  void startChild(const char* mode, const char* autosaveDelayMs) {
    recovery_ = dir_.toStdString() + "/recovery";
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("TESSERA_RECOVERY_CHILD", mode);
    env.insert("TESSERA_RECOVERY_CT", ctPath_);
    env.insert("TESSERA_RECOVERY_OUT", dir_);
    env.insert("TESSERA_RECOVERY_DIR", QString::fromStdString(recovery_));
    env.insert("TESSERA_AUTOSAVE_DELAY_MS", autosaveDelayMs);
    child_.setProcessEnvironment(env);
    child_.setProcessChannelMode(QProcess::MergedChannels);
    child_.start(QCoreApplication::applicationFilePath(),
                 {"--gtest_filter=EditSafetyWindowTest.ChildPaintsAndWaitsForItsEnd"});
    ASSERT_TRUE(child_.waitForStarted(10000));
    const std::string ready = dir_.toStdString() + "/ready";
    ASSERT_TRUE(waitUntil(
        [&] { return fs::exists(ready) || child_.state() == QProcess::NotRunning; }, 60000));
    ASSERT_TRUE(fs::exists(ready)) << child_.readAll().toStdString();
  }
  std::string manifest() const {
    return recovery_ + "/" + std::to_string(child_.processId()) + ".json";
  }
  // A new window on the child's recovery folder offers the work; Restore
  // brings back the labels the child expected, marked unsaved.
  void restoreInANewWindow() {
    setenv("TESSERA_RECOVERY_DIR", recovery_.c_str(), 1);
    auto next = std::make_unique<MainWindow>();
    setenv("TESSERA_RECOVERY_DIR", saved_.c_str(), 1);
    next->show();
    QMessageBox* box = next->offerRecovery();
    ASSERT_NE(box, nullptr);
    EXPECT_EQ(box->objectName(), "recoveryDialog");
    EXPECT_TRUE(box->informativeText().contains(ctPath_)) << box->informativeText().toStdString();
    box->findChild<QPushButton*>("restoreRecovery")->click();
    ASSERT_TRUE(waitUntil([&] { return next->model().hasImage(); }));
    auto expected = imaging::readLabelMap(dir_.toStdString() + "/expected.nii.gz");
    ASSERT_TRUE(expected.ok());
    EXPECT_TRUE(next->model().document().labels().labels.buffer() == expected->labels.buffer());
    EXPECT_EQ(next->model().document().labels().labels.at(32, 20, 16), kBrain);
    EXPECT_TRUE(next->model().hasUnsavedEdits());
    EXPECT_TRUE(next->isWindowModified());
    next->setHeadless(true);
  }
  void SetUp() override {
    EditSafetyWindowTest::SetUp();
    saved_ = std::getenv("TESSERA_RECOVERY_DIR") ? std::getenv("TESSERA_RECOVERY_DIR") : "";
  }
  void TearDown() override {
    if (child_.state() != QProcess::NotRunning) {
      child_.kill();
      child_.waitForFinished(5000);
    }
    EditSafetyWindowTest::TearDown();
  }

  QProcess child_;
  std::string recovery_, saved_;
};

TEST_F(RecoveryProcessTest, EditsSurviveKillDashNine) {
  startChild("kill", "200");
  const std::string slot = manifest();
  ASSERT_TRUE(fs::exists(slot)) << "autosaved a moment after the edit";
  ASSERT_EQ(::kill(static_cast<pid_t>(child_.processId()), SIGKILL), 0);
  ASSERT_TRUE(child_.waitForFinished(10000));
  EXPECT_EQ(child_.exitStatus(), QProcess::CrashExit);
  restoreInANewWindow();
  EXPECT_FALSE(fs::exists(slot)) << "the dead workstation's slot is taken over";
}

TEST_F(RecoveryProcessTest, SigtermSavesRecoveryThenQuits) {
  startChild("term", "600000");
  const std::string slot = manifest();
  ASSERT_FALSE(fs::exists(slot)) << "no autosave yet: only SIGTERM can write it";
  ASSERT_EQ(::kill(static_cast<pid_t>(child_.processId()), SIGTERM), 0);
  ASSERT_TRUE(child_.waitForFinished(30000));
  const std::string log = child_.readAll().toStdString();
  EXPECT_EQ(child_.exitStatus(), QProcess::NormalExit) << log;
  EXPECT_EQ(child_.exitCode(), 0) << log;
  ASSERT_TRUE(fs::exists(slot)) << log;
  restoreInANewWindow();
}

// The real tessera-workstation: SIGTERM quits it cleanly (exit code 0) while
// it offers a dead workstation's slot, and leaves that slot for later.
TEST_F(RecoveryProcessTest, WorkstationQuitsCleanlyOnSigtermAndKeepsOfferedWork) {
  recovery_ = dir_.toStdString() + "/recovery";
  // A dead workstation's slot: this window's labels under an impossible pid.
  openStudy();
  RecoveryStore dead(recovery_, 0x3FFFFFFF);
  ASSERT_TRUE(dead.save(model().document().labels(), ctPath_.toStdString(), {}, {}).ok());
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("TESSERA_RECOVERY_DIR", QString::fromStdString(recovery_));
  // Its settings (recent files, written once the CT is open) tell when it is up.
  const std::string config = dir_.toStdString() + "/config";
  env.insert("XDG_CONFIG_HOME", QString::fromStdString(config));
  child_.setProcessEnvironment(env);
  child_.setProcessChannelMode(QProcess::MergedChannels);
  child_.start(QString(TESSERA_BINARY_DIR) + "/bin/tessera-workstation", {ctPath_});
  ASSERT_TRUE(child_.waitForStarted(10000));
  ASSERT_TRUE(waitUntil(
      [&] {
        std::error_code ec;
        return child_.state() != QProcess::Running ||
               (fs::is_directory(config, ec) && !fs::is_empty(config, ec));
      },
      60000));
  settle(500);
  ASSERT_EQ(child_.state(), QProcess::Running) << child_.readAll().toStdString();
  ASSERT_EQ(::kill(static_cast<pid_t>(child_.processId()), SIGTERM), 0);
  ASSERT_TRUE(child_.waitForFinished(20000));
  const std::string log = child_.readAll().toStdString();
  EXPECT_EQ(child_.exitStatus(), QProcess::NormalExit) << log;
  EXPECT_EQ(child_.exitCode(), 0) << log;
  EXPECT_TRUE(fs::exists(dead.manifestFile())) << "offered, not answered: still there";
  EXPECT_FALSE(fs::exists(manifest())) << "nothing unsaved, no slot of its own";
}

// --- long work off the UI thread ---------------------------------------------------

// While a folder of many DICOM files is scanned and read, the window's own
// event loop keeps running (a timer fires) and shows the busy bar; a model
// that cannot be loaded is reported in a dialog and starts nothing.
TEST_F(EditSafetyWindowTest, LongWorkRunsOffTheUiThreadAndReportsErrors) {
  const std::string series = dir_.toStdString() + "/series";
  fs::create_directories(series);
  tessera::testing::SliceSpec spec;
  spec.rows = 32;
  spec.columns = 32;
  std::vector<std::array<double, 3>> positions;
  for (int k = 0; k < 240; ++k) positions.push_back({0.0, 0.0, 1.5 * k});
  tessera::testing::writeSeries(series, spec, positions);
  auto* busy = window_->findChild<QProgressBar*>("backgroundProgress");
  ASSERT_NE(busy, nullptr);
  int ticks = 0, ticksShowingBusy = 0;
  QTimer timer;
  timer.setInterval(0);
  QObject::connect(&timer, &QTimer::timeout, [&] {
    ++ticks;
    ticksShowingBusy += busy->isVisible();
  });
  timer.start();
  ASSERT_TRUE(window_->openPath(QString::fromStdString(series)));
  timer.stop();
  EXPECT_GT(ticksShowingBusy, 0) << ticks << " ticks; the UI thread waited for the scan";
  EXPECT_FALSE(busy->isVisible());
  EXPECT_EQ(model().document().geometry().size[2], 240);

  SegmentSettings missing;
  missing.modelPath = dir_.toStdString() + "/missing.onnx";
  EXPECT_FALSE(window_->segment(missing));
  QMessageBox* error = findMessageBox("errorDialog");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE((error->text() + error->informativeText()).contains("missing.onnx"))
      << (error->text() + error->informativeText()).toStdString();
  EXPECT_FALSE(model().segmentationState().running);
}

// --- locale ----------------------------------------------------------------------------

// tessera-workstation under LC_ALL=de_DE.UTF-8 opens a DICOM series whose
// positions and spacings have decimals ("0.7", "-12.25") and saves its
// screenshot; a C library reading them with the German decimal comma
// would misplace or refuse the slices.
TEST(WorkstationLocale, OpensDecimalDicomAndTakesAScreenshotUnderGerman) {
  TESSERA_REQUIRE_DISPLAY();
  if (!std::setlocale(LC_ALL, "de_DE.UTF-8")) GTEST_SKIP() << "de_DE.UTF-8 is not generated";
  std::setlocale(LC_ALL, "C");
  std::setlocale(LC_NUMERIC, "C");
  const std::string dir = makeTempDir("WorkstationLocale");
  tessera::testing::SliceSpec spec;
  spec.rows = 24;
  spec.columns = 20;
  spec.rowSpacing = 0.75;
  spec.columnSpacing = 0.7;
  spec.thickness = 1.25;
  std::vector<std::array<double, 3>> positions;
  for (int k = 0; k < 6; ++k) positions.push_back({-12.25, 30.5, 0.5 + 1.25 * k});
  fs::create_directories(dir + "/series");
  tessera::testing::writeSeries(dir + "/series", spec, positions);
  const std::string png = dir + "/shot.png", log = dir + "/log.txt";
  const std::string command = std::string("LC_ALL=de_DE.UTF-8 LANG=de_DE.UTF-8 '") +
                              TESSERA_BINARY_DIR + "/bin/tessera-workstation' '" + dir +
                              "/series' --screenshot '" + png + "' --size 800x600 > '" + log +
                              "' 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(log);
  const std::string output((std::istreambuf_iterator<char>(in)), {});
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  QImage image(QString::fromStdString(png));
  EXPECT_FALSE(image.isNull()) << output;
  EXPECT_EQ(image.size(), QSize(800, 600));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessera::ui::testing
