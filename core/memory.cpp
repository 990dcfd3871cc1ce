#include "core/memory.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace tessera {
namespace {
std::atomic<std::int64_t> g_current{0};
std::atomic<std::int64_t> g_peak{0};
std::atomic<std::int64_t> g_count{0};

void raisePeak(std::int64_t value) {
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (value > peak && !g_peak.compare_exchange_weak(peak, value, std::memory_order_relaxed)) {
  }
}

std::int64_t procStatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t keyLength = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, keyLength, key) == 0) return std::atoll(line.c_str() + keyLength) * 1024;
  }
  return -1;
}
}  // namespace

MemoryStats memoryStats() {
  return MemoryStats{g_current.load(), g_peak.load(), g_count.load()};
}

void resetPeakMemory() { g_peak.store(g_current.load()); }

void* trackedAlloc(std::size_t bytes, std::size_t alignment) noexcept {
  if (bytes == 0) bytes = 1;
  const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, rounded);
  if (!p) return nullptr;
  const std::int64_t now = g_current.fetch_add(static_cast<std::int64_t>(bytes)) + bytes;
  g_count.fetch_add(1);
  raisePeak(now);
  return p;
}

void trackedFree(void* pointer, std::size_t bytes) noexcept {
  if (!pointer) return;
  if (bytes == 0) bytes = 1;
  std::free(pointer);
  g_current.fetch_sub(static_cast<std::int64_t>(bytes));
  g_count.fetch_sub(1);
}

std::int64_t residentBytes() { return procStatusKb("VmRSS:"); }
std::int64_t peakResidentBytes() { return procStatusKb("VmHWM:"); }

}  // namespace tessera
