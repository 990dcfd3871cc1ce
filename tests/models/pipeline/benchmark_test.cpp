// `tessera bench` as a library: the phantom benchmark's settings, the .npy
// exchange files, the process runner and the PyTorch peer's error paths
// (with stand-in peers: the tests do not need PyTorch).
#include "models/pipeline/benchmark.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/files.h"
#include "models/pipeline/npy.h"
#include "models/pipeline/process.h"
#include "tests/support/small_model.h"
#include "tests/support/temp_dir.h"

namespace tessera::models {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

std::string bytesOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeExecutable(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  fs::permissions(path, fs::perms::owner_all);
}

std::shared_ptr<const Model> smallModel() {
  return testing::smallEngineModel();
}

// `tessera bench`'s sparse settings reach the segmenter: a wider detector
// ring computes more blocks and more FLOPs on the same phantom.
TEST(Benchmark, DetectorDilationReachesTheSparseRun) {
  Segmenter segmenter(smallModel());
  PhantomBenchOptions o;
  o.slices = 2;
  o.repeats = 1;
  o.occupancy = 0.4;
  o.sparse.settling = Settling::kOff;
  o.sparse.detector.dilation = 0;
  auto tight = benchmarkPhantom(segmenter, o);
  o.sparse.detector.dilation = 2;
  auto wide = benchmarkPhantom(segmenter, o);
  ASSERT_TRUE(tight.ok()) << tight.error().toString();
  ASSERT_TRUE(wide.ok()) << wide.error().toString();
  EXPECT_NEAR(tight->bodyOccupancy, 0.4, 0.1);
  EXPECT_GT(tight->activeFraction, 0.0);
  EXPECT_LT(tight->activeFraction, wide->activeFraction);
  EXPECT_LT(tight->flopFraction, wide->flopFraction);
  EXPECT_GT(tight->denseMsPerSlice, 0.0);
  EXPECT_GT(tight->sparseMsPerSlice, 0.0);
}

// The header numpy.save writes, parsed back field by field.
TEST(Npy, WritesTheHeaderAndDataNumpyReads) {
  TempDir dir;
  const std::vector<std::int64_t> shape = {2, 3, 5};
  std::mt19937 random(4242);
  std::normal_distribution<float> value(0.0f, 100.0f);
  std::vector<float> data(30);
  for (float& v : data) v = value(random);
  const std::string path = dir / "a.npy";
  ASSERT_TRUE(writeNpy(path, shape, data.data()).ok());

  const std::string bytes = bytesOf(path);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1) << "major version";
  EXPECT_EQ(bytes[7], 0) << "minor version";
  const std::size_t length = static_cast<unsigned char>(bytes[8]) |
                             static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8;
  ASSERT_EQ(bytes.size(), 10 + length + data.size() * 4);
  EXPECT_EQ((10 + length) % 64, 0u) << "the data starts at a multiple of 64 bytes";
  const std::string header = bytes.substr(10, length);
  EXPECT_EQ(header.substr(0, header.find('}') + 1),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 5), }");
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.find_first_not_of(' ', header.find('}') + 1), header.size() - 1)
      << "padding is spaces";
  EXPECT_EQ(std::memcmp(bytes.data() + 10 + length, data.data(), data.size() * 4), 0);

  auto back = readNpy(path);
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_EQ(back->shape, shape);
  EXPECT_EQ(back->data, data);

  // One dimension is a one-element tuple in Python: "(4,)".
  ASSERT_TRUE(writeNpy(dir / "b.npy", {4}, data.data()).ok());
  EXPECT_NE(bytesOf(dir / "b.npy").find("'shape': (4,), }"), std::string::npos);
  auto one = readNpy(dir / "b.npy");
  ASSERT_TRUE(one.ok()) << one.error().toString();
  EXPECT_EQ(one->shape, std::vector<std::int64_t>{4});
  EXPECT_EQ(one->data, std::vector<float>(data.begin(), data.begin() + 4));
}

