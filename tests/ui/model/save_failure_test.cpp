// Save on a full disk: the error reaches the caller (the main window shows
// it) and the document stays unsaved, so nothing is lost silently.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "imaging/io/volume_io.h"
#include "tests/support/synthetic_study.h"
#include "tests/support/write_limits.h"
#include "ui/model/workstation_model.h"

namespace tessera::ui {
namespace {

namespace fs = std::filesystem;

TEST(WorkstationSave, SavePastTheFileSizeLimitFailsAndKeepsTheEditsUnsaved) {
  const std::string dir = testing::makeTempDir("save_failure");
  const testing::SyntheticStudy study = testing::makeStudy();
  ASSERT_TRUE(imaging::writeVolume(study.ct, dir + "/ct.nii.gz").ok());
  ASSERT_TRUE(imaging::writeLabelMap(study.labels, dir + "/labels.nii").ok());
  const std::string before = *readTextFile(dir + "/labels.nii");
  WorkstationModel model;
  for (int p = 0; p < kPlaneCount; ++p) model.setViewport(static_cast<Plane>(p), 300, 300);
  ASSERT_TRUE(model.openVolume(dir + "/ct.nii.gz").ok());
  ASSERT_TRUE(model.openLabels(dir + "/labels.nii").ok());
  model.setSelectedLabel(9);
  ASSERT_TRUE(model.beginStroke(Plane::kCoronal, {150, 150}));
  model.endStroke();
  ASSERT_TRUE(model.hasUnsavedEdits());

  // The uncompressed label file is 64 x 64 x 32 bytes and more.
  constexpr std::uint64_t kLimit = 16 * 1024;
  const tessera::testing::ChildOutcome child = tessera::testing::withFileSizeLimit(kLimit, [&] {
    const Status saved = model.saveLabels(dir + "/labels.nii");
    return saved.toString() + (model.hasUnsavedEdits() ? "|unsaved" : "|saved");
  });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos) << child.text;
  EXPECT_NE(child.text.find(dir + "/labels.nii"), std::string::npos) << child.text;
  EXPECT_NE(child.text.find("|unsaved"), std::string::npos) << child.text;
  // The earlier file is intact and no temporary is left beside it.
  EXPECT_EQ(*readTextFile(dir + "/labels.nii"), before);
  std::size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_NE(entry.path().filename().string()[0], '.') << "temporary left: " << entry.path();
    ++entries;
  }
  EXPECT_EQ(entries, 2u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessera::ui
