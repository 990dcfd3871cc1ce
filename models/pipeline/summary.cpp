#include "models/pipeline/summary.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>

#include "core/csv.h"
#include "core/files.h"
#include "core/json.h"

namespace tessera::models {

namespace fs = std::filesystem;

bool parseShard(std::string_view text, ShardSpec* shard) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  int k = -1, n = 0;
  auto parse = [](std::string_view part, int* out) {
    const auto r = std::from_chars(part.data(), part.data() + part.size(), *out);
    return r.ec == std::errc() && r.ptr == part.data() + part.size() && !part.empty();
  };
  if (!parse(text.substr(0, slash), &k) || !parse(text.substr(slash + 1), &n)) return false;
  if (n < 1 || k < 0 || k >= n) return false;
  *shard = {k, n};
  return true;
}

const char* caseStatusName(CaseStatus status) {
  switch (status) {
    case CaseStatus::kOk:
      return "ok";
    case CaseStatus::kFailed:
      return "failed";
    case CaseStatus::kNotRun:
      return "not_run";
  }
  return "?";
}

namespace {
bool parseCaseStatus(const std::string& text, CaseStatus* status) {
  for (CaseStatus s : {CaseStatus::kOk, CaseStatus::kFailed, CaseStatus::kNotRun})
    if (text == caseStatusName(s)) {
      *status = s;
      return true;
    }
  return false;
}

template <class T>
bool readTriple(const JsonValue* array, std::array<T, 3>* out) {
  if (!array || !array->isArray() || array->items().size() != 3) return false;
  for (int a = 0; a < 3; ++a) (*out)[a] = static_cast<T>(array->items()[a].asNumber());
  return true;
}

void writeVec3(JsonWriter& w, const Vec3& v) {
  w.beginArray().value(v[0]).value(v[1]).value(v[2]).endArray();
}

// "k_min;k_max" in face order (label_stats.h).
std::string fovFaceList(const imaging::LabelStatistics& s) {
  std::string faces;
  for (int f = 0; f < imaging::kFovFaceCount; ++f)
    if (s.fovFaces & (1 << f))
      faces += (faces.empty() ? "" : ";") + std::string(imaging::fovFaceName(f));
  return faces;
}

// One label entry as report.json's statistics write it (bounding box under
// "bbox", centroid and HU range included) or as summary.json does (bounding
// box flat, the summary's fields only).
Result<imaging::LabelStatistics> parseLabel(const JsonValue& j) {
  imaging::LabelStatistics r;
  const double value = j.getNumber("value", -1);
  r.name = j.getString("name");
  r.voxelCount = static_cast<std::int64_t>(j.getNumber("voxel_count", -1));
  r.volumeMl = j.getNumber("volume_ml", -1);
  if (value < 0 || value > 255 || r.voxelCount < 0 || r.volumeMl < 0)
    return Error{StatusCode::kCorruptData, "a label entry lacks its value, count or volume"};
  r.value = static_cast<std::uint8_t>(value);
  if (const JsonValue* mean = j.find("hu_mean"); mean && mean->isNumber()) {
    r.hasHu = true;
    r.huMean = mean->asNumber();
    r.huStd = j.getNumber("hu_std");
    r.huMedian = j.getNumber("hu_median");
    r.huP05 = j.getNumber("hu_p05");
    r.huP95 = j.getNumber("hu_p95");
    r.huMin = static_cast<int>(j.getNumber("hu_min"));
    r.huMax = static_cast<int>(j.getNumber("hu_max"));
  }
  readTriple(j.find("centroid_lps_mm"), &r.centroidLpsMm);
  const JsonValue* bbox = j.find("bbox");
  const JsonValue* min = bbox ? bbox->find("lps_min_mm") : j.find("bbox_lps_min_mm");
  const JsonValue* max = bbox ? bbox->find("lps_max_mm") : j.find("bbox_lps_max_mm");
  if (!readTriple(min, &r.bbox.minLpsMm) || !readTriple(max, &r.bbox.maxLpsMm))
    return Error{StatusCode::kCorruptData, "a label entry lacks its bounding box"};
  if (bbox) {
    readTriple(bbox->find("index_min"), &r.bbox.minIndex);
    readTriple(bbox->find("index_max"), &r.bbox.maxIndex);
    readTriple(bbox->find("size_mm"), &r.bbox.sizeMm);
  }
  const JsonValue* touches = j.find("touches_fov_edge");
  if (!touches || !touches->isBool())
    return Error{StatusCode::kCorruptData, "a label entry lacks touches_fov_edge"};
  r.touchesFovEdge = touches->asBool();
  if (const JsonValue* faces = j.find("fov_faces"))
    for (const JsonValue& f : faces->items()) {
      int face = 0;
      while (face < imaging::kFovFaceCount && f.asString() != imaging::fovFaceName(face)) ++face;
      if (face == imaging::kFovFaceCount)
        return Error{StatusCode::kCorruptData,
                     "a label entry names an unknown field-of-view face \"" + f.asString() + "\""};
      r.fovFaces |= static_cast<std::uint8_t>(1 << face);
    }
  return r;
}
}  // namespace

