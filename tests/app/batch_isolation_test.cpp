// Process isolation of `tessera batch`: cases run in worker processes, so
// that a worker killed by a signal, a case past the time limit or a worker
// past the memory limit fails that case only; the rest are computed, the
// summary is written, the run exits 3, and --resume neither repeats finished
// work nor runs a crashed case again unless --retry-failed.
//
// A worker is made to stop at the start of a chosen case with
// TESSERA_BATCH_STALL (as a hung decoder would); the test then sends it a
// real signal, or lets the time limit end it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "tests/support/batch_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera {
namespace {
namespace fs = std::filesystem;
using tessera::testing::readBytes;
using tessera::testing::TempDir;
using Clock = std::chrono::steady_clock;

const std::string kTessera = std::string(TESSERA_BINARY_DIR) + "/bin/tessera";

struct Outcome {
  int code = -1;
  std::string out, err;
};

struct Launch {
  std::vector<std::string> args;
  std::string stallCase;       // TESSERA_BATCH_STALL for the workers
  std::uint64_t fileSize = 0;  // prlimit --fsize (0: none)
  std::string growCase;        // TESSERA_BATCH_GROW for the workers
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::int64_t lines(const std::string& text) {
  return std::count(text.begin(), text.end(), '\n');
}

bool havePrlimit() {
  return std::system("prlimit --version >/dev/null 2>&1") == 0;
}

// Starts tessera (under prlimit when asked), stdout/stderr into files of `capture`.
pid_t start(const TempDir& capture, const Launch& launch) {
  const std::string out = capture / "out", err = capture / "err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::dup2(in, 0);
    // Under AddressSanitizer a SIGSEGV is caught and turned into exit
    // status 1; let a signalled worker die of its signal as in a release build.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string options = std::string(asan ? asan : "") + (asan && *asan ? ":" : "") +
                                "handle_segv=0:handle_sigbus=0";
    ::setenv("ASAN_OPTIONS", options.c_str(), 1);
    if (launch.stallCase.empty())
      ::unsetenv("TESSERA_BATCH_STALL");
    else
      ::setenv("TESSERA_BATCH_STALL", launch.stallCase.c_str(), 1);
    if (launch.growCase.empty())
      ::unsetenv("TESSERA_BATCH_GROW");
    else
      ::setenv("TESSERA_BATCH_GROW", launch.growCase.c_str(), 1);
    std::vector<std::string> words;
    if (launch.fileSize > 0)
      words = {"prlimit", "--fsize=" + std::to_string(launch.fileSize), "--"};
    words.push_back(kTessera);
    words.insert(words.end(), launch.args.begin(), launch.args.end());
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());  // prlimit execs tessera: the pid stays the batch's
    ::_exit(127);
  }
  return pid;
}

Outcome finish(const TempDir& capture, pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome run;
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = readBytes(capture / "out");
  run.err = readBytes(capture / "err");
  return run;
}

