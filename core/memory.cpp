#include "core/memory.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

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

// Large blocks are kept for reuse instead of being returned to the OS:
// tensors of the same sizes come and go every training step and every slice,
// and a fresh mapping page-faults on every first write (a quarter of a
// training step's CPU time went there). Bounded; freed on request.
constexpr std::size_t kCacheMinBytes = std::size_t{1} << 18;

struct BlockCache {
  std::mutex mutex;
  std::map<std::pair<std::size_t, std::size_t>, std::vector<void*>> free;  // (bytes, alignment)
  std::size_t cachedBytes = 0;
  std::size_t limit = 0;

  BlockCache() {
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
    const std::size_t physical = pages > 0 && pageSize > 0
                                     ? std::size_t(pages) * std::size_t(pageSize)
                                     : std::size_t{8} << 30;
    limit = std::min<std::size_t>(std::size_t{2} << 30, physical / 8);
#if defined(__SANITIZE_ADDRESS__)
    limit = 0;  // every block goes back, so the sanitizer still sees use after free
#endif
  }
  ~BlockCache() {
    releaseAll();
  }

  void* take(std::size_t bytes, std::size_t alignment) {
    std::lock_guard lock(mutex);
    auto it = free.find({bytes, alignment});
    if (it == free.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cachedBytes -= bytes;
    return p;
  }
  bool keep(void* p, std::size_t bytes, std::size_t alignment) {
    std::lock_guard lock(mutex);
    if (cachedBytes + bytes > limit) return false;
    free[{bytes, alignment}].push_back(p);
    cachedBytes += bytes;
    return true;
  }
  void releaseAll() {
    std::lock_guard lock(mutex);
    for (auto& [key, blocks] : free)
      for (void* p : blocks) std::free(p);
    free.clear();
    cachedBytes = 0;
  }
};

BlockCache& cache() {
  static BlockCache* instance = new BlockCache();  // outlives static destructors that free
  return *instance;
}

std::size_t roundUp(std::size_t bytes, std::size_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
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
  MemoryStats stats{g_current.load(), g_peak.load(), g_count.load()};
  std::lock_guard lock(cache().mutex);
  stats.cachedBytes = static_cast<std::int64_t>(cache().cachedBytes);
  return stats;
}

void releaseCachedMemory() {
  cache().releaseAll();
}

void resetPeakMemory() {
  g_peak.store(g_current.load());
}

void* trackedAlloc(std::size_t bytes, std::size_t alignment) noexcept {
  if (bytes == 0) bytes = 1;
  const std::size_t rounded = roundUp(bytes, alignment);
  void* p = rounded >= kCacheMinBytes ? cache().take(rounded, alignment) : nullptr;
  if (!p) p = std::aligned_alloc(alignment, rounded);
  if (!p) {
    // Cached blocks of other sizes may be what stands in the way.
    cache().releaseAll();
    p = std::aligned_alloc(alignment, rounded);
  }
  if (!p) return nullptr;
  const std::int64_t now = g_current.fetch_add(static_cast<std::int64_t>(bytes)) + bytes;
  g_count.fetch_add(1);
  raisePeak(now);
  return p;
}

void trackedFree(void* pointer, std::size_t bytes, std::size_t alignment) noexcept {
  if (!pointer) return;
  if (bytes == 0) bytes = 1;
  const std::size_t rounded = roundUp(bytes, alignment);
  if (rounded < kCacheMinBytes || !cache().keep(pointer, rounded, alignment)) std::free(pointer);
  g_current.fetch_sub(static_cast<std::int64_t>(bytes));
  g_count.fetch_sub(1);
}

std::int64_t residentBytes() {
  return procStatusKb("VmRSS:");
}
std::int64_t peakResidentBytes() {
  return procStatusKb("VmHWM:");
}

}  // namespace tessera
