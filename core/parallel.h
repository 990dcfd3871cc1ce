// One threading runtime for the whole process: OpenMP (libgomp), the same
// runtime Debian's oneDNN is built with, so engine kernels and oneDNN share
// one thread pool instead of oversubscribing the cores.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>

namespace tessera {

// Number of threads parallel loops use; defaults to the hardware's cores.
int numThreads();
// n <= 0 restores the default. Also applies to oneDNN (same runtime).
void setNumThreads(int n);
int hardwareThreads();

// Calls body(i) for i in [begin, end) on numThreads() threads, static
// schedule. Nested calls run serially. An exception thrown by body (an
// allocation failure, say) never leaves the OpenMP region, where it would
// terminate the process: the first one is caught, the remaining iterations
// are skipped, and it is rethrown on the calling thread after the region, as
// the serial loop would; module entry points turn it into a Status.
template <class Body>
void parallelFor(std::int64_t begin, std::int64_t end, Body&& body);

// Calls body(chunkBegin, chunkEnd, threadIndex) once per thread with a
// contiguous range, for loops that keep per-thread scratch. Exceptions as
// for parallelFor.
template <class Body>
void parallelChunks(std::int64_t begin, std::int64_t end, Body&& body);

bool inParallelRegion();

}  // namespace tessera

#include <omp.h>

namespace tessera {
namespace detail {

// Holds the first exception thrown inside a parallel region until the region
// has ended; later ones are dropped (the serial loop would not reach them).
class RegionErrors {
 public:
  template <class F>
  void run(F&& f) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!first_) first_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  void rethrow() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr first_;
};

}  // namespace detail

template <class Body>
void parallelFor(std::int64_t begin, std::int64_t end, Body&& body) {
  if (end <= begin) return;
  if (end - begin == 1 || omp_in_parallel()) {
    for (std::int64_t i = begin; i < end; ++i) body(i);
    return;
  }
  detail::RegionErrors errors;
#pragma omp parallel for schedule(static) num_threads(numThreads())
  for (std::int64_t i = begin; i < end; ++i) errors.run([&] { body(i); });
  errors.rethrow();
}

template <class Body>
void parallelChunks(std::int64_t begin, std::int64_t end, Body&& body) {
  if (end <= begin) return;
  const int threads = omp_in_parallel() ? 1 : numThreads();
  if (threads == 1) {
    body(begin, end, 0);
    return;
  }
  detail::RegionErrors errors;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int n = omp_get_num_threads();
    const std::int64_t total = end - begin;
    const std::int64_t b = begin + total * t / n;
    const std::int64_t e = begin + total * (t + 1) / n;
    if (b < e) errors.run([&] { body(b, e, t); });
  }
  errors.rethrow();
}

}  // namespace tessera
