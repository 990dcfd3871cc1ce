// Cohort discovery for `tessera batch`: the cases of an input folder (volume
// files and DICOM series), their stable names, the split into shards and
// the fingerprint that tells shards of one cohort from another's.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "models/pipeline/summary.h"

namespace tessera::models {

struct BatchCase {
  // Unique in the cohort and stable: derived from the relative path alone
  // (plus the series UID when a folder holds several series). Also the
  // name of the case's output folder.
  std::string name;
  std::string relativePath;        // of the volume file, or of the series' folder
  std::string input;               // what to read: the file, or the series' folder
  std::string seriesUid;           // DICOM series; empty for volume files
  std::vector<std::string> files;  // every file the case's voxels come from
};

struct DiscoveryOptions {
  // Shell patterns (fnmatch) matched against the relative path of a volume
  // file or series folder, e.g. "*ct.nii.gz"; empty include takes all.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  // A folder left out of the search (the output folder when it lies inside
  // the input folder).
  std::string skipDirectory;
};

struct Discovery {
  std::vector<BatchCase> cases;  // sorted by name
  // DICOM-looking files that could not be parsed, with the reason; they
  // belong to no case and are listed so they are not lost silently.
  std::vector<std::string> unreadableFiles;
};

// Searches `inputDir` recursively (hidden entries skipped) for NIfTI
// (.nii, .nii.gz), NRRD (.nrrd, .nhdr) and MetaImage (.mha, .mhd) files, one
// case each, and DICOM series, one case per series. Names: the relative path
// without the extension, '/' becoming "__" and characters other than
// letters, digits, '.', '-' and '_' becoming '_' ("p01/ct.nii.gz" →
// "p01__ct"); a series takes its folder's relative path ("." → "dicom"),
// plus "__" and its UID when the folder holds more than one series. Names
// that still collide get "-" and 8 hex digits of their path's hash.
Result<Discovery> discoverCases(const std::string& inputDir, const DiscoveryOptions& options = {});

// Round-robin over the cases sorted by name: case k goes to shard k mod N.
std::vector<BatchCase> selectShard(const std::vector<BatchCase>& cases, ShardSpec shard);
// Hash of the sorted case names (and their inputs): equal for every shard
// of one cohort.
std::string cohortFingerprint(const std::vector<BatchCase>& cases);

// Whether `path` is `directory` or lies below it (lexically, after
// normalisation; false for an empty directory).
bool isInsideDirectory(const std::string& path, const std::string& directory);
// `path` made absolute, with symbolic links resolved as far as it exists.
std::string absoluteNormalPath(const std::string& path);

}  // namespace tessera::models
