#include "core/memory_budget.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/memory.h"

namespace tessera {

std::int64_t availableMemoryBytes() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return -1;
  char line[256];
  std::int64_t result = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "MemAvailable:", 13) != 0) continue;
    const char* p = line + 13;
    while (*p == ' ' || *p == '\t') ++p;
    std::int64_t kb = 0;
    const auto [end, ec] = std::from_chars(p, line + std::strlen(line), kb);
    if (ec == std::errc() && kb > 0 && kb < std::numeric_limits<std::int64_t>::max() / 1024)
      result = kb * 1024;
    break;
  }
  std::fclose(f);
  return result;
}

std::int64_t defaultMemoryLimitBytes() {
  static const std::int64_t limit = [] {
    std::int64_t available = availableMemoryBytes();
    if (available <= 0) {
      const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
      available = pages > 0 && pageSize > 0 ? std::int64_t{pages} * pageSize : kMaxBudgetBytes;
    }
    return std::min(kMaxBudgetBytes, static_cast<std::int64_t>(static_cast<double>(available) *
                                                               kDefaultBudgetFraction));
  }();
  return limit;
}

MemoryReservation::MemoryReservation(MemoryReservation&& other) noexcept
    : budget_(other.budget_), bytes_(other.bytes_) {
  other.budget_ = nullptr;
  other.bytes_ = 0;
}

MemoryReservation& MemoryReservation::operator=(MemoryReservation&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.budget_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

MemoryReservation::~MemoryReservation() {
  release();
}

void MemoryReservation::release() {
  if (budget_) budget_->give(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

MemoryBudget::MemoryBudget(std::int64_t limitBytes)
    : limit_(limitBytes > 0 ? limitBytes : defaultMemoryLimitBytes()) {}

std::int64_t MemoryBudget::limitBytes() const {
  return limit_.load();
}

void MemoryBudget::setLimitBytes(std::int64_t limitBytes) {
  limit_ = limitBytes > 0 ? limitBytes : defaultMemoryLimitBytes();
}

std::int64_t MemoryBudget::reservedBytes() const {
  return reserved_.load();
}

std::int64_t MemoryBudget::usedBytes() const {
  return reserved_.load() + (countTracked_ ? memoryStats().currentBytes : 0);
}

std::int64_t MemoryBudget::remainingBytes() const {
  return std::max<std::int64_t>(0, limit_.load() - usedBytes());
}

Status MemoryBudget::check(std::int64_t bytes, const std::string& what) const {
  const std::int64_t limit = limit_.load(), used = usedBytes();
  if (bytes >= 0 && bytes <= limit - used) return Status();
  const std::string needs = bytes < 0 ? "more bytes than can be counted" : formatMiB(bytes);
  return Status(StatusCode::kResourceExhausted,
                what + " needs " + needs + ", more than the memory limit allows (" +
                    formatMiB(limit) + ", " + formatMiB(used) + " in use)");
}

Result<MemoryReservation> MemoryBudget::reserve(std::int64_t bytes, const std::string& what) {
  TESSERA_RETURN_IF_ERROR(check(bytes, what));
  reserved_ += bytes;
  return MemoryReservation(this, bytes);
}

void MemoryBudget::give(std::int64_t bytes) {
  reserved_ -= bytes;
}

MemoryBudget& jobMemoryBudget() {
  static MemoryBudget budget;
  return budget;
}

void setJobMemoryLimit(std::int64_t bytes) {
  jobMemoryBudget().setLimitBytes(bytes);
}

std::int64_t checkedBytes(std::initializer_list<std::int64_t> factors) {
  std::int64_t product = 1;
  for (const std::int64_t f : factors) {
    if (f < 0) return -1;
    if (f != 0 && product > std::numeric_limits<std::int64_t>::max() / f) return -1;
    product *= f;
  }
  return product;
}

std::string formatMiB(std::int64_t bytes) {
  // One decimal, computed in integers so that no locale can change the point.
  if (bytes < 0 || bytes > (std::numeric_limits<std::int64_t>::max() >> 4))
    return std::to_string(bytes >> 20) + " MiB";
  const std::int64_t tenths = (bytes * 10 + (std::int64_t{1} << 19)) >> 20;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " MiB";
}

}  // namespace tessera
