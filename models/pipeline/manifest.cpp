#include "models/pipeline/manifest.h"

#include <sys/stat.h>

// The state's layout, so that Hash64 can hold it without an allocation.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>

#include "core/files.h"
#include "core/json.h"

namespace tessera::models {

namespace fs = std::filesystem;

namespace {
XXH64_state_t* xxhState(unsigned char* storage) {
  return std::launder(reinterpret_cast<XXH64_state_t*>(storage));
}
const XXH64_state_t* xxhState(const unsigned char* storage) {
  return std::launder(reinterpret_cast<const XXH64_state_t*>(storage));
}
}  // namespace

Hash64::Hash64() {
  static_assert(sizeof(XXH64_state_t) <= sizeof state_ && alignof(XXH64_state_t) <= 8);
  XXH64_reset(::new (state_) XXH64_state_t, 0);
}

void Hash64::update(const void* data, std::size_t bytes) {
  // Always XXH_OK (a null pointer is accepted for 0 bytes).
  XXH64_update(xxhState(state_), data, bytes);
}

std::uint64_t Hash64::digest() const {
  return XXH64_digest(xxhState(state_));
}

std::uint64_t hash64(std::string_view bytes) {
  Hash64 h;
  h.update(bytes.data(), bytes.size());
  return h.digest();
}

std::string hashHex(std::uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

namespace {
Status hashInto(const std::string& path, Hash64* hash) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return Status(StatusCode::kIoError, std::strerror(errno), path);
  std::vector<unsigned char> chunk(1 << 20);
  std::size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), file)) > 0) hash->update(chunk.data(), n);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return Status(StatusCode::kIoError, "read error", path);
  return Status();
}
}  // namespace

Result<std::uint64_t> hashFile(const std::string& path) {
  Hash64 hash;
  TESSERA_RETURN_IF_ERROR(hashInto(path, &hash));
  return hash.digest();
}

Result<InputIdentity> stampInput(const std::vector<std::string>& files) {
  InputIdentity identity;
  for (const std::string& file : files) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0)
      return Error{StatusCode::kIoError, std::strerror(errno), file};
    identity.size += info.st_size;
    const std::int64_t ns =
        static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
    identity.mtimeNs = std::max(identity.mtimeNs, ns);
    ++identity.files;
  }
  return identity;
}

Status hashInput(const std::string& root, const std::vector<std::string>& files,
                 InputIdentity* identity) {
  std::vector<std::string> sorted = files;
  std::sort(sorted.begin(), sorted.end());
  Hash64 hash;
  for (const std::string& file : sorted) {
    if (sorted.size() > 1) {
      // Names matter for a series (a file renamed is another slice order on
      // disk); the NUL keeps "ab"+"c" apart from "a"+"bc".
      const std::string name = fs::path(file).lexically_relative(root).generic_string();
      hash.update(name.data(), name.size() + 1);
    }
    TESSERA_RETURN_IF_ERROR(hashInto(file, &hash));
  }
  identity->hash = hashHex(hash.digest());
  return Status();
}

Result<std::vector<OutputRecord>> recordOutputs(const std::string& caseDir,
                                                const std::vector<std::string>& files) {
  std::vector<OutputRecord> records;
  for (const std::string& file : files) {
    const std::string path = (fs::path(caseDir) / file).string();
    std::error_code error;
    const auto size = fs::file_size(path, error);
    if (error) return Error{StatusCode::kIoError, error.message(), path};
    TESSERA_ASSIGN_OR_RETURN(std::uint64_t hash, hashFile(path));
    records.push_back({file, static_cast<std::int64_t>(size), hashHex(hash)});
  }
  return records;
}

std::string manifestLine(const ManifestEntry& e) {
  JsonWriter w(false);
  w.beginObject();
  w.field("case", e.caseName).field("input", e.input);
  w.key("input_identity").beginObject();
  w.field("size", e.inputIdentity.size);
  // Nanosecond times exceed the 2^53 a JSON number holds exactly.
  w.field("mtime_ns", std::to_string(e.inputIdentity.mtimeNs));
  w.field("files", e.inputIdentity.files).field("xxh64", e.inputIdentity.hash);
  w.endObject();
  w.field("model_xxh64", e.modelHash).field("options", e.options);
  w.key("outputs").beginArray();
  for (const OutputRecord& o : e.outputs) {
    w.beginObject().field("file", o.file).field("size", o.size).field("xxh64", o.hash);
    w.endObject();
  }
  w.endArray();
  if (!e.failure.empty()) w.field("failed", e.failure);
  w.endObject();
  return w.str();
}

