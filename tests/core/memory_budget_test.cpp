#include "core/memory_budget.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <utility>

#include "core/image.h"
#include "core/memory.h"

namespace tessera {
namespace {

constexpr std::int64_t kMiB = std::int64_t{1} << 20;

// Restores the job's default limit when a test changed it.
struct JobLimitGuard {
  ~JobLimitGuard() { setJobMemoryLimit(0); }
};

TEST(MemoryBudget, DefaultIsAFractionOfAvailableMemory) {
  const std::int64_t available = availableMemoryBytes();
  ASSERT_GT(available, 0) << "/proc/meminfo has no MemAvailable";
  const std::int64_t limit = defaultMemoryLimitBytes();
  EXPECT_GT(limit, 0);
  EXPECT_LE(limit, kMaxBudgetBytes);
  // MemAvailable moves while the suite runs; the limit was taken once.
  EXPECT_LT(limit, available * 2) << "limit " << limit << " available " << available;
  EXPECT_EQ(MemoryBudget().limitBytes(), limit);
  EXPECT_EQ(MemoryBudget(0).limitBytes(), limit);
}

TEST(MemoryBudget, ReservationsCountUntilReleased) {
  MemoryBudget budget(10 * kMiB);
  budget.setCountTracked(false);
  auto a = budget.reserve(6 * kMiB, "first buffer");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(budget.reservedBytes(), 6 * kMiB);
  EXPECT_EQ(budget.remainingBytes(), 4 * kMiB);
  auto b = budget.reserve(5 * kMiB, "second buffer");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, StatusCode::kResourceExhausted);
  EXPECT_NE(b.error().message.find("second buffer needs 5.0 MiB"), std::string::npos)
      << b.error().message;
  EXPECT_NE(b.error().message.find("10.0 MiB"), std::string::npos) << b.error().message;
  EXPECT_NE(b.error().message.find("6.0 MiB in use"), std::string::npos) << b.error().message;
  {
    MemoryReservation moved = std::move(*a);
    EXPECT_EQ(moved.bytes(), 6 * kMiB);
    EXPECT_EQ(budget.reservedBytes(), 6 * kMiB);
  }
  EXPECT_EQ(budget.reservedBytes(), 0);
  EXPECT_TRUE(budget.reserve(10 * kMiB, "whole budget").ok());
  EXPECT_EQ(budget.reservedBytes(), 0);  // the temporary released it
}

TEST(MemoryBudget, NegativeOrOverflowingSizesNeverFit) {
  MemoryBudget budget(kMaxBudgetBytes);
  EXPECT_FALSE(budget.check(-1, "a buffer").ok());
  EXPECT_EQ(checkedBytes({std::int64_t{1} << 40, std::int64_t{1} << 40}), -1);
  EXPECT_EQ(checkedBytes({3, -2}), -1);
  EXPECT_EQ(checkedBytes({512, 512, 1000, 2}), std::int64_t{524288000});
  EXPECT_FALSE(budget.check(checkedBytes({std::int64_t{1} << 40, 1 << 30}), "x").ok());
}

TEST(MemoryBudget, TrackedBuffersCountAsUsed) {
  MemoryBudget budget(memoryStats().currentBytes + 8 * kMiB);
  ASSERT_TRUE(budget.check(6 * kMiB, "a buffer").ok());
  void* p = trackedAlloc(static_cast<std::size_t>(4 * kMiB));
  ASSERT_NE(p, nullptr);
  const Status second = budget.check(6 * kMiB, "a second buffer");
  trackedFree(p, static_cast<std::size_t>(4 * kMiB));
  EXPECT_FALSE(second.ok());
  EXPECT_TRUE(budget.check(6 * kMiB, "a buffer").ok());
}

TEST(MemoryBudget, JobLimitBoundsImages) {
  JobLimitGuard guard;
  setJobMemoryLimit(memoryStats().currentBytes + 3 * kMiB);
  Geometry g;
  g.size = {512, 512, 16};  // 8 MiB of int16
  auto refused = Volume::create(g);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StatusCode::kResourceExhausted);
  EXPECT_NE(refused.error().message.find("512 x 512 x 16 voxels needs 8.0 MiB"), std::string::npos)
      << refused.error().message;
  g.size = {512, 512, 4};  // 2 MiB
  auto first = Volume::create(g);
  ASSERT_TRUE(first.ok()) << first.error().message;
  // The first image is alive: a second of the same size no longer fits.
  auto second = Volume::create(g);
  EXPECT_FALSE(second.ok());
  setJobMemoryLimit(0);
  EXPECT_EQ(jobMemoryBudget().limitBytes(), defaultMemoryLimitBytes());
}

TEST(MemoryBudget, FormatsMiBWithAPoint) {
  EXPECT_EQ(formatMiB(0), "0.0 MiB");
  EXPECT_EQ(formatMiB(3 * kMiB / 2), "1.5 MiB");
  EXPECT_EQ(formatMiB(100 * kMiB), "100.0 MiB");
}

}  // namespace
}  // namespace tessera