// The worker processes of batch `parent`: its children (from /proc/*/stat)
// started as `tessera batch --worker`.
std::vector<pid_t> childrenOf(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code error;
  for (const auto& e : fs::directory_iterator("/proc", error)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = readBytes(e.path() / "stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2 || ppid != parent)
      continue;
    // Workers only: not a sanitizer's helper process, for one.
    const std::string command = readBytes(e.path() / "cmdline");
    if (command.find(std::string("\0--worker\0", 10)) != std::string::npos)
      children.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return children;
}

std::int64_t residentKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

// Waits (up to 120 s) until `done` holds; false on timeout or when the batch ended.
template <class Done>
bool waitFor(pid_t batch, Done done) {
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    if (done()) return true;
    int status = 0;
    if (::waitpid(batch, &status, WNOHANG) == batch) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class BatchIsolation : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kTessera)) GTEST_SKIP() << kTessera << " was not built";
    ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  }
  void writeCase(const std::string& name, int index, int matrix = 64, int slices = 8) {
    ASSERT_TRUE(
        tessera::testing::writePhantomCt(dir / ("in/" + name + ".nii.gz"), index, matrix, slices)
            .ok());
  }
  std::vector<std::string> batch(const std::string& out, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"batch",   "-i",      dir / "in",         "-o",
                                     dir / out, "--model", dir / "model.onnx", "--threads",
                                     "1"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
  Outcome run(const Launch& launch) { return finish(capture, start(capture, launch)); }
  // The resident size of an idle worker (model loaded, stalled at its first
  // case), in kB: memory limits are set from it, as the build (a sanitizer's
  // shadow memory, for one) changes it. Writes case a_small.
  std::int64_t idleWorkerKb() {
    writeCase("a_small", 0);
    Launch probe{batch("probe"), "a_small"};
    const pid_t pid = start(capture, probe);
    std::int64_t baselineKb = -1, previous = -2;
    int steady = 0;
    waitFor(pid, [&] {
      const std::vector<pid_t> children = childrenOf(pid);
      if (children.size() != 1) return false;
      baselineKb = residentKb(children[0]);
      steady = baselineKb == previous ? steady + 1 : 0;
      previous = baselineKb;
      return steady >= 10;  // unchanged for 0.5 s: stalled, model loaded
    });
    ::kill(pid, SIGTERM);
    finish(capture, pid);
    return baselineKb;
  }
  // Starts a batch whose worker stalls at `stallCase`, waits until the
  // manifest records `before` cases and the stalled case is in flight, and
  // sends `signal` to the worker.
  Outcome killStalledWorker(Launch launch, int before, int signal) {
    const std::string manifest = launch.args[4] + "/manifest.jsonl";
    const pid_t pid = start(capture, launch);
    const bool stalled = waitFor(
        pid, [&] { return lines(readBytes(manifest)) >= before && !childrenOf(pid).empty(); });
    if (!stalled) {
      ADD_FAILURE() << "the batch never reached the stalled case";
      ::kill(pid, SIGKILL);
      return finish(capture, pid);
    }
    return signalWorkersUntilDone(pid, signal);
  }
  // Sends `signal` to the batch's workers until the batch ends: a worker
  // that had not yet taken the stalled case when signalled is replaced, and
  // its successor stalls in turn.
  Outcome signalWorkersUntilDone(pid_t pid, int signal) {
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) != pid) {
      if (Clock::now() > deadline) {
        ADD_FAILURE() << "the batch did not end after its worker was signalled";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      // The stalled worker sleeps: give it the moment it takes to get there.
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      for (pid_t worker : childrenOf(pid)) ::kill(worker, signal);
    }
    Outcome run;
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.out = readBytes(capture / "out");
    run.err = readBytes(capture / "err");
    return run;
  }
  TempDir capture, dir;
};

// The worker is killed by a real signal in the middle of a case: that case
// fails with the signal's name, the others are done, the summary is written.
TEST_F(BatchIsolation, WorkerKilledBySignalFailsThatCaseOnly) {
  for (int i = 0; i < 3; ++i) writeCase("case_0" + std::to_string(i), i);
  writeCase("zz_stall", 3);
  for (const int signal : {SIGKILL, SIGSEGV, SIGABRT}) {
    SCOPED_TRACE(::strsignal(signal));
    const std::string out = "out" + std::to_string(signal);
    const Outcome result = killStalledWorker({batch(out), "zz_stall"}, 3, signal);
    EXPECT_EQ(result.code, 3) << result.err;
    const std::string name = signal == SIGKILL   ? "SIGKILL"
                             : signal == SIGSEGV ? "SIGSEGV"
                                                 : "SIGABRT";
    EXPECT_TRUE(contains(result.out,
                         "failed   zz_stall: the worker process crashed: killed by "
                         "signal " +
                             name))
        << result.out;
    EXPECT_TRUE(contains(result.out, "4 cases: 3 done, 0 already finished, 1 failed, 0 not run"))
        << result.out;
    for (int i = 0; i < 3; ++i)
      EXPECT_TRUE(fs::exists(dir / (out + "/case_0" + std::to_string(i) + "/labels.nii.gz")));
    EXPECT_FALSE(fs::exists(dir / (out + "/zz_stall")));
    for (const std::string& e : dir.entries(out))
      EXPECT_TRUE(e == ".tessera-batch.lock" || e[0] != '.') << "left behind: " << e;
    const std::string csv = readBytes(dir / (out + "/summary.csv"));
    EXPECT_TRUE(
        contains(csv, "zz_stall,failed,the worker process crashed: killed by signal " + name))
        << csv;
    const std::string manifest = readBytes(dir / (out + "/manifest.jsonl"));
    EXPECT_EQ(lines(manifest), 4) << manifest;
    EXPECT_TRUE(contains(manifest, "\"failed\":\"the worker process crashed")) << manifest;
  }
}

