// The batch manifest: which cases of OUT_DIR are finished, and from what.
// OUT_DIR/manifest.jsonl holds one JSON object per line, appended only after
// all of a case's outputs are in place: the case name, the identity of its
// input (size, modification time, 64-bit content hash), of the model file,
// the options that change outputs, and every output file with its size and
// content hash. A later line for the same case supersedes earlier ones; a
// torn last line (the process killed while appending) is ignored, so the
// manifest stays valid whatever happens to the process.
//
// `tessera batch --resume` trusts a case when its entry matches: same input
// (size and modification time equal, or else the content hash equal, so a
// cohort copied to another disk is still recognised), same model hash, same
// options, and every output present with its recorded size and hash.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tessera::models {

// XXH64 (xxHash's 64-bit hash, seed 0; Debian's libxxhash), streaming: the
// content hash of inputs, model files and outputs. Fast enough (several
// GB/s) that hashing an input costs little next to reading it. Manifests
// store these values, so the function may never change.
class Hash64 {
 public:
  Hash64();
  void update(const void* data, std::size_t bytes);
  std::uint64_t digest() const;

 private:
  // libxxhash's XXH64_state_t (plain data, so copies are independent),
  // opaque here so that xxhash.h stays private to manifest.cpp.
  alignas(8) unsigned char state_[96];
};

std::uint64_t hash64(std::string_view bytes);
std::string hashHex(std::uint64_t hash);  // 16 lower-case hex digits
// Hash of a file's bytes (read in 1 MiB chunks).
Result<std::uint64_t> hashFile(const std::string& path);

// What a case was computed from. For a DICOM series: all its files, sizes
// summed, the latest modification time, and one hash over each file's name
// (relative to the input root) and bytes, in name order.
struct InputIdentity {
  std::int64_t size = 0;
  std::int64_t mtimeNs = 0;  // nanoseconds since the Unix epoch
  std::int64_t files = 0;
  std::string hash;  // empty until computed
};

// Size, modification time and file count (no content read).
Result<InputIdentity> stampInput(const std::vector<std::string>& files);
// Fills identity->hash from the files' bytes; `root` makes names relative.
Status hashInput(const std::string& root, const std::vector<std::string>& files,
                 InputIdentity* identity);

struct OutputRecord {
  std::string file;  // relative to the case's folder ("labels.nii.gz", "meshes/liver.stl")
  std::int64_t size = 0;
  std::string hash;
};

// Records the size and hash of each file below caseDir (names relative to it).
Result<std::vector<OutputRecord>> recordOutputs(const std::string& caseDir,
                                                const std::vector<std::string>& files);

struct ManifestEntry {
  std::string caseName;
  std::string input;  // relative path of the input (file, or the series' folder)
  InputIdentity inputIdentity;
  std::string modelHash;
  std::string options;  // canonical text of the options that change outputs
  std::vector<OutputRecord> outputs;
  // Not empty for a case whose worker process crashed, was killed or ran
  // past its memory or time limit: why (the line's "failed" member; such a
  // line has no outputs). Lines without it, as every line written before
  // process isolation, are finished cases.
  std::string failure;
};

std::string manifestLine(const ManifestEntry& entry);  // one line of JSON, no newline
Result<ManifestEntry> parseManifestLine(std::string_view line);

// Why a finished case must be computed again ("the input changed", "output
// labels.nii.gz is missing", ...), or empty when `recorded` still holds:
// `wanted` carries the current input identity (its hash may be empty when
// size and time match the record), model hash and options.
std::string staleReason(const ManifestEntry& recorded, const ManifestEntry& wanted,
                        const std::string& caseDir);
// Why a case recorded from `recorded` (finished or failed) no longer
// applies, looking at its input, model and options only (not its outputs);
// empty when they are unchanged. staleReason's first checks.
std::string changedReason(const ManifestEntry& recorded, const ManifestEntry& wanted);
// Whether the current input equals the recorded one without reading content:
// size, modification time and file count equal.
bool sameStamp(const InputIdentity& recorded, const InputIdentity& current);

inline constexpr const char* kManifestFile = "manifest.jsonl";

class Manifest {
 public:
  // resume: loads the entries of an existing manifest (unparsable lines are
  // skipped and counted) and rewrites it compacted, one line per case;
  // otherwise starts an empty manifest. Both replace the file atomically.
  static Result<Manifest> open(const std::string& path, bool resume);

  const ManifestEntry* find(const std::string& caseName) const;
  std::size_t size() const { return entries_.size(); }
  int skippedLines() const { return skippedLines_; }
  // Appends one line and flushes it to the file. Not thread-safe: one writer.
  Status append(const ManifestEntry& entry);

 private:
  std::string path_;
  std::map<std::string, ManifestEntry> entries_;
  int skippedLines_ = 0;
};

}  // namespace tessera::models
