#include "core/memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace tessera {
namespace {

TEST(Memory, CurrentAndPeakFollowAllocations) {
  const MemoryStats start = memoryStats();
  resetPeakMemory();
  void* a = trackedAlloc(1 << 20);
  void* b = trackedAlloc(3 << 20);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 64, 0u);
  EXPECT_EQ(memoryStats().currentBytes - start.currentBytes, 4 << 20);
  trackedFree(b, 3 << 20);
  EXPECT_EQ(memoryStats().currentBytes - start.currentBytes, 1 << 20);
  EXPECT_GE(memoryStats().peakBytes - start.currentBytes, 4 << 20);
  resetPeakMemory();
  EXPECT_EQ(memoryStats().peakBytes, memoryStats().currentBytes);
  trackedFree(a, 1 << 20);
  EXPECT_EQ(memoryStats().currentBytes, start.currentBytes);
}

TEST(Memory, TrackedVectorIsAccountedAcrossThreads) {
  const auto before = memoryStats().currentBytes;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 100; ++i) {
        std::vector<float, TrackedAllocator<float>> v(1000 + i);
        v[0] = 1.0f;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(memoryStats().currentBytes, before);
}

TEST(Memory, ResidentSizeIsReadFromProc) {
  EXPECT_GT(residentBytes(), 0);
  EXPECT_GE(peakResidentBytes(), residentBytes());
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

TEST(Memory, LargeBlocksAreReusedNotReturned) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the block cache is off under AddressSanitizer";
#endif
  releaseCachedMemory();
  const auto before = memoryStats();
  void* a = trackedAlloc(1 << 20);
  ASSERT_NE(a, nullptr);
  trackedFree(a, 1 << 20);
  EXPECT_EQ(memoryStats().currentBytes, before.currentBytes);
  EXPECT_GE(memoryStats().cachedBytes, 1 << 20);
  void* b = trackedAlloc(1 << 20);
  EXPECT_EQ(b, a);  // the same block comes back for the same size
  EXPECT_EQ(memoryStats().cachedBytes, before.cachedBytes);
  void* c = trackedAlloc((1 << 20) + 64);  // another size is a fresh block
  EXPECT_NE(c, a);
  trackedFree(b, 1 << 20);
  trackedFree(c, (1 << 20) + 64);
  releaseCachedMemory();
  EXPECT_EQ(memoryStats().cachedBytes, 0);
  EXPECT_EQ(memoryStats().currentBytes, before.currentBytes);
}

TEST(Memory, SmallBlocksAreNotCached) {
  releaseCachedMemory();
  void* a = trackedAlloc(4096);
  trackedFree(a, 4096);
  EXPECT_EQ(memoryStats().cachedBytes, 0);
}

}  // namespace
}  // namespace tessera