std::int64_t CohortSummary::count(CaseStatus status) const {
  return std::count_if(cases.begin(), cases.end(),
                       [&](const CaseSummary& c) { return c.status == status; });
}

Result<CaseReport> parseCaseReport(std::string_view reportJson) {
  TESSERA_ASSIGN_OR_RETURN(JsonValue report, parseJson(reportJson));
  const JsonValue* statistics = report.find("statistics");
  const JsonValue* labels = statistics ? statistics->find("labels") : nullptr;
  if (!labels || !labels->isArray())
    return Error{StatusCode::kCorruptData, "the report has no label statistics"};
  CaseReport out;
  const JsonValue* segmentation = report.find("segmentation");
  out.slices = segmentation ? static_cast<std::int64_t>(segmentation->getNumber("slices")) : 0;
  for (const JsonValue& j : labels->items()) {
    TESSERA_ASSIGN_OR_RETURN(imaging::LabelStatistics label, parseLabel(j));
    if (label.value != 0) out.labels.push_back(std::move(label));
  }
  return out;
}

Result<CaseReport> readCaseReport(const std::string& path) {
  auto text = readTextFile(path);
  if (!text.ok()) return Error{text.error().code, text.error().message, path};
  auto report = parseCaseReport(*text);
  if (!report.ok())
    return Error{report.error().code, "malformed case report: " + report.error().message, path};
  return report;
}

std::string summaryCsv(const CohortSummary& s) {
  std::string out =
      "case,status,reason,input,series_uid,slices,label_value,label_name,voxel_count,volume_ml,"
      "hu_mean,hu_std,hu_median,hu_p05,hu_p95,"
      "bbox_lps_min_x_mm,bbox_lps_min_y_mm,bbox_lps_min_z_mm,"
      "bbox_lps_max_x_mm,bbox_lps_max_y_mm,bbox_lps_max_z_mm,touches_fov_edge,fov_faces\n";
  constexpr std::size_t kLabelColumns = 17;
  for (const CaseSummary& c : s.cases) {
    const std::vector<std::string> head = {
        c.name,      caseStatusName(c.status),
        c.reason,    c.input,
        c.seriesUid, c.status == CaseStatus::kOk ? csvInteger(c.slices) : std::string()};
    if (c.labels.empty()) {
      std::vector<std::string> row = head;
      row.resize(head.size() + kLabelColumns);
      out += csvRow(row);
      continue;
    }
    for (const imaging::LabelStatistics& r : c.labels) {
      std::vector<std::string> row = head;
      row.push_back(csvInteger(r.value));
      row.push_back(r.name);
      row.push_back(csvInteger(r.voxelCount));
      row.push_back(csvNumber(r.volumeMl));
      for (double v : {r.huMean, r.huStd, r.huMedian, r.huP05, r.huP95})
        row.push_back(r.hasHu ? csvNumber(v) : std::string());
      for (double v : r.bbox.minLpsMm) row.push_back(csvNumber(v));
      for (double v : r.bbox.maxLpsMm) row.push_back(csvNumber(v));
      row.push_back(r.touchesFovEdge ? "true" : "false");
      row.push_back(fovFaceList(r));
      out += csvRow(row);
    }
  }
  return out;
}

