// Output files are never left half-written: writers fill a temporary
// sibling (same directory, same extension so format detection still works)
// and rename it over the final name only once complete and verified. A write
// that fails (a full disk, the process's file size limit) is an error, never
// a success: the temporary is removed and the final name is left untouched.
#pragma once

#include <cstdint>
#include <optional>
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
  // Checks that the temporary file exists (and, when given, holds exactly
  // `expectedBytes`), flushes it to the disk (fsync), renames it onto the
  // final path (atomic on one filesystem) and flushes the directory so that
  // the rename survives a power cut. On failure the temporary is removed and
  // the final path is untouched.
  Status commit(std::optional<std::uint64_t> expectedBytes = std::nullopt);

 private:
  std::string finalPath_;
  std::string tempPath_;
  bool committed_ = false;
};

// Fails with a clear message when the directory that would hold `path` does
// not exist, is not a directory or is not writable. Call before long work.
Status checkOutputPath(const std::string& path);

// Writes `content` through an AtomicFile with write(2), so that ENOSPC and
// EFBIG are seen as they happen.
Status writeTextFileAtomic(const std::string& path, const std::string& content);

// Appends all of `content` to the existing file `path` and fsyncs it. A
// failed append (a full disk) truncates the file back to its former size,
// so the file is either as it was or has the whole of `content` added.
Status appendToFile(const std::string& path, const std::string& content);

// Why a write failed, in words a person understands: "the disk is full" for
// ENOSPC, "file size limit exceeded" for EFBIG, strerror otherwise.
std::string writeErrorMessage(int errnoValue);
// A kIoError for a file `path` found incomplete or unreadable after writing
// it (writers such as ITK's do not report failed writes). The message names
// the likely cause: the file size limit (RLIMIT_FSIZE) when the file reached
// it, a full disk when the file system has no space left, else `what`.
// `reported` is the path named in the error (the final name, not the
// temporary one).
Status incompleteWriteError(const std::string& path, const std::string& what,
                            const std::string& reported);
// fsync(2) of a file or a directory; kIoError with the reason on failure.
Status syncPath(const std::string& path);
Result<std::string> readTextFile(const std::string& path);

// ".nii.gz" for "a/b.nii.gz", ".nrrd" for "x.nrrd", "" without extension.
std::string fullExtension(const std::string& path);
bool fileExists(const std::string& path);
bool isDirectory(const std::string& path);

}  // namespace tessera
