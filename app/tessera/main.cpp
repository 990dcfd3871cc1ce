#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "app/tessera/commands.h"
#include "core/log.h"

namespace tessera::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"info", "geometry, voxel type, HU range; DICOM series list", runInfo},
      {"convert", "convert between NIfTI, NRRD, MetaImage and DICOM", runConvert},
      {"phantom", "synthetic CT phantoms with ground-truth labels", runPhantom},
      {"segment", "segment a CT volume with the block-sparse U-Net", runSegment},
      {"batch", "segment a cohort: folders of studies, resume, shards", runBatch},
      {"merge", "join the summaries of batch shards into one", runMerge},
      {"eval", "Dice and 95 % Hausdorff distance per label against a reference", runEval},
      {"train", "train or fine-tune a model on phantoms or CT/label pairs", runTrain},
      {"distill", "train a student on a teacher model's softened outputs", runDistill},
      {"bench", "dense vs sparse, PyTorch and OpenCV DNN: speed and Dice", runBench},
      {"plugins", "list the plugins with their stages and layers", runPlugins},
      {"import-model", "a network exported from PyTorch as a Tessera model", runImportModel},
      {"model", "describe a model; set its post-processing rules or context offset", runModel},
      {"pacs", "DICOM networking: echo, find, get and send with a PACS", runPacs},
      {"serve", "a DICOM node: receive, segment, send SEG and SR back; metrics", runServe},
  };
  return kCommands;
}

bool parseOrExit(ArgParser& parser, const Args& args, int* exitCode) {
  if (parser.parse(args)) return true;
  if (parser.helpRequested()) {
    std::fputs(parser.usage().c_str(), stdout);
    *exitCode = kExitOk;
  } else {
    std::fprintf(stderr, "tessera: error: %s\n(see --help)\n", parser.error().c_str());
    *exitCode = kExitUsage;
  }
  return false;
}

int fail(const Error& error) {
  std::fprintf(stderr, "tessera: error: %s\n", error.toString().c_str());
  return kExitFailure;
}

int fail(const Status& status) {
  return fail(status.error());
}

namespace {
void printHelp() {
  std::printf(
      "usage: tessera [--log-level LEVEL] COMMAND [ARGS]\n\n"
      "Tessera segments CT volumes with a block-sparse U-Net on the CPU.\n\ncommands:\n");
  for (const Command& c : commands()) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf(
      "\n`tessera COMMAND --help` describes each command.\n"
      "Exit codes: 0 success, 1 failure, 2 usage error, 3 batch finished with failed cases.\n");
}

int dispatch(int argc, char** argv) {
  int i = 1;
  while (i < argc && argv[i][0] == '-') {
    const std::string arg = argv[i];
    if (arg == "--version" || arg == "-V") {
      std::printf("tessera %s\n", TESSERA_VERSION);
      return kExitOk;
    }
    if (arg == "--help" || arg == "-h") {
      printHelp();
      return kExitOk;
    }
    if (arg == "--log-level" && i + 1 < argc) {
      LogLevel level;
      if (!parseLogLevel(argv[i + 1], &level)) {
        std::fprintf(stderr, "tessera: error: unknown log level '%s'\n", argv[i + 1]);
        return kExitUsage;
      }
      setLogLevel(level);
      i += 2;
      continue;
    }
    std::fprintf(stderr, "tessera: error: unknown option '%s' (see tessera --help)\n", argv[i]);
    return kExitUsage;
  }
  if (i >= argc) {
    printHelp();
    return kExitUsage;
  }
  const std::string name = argv[i];
  for (const Command& c : commands()) {
    if (name == c.name) return c.run(Args(argv + i + 1, argv + argc));
  }
  std::fprintf(stderr, "tessera: error: unknown command '%s' (see tessera --help)\n", name.c_str());
  return kExitUsage;
}
}  // namespace
}  // namespace tessera::cli

int main(int argc, char** argv) {
  // Last line of defence: module boundaries return typed errors, but an
  // allocation failure inside a library must still end in a message, not a crash.
  // A write past the file size limit (ulimit -f) fails with EFBIG, which the
  // writers report, instead of killing the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return tessera::cli::dispatch(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "tessera: error: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera: error: %s\n", e.what());
  }
  return tessera::cli::kExitFailure;
}