std::string summaryJson(const CohortSummary& s) {
  JsonWriter w;
  w.beginObject();
  w.field("tessera_version", TESSERA_VERSION);
  w.key("model").beginObject();
  w.field("name", s.modelName).field("version", s.modelVersion).field("xxh64", s.modelHash);
  w.endObject();
  w.field("mode", s.mode).field("meshes", s.meshFormat);
  w.key("cohort").beginObject();
  w.field("cases", s.cohortCases).field("fingerprint", s.cohortFingerprint);
  w.endObject();
  w.key("shard").beginObject().field("index", s.shard.index).field("count", s.shard.count);
  w.endObject();
  w.key("counts").beginObject();
  w.field("cases", static_cast<std::int64_t>(s.cases.size()));
  w.field("ok", s.count(CaseStatus::kOk)).field("failed", s.count(CaseStatus::kFailed));
  w.field("not_run", s.count(CaseStatus::kNotRun));
  w.endObject();
  w.key("units").beginObject();
  w.field("volume", "mL").field("intensity", "HU").field("length", "mm").field("frame", "LPS");
  w.endObject();
  w.key("cases").beginArray();
  for (const CaseSummary& c : s.cases) {
    w.beginObject();
    w.field("case", c.name).field("input", c.input);
    if (!c.seriesUid.empty()) w.field("series_uid", c.seriesUid);
    w.field("status", caseStatusName(c.status));
    if (c.status != CaseStatus::kOk) w.field("reason", c.reason);
    if (c.status == CaseStatus::kOk) w.field("slices", c.slices);
    w.key("labels").beginArray();
    for (const imaging::LabelStatistics& r : c.labels) {
      w.beginObject();
      w.field("value", static_cast<int>(r.value)).field("name", r.name);
      w.field("voxel_count", r.voxelCount).field("volume_ml", r.volumeMl);
      if (r.hasHu) {
        w.field("hu_mean", r.huMean).field("hu_std", r.huStd).field("hu_median", r.huMedian);
        w.field("hu_p05", r.huP05).field("hu_p95", r.huP95);
      }
      w.key("bbox_lps_min_mm");
      writeVec3(w, r.bbox.minLpsMm);
      w.key("bbox_lps_max_mm");
      writeVec3(w, r.bbox.maxLpsMm);
      w.field("touches_fov_edge", r.touchesFovEdge);
      w.key("fov_faces").beginArray();
      for (int f = 0; f < imaging::kFovFaceCount; ++f)
        if (r.fovFaces & (1 << f)) w.value(imaging::fovFaceName(f));
      w.endArray();
      w.endObject();
    }
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.endObject();
  return w.str() + "\n";
}

Result<CohortSummary> parseSummaryJson(std::string_view text) {
  TESSERA_ASSIGN_OR_RETURN(JsonValue j, parseJson(text));
  const JsonValue* model = j.find("model");
  const JsonValue* cohort = j.find("cohort");
  const JsonValue* shard = j.find("shard");
  const JsonValue* cases = j.find("cases");
  if (!model || !cohort || !shard || !cases || !cases->isArray())
    return Error{StatusCode::kCorruptData, "not a tessera batch summary"};
  CohortSummary s;
  s.modelName = model->getString("name");
  s.modelVersion = model->getString("version");
  s.modelHash = model->getString("xxh64");
  s.mode = j.getString("mode");
  s.meshFormat = j.getString("meshes");
  s.cohortCases = static_cast<std::int64_t>(cohort->getNumber("cases", -1));
  s.cohortFingerprint = cohort->getString("fingerprint");
  s.shard.index = static_cast<int>(shard->getNumber("index", -1));
  s.shard.count = static_cast<int>(shard->getNumber("count", 0));
  if (s.cohortCases < 0 || s.shard.count < 1 || s.shard.index < 0 || s.shard.index >= s.shard.count)
    return Error{StatusCode::kCorruptData, "the summary's cohort or shard fields are damaged"};
  for (const JsonValue& c : cases->items()) {
    CaseSummary cs;
    cs.name = c.getString("case");
    cs.input = c.getString("input");
    cs.seriesUid = c.getString("series_uid");
    cs.reason = c.getString("reason");
    cs.slices = static_cast<std::int64_t>(c.getNumber("slices"));
    if (cs.name.empty() || !parseCaseStatus(c.getString("status"), &cs.status))
      return Error{StatusCode::kCorruptData, "a case entry lacks its name or status"};
    if (const JsonValue* labels = c.find("labels"))
      for (const JsonValue& l : labels->items()) {
        auto row = parseLabel(l);
        if (!row.ok()) return Error{row.error().code, row.error().message, cs.name};
        cs.labels.push_back(std::move(*row));
      }
    s.cases.push_back(std::move(cs));
  }
  return s;
}

Status writeSummary(const CohortSummary& summary, const std::string& directory) {
  TESSERA_RETURN_IF_ERROR(
      writeTextFileAtomic((fs::path(directory) / kSummaryCsvFile).string(), summaryCsv(summary)));
  return writeTextFileAtomic((fs::path(directory) / kSummaryJsonFile).string(),
                             summaryJson(summary));
}

Result<CohortSummary> mergeSummaries(const std::vector<std::string>& shardDirectories) {
  if (shardDirectories.empty())
    return Error{StatusCode::kInvalidArgument, "no shard directories to merge"};
  CohortSummary merged;
  std::map<int, std::string> seenShards;
  std::set<std::string> names;
  for (std::size_t i = 0; i < shardDirectories.size(); ++i) {
    const std::string& dir = shardDirectories[i];
    const std::string path = (fs::path(dir) / kSummaryJsonFile).string();
    auto text = readTextFile(path);
    if (!text.ok())
      return Error{StatusCode::kNotFound,
                   "no summary in this shard directory (did its batch run finish?)", dir};
    auto parsed = parseSummaryJson(*text);
    if (!parsed.ok()) return Error{parsed.error().code, parsed.error().message, path};
    CohortSummary& s = *parsed;
    if (i == 0) {
      merged.modelName = s.modelName;
      merged.modelVersion = s.modelVersion;
      merged.modelHash = s.modelHash;
      merged.mode = s.mode;
      merged.meshFormat = s.meshFormat;
      merged.cohortCases = s.cohortCases;
      merged.cohortFingerprint = s.cohortFingerprint;
      merged.shard.count = s.shard.count;
    } else {
      const std::string first = shardDirectories[0];
      if (s.cohortFingerprint != merged.cohortFingerprint || s.cohortCases != merged.cohortCases)
        return Error{StatusCode::kInvalidArgument, "this shard covers another cohort than " + first,
                     dir};
      if (s.modelHash != merged.modelHash)
        return Error{StatusCode::kInvalidArgument, "this shard used another model than " + first,
                     dir};
      if (s.mode != merged.mode || s.meshFormat != merged.meshFormat)
        return Error{StatusCode::kInvalidArgument,
                     "this shard ran with other options than " + first, dir};
      if (s.shard.count != merged.shard.count)
        return Error{StatusCode::kInvalidArgument,
                     "this shard belongs to a split into " + std::to_string(s.shard.count) +
                         " shards, " + first + " to " + std::to_string(merged.shard.count),
                     dir};
    }
    if (auto [it, fresh] = seenShards.emplace(s.shard.index, dir); !fresh)
      return Error{
          StatusCode::kInvalidArgument,
          "shard " + std::to_string(s.shard.index) + " is given twice (also " + it->second + ")",
          dir};
    for (CaseSummary& c : s.cases) {
      if (!names.insert(c.name).second)
        return Error{StatusCode::kInvalidArgument,
                     "case " + c.name + " appears in more than one shard", dir};
      merged.cases.push_back(std::move(c));
    }
  }
  for (int k = 0; k < merged.shard.count; ++k)
    if (!seenShards.count(k))
      return Error{StatusCode::kNotFound, "shard " + std::to_string(k) + "/" +
                                              std::to_string(merged.shard.count) +
                                              " is missing from the merge"};
  if (static_cast<std::int64_t>(merged.cases.size()) != merged.cohortCases)
    return Error{StatusCode::kCorruptData,
                 "the shards hold " + std::to_string(merged.cases.size()) +
                     " cases but the cohort has " + std::to_string(merged.cohortCases)};
  std::sort(merged.cases.begin(), merged.cases.end(),
            [](const CaseSummary& a, const CaseSummary& b) { return a.name < b.name; });
  merged.shard = {0, 1};
  return merged;
}

}  // namespace tessera::models
