#include "imaging/dicom/dicom.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/log.h"
#include "core/parallel.h"
#include "imaging/internal/dicom_parser.h"
#include "imaging/internal/dicom_pixels.h"
#include "imaging/internal/dicom_series.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using dicom::ImageFile;

// Everything a directory scan found: the listing plus the parsed headers of
// each series, so that reading does not parse them twice.
struct Scan {
  DicomListing listing;
  std::map<std::string, std::vector<ImageFile>> imagesBySeries;
  bool singleFile = false;
};

std::string plural(std::int64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string describeSeries(const DicomSeriesInfo& s) {
  std::string text = s.seriesUid.empty() ? std::string("(no series UID)") : s.seriesUid;
  text += " (";
  if (!s.seriesDescription.empty()) text += "\"" + s.seriesDescription + "\", ";
  text += (s.modality.empty() ? std::string("no modality") : s.modality) + ", " +
          plural(s.sliceCount, "slice") + ")";
  return text;
}

Result<std::vector<std::string>> candidateFiles(const std::string& path, bool* isDirectory) {
  std::error_code error;
  if (!fs::exists(path, error))
    return Error{StatusCode::kNotFound, "no such file or directory", path};
  *isDirectory = fs::is_directory(path, error);
  if (!*isDirectory) return std::vector<std::string>{path};
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, error);
  if (error)
    return Error{StatusCode::kIoError, "cannot list the directory: " + error.message(), path};
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(error)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(error)) files.push_back(it->path().string());
  }
  if (error)
    return Error{StatusCode::kIoError, "cannot list the directory: " + error.message(), path};
  if (files.empty()) return Error{StatusCode::kNotFound, "the directory holds no files", path};
  std::sort(files.begin(), files.end());
  return files;
}

Result<Scan> scan(const std::string& path) {
  bool isDirectory = false;
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> files, candidateFiles(path, &isDirectory));
  Scan result;
  result.singleFile = !isDirectory;
  DicomListing& listing = result.listing;
  listing.filesScanned = static_cast<std::int64_t>(files.size());
  std::optional<Error> firstError;
  for (const std::string& file : files) {
    if (!dicom::looksLikeDicom(file)) {
      ++listing.nonDicomFiles;
      if (!firstError) {
        std::error_code error;
        firstError = fs::file_size(file, error) == 0
                         ? Error{StatusCode::kCorruptData, "the file is empty (0 bytes)", file}
                         : Error{StatusCode::kCorruptData, "not a DICOM file", file};
      }
      continue;
    }
    auto parsed = dicom::parseDicomFile(file, true);
    if (!parsed.ok()) {
      listing.unreadableFiles.push_back(parsed.error().toString());
      if (!firstError) firstError = parsed.error();
      continue;
    }
    auto image = dicom::describeImageFile(*parsed);
    if (!image.ok()) {
      if (image.error().code == StatusCode::kNotFound) {
        ++listing.nonImageObjects;
      } else {
        listing.unreadableFiles.push_back(image.error().toString());
      }
      if (!firstError) firstError = image.error();
      continue;
    }
    result.imagesBySeries[image->seriesUid].push_back(std::move(*image));
  }
  if (result.imagesBySeries.empty()) {
    if (result.singleFile && firstError) {
      // A single non-image object is a refusal, not a missing file.
      if (firstError->code == StatusCode::kNotFound) firstError->code = StatusCode::kUnsupported;
      return *firstError;
    }
    std::string detail = plural(listing.filesScanned, "file") + " checked";
    if (listing.nonDicomFiles > 0)
      detail += ", " + std::to_string(listing.nonDicomFiles) + " not DICOM";
    if (listing.nonImageObjects > 0)
      detail += ", " + plural(listing.nonImageObjects, "DICOM object") + " without an image";
    if (!listing.unreadableFiles.empty())
      detail += ", " + std::to_string(listing.unreadableFiles.size()) + " damaged";
    return Error{StatusCode::kNotFound, "no DICOM images found (" + detail + ")", path};
  }

  for (auto& [uid, images] : result.imagesBySeries) {
    DicomSeriesInfo info;
    const ImageFile& first = images.front();
    info.seriesUid = uid;
    info.studyUid = first.studyUid;
    info.patientName = first.patientName;
    info.patientId = first.patientId;
    info.studyDate = first.studyDate;
    info.studyDescription = first.studyDescription;
    info.seriesDescription = first.seriesDescription;
    info.seriesNumber = first.seriesNumber;
    info.modality = first.modality;
    info.transferSyntax = dicom::transferSyntaxName(first.transferSyntaxUid);
    info.rows = first.rows;
    info.columns = first.columns;
    for (const ImageFile& image : images)
      info.sliceCount += static_cast<std::int64_t>(image.frames.size());
    auto plan = dicom::planSeries(images);
    if (plan.ok()) {
      std::set<int> seen;
      for (const dicom::SliceSource& s : plan->slices)
        if (seen.insert(s.file).second) info.files.push_back(images[s.file].path);
      info.warnings = plan->warnings;
    } else {
      for (const ImageFile& image : images) info.files.push_back(image.path);
      info.readable = false;
      info.warnings.push_back("cannot be read: " + plan.error().message);
    }
    listing.series.push_back(std::move(info));
  }
  std::stable_sort(listing.series.begin(), listing.series.end(),
                   [](const DicomSeriesInfo& a, const DicomSeriesInfo& b) {
                     return a.sliceCount > b.sliceCount;
                   });
  return result;
}

