// The job's memory budget at the command line (--memory-limit).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/batch_fixture.h"
#include "tests/support/nifti_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera {
namespace {
using tessera::testing::TempDir;

const std::string kTessera = std::string(TESSERA_BINARY_DIR) + "/bin/tessera";

struct CommandRun {
  int code = -1;
  std::string err;
};

std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CommandRun runTessera(const TempDir& capture, const std::vector<std::string>& args) {
  std::string command = quote(kTessera);
  for (const std::string& a : args) command += " " + quote(a);
  command += " >/dev/null 2>" + quote(capture / "err") + " </dev/null";
  const int status = std::system(command.c_str());
  CommandRun run;
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(capture / "err");
  std::ostringstream text;
  text << in.rdbuf();
  run.err = text.str();
  return run;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CliLimits, MemoryLimitTooSmallForTheVolumeFailsNamingFileAndSizes) {
  TempDir dir, capture;
  tessera::testing::Nifti1Spec spec;
  spec.dims = {256, 256, 64};  // 8 MiB of int16
  tessera::testing::writeNifti1(dir / "ct.nii", spec, std::string(256 * 256 * 64 * 2, '\0'));
  // A small model, so that the volume is what does not fit.
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  const CommandRun run =
      runTessera(capture, {"segment", "-i", dir / "ct.nii", "-o", dir / "labels.nii.gz", "--model",
                           dir / "model.onnx", "--memory-limit", "4"});
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_TRUE(contains(run.err, "tessera: error: ")) << run.err;
  EXPECT_TRUE(contains(run.err, "ct.nii")) << run.err;
  EXPECT_TRUE(contains(run.err, "needs 8.0 MiB")) << run.err;
  EXPECT_TRUE(contains(run.err, "4.0 MiB")) << run.err;
  EXPECT_FALSE(std::ifstream(dir / "labels.nii.gz").good());
}

// The bundled model (about 8 MiB, three times that while read) does not
// fit 4 MiB: refused before it is read, naming the model file.
TEST(CliLimits, MemoryLimitTooSmallForTheModelFailsNamingTheModel) {
  TempDir dir, capture;
  tessera::testing::Nifti1Spec spec;
  spec.dims = {16, 16, 4};
  tessera::testing::writeNifti1(dir / "ct.nii", spec, std::string(16 * 16 * 4 * 2, '\0'));
  const CommandRun run = runTessera(capture, {"segment", "-i", dir / "ct.nii", "-o",
                                              dir / "labels.nii.gz", "--memory-limit", "4"});
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_TRUE(contains(run.err, "reading the model file needs")) << run.err;
  EXPECT_TRUE(contains(run.err, ".onnx")) << run.err;
  EXPECT_FALSE(std::ifstream(dir / "labels.nii.gz").good());
}

TEST(CliLimits, MalformedMemoryLimitIsAUsageError) {
  TempDir dir, capture;
  const CommandRun run = runTessera(capture, {"segment", "-i", dir / "ct.nii", "-o",
                                              dir / "labels.nii.gz", "--memory-limit", "lots"});
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.code, 1) << run.err;
  EXPECT_TRUE(contains(run.err, "memory-limit")) << run.err;
}

}  // namespace
}  // namespace tessera
