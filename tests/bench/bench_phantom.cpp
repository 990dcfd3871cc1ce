// Time to generate a torso phantom (voxels and labels, no file writing) on
// 1 and 2 threads, and the ratio.
//
//   tessera_bench_phantom [--slices N] [--matrix M] [--seed S]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/parallel.h"
#include "imaging/phantom/phantom.h"

int main(int argc, char** argv) {
  tessera::imaging::PhantomOptions options;
  options.slices = 300;
  options.seed = 99;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--slices") {
      options.slices = std::atoi(argv[i + 1]);
    } else if (arg == "--matrix") {
      options.matrix = std::atoi(argv[i + 1]);
    } else if (arg == "--seed") {
      options.seed = std::strtoull(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--slices N] [--matrix M] [--seed S]\n", argv[0]);
      return 2;
    }
  }
  double seconds[2] = {0, 0};
  for (int threads : {1, 2}) {
    tessera::setNumThreads(threads);
    const auto t0 = std::chrono::steady_clock::now();
    auto phantom = tessera::imaging::generatePhantom(options);
    seconds[threads - 1] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!phantom.ok()) {
      std::fprintf(stderr, "phantom: %s\n", phantom.error().toString().c_str());
      return 1;
    }
  }
  std::printf("torso phantom %dx%dx%d: %.2f s on 1 thread, %.2f s on 2 threads (%.2fx)\n",
              options.matrix, options.matrix, options.slices, seconds[0], seconds[1],
              seconds[0] / seconds[1]);
  return 0;
}