TEST(Npy, RejectsDamagedOrForeignFiles) {
  TempDir dir;
  const std::vector<float> data(8, 1.5f);
  const std::string path = dir / "a.npy";
  ASSERT_TRUE(writeNpy(path, {2, 4}, data.data()).ok());
  const std::string good = bytesOf(path);

  const auto readBack = [&](const std::string& bytes) {
    ASSERT_TRUE(writeTextFileAtomic(path, bytes).ok());
  };
  readBack(good.substr(0, good.size() - 4));
  auto truncated = readNpy(path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, StatusCode::kCorruptData);
  EXPECT_EQ(truncated.error().context, path);

  std::string f8 = good;
  f8.replace(f8.find("<f4"), 3, "<f8");
  readBack(f8);
  EXPECT_EQ(readNpy(path).error().code, StatusCode::kUnsupported);

  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  readBack(fortran);
  EXPECT_EQ(readNpy(path).error().code, StatusCode::kUnsupported);

  readBack("PK\x03\x04 not an array");
  EXPECT_EQ(readNpy(path).error().code, StatusCode::kCorruptData);
  EXPECT_EQ(readNpy(dir / "none.npy").error().code, StatusCode::kNotFound);
}

// No shell sees the arguments: quotes, spaces and command substitutions
// reach the program as they are, and nothing they name is run.
TEST(Process, ArgumentsArriveVerbatim) {
  TempDir dir;
  const std::string planted = dir / "planted";
  const std::vector<std::string> args = {"two words",
                                         "it's",
                                         "\"double\"",
                                         "$(touch " + planted + ")",
                                         "`touch " + planted + "`",
                                         "; touch " + planted,
                                         "*",
                                         "",
                                         "line\nbreak"};
  std::vector<std::string> argv = {"/usr/bin/printf", "[%s]\n"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto run = runProcess(argv);
  ASSERT_TRUE(run.ok()) << run.error().toString();
  EXPECT_TRUE(run->succeeded()) << run->describeExit() << ": " << run->err;
  std::string expected;
  for (const std::string& a : args) expected += "[" + a + "]\n";
  EXPECT_EQ(run->out, expected);
  EXPECT_TRUE(run->err.empty()) << run->err;
  EXPECT_FALSE(fs::exists(planted)) << "an argument was run as a command";
}

TEST(Process, AMissingOrUnrunnableProgramIsATypedError) {
  TempDir dir;
  auto missing = runProcess({dir / "no such program", "x"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, StatusCode::kNotFound);
  EXPECT_EQ(missing.error().context, dir / "no such program");

  const std::string plain = dir / "plain.txt";
  std::ofstream(plain) << "not a program\n";
  fs::permissions(plain, fs::perms::owner_read | fs::perms::owner_write);
  auto refused = runProcess({plain});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StatusCode::kIoError);
  EXPECT_EQ(refused.error().context, plain);

  EXPECT_EQ(runProcess({}).error().code, StatusCode::kInvalidArgument);
}

TEST(Process, ExitStatusSignalAndStandardErrorAreReported) {
  auto failed = runProcess({"/bin/sh", "-c", "echo partial; echo 'it broke' >&2; exit 3"});
  ASSERT_TRUE(failed.ok()) << failed.error().toString();
  EXPECT_FALSE(failed->succeeded());
  EXPECT_EQ(failed->exitCode, 3);
  EXPECT_EQ(failed->signal, 0);
  EXPECT_EQ(failed->out, "partial\n");
  EXPECT_EQ(failed->err, "it broke\n");
  EXPECT_EQ(failed->describeExit(), "exited with status 3");

  auto killed = runProcess({"/bin/sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(killed.ok()) << killed.error().toString();
  EXPECT_FALSE(killed->succeeded());
  EXPECT_EQ(killed->signal, 9);
  EXPECT_NE(killed->describeExit().find("signal 9"), std::string::npos) << killed->describeExit();

  auto fine = runProcess({"/bin/true"});
  ASSERT_TRUE(fine.ok());
  EXPECT_TRUE(fine->succeeded());
}

// More than a pipe holds on both streams at once: reading one while the
// program blocks on the other would hang.
TEST(Process, LargeOutputOnBothStreamsIsCapturedWhole) {
  auto run = runProcess({"/bin/sh", "-c",
                         "head -c 1000000 /dev/zero >&2; head -c 3000000 /dev/zero; "
                         "head -c 1000000 /dev/zero >&2"});
  ASSERT_TRUE(run.ok()) << run.error().toString();
  EXPECT_TRUE(run->succeeded()) << run->describeExit();
  EXPECT_EQ(run->out.size(), 3000000u);
  EXPECT_EQ(run->err.size(), 2000000u);
}

// A stand-in for python3: answers the import check, then behaves as
// `peer` says (a shell snippet run with the benchmark's arguments).
std::string fakePython(const std::string& peer) {
  return "#!/bin/sh\n"
         "[ \"$1\" = -c ] && exit 0\n"
         "for a in \"$@\"; do\n"
         "  case \"$prev\" in --input) in=\"$a\";; --output) out=\"$a\";; esac\n"
         "  prev=\"$a\"\n"
         "done\n" +
         peer;
}

class TorchPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    work = dir.makeDir("work dir 'q' $(x)");
    options.script = dir / "bench_torch.py";
    std::ofstream(options.script) << "# stand-in\n";
    options.python = dir / "python3";
    options.modelPath = dir / "model one.onnx";
    options.threads = 1;
    options.matrix = 64;
    options.workDir = work;
  }
  TempDir dir;
  std::string work;
  PeerOptions options;
};

TEST_F(TorchPeer, MissingPythonOrScriptIsAClearError) {
  options.python = dir / "nowhere/python3";
  auto noPython = benchmarkTorch(*smallModel(), options);
  ASSERT_FALSE(noPython.ok());
  EXPECT_EQ(noPython.error().code, StatusCode::kNotFound);
  EXPECT_EQ(noPython.error().context, options.python);

  options.python = dir / "python3";
  writeExecutable(options.python, "#!/bin/sh\nexit 0\n");
  options.script = dir / "no_script.py";
  auto noScript = benchmarkTorch(*smallModel(), options);
  ASSERT_FALSE(noScript.ok());
  EXPECT_EQ(noScript.error().code, StatusCode::kNotFound);
  EXPECT_EQ(noScript.error().context, options.script);
}

TEST_F(TorchPeer, MissingTorchIsUnsupported) {
  writeExecutable(options.python, "#!/bin/sh\necho \"No module named 'torch'\" >&2\nexit 1\n");
  auto run = benchmarkTorch(*smallModel(), options);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, StatusCode::kUnsupported);
  EXPECT_NE(run.error().message.find("torch"), std::string::npos) << run.error().toString();
}

