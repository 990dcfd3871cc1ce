#include "core/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/support/write_limits.h"

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

// Names in `dir`, so that a test can show that no temporary was left.
std::string listing(const fs::path& dir) {
  std::string names;
  for (const auto& entry : fs::directory_iterator(dir))
    names += entry.path().filename().string() + " ";
  return names;
}

TEST_F(FilesTest, TextWriteOverTheFileSizeLimitFailsAndLeavesNothing) {
  const std::string path = (dir_ / "big.txt").string();
  const std::string content(64 * 1024, 'x');
  const testing::ChildOutcome child = testing::withFileSizeLimit(
      4096, [&] { return writeTextFileAtomic(path, content).toString(); });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos) << child.text;
  EXPECT_NE(child.text.find(path), std::string::npos) << child.text;
  EXPECT_TRUE(fs::is_empty(dir_)) << listing(dir_);
}

TEST_F(FilesTest, TextWriteOverTheLimitKeepsTheEarlierFile) {
  const std::string path = (dir_ / "kept.txt").string();
  ASSERT_TRUE(writeTextFileAtomic(path, "earlier\n").ok());
  const testing::ChildOutcome child = testing::withFileSizeLimit(
      1000, [&] { return writeTextFileAtomic(path, std::string(5000, 'y')).toString(); });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos) << child.text;
  EXPECT_EQ(*readTextFile(path), "earlier\n");
  EXPECT_EQ(listing(dir_), "kept.txt ");
}

TEST_F(FilesTest, CommitRefusesAFileShorterThanExpected) {
  const std::string target = (dir_ / "short.bin").string();
  {
    AtomicFile file(target);
    std::ofstream(file.tempPath()) << "abc";
    const Status s = file.commit(10);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kIoError);
    EXPECT_NE(s.toString().find("3 of 10 bytes"), std::string::npos) << s.toString();
    EXPECT_NE(s.toString().find(target), std::string::npos) << s.toString();
  }
  EXPECT_TRUE(fs::is_empty(dir_)) << listing(dir_);
}

TEST_F(FilesTest, CommitOfAFileNeverWrittenFails) {
  const std::string target = (dir_ / "never.bin").string();
  AtomicFile file(target);
  EXPECT_EQ(file.commit().code(), StatusCode::kIoError);
  EXPECT_FALSE(fileExists(target));
}

TEST_F(FilesTest, AppendOverTheLimitLeavesTheFileAsItWas) {
  const std::string path = (dir_ / "log.jsonl").string();
  ASSERT_TRUE(writeTextFileAtomic(path, "{\"a\":1}\n").ok());
  const testing::ChildOutcome child = testing::withFileSizeLimit(
      100, [&] { return appendToFile(path, std::string(400, 'z') + "\n").toString(); });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos) << child.text;
  EXPECT_EQ(*readTextFile(path), "{\"a\":1}\n");
  ASSERT_TRUE(appendToFile(path, "{\"b\":2}\n").ok());
  EXPECT_EQ(*readTextFile(path), "{\"a\":1}\n{\"b\":2}\n");
}

TEST_F(FilesTest, TextWriteOnAFullDiskSaysSoAndLeavesNothing) {
  const fs::path mountPoint = dir_ / "small";
  fs::create_directory(mountPoint);
  const std::string path = (mountPoint / "big.txt").string();
  const auto child = testing::withSmallTmpfs(mountPoint.string(), 64 * 1024, [&] {
    const std::string message = writeTextFileAtomic(path, std::string(256 * 1024, 'x')).toString();
    return message + "|" + listing(mountPoint);
  });
  if (!child) GTEST_SKIP() << "mounting a tmpfs is not permitted here";
  ASSERT_TRUE(child->exited) << child->text;
  EXPECT_NE(child->text.find("the disk is full"), std::string::npos) << child->text;
  EXPECT_NE(child->text.find(path), std::string::npos) << child->text;
  EXPECT_EQ(child->text.substr(child->text.find('|')), "|") << "left in the tmpfs";
}

TEST_F(FilesTest, WriteErrorsAreNamedInWords) {
  EXPECT_EQ(writeErrorMessage(ENOSPC), "the disk is full");
  EXPECT_EQ(writeErrorMessage(EFBIG), "file size limit exceeded");
  EXPECT_EQ(writeErrorMessage(EACCES), std::strerror(EACCES));
}

}  // namespace
}  // namespace tessera
