#include "ui/model/recovery.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "core/files.h"
#include "core/json.h"
#include "imaging/io/volume_io.h"

namespace tessera::ui {

namespace fs = std::filesystem;

namespace {

std::string nonEmptyEnv(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : std::string();
}

bool processRuns(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string utcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

std::string recoveryDirectory() {
  if (std::string dir = nonEmptyEnv("TESSERA_RECOVERY_DIR"); !dir.empty()) return dir;
  if (std::string state = nonEmptyEnv("XDG_STATE_HOME"); !state.empty())
    return state + "/tessera/recovery";
  if (std::string home = nonEmptyEnv("HOME"); !home.empty())
    return home + "/.local/state/tessera/recovery";
  return {};
}

RecoveryStore::RecoveryStore(std::string directory, long pid)
    : directory_(std::move(directory)), pid_(pid) {}

std::string RecoveryStore::labelsFile() const {
  return directory_ + "/" + std::to_string(pid_) + ".labels.nii.gz";
}

std::string RecoveryStore::manifestFile() const {
  return directory_ + "/" + std::to_string(pid_) + ".json";
}

Status RecoveryStore::save(const LabelMap& labels, const std::string& ctPath,
                           const std::string& seriesUid, const std::string& labelsPath) const {
  if (!enabled())
    return Status(StatusCode::kInvalidArgument, "No recovery folder is set (HOME is not set).");
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec)
    return Status(StatusCode::kIoError, "Cannot create the recovery folder: " + ec.message(),
                  directory_);
  TESSERA_RETURN_IF_ERROR(imaging::writeLabelMap(labels, labelsFile()));
  JsonWriter json;
  json.beginObject();
  json.field("format", "tessera-recovery-1");
  json.field("pid", static_cast<std::int64_t>(pid_));
  json.field("ct", ctPath);
  json.field("series", seriesUid);
  json.field("labels", fs::path(labelsFile()).filename().string());
  json.field("savedLabels", labelsPath);
  json.field("savedAt", utcNow());
  json.endObject();
  return writeTextFileAtomic(manifestFile(), json.str() + "\n");
}

void RecoveryStore::remove() const {
  if (!enabled()) return;
  std::error_code ec;
  fs::remove(manifestFile(), ec);
  fs::remove(labelsFile(), ec);
}

std::vector<RecoveryEntry> RecoveryStore::orphans() const {
  std::vector<RecoveryEntry> found;
  std::error_code ec;
  if (!enabled() || !fs::is_directory(directory_, ec)) return found;
  for (const auto& item : fs::directory_iterator(directory_, ec)) {
    if (item.path().extension() != ".json") continue;
    auto text = readTextFile(item.path().string());
    if (!text.ok()) continue;
    auto json = parseJson(*text);
    if (!json.ok() || !json->isObject() || json->getString("format") != "tessera-recovery-1")
      continue;
    RecoveryEntry entry;
    entry.manifestPath = item.path().string();
    entry.pid = static_cast<long>(json->getNumber("pid", 0));
    if (entry.pid == pid_ || processRuns(entry.pid)) continue;
    const std::string labels = json->getString("labels");
    if (labels.empty() || labels.find('/') != std::string::npos) continue;
    entry.labelsFile = directory_ + "/" + labels;
    entry.ctPath = json->getString("ct");
    entry.seriesUid = json->getString("series");
    entry.labelsPath = json->getString("savedLabels");
    entry.savedAt = json->getString("savedAt");
    if (entry.ctPath.empty() || !fileExists(entry.labelsFile)) continue;
    found.push_back(std::move(entry));
  }
  std::sort(found.begin(), found.end(),
            [](const RecoveryEntry& a, const RecoveryEntry& b) { return a.savedAt > b.savedAt; });
  return found;
}

void RecoveryStore::discard(const RecoveryEntry& entry) {
  std::error_code ec;
  fs::remove(entry.manifestPath, ec);
  fs::remove(entry.labelsFile, ec);
}

}  // namespace tessera::ui