struct Selection {
  const DicomSeriesInfo* info = nullptr;
  const std::vector<ImageFile>* images = nullptr;
  std::vector<std::string> warnings;
};

Result<Selection> selectSeries(const Scan& scanned, const std::string& uid,
                               const std::string& path) {
  const DicomListing& listing = scanned.listing;
  Selection selection;
  int index = -1;
  if (!uid.empty()) {
    for (std::size_t i = 0; i < listing.series.size(); ++i)
      if (listing.series[i].seriesUid == uid) index = static_cast<int>(i);
    if (index < 0) {
      std::string available;
      for (const DicomSeriesInfo& s : listing.series)
        available += (available.empty() ? "" : "; ") + describeSeries(s);
      return Error{StatusCode::kNotFound,
                   "no series with UID " + uid + " here; found: " + available, path};
    }
  } else {
    index = defaultSeriesIndex(listing);
    if (listing.series.size() > 1) {
      const DicomSeriesInfo& chosen = listing.series[static_cast<std::size_t>(index)];
      selection.warnings.push_back(
          "the directory holds " + std::to_string(listing.series.size()) + " series; reading " +
          describeSeries(chosen) +
          (chosen.modality == "CT" ? ", the largest CT series" : ", the largest series") +
          ". Pass a series UID to read another");
    }
  }
  selection.info = &listing.series[static_cast<std::size_t>(index)];
  selection.images = &scanned.imagesBySeries.at(selection.info->seriesUid);
  return selection;
}

ComponentType storedType(const ImageFile& image) {
  const bool s = image.pixelRepresentation == 1;
  switch (image.bitsAllocated) {
    case 8:
      return s ? ComponentType::kInt8 : ComponentType::kUInt8;
    case 16:
      return s ? ComponentType::kInt16 : ComponentType::kUInt16;
    case 32:
      return s ? ComponentType::kInt32 : ComponentType::kUInt32;
    default:
      return ComponentType::kOther;
  }
}

ImageHeader headerOf(const Scan& scanned, const std::vector<ImageFile>& images,
                     const dicom::SeriesPlan& plan) {
  const ImageFile& first = images.front();
  ImageHeader header;
  header.format = scanned.singleFile ? FileFormat::kDicomFile : FileFormat::kDicomDirectory;
  header.geometry = plan.geometry;
  header.componentType = storedType(first);
  header.fileDimensions = plan.geometry.size[2] > 1 ? 3 : 2;
  header.rescaleSlope = first.frames.front().slope;
  header.rescaleIntercept = first.frames.front().intercept;
  return header;
}

}  // namespace

Result<DicomListing> listDicomSeries(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(Scan scanned, scan(path));
  return std::move(scanned.listing);
}

int defaultSeriesIndex(const DicomListing& listing) {
  for (std::size_t i = 0; i < listing.series.size(); ++i)
    if (listing.series[i].modality == "CT") return static_cast<int>(i);
  return listing.series.empty() ? -1 : 0;
}

Result<ImageHeader> readDicomHeader(const std::string& path, const std::string& seriesUid) {
  TESSERA_ASSIGN_OR_RETURN(Scan scanned, scan(path));
  TESSERA_ASSIGN_OR_RETURN(Selection selection, selectSeries(scanned, seriesUid, path));
  TESSERA_ASSIGN_OR_RETURN(dicom::SeriesPlan plan, dicom::planSeries(*selection.images));
  const ImageHeader header = headerOf(scanned, *selection.images, plan);
  TESSERA_RETURN_IF_ERROR(std::move(checkAllocatable(plan.geometry, 2)).withContext(path));
  return header;
}

