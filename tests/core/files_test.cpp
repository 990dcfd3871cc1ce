#include "core/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tessera {
namespace {
namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tessera_files_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(FilesTest, ExtensionsKeepCompoundSuffixes) {
  EXPECT_EQ(fullExtension("/a/b/ct.nii.gz"), ".nii.gz");
  EXPECT_EQ(fullExtension("ct.NII.GZ"), ".NII.GZ");
  EXPECT_EQ(fullExtension("x.nrrd"), ".nrrd");
  EXPECT_EQ(fullExtension("noext"), "");
  EXPECT_EQ(fullExtension(".hidden"), "");
}

TEST_F(FilesTest, AtomicFileOnlyAppearsOnCommit) {
  const std::string target = (dir_ / "out.nii.gz").string();
  {
    AtomicFile file(target);
    EXPECT_EQ(fullExtension(file.tempPath()), ".nii.gz");
    std::ofstream(file.tempPath()) << "data";
    EXPECT_FALSE(fileExists(target));
  }
  EXPECT_FALSE(fileExists(target));
  EXPECT_TRUE(fs::is_empty(dir_));
  {
    AtomicFile file(target);
    std::ofstream(file.tempPath()) << "data";
    ASSERT_TRUE(file.commit().ok());
  }
  EXPECT_TRUE(fileExists(target));
  EXPECT_EQ(*readTextFile(target), "data");
}

TEST_F(FilesTest, OutputPathChecksGiveReasons) {
  EXPECT_EQ(checkOutputPath((dir_ / "missing" / "x.nii").string()).code(), StatusCode::kNotFound);
  EXPECT_EQ(checkOutputPath(dir_.string()).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(checkOutputPath((dir_ / "x.nii").string()).ok());
  EXPECT_FALSE(checkOutputPath("").ok());
}

TEST_F(FilesTest, ReadOnlyDirectoryIsRefusedWhenNotRoot) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_EQ(checkOutputPath((dir_ / "x.nii").string()).code(), StatusCode::kIoError);
}

TEST_F(FilesTest, TextRoundTripAndMissingFile) {
  const std::string path = (dir_ / "note.txt").string();
  ASSERT_TRUE(writeTextFileAtomic(path, "hello\n").ok());
  EXPECT_EQ(*readTextFile(path), "hello\n");
  auto missing = readTextFile((dir_ / "nope.txt").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera
