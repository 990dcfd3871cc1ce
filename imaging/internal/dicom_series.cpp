#include "imaging/internal/dicom_series.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "core/memory_budget.h"

namespace tessera::imaging::dicom {
namespace {

// Transfer syntaxes whose pixel data Tessera reads: native ones itself,
// encapsulated ones through DCMTK's JPEG decoders and GDCM's codecs
// (dicom_pixels.h).
bool supportedTransferSyntax(const std::string& uid) {
  static const char* const kSupported[] = {
      "1.2.840.10008.1.2",      "1.2.840.10008.1.2.1",    "1.2.840.10008.1.2.2",
      "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.55",
      "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
      "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
      "1.2.840.10008.1.2.5"};
  for (const char* s : kSupported)
    if (uid == s) return true;
  return false;
}

bool isImageStorage(const std::string& sopClass) {
  static const char* const kImageClasses[] = {
      "1.2.840.10008.5.1.4.1.1.1",    "1.2.840.10008.5.1.4.1.1.1.1",
      "1.2.840.10008.5.1.4.1.1.2",    "1.2.840.10008.5.1.4.1.1.2.1",
      "1.2.840.10008.5.1.4.1.1.2.2",  "1.2.840.10008.5.1.4.1.1.4",
      "1.2.840.10008.5.1.4.1.1.4.1",  "1.2.840.10008.5.1.4.1.1.6.1",
      "1.2.840.10008.5.1.4.1.1.7",    "1.2.840.10008.5.1.4.1.1.7.2",
      "1.2.840.10008.5.1.4.1.1.7.3",  "1.2.840.10008.5.1.4.1.1.12.1",
      "1.2.840.10008.5.1.4.1.1.20",   "1.2.840.10008.5.1.4.1.1.128",
      "1.2.840.10008.5.1.4.1.1.130",  "1.2.840.10008.5.1.4.1.1.481.1",
      "1.2.840.10008.5.1.4.1.1.481.2"};
  for (const char* c : kImageClasses)
    if (sopClass == c) return true;
  return false;
}

std::string format(double value, int decimals = 3) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string fileName(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status readVector(const DicomFile& file, const DataSet& ds, std::uint32_t tag, std::size_t count,
                  const char* name, bool* present, double* out) {
  const auto values = file.numbers(ds, tag);
  if (!values) return Status();
  if (values->size() != count) {
    // An empty element is "not given"; anything else that does not parse is damage.
    if (file.text(ds, tag).empty()) return Status();
    return Status(StatusCode::kCorruptData,
                  std::string(name) + " is malformed ('" + file.text(ds, tag) + "')", file.path);
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite((*values)[i]))
      return Status(StatusCode::kCorruptData, std::string(name) + " is not finite", file.path);
    out[i] = (*values)[i];
  }
  *present = true;
  return Status();
}

Status readScalar(const DicomFile& file, const DataSet& ds, std::uint32_t tag, const char* name,
                  double* out) {
  bool present = false;
  double value = 0.0;
  TESSERA_RETURN_IF_ERROR(readVector(file, ds, tag, 1, name, &present, &value));
  if (present) *out = value;
  return Status();
}

const DataSet* firstItem(const DicomFile& file, const DataSet& ds, std::uint32_t tag) {
  const auto& items = file.items(ds, tag);
  return items.empty() ? nullptr : &items.front();
}

// Applies the attributes a data set (the top level, or a functional group
// item of an enhanced multi-frame file) gives for a frame.
Status applyAttributes(const DicomFile& file, const DataSet& ds, FrameInfo* f) {
  TESSERA_RETURN_IF_ERROR(readVector(file, ds, tagOf(0x0020, 0x0032), 3, "ImagePositionPatient",
                                     &f->hasPosition, f->positionMm.data()));
  TESSERA_RETURN_IF_ERROR(readVector(file, ds, tagOf(0x0020, 0x0037), 6, "ImageOrientationPatient",
                                     &f->hasOrientation, f->orientation.data()));
  double spacing[2] = {f->rowSpacingMm, f->columnSpacingMm};
  TESSERA_RETURN_IF_ERROR(
      readVector(file, ds, tagOf(0x0028, 0x0030), 2, "PixelSpacing", &f->hasPixelSpacing, spacing));
  f->rowSpacingMm = spacing[0];
  f->columnSpacingMm = spacing[1];
  TESSERA_RETURN_IF_ERROR(
      readScalar(file, ds, tagOf(0x0018, 0x0050), "SliceThickness", &f->sliceThicknessMm));
  TESSERA_RETURN_IF_ERROR(readScalar(file, ds, tagOf(0x0018, 0x0088), "SpacingBetweenSlices",
                                     &f->spacingBetweenSlicesMm));
  TESSERA_RETURN_IF_ERROR(readScalar(file, ds, tagOf(0x0028, 0x1053), "RescaleSlope", &f->slope));
  TESSERA_RETURN_IF_ERROR(
      readScalar(file, ds, tagOf(0x0028, 0x1052), "RescaleIntercept", &f->intercept));
  return Status();
}

Status applyFunctionalGroup(const DicomFile& file, const DataSet& group, FrameInfo* f) {
  for (std::uint32_t tag : {tagOf(0x0020, 0x9113), tagOf(0x0020, 0x9116), tagOf(0x0028, 0x9110),
                            tagOf(0x0028, 0x9145)}) {
    if (const DataSet* item = firstItem(file, group, tag))
      TESSERA_RETURN_IF_ERROR(applyAttributes(file, *item, f));
  }
  return Status();
}

Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec3& a, const Vec3& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
double norm(const Vec3& a) {
  return std::sqrt(dot(a, a));
}

}  // namespace

std::string toUtf8(const std::string& text, const std::string& characterSet) {
  const bool utf8 = characterSet.find("ISO_IR 192") != std::string::npos;
  const bool latin1 = characterSet.empty() || characterSet.find("IR 100") != std::string::npos;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += (c < 0x20 || c == 0x7F) ? '?' : static_cast<char>(c);
    } else if (utf8) {
      const int extra = (c & 0xE0) == 0xC0   ? 1
                        : (c & 0xF0) == 0xE0 ? 2
                        : (c & 0xF8) == 0xF0 ? 3
                                             : -1;
      bool valid = extra > 0 && i + extra < text.size();
      for (int k = 1; valid && k <= extra; ++k)
        valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
      if (valid) {
        out.append(text, i, extra + 1);
        i += extra;
      } else {
        out += '?';
      }
    } else if (latin1) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += '?';
    }
  }
  return out;
}

