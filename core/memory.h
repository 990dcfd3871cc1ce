// Memory accounting. Every large buffer in Tessera (volumes, tensors,
// activations, gradients) is allocated through these functions so that the
// engine can report current and peak bytes without asking the OS. Counters
// are process-wide and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

namespace tessera {

struct MemoryStats {
  std::int64_t currentBytes = 0;
  std::int64_t peakBytes = 0;        // since start or the last resetPeakMemory()
  std::int64_t allocationCount = 0;  // live allocations
  std::int64_t cachedBytes = 0;      // freed blocks kept for reuse (not counted as current)
};

MemoryStats memoryStats();
// Sets peak to the current value, to measure the peak of one phase.
void resetPeakMemory();
// Returns the blocks kept for reuse to the system.
void releaseCachedMemory();

// 64-byte aligned (one cache line, one AVX-512 register), accounted.
// Returns nullptr on failure instead of throwing. Freed blocks of 256 KiB and
// more are kept (up to an eighth of physical memory, at most 2 GiB) and
// handed out again for the same size, so steady-state loops do not fault in
// fresh pages; the accounting counts only live blocks.
void* trackedAlloc(std::size_t bytes, std::size_t alignment = 64) noexcept;
// bytes and alignment as given to trackedAlloc.
void trackedFree(void* pointer, std::size_t bytes, std::size_t alignment = 64) noexcept;

// Standard allocator over trackedAlloc, for std::vector and friends.
// Throws std::bad_alloc like std::allocator so containers behave normally;
// module boundaries check sizes first and return typed errors.
template <class T>
struct TrackedAllocator {
  using value_type = T;
  TrackedAllocator() noexcept = default;
  template <class U>
  TrackedAllocator(const TrackedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_alloc();
    void* p = trackedAlloc(n * sizeof(T), alignof(T) > 64 ? alignof(T) : 64);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    trackedFree(p, n * sizeof(T), alignof(T) > 64 ? alignof(T) : 64);
  }
  template <class U>
  bool operator==(const TrackedAllocator<U>&) const noexcept {
    return true;
  }
};

// Resident set size of this process from /proc (bytes); -1 when unavailable.
// Complements the allocator's count with what the OS sees (libraries too).
std::int64_t residentBytes();
std::int64_t peakResidentBytes();

}  // namespace tessera