TEST_F(TorchPeer, AFailingPeerReportsItsExitAndLastErrorLine) {
  writeExecutable(options.python, fakePython("echo 'Traceback (most recent call last):' >&2\n"
                                             "echo 'RuntimeError: out of cheese' >&2\nexit 4\n"));
  auto run = benchmarkTorch(*smallModel(), options);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, StatusCode::kIoError);
  EXPECT_NE(run.error().message.find("exited with status 4"), std::string::npos)
      << run.error().toString();
  EXPECT_NE(run.error().message.find("RuntimeError: out of cheese"), std::string::npos)
      << run.error().toString();
  EXPECT_EQ(run.error().context, options.script);

  writeExecutable(options.python, fakePython("echo 'not json'\n"));
  EXPECT_EQ(benchmarkTorch(*smallModel(), options).error().code, StatusCode::kCorruptData);
}

// The peer gets its arguments verbatim (paths with spaces, quotes and
// "$(...)"), reads the input Tessera wrote and its logits are compared.
// The stand-in returns the input as its "logits" (the model has as many
// classes as input channels), so the difference is real but not zero.
TEST_F(TorchPeer, RunsThePeerAndComparesItsLogits) {
  writeExecutable(options.python, fakePython("printf '%s\\n' \"$@\" > \"$out.args\"\n"
                                             "cp \"$in\" \"$out\"\n"
                                             "echo '{\"eager_ms\": 12.5, \"jit_ms\": 7.25, "
                                             "\"eager_min_ms\": 11.5, \"jit_min_ms\": 6.5, "
                                             "\"allocator\": \"tcmalloc\", "
                                             "\"torch_version\": \"2.1-fake\"}'\n"));
  auto model = smallModel();
  auto run = benchmarkTorch(*model, options);
  ASSERT_TRUE(run.ok()) << run.error().toString();
  EXPECT_EQ(run->version, "2.1-fake");
  EXPECT_EQ(run->allocator, "tcmalloc");
  EXPECT_EQ(run->eagerMs, 12.5);
  EXPECT_EQ(run->jitMs, 7.25);
  EXPECT_EQ(run->eagerBestMs, 11.5);
  EXPECT_EQ(run->jitBestMs, 6.5);
  EXPECT_TRUE(std::isfinite(run->maxRelativeLogitDifference));
  EXPECT_GT(run->maxRelativeLogitDifference, 0.0);

  const std::string in = work + "/torch_input.npy", out = work + "/torch_logits.npy";
  auto input = readNpy(in);
  ASSERT_TRUE(input.ok()) << input.error().toString();
  EXPECT_EQ(input->shape,
            (std::vector<std::int64_t>{1, model->info.architecture.inputChannels, 64, 64}));
  auto args = readTextFile(out + ".args");
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, options.script + "\n--model\n" + options.modelPath +
                       "\n--threads\n1\n--repeats\n5\n--warmup\n2\n--json\n--input\n" + in +
                       "\n--output\n" + out + "\n");
}