Result<ImageFile> describeImageFile(const DicomFile& file) {
  const DataSet& ds = file.dataset;
  const auto rows = file.integer(ds, tagOf(0x0028, 0x0010));
  const auto columns = file.integer(ds, tagOf(0x0028, 0x0011));
  if (!rows || !columns) {
    // An image object without its image attributes was cut short or damaged;
    // anything else (a report, a plan) simply is not an image.
    if (file.pixelDataPresent || isImageStorage(file.text(ds, tagOf(0x0008, 0x0016))))
      return Error{StatusCode::kCorruptData,
                   "the image attributes (Rows, Columns) are missing: the file is truncated or "
                   "damaged",
                   file.path};
    return Error{StatusCode::kNotFound, "the DICOM object holds no image", file.path};
  }
  ImageFile img;
  img.path = file.path;
  img.transferSyntaxUid = file.transferSyntaxUid;
  const std::string charset = file.text(ds, tagOf(0x0008, 0x0005));
  auto text = [&](std::uint16_t g, std::uint16_t e) {
    return toUtf8(file.text(ds, tagOf(g, e)), charset);
  };
  img.sopClassUid = text(0x0008, 0x0016);
  img.patientName = text(0x0010, 0x0010);
  img.patientId = text(0x0010, 0x0020);
  img.studyUid = text(0x0020, 0x000D);
  img.studyDate = text(0x0008, 0x0020);
  img.studyDescription = text(0x0008, 0x1030);
  img.seriesUid = text(0x0020, 0x000E);
  img.seriesDescription = text(0x0008, 0x103E);
  img.seriesNumber = text(0x0020, 0x0011);
  img.modality = text(0x0008, 0x0060);
  img.photometric = text(0x0028, 0x0004);
  if (img.photometric.empty()) img.photometric = "MONOCHROME2";
  img.rows = static_cast<int>(*rows);
  img.columns = static_cast<int>(*columns);
  img.samplesPerPixel = static_cast<int>(file.integer(ds, tagOf(0x0028, 0x0002)).value_or(1));
  img.bitsAllocated = static_cast<int>(file.integer(ds, tagOf(0x0028, 0x0100)).value_or(0));
  img.bitsStored =
      static_cast<int>(file.integer(ds, tagOf(0x0028, 0x0101)).value_or(img.bitsAllocated));
  img.highBit =
      static_cast<int>(file.integer(ds, tagOf(0x0028, 0x0102)).value_or(img.bitsStored - 1));
  img.pixelRepresentation = static_cast<int>(file.integer(ds, tagOf(0x0028, 0x0103)).value_or(0));
  img.floatPixels = ds.find(tagOf(0x7FE0, 0x0008)) || ds.find(tagOf(0x7FE0, 0x0009));
  img.pixelDataPresent = file.pixelDataPresent;
  if (img.rows <= 0 || img.columns <= 0)
    return Error{StatusCode::kCorruptData,
                 "the image has " + std::to_string(img.rows) + " rows and " +
                     std::to_string(img.columns) + " columns",
                 file.path};

  int frameCount = 1;
  if (const auto frames = file.numbers(ds, tagOf(0x0028, 0x0008))) {
    const std::string raw = file.text(ds, tagOf(0x0028, 0x0008));
    if (frames->size() != 1 || (*frames)[0] < 1 || (*frames)[0] > 1e6 ||
        (*frames)[0] != std::floor((*frames)[0])) {
      if (!raw.empty())
        return Error{StatusCode::kCorruptData, "NumberOfFrames is malformed ('" + raw + "')",
                     file.path};
    } else {
      frameCount = static_cast<int>((*frames)[0]);
    }
  }

  // A crafted NumberOfFrames must not cost memory: the frames' pixels have
  // to be in the file (native syntaxes hold every byte; an encapsulated
  // frame takes at least one 8-byte fragment item) and fit the job budget,
  // both checked before the per-frame table is allocated.
  {
    std::error_code ec;
    const auto fileSize = static_cast<std::int64_t>(std::filesystem::file_size(file.path, ec));
    const std::int64_t decoded =
        checkedBytes({img.rows, img.columns, frameCount, std::max(1, img.samplesPerPixel),
                      std::max(1, img.bitsAllocated / 8)});
    const std::string& ts = img.transferSyntaxUid;
    const bool native =
        ts == "1.2.840.10008.1.2" || ts == "1.2.840.10008.1.2.1" || ts == "1.2.840.10008.1.2.2";
    if (!ec && frameCount > 1 &&
        (native ? decoded < 0 || decoded > fileSize : std::int64_t{frameCount} * 8 > fileSize))
      return Error{StatusCode::kCorruptData,
                   "NumberOfFrames says " + std::to_string(frameCount) + " frames of " +
                       std::to_string(img.rows) + " x " + std::to_string(img.columns) +
                       " pixels, more than the file's " + std::to_string(fileSize) +
                       " bytes can hold",
                   file.path};
    TESSERA_RETURN_IF_ERROR(
        std::move(jobMemoryBudget().check(decoded, "the pixel data (" + std::to_string(frameCount) +
                                                       " frames of " + std::to_string(img.rows) +
                                                       " x " + std::to_string(img.columns) + ")"))
            .withContext(file.path));
  }

  FrameInfo base;
  TESSERA_RETURN_IF_ERROR(applyAttributes(file, ds, &base));
  img.frames.assign(static_cast<std::size_t>(frameCount), base);
  const DataSet* shared = firstItem(file, ds, tagOf(0x5200, 0x9229));
  const auto& perFrame = file.items(ds, tagOf(0x5200, 0x9230));
  bool perFramePositions =
      frameCount > 1 && perFrame.size() == static_cast<std::size_t>(frameCount);
  for (int k = 0; k < frameCount; ++k) {
    FrameInfo& f = img.frames[static_cast<std::size_t>(k)];
    if (shared) TESSERA_RETURN_IF_ERROR(applyFunctionalGroup(file, *shared, &f));
    if (static_cast<std::size_t>(k) < perFrame.size()) {
      FrameInfo own = f;
      own.hasPosition = false;
      TESSERA_RETURN_IF_ERROR(
          applyFunctionalGroup(file, perFrame[static_cast<std::size_t>(k)], &own));
      perFramePositions = perFramePositions && own.hasPosition;
      if (!own.hasPosition) own.hasPosition = f.hasPosition;
      f = own;
    }
  }
  if (frameCount > 1 && !perFramePositions) {
    // RT dose grids place their frames with GridFrameOffsetVector.
    const auto offsets = file.numbers(ds, tagOf(0x3004, 0x000C));
    if (offsets && offsets->size() == static_cast<std::size_t>(frameCount) && base.hasPosition &&
        base.hasOrientation && (*offsets)[0] == 0.0) {
      const Vec3 r{base.orientation[0], base.orientation[1], base.orientation[2]};
      const Vec3 c{base.orientation[3], base.orientation[4], base.orientation[5]};
      Vec3 n = cross(r, c);
      const double length = norm(n);
      for (double& v : n) v /= length > 0 ? length : 1.0;
      for (int k = 0; k < frameCount; ++k)
        for (int a = 0; a < 3; ++a)
          img.frames[static_cast<std::size_t>(k)].positionMm[a] =
              base.positionMm[a] + (*offsets)[static_cast<std::size_t>(k)] * n[a];
    } else {
      img.problem = "is a multi-frame file (" + std::to_string(frameCount) +
                    " frames) without a position for each frame, so its frames cannot be placed";
    }
  }

  const bool native = img.transferSyntaxUid == "1.2.840.10008.1.2" ||
                      img.transferSyntaxUid == "1.2.840.10008.1.2.1" ||
                      img.transferSyntaxUid == "1.2.840.10008.1.2.2";
  if (!img.pixelDataPresent && !img.floatPixels) {
    img.problem = "has no pixel data (element 7FE0,0010 is missing)";
  } else if (img.floatPixels && !img.pixelDataPresent) {
    img.problem = "holds floating-point pixel data, which Tessera does not read as CT";
  } else if (img.samplesPerPixel != 1 ||
             (img.photometric != "MONOCHROME1" && img.photometric != "MONOCHROME2")) {
    img.problem = "is a colour image (" + img.photometric + ", " +
                  std::to_string(img.samplesPerPixel) + " samples per pixel), not a CT image";
  } else if (img.bitsAllocated == 1) {
    img.problem = "is a 1-bit image (a segmentation or overlay), not a CT image";
  } else if (img.bitsAllocated != 8 && img.bitsAllocated != 16 && img.bitsAllocated != 32) {
    img.problem = "has " + std::to_string(img.bitsAllocated) +
                  " bits allocated per pixel; Tessera reads 8, 16 and 32";
  } else if (img.bitsStored < 1 || img.bitsStored > img.bitsAllocated || img.highBit < 0 ||
             img.highBit >= img.bitsAllocated || img.highBit + 1 < img.bitsStored) {
    img.problem = "has an inconsistent bit depth (BitsAllocated " +
                  std::to_string(img.bitsAllocated) + ", BitsStored " +
                  std::to_string(img.bitsStored) + ", HighBit " + std::to_string(img.highBit) + ")";
  } else if (img.pixelRepresentation != 0 && img.pixelRepresentation != 1) {
    // GDCM's pixel format asserts (aborts) on any other value.
    img.problem = "has PixelRepresentation " + std::to_string(img.pixelRepresentation) +
                  "; DICOM allows 0 (unsigned) and 1 (signed)";
  } else if (!native && !supportedTransferSyntax(img.transferSyntaxUid)) {
    img.problem = "uses transfer syntax " + transferSyntaxName(img.transferSyntaxUid) +
                  ", which Tessera cannot decode";
  }
  for (const FrameInfo& f : img.frames) {
    if (f.slope == 0.0 && img.problem.empty()) img.problem = "has a rescale slope of 0";
    if (f.hasPixelSpacing && !(f.rowSpacingMm > 0 && f.columnSpacingMm > 0) && img.problem.empty())
      img.problem = "has a pixel spacing that is not positive";
  }
  return img;
}

