// Output files are never left half-written: writers fill a temporary
// sibling (same directory, same extension so format detection still works)
// and rename it over the final name only once complete.
#pragma once

#include <string>

#include "core/status.h"

namespace tessera {

// A temporary path beside `finalPath`, keeping its extension(s) such as
// ".nii.gz". Removes the temporary file on destruction unless committed.
class AtomicFile {
 public:
  explicit AtomicFile(std::string finalPath);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& tempPath() const { return tempPath_; }
  const std::string& finalPath() const { return finalPath_; }
  // Renames the temporary file onto the final path (atomic on one filesystem).
  Status commit();

 private:
  std::string finalPath_;
  std::string tempPath_;
  bool committed_ = false;
};

// Fails with a clear message when the directory that would hold `path` does
// not exist, is not a directory or is not writable. Call before long work.
Status checkOutputPath(const std::string& path);

Status writeTextFileAtomic(const std::string& path, const std::string& content);
Result<std::string> readTextFile(const std::string& path);

// ".nii.gz" for "a/b.nii.gz", ".nrrd" for "x.nrrd", "" without extension.
std::string fullExtension(const std::string& path);
bool fileExists(const std::string& path);
bool isDirectory(const std::string& path);

}  // namespace tessera