// Two jobs run two workers; the outputs equal those of one worker, and a
// crash in one of them fails only its own case.
TEST_F(BatchIsolation, TwoWorkersGiveTheOutputsOfOne) {
  for (int i = 0; i < 4; ++i) writeCase("case_0" + std::to_string(i), i);
  const Outcome one = run({batch("one")});
  ASSERT_EQ(one.code, 0) << one.err;
  const Outcome two = run({batch("two", {"--jobs", "2"})});
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_EQ(readBytes(dir / "two/summary.csv"), readBytes(dir / "one/summary.csv"));
  for (int i = 0; i < 4; ++i) {
    const std::string labels = "/case_0" + std::to_string(i) + "/labels.nii.gz";
    EXPECT_EQ(readBytes(dir / ("two" + labels)), readBytes(dir / ("one" + labels))) << labels;
  }
  writeCase("zz_stall", 4);
  const pid_t pid = start(capture, {batch("crash", {"--jobs", "2"}), "zz_stall"});
  const bool stalled = waitFor(pid, [&] {
    return lines(readBytes(dir / "crash/manifest.jsonl")) >= 4 && !childrenOf(pid).empty();
  });
  ASSERT_TRUE(stalled) << "the batch never reached the stalled case";
  // The worker that took zz_stall is the one still busy; an idle one signalled
  // while it exits fails nothing.
  const Outcome crashed = signalWorkersUntilDone(pid, SIGSEGV);
  EXPECT_EQ(crashed.code, 3) << crashed.err;
  EXPECT_TRUE(contains(crashed.out, "5 cases: 4 done, 0 already finished, 1 failed, 0 not run"))
      << crashed.out;
  EXPECT_TRUE(contains(crashed.out, "failed   zz_stall: the worker process crashed"))
      << crashed.out;
}

// The isolation options refuse bad values as usage errors, before any work.
TEST_F(BatchIsolation, BadIsolationOptionsAreUsageErrors) {
  writeCase("case_00", 0);
  const std::vector<std::vector<std::string>> bad = {{"--retry-failed"},
                                                     {"--case-timeout", "-1"},
                                                     {"--case-timeout", "soon"},
                                                     {"--memory-limit", "-5"},
                                                     {"--memory-limit", "lots"}};
  for (const auto& options : bad) {
    SCOPED_TRACE(options[0] + (options.size() > 1 ? " " + options[1] : ""));
    const Outcome result = run({batch("out", options)});
    EXPECT_EQ(result.code, 2) << result.err;
    EXPECT_FALSE(fs::exists(dir / "out/case_00"));
  }
}

// A case that takes longer than --case-timeout fails with that reason; a
// new worker computes the cases after it.
TEST_F(BatchIsolation, CasePastTheTimeLimitFailsAndTheRestGoOn) {
  writeCase("a_hung", 0);
  writeCase("b_next", 1);
  const auto begin = Clock::now();
  const Outcome result = run({batch("out", {"--case-timeout", "1.5"}), "a_hung"});
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  EXPECT_EQ(result.code, 3) << result.err;
  EXPECT_TRUE(contains(
      result.out, "failed   a_hung: exceeded the time limit of 1.5 s per case (--case-timeout)"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "2 cases: 1 done, 0 already finished, 1 failed")) << result.out;
  EXPECT_TRUE(fs::exists(dir / "out/b_next/labels.nii.gz"));
  EXPECT_FALSE(fs::exists(dir / "out/a_hung"));
  EXPECT_GE(seconds, 1.5) << "the case was failed before its time limit";
  EXPECT_TRUE(
      contains(readBytes(dir / "out/summary.csv"), "a_hung,failed,exceeded the time limit"));
}

// A worker whose resident memory goes past --memory-limit (here memory the
// job's budget cannot see, as a decoder's own buffers) is killed and its
// case fails; a new worker computes the cases after it.
TEST_F(BatchIsolation, WorkerPastTheMemoryLimitFailsItsCase) {
  const std::int64_t baselineKb = idleWorkerKb();
  ASSERT_GT(baselineKb, 0) << "no idle worker to measure";
  writeCase("b_grows", 1);
  writeCase("c_small", 2);
  // The margin leaves room for a small case under a sanitizer, whose
  // allocator keeps freed memory resident for a while.
  const std::int64_t limitMiB = baselineKb / 1024 + 80;
  Launch launch{batch("out", {"--memory-limit", std::to_string(limitMiB)})};
  launch.growCase = "b_grows";
  const Outcome result = run(launch);
  EXPECT_EQ(result.code, 3) << result.err << "\nidle worker " << baselineKb << " kB";
  EXPECT_TRUE(contains(result.out, "failed   b_grows: exceeded the memory limit of " +
                                       std::to_string(limitMiB) + " MiB per worker"))
      << result.out << "\nidle worker " << baselineKb << " kB";
  EXPECT_TRUE(fs::exists(dir / "out/a_small/labels.nii.gz"));
  EXPECT_TRUE(fs::exists(dir / "out/c_small/labels.nii.gz"));
  EXPECT_FALSE(fs::exists(dir / "out/b_grows"));
  EXPECT_TRUE(contains(readBytes(dir / "out/summary.csv"), "b_grows,failed,exceeded the memory"));
}

