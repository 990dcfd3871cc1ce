#include "core/files.h"

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

Status AtomicFile::commit() {
  std::error_code error;
  fs::rename(tempPath_, finalPath_, error);
  if (error)
    return Status(StatusCode::kIoError,
                  "cannot move the finished file into place: " + error.message(), finalPath_);
  committed_ = true;
  return Status();
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
  {
    std::ofstream out(file.tempPath(), std::ios::binary);
    if (!out) return Status(StatusCode::kIoError, std::strerror(errno), path);
    out << content;
    out.flush();
    if (!out) return Status(StatusCode::kIoError, "write failed (disk full?)", path);
  }
  return file.commit();
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
