#include "models/pipeline/batch_outputs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "core/files.h"

namespace tessera::models {

namespace fs = std::filesystem;

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status DirectoryLock::acquire(const std::string& directory) {
  const std::string path = (fs::path(directory) / kLockFile).string();
  fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd_ < 0)
    return Status(StatusCode::kIoError, "cannot create a lock file in the output folder", path);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
    return Status(StatusCode::kUnsupported,
                  "another tessera batch is writing into this output folder", directory);
  return Status();
}

void removeLeftovers(const std::string& outputDir) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(outputDir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kStagingPrefix) || name.starts_with(kSetAsidePrefix) ||
        name.starts_with(".summary.tmp-") || name.starts_with(".manifest.tmp-")) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
}

CaseStaging::CaseStaging(const std::string& outputDir, const std::string& caseName)
    : staging_((fs::path(outputDir) / (std::string(kStagingPrefix) + caseName)).string()),
      final_((fs::path(outputDir) / caseName).string()),
      setAside_((fs::path(outputDir) / (std::string(kSetAsidePrefix) + caseName)).string()) {}

CaseStaging::~CaseStaging() {
  std::error_code ignored;
  if (!placed_) fs::remove_all(staging_, ignored);
}

Status CaseStaging::create() {
  std::error_code error;
  fs::remove_all(staging_, error);
  if (!fs::create_directory(staging_, error))
    return Status(StatusCode::kIoError, "cannot create a staging folder: " + error.message(),
                  staging_);
  return Status();
}

Status CaseStaging::place() {
  // Every file in the staging folder was verified and flushed by its writer;
  // the folder's own entries are flushed here, the rename in OUT_DIR below.
  TESSERA_RETURN_IF_ERROR(syncPath(staging_));
  std::error_code error;
  fs::remove_all(setAside_, error);
  if (fs::exists(final_, error)) {
    fs::rename(final_, setAside_, error);
    if (error)
      return Status(StatusCode::kIoError, "cannot replace the earlier outputs: " + error.message(),
                    final_);
  }
  fs::rename(staging_, final_, error);
  if (error)
    return Status(StatusCode::kIoError, "cannot move the outputs into place: " + error.message(),
                  final_);
  placed_ = true;
  fs::remove_all(setAside_, error);
  const fs::path outputDir = fs::path(final_).parent_path();
  return syncPath(outputDir.empty() ? "." : outputDir.string());
}

std::string manifestInput(const BatchCase& c) {
  return c.relativePath + (c.seriesUid.empty() ? "" : "#" + c.seriesUid);
}

Status recordCase(Manifest& manifest, const ManifestEntry& entry, const std::string& caseDir) {
  Status recorded = manifest.append(entry);
  if (!recorded.ok()) {
    std::error_code ignored;
    fs::remove_all(caseDir, ignored);
  }
  return recorded;
}

}  // namespace tessera::models