TEST_F(TorchPeer, MissingOpenCvIsUnsupported) {
  options.script = dir / "bench_opencv_dnn.py";
  std::ofstream(options.script) << "# stand-in\n";
  writeExecutable(options.python, "#!/bin/sh\necho \"No module named 'cv2'\" >&2\nexit 1\n");
  auto run = benchmarkOpenCv(*smallModel(), options);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, StatusCode::kUnsupported);
  EXPECT_NE(run.error().message.find("python3-opencv"), std::string::npos)
      << run.error().toString();
}

// A model OpenCV cannot read is reported with OpenCV's last line, not as a
// Tessera failure.
TEST_F(TorchPeer, AModelOpenCvCannotReadIsReportedWithItsMessage) {
  writeExecutable(options.python,
                  fakePython("echo 'OpenCV 4.6.0 cannot read m.onnx: (-2) no layer Foo' >&2\n"
                             "exit 1\n"));
  auto run = benchmarkOpenCv(*smallModel(), options);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, StatusCode::kIoError);
  EXPECT_NE(run.error().message.find("OpenCV DNN benchmark exited with status 1: OpenCV 4.6.0 "
                                     "cannot read m.onnx: (-2) no layer Foo"),
            std::string::npos)
      << run.error().toString();
}

TEST_F(TorchPeer, RunsTheOpenCvPeerAndComparesItsLogits) {
  writeExecutable(options.python, fakePython("printf '%s\\n' \"$@\" > \"$out.args\"\n"
                                             "cp \"$in\" \"$out\"\n"
                                             "echo '{\"median_ms\": 40.5, \"best_ms\": 38.0, "
                                             "\"opencv_version\": \"4.6.0-fake\"}'\n"));
  options.repeats = 3;
  auto model = smallModel();
  auto run = benchmarkOpenCv(*model, options);
  ASSERT_TRUE(run.ok()) << run.error().toString();
  EXPECT_EQ(run->version, "4.6.0-fake");
  EXPECT_EQ(run->medianMs, 40.5);
  EXPECT_EQ(run->bestMs, 38.0);
  EXPECT_GT(run->maxRelativeLogitDifference, 0.0);
  const std::string in = work + "/opencv_input.npy", out = work + "/opencv_logits.npy";
  auto args = readTextFile(out + ".args");
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, options.script + "\n--model\n" + options.modelPath +
                       "\n--threads\n1\n--repeats\n3\n--warmup\n2\n--json\n--input\n" + in +
                       "\n--output\n" + out + "\n");

  // Logits of the wrong shape are not compared.
  writeExecutable(options.python,
                  fakePython("printf '\\223NUMPY' > \"$out\"\n"
                             "echo '{\"median_ms\": 1, \"opencv_version\": \"x\"}'\n"));
  EXPECT_EQ(benchmarkOpenCv(*model, options).error().code, StatusCode::kCorruptData);
}

// Tessera's own time on the peers' slice: both modes run, sparse computes
// fewer blocks than the whole slice.
TEST(Benchmark, PeerSliceTimesBothModesOnTheSameSlice) {
  Segmenter segmenter(smallModel());
  PeerOptions options;
  options.matrix = 64;
  options.repeats = 1;
  auto times = benchmarkPeerSlice(segmenter, options);
  ASSERT_TRUE(times.ok()) << times.error().toString();
  EXPECT_GT(times->denseBestMs, 0.0);
  EXPECT_GT(times->sparseBestMs, 0.0);
  EXPECT_GT(times->activeFraction, 0.0);
  EXPECT_LT(times->activeFraction, 1.0);
}

}  // namespace
}  // namespace tessera::models
