#include "core/files.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tessera {
namespace fs = std::filesystem;

namespace {
std::atomic<unsigned> g_counter{0};

std::string parentOf(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// EINTR-safe write of all of `data`; returns 0 or the errno of the failure.
int writeAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}
}  // namespace

std::string fullExtension(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  const std::string lower = lowercase(name);
  for (const char* compound : {".nii.gz", ".tar.gz"}) {
    const std::size_t n = std::strlen(compound);
    if (lower.size() > n && lower.compare(lower.size() - n, n, compound) == 0)
      return name.substr(name.size() - n);
  }
  const std::size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return "";
  return name.substr(dot);
}

AtomicFile::AtomicFile(std::string finalPath) : finalPath_(std::move(finalPath)) {
  const fs::path final(finalPath_);
  const std::string extension = fullExtension(finalPath_);
  std::string stem = final.filename().string();
  stem = stem.substr(0, stem.size() - extension.size());
  const std::string name = "." + stem + ".tmp-" + std::to_string(::getpid()) + "-" +
                           std::to_string(g_counter.fetch_add(1)) + extension;
  tempPath_ = (final.parent_path() / name).string();
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ignored;
    fs::remove(tempPath_, ignored);
  }
}

std::string writeErrorMessage(int errnoValue) {
  switch (errnoValue) {
    case ENOSPC:
      return "the disk is full";
    case EFBIG:
      return "file size limit exceeded";
    case EDQUOT:
      return "the disk quota is exceeded";
    case EROFS:
      return "the file system is read-only";
    default:
      return std::strerror(errnoValue);
  }
}

Status incompleteWriteError(const std::string& path, const std::string& what,
                            const std::string& reported) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(path, error);
  struct rlimit limit {};
  if (!error && ::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      size >= limit.rlim_cur) {
    return Status(StatusCode::kIoError,
                  "cannot write the file: file size limit exceeded (" +
                      std::to_string(limit.rlim_cur) + " bytes)",
                  reported);
  }
  struct statvfs disk {};
  if (::statvfs(parentOf(path).c_str(), &disk) == 0 && disk.f_bavail == 0)
    return Status(StatusCode::kIoError, "cannot write the file: the disk is full", reported);
  return Status(StatusCode::kIoError, "cannot write the file: " + what, reported);
}

Status syncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status(StatusCode::kIoError,
                  std::string("cannot open to flush: ") + std::strerror(errno), path);
  int failure = 0;
  while (::fsync(fd) != 0) {
    if (errno == EINTR) continue;
    // Some file systems cannot fsync a directory; that is no lost data.
    if (errno != EINVAL) failure = errno;
    break;
  }
  ::close(fd);
  if (failure != 0)
    return Status(StatusCode::kIoError,
                  "cannot flush the file to the disk: " + writeErrorMessage(failure), path);
  return Status();
}

Status AtomicFile::commit(std::optional<std::uint64_t> expectedBytes) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(tempPath_, error);
  if (error)
    return Status(StatusCode::kIoError, "the file was not written: " + error.message(), finalPath_);
  if (expectedBytes && size != *expectedBytes) {
    return incompleteWriteError(tempPath_,
                                "only " + std::to_string(size) + " of " +
                                    std::to_string(*expectedBytes) + " bytes reached the disk",
                                finalPath_);
  }
  if (Status s = syncPath(tempPath_); !s.ok())
    return Status(StatusCode::kIoError, s.error().message, finalPath_);
  fs::rename(tempPath_, finalPath_, error);
  if (error)
    return Status(StatusCode::kIoError,
                  "cannot move the finished file into place: " + error.message(), finalPath_);
  committed_ = true;
  return syncPath(parentOf(finalPath_));
}

Status checkOutputPath(const std::string& path) {
  if (path.empty()) return Status(StatusCode::kInvalidArgument, "output path is empty");
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  std::error_code error;
  if (!fs::exists(parent, error))
    return Status(StatusCode::kNotFound, "the output directory does not exist", parent.string());
  if (!fs::is_directory(parent, error))
    return Status(StatusCode::kInvalidArgument, "the output's parent is not a directory",
                  parent.string());
  if (::access(parent.c_str(), W_OK) != 0)
    return Status(StatusCode::kIoError, "the output directory is not writable", parent.string());
  if (fs::is_directory(path, error))
    return Status(StatusCode::kInvalidArgument, "the output path is a directory", path);
  return Status();
}

Status writeTextFileAtomic(const std::string& path, const std::string& content) {
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  AtomicFile file(path);
  const int fd = ::open(file.tempPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status(StatusCode::kIoError, writeErrorMessage(errno), path);
  int failure = writeAll(fd, content.data(), content.size());
  if (::close(fd) != 0 && failure == 0) failure = errno;
  if (failure != 0)
    return Status(StatusCode::kIoError, "cannot write the file: " + writeErrorMessage(failure),
                  path);
  return file.commit(content.size());
}

Status appendToFile(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Status(StatusCode::kIoError, "cannot open: " + writeErrorMessage(errno), path);
  struct stat before {};
  int failure = ::fstat(fd, &before) != 0 ? errno : 0;
  if (failure == 0) failure = writeAll(fd, content.data(), content.size());
  if (failure == 0 && ::fsync(fd) != 0 && errno != EINVAL) failure = errno;
  if (failure != 0 && before.st_size >= 0 && ::ftruncate(fd, before.st_size) == 0) ::fsync(fd);
  if (::close(fd) != 0 && failure == 0) failure = errno;
  if (failure != 0)
    return Status(StatusCode::kIoError, "cannot append: " + writeErrorMessage(failure), path);
  return Status();
}

Result<std::string> readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!fileExists(path)) return Error{StatusCode::kNotFound, "no such file", path};
    return Error{StatusCode::kIoError, std::strerror(errno), path};
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool fileExists(const std::string& path) {
  std::error_code error;
  return fs::exists(path, error);
}

bool isDirectory(const std::string& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

}  // namespace tessera
