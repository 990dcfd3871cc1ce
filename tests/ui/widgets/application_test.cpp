// The tessera-workstation executable without a person: --screenshot writes
// the window as PNG (after segmenting with --segment), bad input fails with
// exit code 1 and no file, usage errors exit with 2.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <QImage>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "imaging/io/volume_io.h"
#include "tests/support/engine_study.h"
#include "tests/support/synthetic_study.h"
#include "widget_test_support.h"

namespace tessera::ui::testing {
namespace {

namespace fs = std::filesystem;

class WorkstationAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_DISPLAY();
    dir_ = makeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  // Runs the executable with `arguments`; returns its exit code, output in log_.
  int run(const std::string& arguments) {
    const std::string log = dir_ + "/log.txt";
    const std::string command = std::string("'") + TESSERA_BINARY_DIR +
                                "/bin/tessera-workstation' " + arguments + " > '" + log + "' 2>&1";
    const int status = std::system(command.c_str());
    std::ifstream in(log);
    log_.assign(std::istreambuf_iterator<char>(in), {});
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string dir_, log_;
};

TEST_F(WorkstationAppTest, ScreenshotOfAStudyWithItsLabels) {
  const auto study = makeStudy();
  ASSERT_TRUE(imaging::writeVolume(study.ct, dir_ + "/ct.nii.gz").ok());
  ASSERT_TRUE(imaging::writeLabelMap(study.labels, dir_ + "/labels.nii.gz").ok());
  const std::string png = dir_ + "/shot.png";
  ASSERT_EQ(run("'" + dir_ + "/ct.nii.gz' --labels '" + dir_ + "/labels.nii.gz' --screenshot '" +
                png + "' --size 900x640"),
            0)
      << log_;
  QImage image(QString::fromStdString(png));
  ASSERT_FALSE(image.isNull());
  EXPECT_EQ(image.size(), QSize(900, 640));
  // The liver's red appears somewhere (slice views and 3D view).
  int reddish = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) {
      const QColor c = image.pixelColor(x, y);
      reddish += c.red() > 90 && c.red() > 1.6 * c.green() && c.red() > 1.6 * c.blue();
    }
  EXPECT_GT(reddish, 500);
}

TEST_F(WorkstationAppTest, CorruptInputFailsWithoutWritingAScreenshot) {
  std::ofstream(dir_ + "/bad.nii.gz") << "garbage";
  const std::string png = dir_ + "/shot.png";
  EXPECT_EQ(run("'" + dir_ + "/bad.nii.gz' --screenshot '" + png + "'"), 1) << log_;
  EXPECT_NE(log_.find("bad.nii.gz"), std::string::npos) << log_;
  EXPECT_FALSE(fs::exists(png));
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_NE(entry.path().extension(), ".png") << "left behind: " << entry.path();
}

// --segment runs the model in the window before the picture is taken: the
// slice views then show labels that a screenshot of the bare CT lacks.
TEST_F(WorkstationAppTest, ScreenshotAfterSegmentingWithAModel) {
  const imaging::Phantom phantom = makeSmallPhantom();
  ASSERT_TRUE(imaging::writeVolume(phantom.ct, dir_ + "/ct.nii.gz").ok());
  writeConstantModel(dir_ + "/small.onnx", 5);
  const std::string bare = dir_ + "/bare.png", segmented = dir_ + "/segmented.png";
  const std::string common = "'" + dir_ + "/ct.nii.gz' --size 900x640 --threads 1 ";
  ASSERT_EQ(run(common + "--screenshot '" + bare + "'"), 0) << log_;
  ASSERT_EQ(run(common + "--segment --model '" + dir_ + "/small.onnx' --settle aggressive " +
                "--screenshot '" + segmented + "'"),
            0)
      << log_;
  EXPECT_NE(log_.find("segmented: 8 slices"), std::string::npos) << log_;
  EXPECT_NE(log_.find("3D surfaces"), std::string::npos) << log_;
  QImage a(QString::fromStdString(bare)), b(QString::fromStdString(segmented));
  ASSERT_FALSE(a.isNull());
  ASSERT_EQ(a.size(), b.size());
  // The axial view (upper left quarter) changed where the labels are.
  int changed = 0;
  for (int y = 60; y < a.height() / 2; ++y)
    for (int x = 0; x < a.width() / 3; ++x) changed += a.pixel(x, y) != b.pixel(x, y);
  EXPECT_GT(changed, 2000);

  // A file that is not a model: exit code 1, the reason, no picture.
  std::ofstream(dir_ + "/broken.onnx") << "not a model";
  const std::string none = dir_ + "/none.png";
  EXPECT_EQ(
      run(common + "--segment --model '" + dir_ + "/broken.onnx' --screenshot '" + none + "'"), 1)
      << log_;
  EXPECT_NE(log_.find("not a model"), std::string::npos) << log_;
  EXPECT_FALSE(fs::exists(none));
}

TEST_F(WorkstationAppTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run("--size banana --screenshot x.png"), 2) << log_;
  EXPECT_EQ(run("--maximise diagonal --screenshot x.png"), 2) << log_;
  EXPECT_EQ(run("--no-such-option"), 2) << log_;
  EXPECT_EQ(run("ct.nii.gz --segment --mode sideways --screenshot x.png"), 2) << log_;
  EXPECT_EQ(run("ct.nii.gz --segment --settle extreme --screenshot x.png"), 2) << log_;
  EXPECT_EQ(run("--segment --screenshot x.png"), 2) << log_;
  EXPECT_EQ(run("ct.nii.gz --model m.onnx --screenshot x.png"), 2) << log_;
  EXPECT_EQ(run("ct.nii.gz --threads 0 --screenshot x.png"), 2) << log_;
  EXPECT_EQ(run("--help"), 0) << log_;
  EXPECT_NE(log_.find("--screenshot"), std::string::npos);
  EXPECT_NE(log_.find("--segment"), std::string::npos);
}

}  // namespace
}  // namespace tessera::ui::testing
