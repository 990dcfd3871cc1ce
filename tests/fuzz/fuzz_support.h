// Shared by the harnesses: Tessera's readers take paths, so each input is
// written to a scratch file first (one per process and extension, in the
// temporary directory; rewritten for every input).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/memory_budget.h"
#include "core/parallel.h"

namespace tessera::fuzz {

// The harnesses run as `--memory-limit 1G` would: every buffer the job
// budget allows stays well under libFuzzer's -rss_limit_mb=2048, so an
// out-of-memory report means an allocation the budget did not see.
inline const bool kJobBudgetSet = (setJobMemoryLimit(std::int64_t{1} << 30), true);

// One thread: libFuzzer runs one input at a time, and campaigns run
// harnesses side by side on the same cores.
inline const bool kOneThread = (setNumThreads(1), true);

inline std::string scratchPath(const std::string& extension) {
  return (std::filesystem::temp_directory_path() /
          ("tessera-fuzz-" + std::to_string(::getpid()) + extension))
      .string();
}

// Replaces the file at `path` with `size` bytes of `data`.
inline void writeScratch(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();  // the harness cannot run without its scratch file
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
}

}  // namespace tessera::fuzz
