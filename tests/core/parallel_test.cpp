#include "core/parallel.h"

#include "core/status.h"

#include <gtest/gtest.h>

#include <atomic>
#include <new>
#include <stdexcept>
#include <vector>

namespace tessera {
namespace {

TEST(Parallel, ForVisitsEveryIndexOnce) {
  std::vector<std::atomic<int>> hits(1000);
  parallelFor(0, 1000, [&](std::int64_t i) { hits[i].fetch_add(1); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(Parallel, ChunksCoverTheRangeWithoutOverlap) {
  setNumThreads(2);
  std::vector<std::atomic<int>> hits(997);
  std::atomic<int> calls{0};
  parallelChunks(0, 997, [&](std::int64_t b, std::int64_t e, int thread) {
    EXPECT_GE(thread, 0);
    calls.fetch_add(1);
    for (auto i = b; i < e; ++i) hits[i].fetch_add(1);
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_LE(calls.load(), 2);
  setNumThreads(0);
}

TEST(Parallel, ThreadCountIsSettable) {
  setNumThreads(1);
  EXPECT_EQ(numThreads(), 1);
  setNumThreads(0);
  EXPECT_EQ(numThreads(), hardwareThreads());
}

TEST(Parallel, NestedLoopsRunSerially) {
  std::atomic<int> total{0};
  parallelFor(0, 4,
              [&](std::int64_t) { parallelFor(0, 10, [&](std::int64_t) { total.fetch_add(1); }); });
  EXPECT_EQ(total.load(), 40);
}

// An exception inside the region (here on the second thread's half) would
// terminate the process if it left the OpenMP region; it reaches the caller.
TEST(Parallel, AnExceptionInsideTheLoopReachesTheCaller) {
  setNumThreads(2);
  std::atomic<int> visited{0};
  EXPECT_THROW(parallelFor(0, 1000,
                           [&](std::int64_t i) {
                             visited.fetch_add(1);
                             if (i == 700) throw std::bad_alloc();
                           }),
               std::bad_alloc);
  EXPECT_GE(visited.load(), 1);
  EXPECT_THROW(parallelChunks(0, 1000,
                              [&](std::int64_t, std::int64_t, int thread) {
                                if (thread == 1) throw std::runtime_error("chunk failed");
                              }),
               std::runtime_error);
  // The runtime is usable afterwards.
  std::atomic<int> total{0};
  parallelFor(0, 100, [&](std::int64_t) { total.fetch_add(1); });
  EXPECT_EQ(total.load(), 100);
  setNumThreads(0);
}

TEST(Parallel, AnExceptionInANestedLoopReachesTheCaller) {
  EXPECT_THROW(parallelFor(0, 4,
                           [&](std::int64_t i) {
                             parallelFor(0, 10, [&](std::int64_t j) {
                               if (i == 3 && j == 5) throw std::out_of_range("nested");
                             });
                           }),
               std::out_of_range);
}

TEST(Parallel, GuardExceptionsTurnsThemIntoErrors) {
  const Status oom = guardExceptions([]() -> Status {
    parallelFor(0, 100, [](std::int64_t i) {
      if (i == 99) throw std::bad_alloc();
    });
    return Status();
  });
  EXPECT_EQ(oom.code(), StatusCode::kResourceExhausted);
  const Result<int> bug = guardExceptions([]() -> Result<int> { throw std::logic_error("x"); });
  ASSERT_FALSE(bug.ok());
  EXPECT_EQ(bug.error().code, StatusCode::kInternal);
  EXPECT_NE(bug.error().message.find("x"), std::string::npos);
  EXPECT_EQ(*guardExceptions([]() -> Result<int> { return 7; }), 7);
}

}  // namespace
}  // namespace tessera
