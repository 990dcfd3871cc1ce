// Most-recently-opened paths, newest first, without duplicates. The widgets
// persist the list (QSettings); the rules live here. Toolkit-free.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tessera::ui {

class RecentFiles {
 public:
  explicit RecentFiles(std::size_t capacity = 10) : capacity_(capacity) {}
  // Moves `path` to the front, dropping the oldest beyond capacity.
  void add(const std::string& path);
  void remove(const std::string& path);
  void setPaths(std::vector<std::string> paths);
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  std::size_t capacity_;
  std::vector<std::string> paths_;
};

}  // namespace tessera::ui
