// One threading runtime for the whole process: OpenMP (libgomp), the same
// runtime Debian's oneDNN is built with, so engine kernels and oneDNN share
// one thread pool instead of oversubscribing the cores.
#pragma once

#include <cstdint>

namespace tessera {

// Number of threads parallel loops use; defaults to the hardware's cores.
int numThreads();
// n <= 0 restores the default. Also applies to oneDNN (same runtime).
void setNumThreads(int n);
int hardwareThreads();

// Calls body(i) for i in [begin, end) on numThreads() threads, static
// schedule. body must not throw. Nested calls run serially.
template <class Body>
void parallelFor(std::int64_t begin, std::int64_t end, Body&& body);

// Calls body(chunkBegin, chunkEnd, threadIndex) once per thread with a
// contiguous range, for loops that keep per-thread scratch.
template <class Body>
void parallelChunks(std::int64_t begin, std::int64_t end, Body&& body);

bool inParallelRegion();

}  // namespace tessera

#include <omp.h>

namespace tessera {

template <class Body>
void parallelFor(std::int64_t begin, std::int64_t end, Body&& body) {
  if (end <= begin) return;
  if (end - begin == 1 || omp_in_parallel()) {
    for (std::int64_t i = begin; i < end; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(numThreads())
  for (std::int64_t i = begin; i < end; ++i) body(i);
}

template <class Body>
void parallelChunks(std::int64_t begin, std::int64_t end, Body&& body) {
  if (end <= begin) return;
  const int threads = omp_in_parallel() ? 1 : numThreads();
  if (threads == 1) {
    body(begin, end, 0);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int n = omp_get_num_threads();
    const std::int64_t total = end - begin;
    const std::int64_t b = begin + total * t / n;
    const std::int64_t e = begin + total * (t + 1) / n;
    if (b < e) body(b, e, t);
  }
}

}  // namespace tessera
