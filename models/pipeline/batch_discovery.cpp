#include "models/pipeline/batch_discovery.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "models/pipeline/manifest.h"

namespace tessera::models {

namespace fs = std::filesystem;

namespace {

constexpr const char* kVolumeExtensions[] = {".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"};

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Length of the volume extension `name` ends with, 0 when none.
std::size_t volumeExtensionLength(const std::string& name) {
  const std::string lower = lowercase(name);
  for (const char* ext : kVolumeExtensions) {
    const std::string e = ext;
    if (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0)
      return e.size();
  }
  return 0;
}

std::string sanitizeName(const std::string& relative) {
  std::string out;
  for (char c : relative) {
    if (c == '/')
      out += "__";
    else if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')
      out += c;
    else
      out += '_';
  }
  return out;
}

bool matchesAny(const std::vector<std::string>& patterns, const std::string& relative) {
  const std::string base = fs::path(relative).filename().string();
  for (const std::string& p : patterns)
    if (::fnmatch(p.c_str(), relative.c_str(), 0) == 0 ||
        ::fnmatch(p.c_str(), base.c_str(), 0) == 0)
      return true;
  return false;
}

bool selected(const DiscoveryOptions& o, const std::string& relative) {
  if (!o.include.empty() && !matchesAny(o.include, relative)) return false;
  return !matchesAny(o.exclude, relative);
}

bool isInside(const fs::path& path, const fs::path& directory) {
  if (directory.empty()) return false;
  const fs::path p = path.lexically_normal(), d = directory.lexically_normal();
  auto [dEnd, pIt] = std::mismatch(d.begin(), d.end(), p.begin(), p.end());
  return dEnd == d.end() || (std::next(dEnd) == d.end() && dEnd->empty());
}

fs::path absoluteNormal(const std::string& path) {
  std::error_code error;
  fs::path p = fs::weakly_canonical(fs::absolute(path), error);
  return error ? fs::absolute(path).lexically_normal() : p;
}

fs::path commonParent(const std::vector<std::string>& files) {
  fs::path common = fs::path(files.front()).parent_path();
  for (const std::string& f : files) {
    const fs::path parent = fs::path(f).parent_path();
    while (!isInside(parent, common)) common = common.parent_path();
  }
  return common;
}

bool reservedName(const std::string& name) {
  return name == kSummaryCsvFile || name == kSummaryJsonFile || name == kManifestFile ||
         name.empty() || name[0] == '.';
}
}  // namespace

Result<Discovery> discoverCases(const std::string& inputDir, const DiscoveryOptions& options) {
  std::error_code error;
  if (!fs::is_directory(inputDir, error))
    return Error{StatusCode::kNotFound, "the input folder does not exist or is not a folder",
                 inputDir};
  const fs::path root = absoluteNormal(inputDir);
  const fs::path skip =
      options.skipDirectory.empty() ? fs::path() : absoluteNormal(options.skipDirectory);
  Discovery found;
  std::int64_t otherFiles = 0;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, error);
  if (error)
    return Error{StatusCode::kIoError, "cannot list the input folder: " + error.message(),
                 inputDir};
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    const bool directory = it->is_directory(error);
    if ((!name.empty() && name[0] == '.') || (directory && isInside(path, skip))) {
      if (directory) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(error)) continue;
    const std::size_t extension = volumeExtensionLength(name);
    if (extension == 0) {
      ++otherFiles;
      continue;
    }
    const std::string relative = path.lexically_relative(root).generic_string();
    if (!selected(options, relative)) continue;
    BatchCase c;
    c.relativePath = relative;
    c.name = sanitizeName(relative.substr(0, relative.size() - extension));
    c.input = path.string();
    // NRRD/MetaImage headers may keep their voxels in a separate file, which
    // is then part of the input's identity. A header whose data file is
    // refused keeps just itself: reading the case reports why.
    auto sources = imaging::volumeSourceFiles(path.string());
    c.files = sources.ok() ? std::move(*sources) : std::vector<std::string>{path.string()};
    found.cases.push_back(std::move(c));
  }
  if (error)
    return Error{StatusCode::kIoError, "cannot list the input folder: " + error.message(),
                 inputDir};

  if (otherFiles > 0) {
    // Any other file may be DICOM: one scan of the tree groups them by series.
    auto listing = imaging::listDicomSeries(root.string());
    if (!listing.ok() && listing.error().code != StatusCode::kNotFound) return listing.error();
    if (listing.ok()) {
      found.unreadableFiles = listing->unreadableFiles;
      std::map<std::string, int> seriesPerFolder;
      std::vector<BatchCase> series;
      for (const imaging::DicomSeriesInfo& s : listing->series) {
        std::vector<std::string> files;
        for (const std::string& f : s.files)
          if (!isInside(f, skip)) files.push_back(f);
        if (files.empty()) continue;
        std::sort(files.begin(), files.end());
        const fs::path folder = commonParent(files);
        std::string relative = folder.lexically_relative(root).generic_string();
        if (relative.empty()) relative = ".";
        if (!selected(options, relative)) continue;
        BatchCase c;
        c.relativePath = relative;
        c.input = folder.string();
        c.seriesUid = s.seriesUid;
        c.files = std::move(files);
        ++seriesPerFolder[relative];
        series.push_back(std::move(c));
      }
      for (BatchCase& c : series) {
        c.name = c.relativePath == "." ? "dicom" : sanitizeName(c.relativePath);
        if (seriesPerFolder[c.relativePath] > 1) c.name += "__" + sanitizeName(c.seriesUid);
        found.cases.push_back(std::move(c));
      }
    }
  }

  std::map<std::string, int> uses;
  for (const BatchCase& c : found.cases) ++uses[c.name];
  for (BatchCase& c : found.cases)
    if (uses[c.name] > 1 || reservedName(c.name))
      c.name += "-" + hashHex(hash64(c.relativePath + "\n" + c.seriesUid)).substr(0, 8);
  std::sort(found.cases.begin(), found.cases.end(),
            [](const BatchCase& a, const BatchCase& b) { return a.name < b.name; });
  return found;
}

std::vector<BatchCase> selectShard(const std::vector<BatchCase>& cases, ShardSpec shard) {
  std::vector<BatchCase> out;
  for (std::size_t k = 0; k < cases.size(); ++k)
    if (static_cast<int>(k % static_cast<std::size_t>(shard.count)) == shard.index)
      out.push_back(cases[k]);
  return out;
}

std::string cohortFingerprint(const std::vector<BatchCase>& cases) {
  Hash64 hash;
  for (const BatchCase& c : cases) {
    const std::string line = c.name + '\0' + c.relativePath + '\0' + c.seriesUid + '\n';
    hash.update(line.data(), line.size());
  }
  return hashHex(hash.digest());
}

bool isInsideDirectory(const std::string& path, const std::string& directory) {
  return isInside(path, directory);
}

std::string absoluteNormalPath(const std::string& path) {
  return absoluteNormal(path).string();
}

}  // namespace tessera::models