Result<SeriesPlan> planSeries(const std::vector<ImageFile>& files) {
  SeriesPlan plan;
  if (files.empty()) return Error{StatusCode::kNotFound, "the series has no images", {}};
  for (const ImageFile& f : files) {
    if (!f.problem.empty())
      return Error{StatusCode::kUnsupported, fileName(f.path) + " " + f.problem, f.path};
  }
  const ImageFile& first = files.front();
  struct Entry {
    SliceSource source;
    const FrameInfo* frame;
    double along = 0.0;
  };
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const ImageFile& f = files[i];
    if (f.rows != first.rows || f.columns != first.columns) {
      return Error{StatusCode::kUnsupported,
                   "the series mixes image sizes (" + std::to_string(first.columns) + " x " +
                       std::to_string(first.rows) + " in " + fileName(first.path) + ", " +
                       std::to_string(f.columns) + " x " + std::to_string(f.rows) + " in " +
                       fileName(f.path) + ")",
                   f.path};
    }
    for (std::size_t k = 0; k < f.frames.size(); ++k)
      entries.push_back({{static_cast<int>(i), static_cast<int>(k)}, &f.frames[k], 0.0});
  }
  const std::size_t n = entries.size();
  const FrameInfo& f0 = *entries.front().frame;

  if (first.modality != "CT") {
    plan.warnings.push_back("modality is " +
                            (first.modality.empty() ? std::string("not given") : first.modality) +
                            ": voxel values are stored values after rescale, not Hounsfield units");
  }
  if (n > 1) {
    for (const Entry& e : entries) {
      if (!e.frame->hasPosition || !e.frame->hasOrientation)
        return Error{StatusCode::kUnsupported,
                     "slices lack ImagePositionPatient or ImageOrientationPatient, so they cannot "
                     "be ordered in space",
                     files[static_cast<std::size_t>(e.source.file)].path};
    }
  } else {
    if (!f0.hasOrientation)
      plan.warnings.push_back("no ImageOrientationPatient: assuming axial orientation (LPS axes)");
    if (!f0.hasPosition) plan.warnings.push_back("no ImagePositionPatient: origin set to 0, 0, 0");
  }
  if (!f0.hasPixelSpacing) plan.warnings.push_back("no PixelSpacing: assuming 1 mm pixels");

  for (const Entry& e : entries) {
    for (int a = 0; a < 6; ++a) {
      if (std::abs(e.frame->orientation[a] - f0.orientation[a]) > 1e-3)
        return Error{StatusCode::kUnsupported,
                     "slices have different orientations (a localizer or several stacks in one "
                     "series)",
                     files[static_cast<std::size_t>(e.source.file)].path};
    }
    if (std::abs(e.frame->rowSpacingMm - f0.rowSpacingMm) > 1e-4 * f0.rowSpacingMm ||
        std::abs(e.frame->columnSpacingMm - f0.columnSpacingMm) > 1e-4 * f0.columnSpacingMm)
      return Error{StatusCode::kUnsupported, "pixel spacing differs between slices",
                   files[static_cast<std::size_t>(e.source.file)].path};
  }

  Vec3 r{f0.orientation[0], f0.orientation[1], f0.orientation[2]};
  Vec3 c{f0.orientation[3], f0.orientation[4], f0.orientation[5]};
  const double rn = norm(r), cn = norm(c);
  if (std::abs(rn - 1.0) > 1e-3 || std::abs(cn - 1.0) > 1e-3 || std::abs(dot(r, c)) > 1e-3)
    return Error{StatusCode::kCorruptData,
                 "ImageOrientationPatient is not two perpendicular unit vectors", first.path};
  for (double& v : r) v /= rn;
  const double rc = dot(r, c);
  for (int a = 0; a < 3; ++a) c[a] -= rc * r[a];
  const double cn2 = norm(c);
  for (double& v : c) v /= cn2;
  const Vec3 normal = cross(r, c);

  for (Entry& e : entries) e.along = dot(e.frame->positionMm, normal);
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.along < b.along; });

  double sliceSpacing = 1.0;
  if (n > 1) {
    std::vector<double> gaps(n - 1);
    for (std::size_t k = 0; k + 1 < n; ++k) gaps[k] = entries[k + 1].along - entries[k].along;
    std::size_t duplicates = 0;
    double duplicateAt = 0.0;
    for (std::size_t k = 0; k + 1 < n; ++k) {
      if (gaps[k] < 1e-3) {
        if (duplicates++ == 0) duplicateAt = entries[k].along;
      }
    }
    if (duplicates > 0) {
      return Error{StatusCode::kUnsupported,
                   std::to_string(duplicates) +
                       " slice(s) share a position with another slice (first at " +
                       format(duplicateAt) +
                       " mm along the slice normal): the series holds several acquisitions, "
                       "echoes or time points; select a single volume",
                   first.seriesUid};
    }
    std::vector<double> sorted = gaps;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(sorted.size() / 2),
                     sorted.end());
    const double median = sorted[sorted.size() / 2];
    for (std::size_t k = 0; k + 1 < n; ++k) {
      if (gaps[k] > 1.5 * median) {
        const long missing = std::max(1L, std::lround(gaps[k] / median) - 1);
        return Error{StatusCode::kUnsupported,
                     "about " + std::to_string(missing) + " slice(s) missing: a gap of " +
                         format(gaps[k]) + " mm between slices at " + format(entries[k].along) +
                         " and " + format(entries[k + 1].along) +
                         " mm where the usual spacing is " + format(median) + " mm",
                     first.seriesUid};
      }
    }
    // Gantry tilt (or any shear): slice origins must move along the normal only.
    const Vec3& p0 = entries.front().frame->positionMm;
    double worstOffset = 0.0;
    for (const Entry& e : entries) {
      Vec3 v{e.frame->positionMm[0] - p0[0], e.frame->positionMm[1] - p0[1],
             e.frame->positionMm[2] - p0[2]};
      const double along = dot(v, normal);
      for (int a = 0; a < 3; ++a) v[a] -= along * normal[a];
      worstOffset = std::max(worstOffset, norm(v));
    }
    if (worstOffset > 0.02) {
      const Vec3& pl = entries.back().frame->positionMm;
      Vec3 v{pl[0] - p0[0], pl[1] - p0[1], pl[2] - p0[2]};
      const double along = dot(v, normal);
      for (int a = 0; a < 3; ++a) v[a] -= along * normal[a];
      const double degrees = std::atan2(norm(v), std::abs(along)) * 180.0 / M_PI;
      return Error{StatusCode::kUnsupported,
                   "gantry tilt of about " + format(degrees, 2) +
                       " degrees: slice positions shift sideways by up to " + format(worstOffset) +
                       " mm instead of lying along the slice normal; Tessera does not resample "
                       "tilted series",
                   first.seriesUid};
    }
    const double extent = entries.back().along - entries.front().along;
    sliceSpacing = extent / static_cast<double>(n - 1);
    double worstGap = 0.0, worstPosition = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
      worstPosition = std::max(worstPosition, std::abs(entries[k].along - entries.front().along -
                                                       static_cast<double>(k) * sliceSpacing));
      if (k + 1 < n) worstGap = std::max(worstGap, std::abs(gaps[k] - sliceSpacing));
    }
    if (worstGap > std::max(0.01, 0.01 * sliceSpacing)) {
      const auto [lo, hi] = std::minmax_element(gaps.begin(), gaps.end());
      plan.warnings.push_back("uneven slice spacing (" + format(*lo) + " to " + format(*hi) +
                              " mm): slices are placed at the mean spacing " +
                              format(sliceSpacing, 4) + " mm, up to " + format(worstPosition) +
                              " mm from their recorded positions");
    }
  } else if (f0.spacingBetweenSlicesMm > 0.0) {
    sliceSpacing = f0.spacingBetweenSlicesMm;
  } else if (f0.sliceThicknessMm > 0.0) {
    sliceSpacing = f0.sliceThicknessMm;
  }

  Geometry& g = plan.geometry;
  g.size = {first.columns, first.rows, static_cast<std::int64_t>(n)};
  g.spacingMm = {f0.columnSpacingMm, f0.rowSpacingMm, sliceSpacing};
  g.originMm = entries.front().frame->positionMm;
  for (int a = 0; a < 3; ++a) {
    g.direction[3 * a + 0] = r[a];
    g.direction[3 * a + 1] = c[a];
    g.direction[3 * a + 2] = normal[a];
  }
  TESSERA_RETURN_IF_ERROR(std::move(validateGeometry(g)).withContext(first.path));
  plan.slices.reserve(n);
  for (const Entry& e : entries) plan.slices.push_back(e.source);
  return plan;
}

}  // namespace tessera::imaging::dicom