Result<ManifestEntry> parseManifestLine(std::string_view line) {
  TESSERA_ASSIGN_OR_RETURN(JsonValue json, parseJson(line));
  const JsonValue* identity = json.find("input_identity");
  const JsonValue* outputs = json.find("outputs");
  if (!json.isObject() || !identity || !outputs || !outputs->isArray() ||
      json.getString("case").empty())
    return Error{StatusCode::kCorruptData, "not a manifest entry"};
  ManifestEntry e;
  e.caseName = json.getString("case");
  e.input = json.getString("input");
  e.inputIdentity.size = static_cast<std::int64_t>(identity->getNumber("size", -1));
  e.inputIdentity.files = static_cast<std::int64_t>(identity->getNumber("files", -1));
  e.inputIdentity.hash = identity->getString("xxh64");
  const std::string mtime = identity->getString("mtime_ns");
  const auto parsed =
      std::from_chars(mtime.data(), mtime.data() + mtime.size(), e.inputIdentity.mtimeNs);
  if (parsed.ec != std::errc() || parsed.ptr != mtime.data() + mtime.size())
    return Error{StatusCode::kCorruptData, "bad modification time in a manifest entry"};
  e.modelHash = json.getString("model_xxh64");
  e.options = json.getString("options");
  for (const JsonValue& o : outputs->items()) {
    OutputRecord r{o.getString("file"), static_cast<std::int64_t>(o.getNumber("size", -1)),
                   o.getString("xxh64")};
    if (r.file.empty() || r.hash.empty())
      return Error{StatusCode::kCorruptData, "bad output record in a manifest entry"};
    e.outputs.push_back(std::move(r));
  }
  e.failure = json.getString("failed");
  return e;
}

bool sameStamp(const InputIdentity& a, const InputIdentity& b) {
  return a.size == b.size && a.mtimeNs == b.mtimeNs && a.files == b.files;
}

std::string changedReason(const ManifestEntry& recorded, const ManifestEntry& wanted) {
  if (recorded.input != wanted.input) return "the input path changed";
  const InputIdentity& r = recorded.inputIdentity;
  const InputIdentity& w = wanted.inputIdentity;
  if (!sameStamp(r, w)) {
    if (w.hash.empty() || r.size != w.size || r.files != w.files || r.hash != w.hash)
      return "the input changed";
  }
  if (recorded.modelHash != wanted.modelHash) return "the model changed";
  if (recorded.options != wanted.options)
    return "options changed (" + recorded.options + " -> " + wanted.options + ")";
  return {};
}

std::string staleReason(const ManifestEntry& recorded, const ManifestEntry& wanted,
                        const std::string& caseDir) {
  if (std::string changed = changedReason(recorded, wanted); !changed.empty()) return changed;
  if (!recorded.failure.empty()) return "it failed: " + recorded.failure;
  if (recorded.outputs.empty()) return "no outputs recorded";
  for (const OutputRecord& o : recorded.outputs) {
    const std::string path = (fs::path(caseDir) / o.file).string();
    std::error_code error;
    const auto size = fs::file_size(path, error);
    if (error) return "output " + o.file + " is missing";
    if (static_cast<std::int64_t>(size) != o.size) return "output " + o.file + " changed size";
    auto hash = hashFile(path);
    if (!hash.ok()) return "output " + o.file + " cannot be read";
    if (hashHex(*hash) != o.hash) return "output " + o.file + " changed";
  }
  return {};
}

Result<Manifest> Manifest::open(const std::string& path, bool resume) {
  Manifest m;
  m.path_ = path;
  if (resume && fileExists(path)) {
    TESSERA_ASSIGN_OR_RETURN(std::string text, readTextFile(path));
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string_view line(text.data() + start, end - start);
      start = end + 1;
      if (line.empty()) continue;
      auto entry = parseManifestLine(line);
      if (!entry.ok()) {
        ++m.skippedLines_;
        continue;
      }
      std::string name = entry->caseName;
      m.entries_.insert_or_assign(std::move(name), std::move(*entry));
    }
  }
  std::string compacted;
  for (const auto& [name, entry] : m.entries_) compacted += manifestLine(entry) + "\n";
  TESSERA_RETURN_IF_ERROR(writeTextFileAtomic(path, compacted));
  return m;
}

const ManifestEntry* Manifest::find(const std::string& caseName) const {
  auto it = entries_.find(caseName);
  return it == entries_.end() ? nullptr : &it->second;
}

Status Manifest::append(const ManifestEntry& entry) {
  // A failed append leaves the manifest as it was (appendToFile truncates
  // a partial line away), so the case is simply not recorded.
  if (Status s = appendToFile(path_, manifestLine(entry) + "\n"); !s.ok())
    return Status(StatusCode::kIoError,
                  "cannot record the case in the manifest: " + s.error().message, path_);
  entries_.insert_or_assign(entry.caseName, entry);
  return Status();
}

}  // namespace tessera::models
