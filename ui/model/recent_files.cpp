#include "ui/model/recent_files.h"

#include <algorithm>

namespace tessera::ui {

void RecentFiles::add(const std::string& path) {
  if (path.empty()) return;
  remove(path);
  paths_.insert(paths_.begin(), path);
  if (paths_.size() > capacity_) paths_.resize(capacity_);
}

void RecentFiles::remove(const std::string& path) {
  paths_.erase(std::remove(paths_.begin(), paths_.end(), path), paths_.end());
}

void RecentFiles::setPaths(std::vector<std::string> paths) {
  paths_.clear();
  for (auto it = paths.rbegin(); it != paths.rend(); ++it) add(*it);
}

}  // namespace tessera::ui
