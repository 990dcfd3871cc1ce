// The memory budget of a job. One process-wide budget bounds every large
// buffer a job allocates (volumes, label maps, decoded pixel data, inflated
// files, engine buffers, ONNX models): before allocating, a module checks
// (or reserves) the bytes it is about to take, and gets a typed error that
// names what did not fit and by how much instead of an allocation failure
// or the OOM killer. The bytes in use are the tracked allocator's live
// bytes (core/memory.h) plus explicit reservations for buffers that do not
// go through it (std::string, protobuf), so two or three buffers alive at
// once are counted together.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/status.h"

namespace tessera {

// MemAvailable from /proc/meminfo, in bytes; -1 when unavailable.
std::int64_t availableMemoryBytes();

// The default limit: kDefaultBudgetFraction of the memory available when
// first asked (physical memory when /proc/meminfo is unreadable), at most
// kMaxBudgetBytes.
inline constexpr double kDefaultBudgetFraction = 0.75;
inline constexpr std::int64_t kMaxBudgetBytes = std::int64_t{64} << 30;
std::int64_t defaultMemoryLimitBytes();

class MemoryBudget;

// Bytes held against a budget until destroyed (or release()d). Move-only.
class MemoryReservation {
 public:
  MemoryReservation() = default;
  MemoryReservation(MemoryReservation&& other) noexcept;
  MemoryReservation& operator=(MemoryReservation&& other) noexcept;
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;
  ~MemoryReservation();

  std::int64_t bytes() const { return bytes_; }
  void release();

 private:
  friend class MemoryBudget;
  MemoryReservation(MemoryBudget* budget, std::int64_t bytes) : budget_(budget), bytes_(bytes) {}
  MemoryBudget* budget_ = nullptr;
  std::int64_t bytes_ = 0;
};

// Thread-safe. limitBytes <= 0 means the default limit.
class MemoryBudget {
 public:
  explicit MemoryBudget(std::int64_t limitBytes = 0);

  std::int64_t limitBytes() const;
  void setLimitBytes(std::int64_t limitBytes);  // <= 0: the default
  std::int64_t reservedBytes() const;
  // Tracked live bytes plus reservations.
  std::int64_t usedBytes() const;
  // What check() would still accept (0 when over the limit).
  std::int64_t remainingBytes() const;

  // Ok when `bytes` more fit; otherwise kResourceExhausted
  // "<what> needs N MiB, more than the memory limit allows (L MiB, U MiB in
  // use)". Negative `bytes` (an overflowed size) never fits.
  Status check(std::int64_t bytes, const std::string& what) const;
  // check() and hold the bytes until the reservation goes.
  Result<MemoryReservation> reserve(std::int64_t bytes, const std::string& what);

  // Whether the tracked allocator's live bytes count as used (default true;
  // a budget for one isolated buffer can turn it off).
  void setCountTracked(bool countTracked) { countTracked_ = countTracked; }

 private:
  friend class MemoryReservation;
  void give(std::int64_t bytes);
  std::atomic<std::int64_t> limit_;
  std::atomic<std::int64_t> reserved_{0};
  std::atomic<bool> countTracked_{true};
};

// The budget of the process's job: set once from --memory-limit, used by
// the readers, the decompressors, the ONNX loader and the pipeline.
MemoryBudget& jobMemoryBudget();
void setJobMemoryLimit(std::int64_t bytes);  // <= 0: the default

// a * b * ... as bytes, -1 on overflow or a negative factor (never fits).
std::int64_t checkedBytes(std::initializer_list<std::int64_t> factors);

// "12.3 MiB" (C locale), for messages.
std::string formatMiB(std::int64_t bytes);

}  // namespace tessera