// A case whose image the worker's budget cannot hold is refused before its
// voxels are allocated; the same worker goes on with the next case, whose
// resident memory stays under the limit.
TEST_F(BatchIsolation, ACaseTheWorkersBudgetCannotHoldFailsAndTheRestAreDone) {
  const std::int64_t baselineKb = idleWorkerKb();
  ASSERT_GT(baselineKb, 0) << "no idle worker to measure";
  const std::int64_t limitMiB = baselineKb / 1024 + 80;
  // 512 x 512 int16 voxels: 0.5 MiB per slice as stored and 0.5 MiB more as
  // converted; both buffers must fit while the file is read.
  const int slices = static_cast<int>(limitMiB) + 32;
  writeCase("b_large", 1, 512, slices);
  writeCase("c_small", 2);
  const Outcome result =
      run({batch("out", {"--memory-limit", std::to_string(limitMiB)}), std::string()});
  EXPECT_EQ(result.code, 3) << result.err << "\nidle worker " << baselineKb << " kB";
  EXPECT_TRUE(contains(result.out, "failed   b_large: an image of 512 x 512 x " +
                                       std::to_string(slices) + " voxels needs"))
      << result.out << "\nidle worker " << baselineKb << " kB";
  EXPECT_TRUE(contains(result.out,
                       "more than the memory limit allows (" + std::to_string(limitMiB) + ".0 MiB"))
      << result.out;
  EXPECT_FALSE(contains(result.out, "exceeded the memory limit")) << result.out;
  EXPECT_TRUE(fs::exists(dir / "out/a_small/labels.nii.gz"));
  EXPECT_TRUE(fs::exists(dir / "out/c_small/labels.nii.gz"));
  EXPECT_FALSE(fs::exists(dir / "out/b_large"));
  EXPECT_TRUE(contains(readBytes(dir / "out/summary.csv"), "b_large,failed,\"an image of"));
}

