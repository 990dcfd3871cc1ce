#include "core/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace tessera
