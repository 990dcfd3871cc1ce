// The output folder of `tessera batch`: the lock that keeps a second batch
// out of it, the hidden staging folder each case is written into, the move
// of a finished case into OUT_DIR/<case> and its manifest entry. Together
// they guarantee that a failed, cancelled or killed case leaves no files
// under OUT_DIR/<case> and that the manifest names only complete cases.
#pragma once

#include <string>

#include "core/status.h"
#include "models/pipeline/batch_discovery.h"
#include "models/pipeline/manifest.h"

namespace tessera::models {

// The subfolder names of OUT_DIR that a batch uses for staging (so that
// other tools can ignore them).
inline constexpr const char* kStagingPrefix = ".tessera-partial-";
// An earlier OUT_DIR/<case> set aside while a redone case moves into place.
inline constexpr const char* kSetAsidePrefix = ".tessera-old-";
// The lock file in OUT_DIR (kept after the run; the lock is on the open file).
inline constexpr const char* kLockFile = ".tessera-batch.lock";

// Holds an exclusive lock on OUT_DIR for the run (released by the kernel
// even when the process is killed).
class DirectoryLock {
 public:
  DirectoryLock() = default;
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  // kUnsupported when another batch holds the lock, kIoError when the lock
  // file cannot be created.
  Status acquire(const std::string& directory);

 private:
  int fd_ = -1;
};

// Removes what a killed run may have left in OUT_DIR: staging folders,
// folders set aside and temporaries of the summary and manifest writers.
void removeLeftovers(const std::string& outputDir);

// One case's outputs on their way into OUT_DIR/<case>: written into
// OUT_DIR/.tessera-partial-<case>, then moved into place as a whole. The
// staging folder is removed on destruction unless it was placed.
class CaseStaging {
 public:
  CaseStaging(const std::string& outputDir, const std::string& caseName);
  ~CaseStaging();
  CaseStaging(const CaseStaging&) = delete;
  CaseStaging& operator=(const CaseStaging&) = delete;

  // Creates the staging folder, empty (a leftover of the same name is removed).
  Status create();
  const std::string& path() const { return staging_; }
  const std::string& finalPath() const { return final_; }
  // Renames the staging folder to finalPath() and flushes OUT_DIR (fsync).
  // Call only once every file in it was written and verified. An earlier
  // folder there (a case redone) is set aside first and removed once the new
  // one is in place.
  Status place();

 private:
  std::string staging_, final_, setAside_;
  bool placed_ = false;
};

// The manifest's name for a case's input: its relative path, plus "#" and
// the series UID for a DICOM series.
std::string manifestInput(const BatchCase& c);

// Appends the entry of a case whose outputs are in `caseDir`; when that
// fails, removes `caseDir`, so that a case the manifest does not name leaves
// no outputs.
Status recordCase(Manifest& manifest, const ManifestEntry& entry, const std::string& caseDir);

}  // namespace tessera::models