// pydicom's JPEG2000.dcm with Rows and Columns (0028,0010/0011, explicit VR
// US) set to 64: a JPEG 2000 image larger than its header says, which
// overflowed the heap inside GDCM before the codestream checks.
::testing::AssertionResult writeCraftedJpeg2000(const std::string& out) {
  const std::string source = "/usr/lib/python3/dist-packages/pydicom/data/test_files/JPEG2000.dcm";
  std::string bytes = readBytes(source);
  if (bytes.empty()) return ::testing::AssertionFailure() << source << " is missing";
  for (const char element : {'\x10', '\x11'}) {
    const std::string tag{'\x28', '\x00', element, '\x00', 'U', 'S', '\x02', '\x00'};
    const std::size_t at = bytes.find(tag);
    if (at == std::string::npos)
      return ::testing::AssertionFailure() << source << " stores Rows or Columns otherwise";
    bytes[at + 8] = 64;
    bytes[at + 9] = 0;
  }
  fs::create_directories(fs::path(out).parent_path());
  std::ofstream(out, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return ::testing::AssertionSuccess();
}

// The crafted JPEG 2000 series is a failed case with its reason beside the
// healthy ones; --resume finishes nothing twice and crashes on nothing.
TEST_F(BatchIsolation, CraftedJpeg2000SeriesFailsAndTheRestFinish) {
  writeCase("case_0", 0);
  writeCase("case_1", 1);
  ASSERT_TRUE(writeCraftedJpeg2000(dir / "in/j2k/crafted.dcm"));
  const Outcome first = run({batch("out")});
  EXPECT_EQ(first.code, 3) << first.err << first.out;
  EXPECT_TRUE(contains(first.out,
                       "the JPEG 2000 image inside is 256×1024 but the header says "
                       "64×64"))
      << first.out;
  EXPECT_TRUE(contains(first.out, "3 cases: 2 done, 0 already finished, 1 failed, 0 not run"))
      << first.out;
  EXPECT_TRUE(contains(readBytes(dir / "out/summary.csv"), ",failed,")) << first.out;
  EXPECT_TRUE(fs::exists(dir / "out/case_0/labels.nii.gz"));
  EXPECT_TRUE(fs::exists(dir / "out/case_1/labels.nii.gz"));
  const auto written = fs::last_write_time(dir / "out/case_0/labels.nii.gz");

  const Outcome resumed = run({batch("out", {"--resume"})});
  EXPECT_EQ(resumed.code, 3) << resumed.err << resumed.out;
  EXPECT_TRUE(contains(resumed.out, "3 cases: 0 done, 2 already finished, 1 failed, 0 not run"))
      << resumed.out;
  EXPECT_EQ(fs::last_write_time(dir / "out/case_0/labels.nii.gz"), written);
}

// A folder of healthy cases, one case whose worker crashes and a disk that
// fills: the healthy cases are done, each failure is recorded with its
// reason, the summary is written, exit 3. --resume does no finished work
// again and does not run the crashed case again; --retry-failed does.
TEST_F(BatchIsolation, CrashAndFullDiskThenResumeThenRetryFailed) {
  if (!havePrlimit()) GTEST_SKIP() << "prlimit (util-linux) is missing";
  for (int i = 0; i < 3; ++i) writeCase("case_0" + std::to_string(i), i);
  writeCase("zz_crash", 3);
  // The disk fills on the large case: measure its label map first.
  writeCase("big", 4, 256, 48);
  Outcome free = run({batch("free")});
  ASSERT_EQ(free.code, 0) << free.err;
  const std::uint64_t bigLabels = fs::file_size(dir / "free/big/labels.nii.gz");
  std::uint64_t largestOther = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "free"))
    if (e.is_regular_file() && e.path().parent_path().filename() != "big")
      largestOther = std::max<std::uint64_t>(largestOther, e.file_size());
  const std::uint64_t limit = bigLabels / 2;
  ASSERT_LT(largestOther * 2, limit) << "the limit would fail more than the large case ("
                                     << largestOther << " vs " << bigLabels << " bytes)";

  const Outcome first = killStalledWorker({batch("out"), "zz_crash", limit}, 3, SIGSEGV);
  EXPECT_EQ(first.code, 3) << first.err << "\nlimit " << limit;
  EXPECT_TRUE(contains(first.out, "failed   big: ")) << first.out;
  EXPECT_TRUE(contains(first.out, "file size limit exceeded")) << first.out;
  EXPECT_TRUE(contains(first.out,
                       "failed   zz_crash: the worker process crashed: killed by signal "
                       "SIGSEGV"))
      << first.out;
  EXPECT_TRUE(contains(first.out, "5 cases: 3 done, 0 already finished, 2 failed, 0 not run"))
      << first.out;
  const std::string csv = readBytes(dir / "out/summary.csv");
  EXPECT_TRUE(contains(csv, "big,failed,")) << csv;
  EXPECT_TRUE(contains(csv, "zz_crash,failed,the worker process crashed")) << csv;
  EXPECT_FALSE(fs::exists(dir / "out/big"));
  EXPECT_FALSE(fs::exists(dir / "out/zz_crash"));
  std::map<std::string, fs::file_time_type> written;
  for (int i = 0; i < 3; ++i) {
    const std::string labels = dir / ("out/case_0" + std::to_string(i) + "/labels.nii.gz");
    ASSERT_TRUE(fs::exists(labels));
    written[labels] = fs::last_write_time(labels);
  }

  // --resume, with the worker still set to stall at zz_crash: it would hang
  // if it ran the crashed case again. The full-disk case is a plain failure
  // and is computed again, now with room.
  const Outcome resumed = run({batch("out", {"--resume"}), "zz_crash"});
  EXPECT_EQ(resumed.code, 3) << resumed.err;
  EXPECT_TRUE(contains(resumed.out, "5 cases: 1 done, 3 already finished, 1 failed, 0 not run"))
      << resumed.out;
  EXPECT_TRUE(contains(resumed.out, "failed   zz_crash: the worker process crashed"))
      << resumed.out;
  EXPECT_TRUE(fs::exists(dir / "out/big/labels.nii.gz"));
  for (const auto& [labels, time] : written)
    EXPECT_EQ(fs::last_write_time(labels), time) << labels << " was written again";
  EXPECT_EQ(readBytes(dir / "out/summary.csv").find("big,failed"), std::string::npos);

  // --retry-failed runs the crashed case again (no longer stalled).
  const Outcome retried = run({batch("out", {"--resume", "--retry-failed"})});
  EXPECT_EQ(retried.code, 0) << retried.err << retried.out;
  EXPECT_TRUE(contains(retried.out, "5 cases: 1 done, 4 already finished, 0 failed, 0 not run"))
      << retried.out;
  EXPECT_TRUE(fs::exists(dir / "out/zz_crash/labels.nii.gz"));
  for (const auto& [labels, time] : written)
    EXPECT_EQ(fs::last_write_time(labels), time) << labels << " was written again";
  // The summary now equals that of a run without any failure.
  EXPECT_EQ(readBytes(dir / "out/summary.csv"), readBytes(dir / "free/summary.csv"));
}

}  // namespace
}  // namespace tessera
