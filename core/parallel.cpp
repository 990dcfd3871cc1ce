#include "core/parallel.h"

#include <atomic>
#include <thread>

namespace tessera {
namespace {
std::atomic<int> g_threads{0};
}

int hardwareThreads() {
  const int n = omp_get_num_procs();
  return n > 0 ? n : static_cast<int>(std::thread::hardware_concurrency());
}

int numThreads() {
  const int n = g_threads.load();
  return n > 0 ? n : hardwareThreads();
}

void setNumThreads(int n) {
  g_threads.store(n > 0 ? n : 0);
  omp_set_num_threads(numThreads());
}

bool inParallelRegion() {
  return omp_in_parallel();
}

}  // namespace tessera