Result<Volume> readDicomVolume(const std::string& path, const ReadOptions& options) {
  ProgressTracker tracker(options.progress);
  tracker.report(0.0, "scanning " + path);
  TESSERA_ASSIGN_OR_RETURN(Scan scanned, scan(path));
  TESSERA_ASSIGN_OR_RETURN(Selection selection, selectSeries(scanned, options.seriesUid, path));
  const std::vector<ImageFile>& images = *selection.images;
  auto planned = dicom::planSeries(images);
  if (!planned.ok()) {
    Error error = planned.error();
    if (error.context.empty() || error.context == selection.info->seriesUid) error.context = path;
    return error;
  }
  dicom::SeriesPlan& plan = *planned;
  std::vector<std::string> warnings = selection.warnings;
  warnings.insert(warnings.end(), plan.warnings.begin(), plan.warnings.end());
  TESSERA_ASSIGN_OR_RETURN(Volume volume, Volume::create(plan.geometry));

  // Slices grouped by file, in the order their first slice appears.
  std::vector<int> fileOrder;
  std::map<int, std::vector<std::pair<int, std::int64_t>>> framesOfFile;  // file -> (frame, z)
  for (std::size_t z = 0; z < plan.slices.size(); ++z) {
    const dicom::SliceSource& s = plan.slices[z];
    auto& list = framesOfFile[s.file];
    if (list.empty()) fileOrder.push_back(s.file);
    list.emplace_back(s.frame, static_cast<std::int64_t>(z));
  }
  tracker.report(0.05, "reading " + plural(plan.geometry.size[2], "slice"));
  const std::int64_t frameVoxels = plan.geometry.sliceVoxelCount();
  // Decodes one file into its slices; returns the rounded-value count.
  auto readFile = [&](int fileIndex, std::int64_t* rounded) -> Status {
    const ImageFile& image = images[static_cast<std::size_t>(fileIndex)];
    TESSERA_ASSIGN_OR_RETURN(dicom::DicomFile file, dicom::parseDicomFile(image.path, false));
    TESSERA_ASSIGN_OR_RETURN(dicom::StoredPixels pixels, dicom::decodePixels(file, image));
    dicom::ConversionStats stats;
    for (const auto& [frame, z] : framesOfFile.at(fileIndex)) {
      const dicom::FrameInfo& info = image.frames[static_cast<std::size_t>(frame)];
      TESSERA_RETURN_IF_ERROR(dicom::storedToHu(pixels, frameVoxels, frame, info.slope,
                                                info.intercept, volume.slice(z), &stats,
                                                image.path));
    }
    *rounded = stats.nonIntegerValues;
    return Status();
  };
  // Uncompressed files are decoded in parallel, in batches between which
  // progress and cancellation are handled; compressed files one at a time.
  bool allNative = true;
  for (int f : fileOrder) {
    const std::string& ts = images[static_cast<std::size_t>(f)].transferSyntaxUid;
    allNative = allNative && (ts == "1.2.840.10008.1.2" || ts == "1.2.840.10008.1.2.1" ||
                              ts == "1.2.840.10008.1.2.2");
  }
  const auto files = static_cast<std::int64_t>(fileOrder.size());
  const std::int64_t batch = allNative ? std::max(1, 4 * numThreads()) : 1;
  std::int64_t roundedTotal = 0;
  for (std::int64_t begin = 0; begin < files; begin += batch) {
    if (options.cancel) TESSERA_RETURN_IF_ERROR(options.cancel->check());
    const std::int64_t end = std::min(files, begin + batch);
    std::vector<Status> results(static_cast<std::size_t>(end - begin));
    std::vector<std::int64_t> rounded(static_cast<std::size_t>(end - begin), 0);
    parallelFor(begin, end, [&](std::int64_t i) {
      const auto slot = static_cast<std::size_t>(i - begin);
      results[slot] = readFile(fileOrder[static_cast<std::size_t>(i)], &rounded[slot]);
    });
    for (std::size_t i = 0; i < results.size(); ++i) {
      TESSERA_RETURN_IF_ERROR(results[i]);
      roundedTotal += rounded[i];
    }
    tracker.report(0.05 + 0.95 * static_cast<double>(end) / static_cast<double>(files),
                   "slice " +
                       std::to_string(framesOfFile.at(fileOrder[end - 1]).back().second + 1) + "/" +
                       std::to_string(plan.geometry.size[2]));
  }
  dicom::ConversionStats stats;
  stats.nonIntegerValues = roundedTotal;
  if (stats.nonIntegerValues > 0) {
    warnings.push_back(std::to_string(stats.nonIntegerValues) +
                       " rescaled values were not whole numbers and were rounded to whole HU");
  }
  for (const std::string& w : warnings) logWarning(path, ": ", w);
  if (options.report) {
    options.report->seriesUid = selection.info->seriesUid;
    options.report->header = headerOf(scanned, images, plan);
    options.report->warnings.insert(options.report->warnings.end(), warnings.begin(),
                                    warnings.end());
  }
  return volume;
}

}  // namespace tessera::imaging
