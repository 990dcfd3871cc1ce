#include "imaging/io/volume_io.h"

#include <itkImage.h>
#include <itkImageFileWriter.h>
#include <itkImageIOBase.h>
#include <itkMetaImageIO.h>
#include <itkNiftiImageIO.h>
#include <itkNrrdImageIO.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>

#include "core/files.h"
#include "core/log.h"
#include "imaging/dicom/dicom.h"
#include "imaging/internal/dicom_parser.h"
#include "imaging/internal/file_checks.h"
#include "imaging/internal/itk_support.h"

namespace tessera::imaging {

namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

itk::ImageIOBase::Pointer createFileIO(FileFormat format) {
  // ITK's own warnings would go to stderr beside Tessera's messages; the
  // readers report problems themselves.
  static std::once_flag quiet;
  std::call_once(quiet, [] { itk::Object::GlobalWarningDisplayOff(); });
  switch (format) {
    case FileFormat::kNifti:
      return itk::NiftiImageIO::New().GetPointer();
    case FileFormat::kNrrd:
      return itk::NrrdImageIO::New().GetPointer();
    case FileFormat::kMetaImage:
      return itk::MetaImageIO::New().GetPointer();
    default:
      return nullptr;
  }
}

Status checkFileOutput(const std::string& path, bool dicomAllowed) {
  const std::string dicomHint = dicomAllowed ? " (or a path ending in '/' for a DICOM series)" : "";
  if (isDirectory(path)) {
    return Status(StatusCode::kInvalidArgument,
                  "the output path is a directory, not a file name" +
                      (dicomAllowed ? std::string("; end it with '/' to write a DICOM series there")
                                    : std::string()),
                  path);
  }
  const FileFormat format = outputFormatFromPath(path);
  if (format != FileFormat::kNifti && format != FileFormat::kNrrd &&
      format != FileFormat::kMetaImage) {
    const std::string ext = fullExtension(path);
    return Status(
        StatusCode::kUnsupported,
        "cannot write " +
            (ext.empty() ? std::string("files without an extension") : "'" + ext + "' files") +
            "; use .nii.gz, .nii, .nrrd, .nhdr, .mha or .mhd" + dicomHint,
        path);
  }
  return checkOutputPath(path);
}

// Re-reads a file ITK just wrote and compares it with what was meant to be
// written; returns what is wrong with it, empty when nothing is. ITK's writers (NIfTI's znzwrite
// above all) ignore failed writes, so a full disk or the file size limit leaves a truncated file
// behind a writer that returns normally. Reading it back through the same ImageIO is the one check
// that holds for every format, compressed or not, single file or header + data pair: a truncated
// gzip stream or raw block makes the read throw or deliver fewer bytes, and comparing the voxels
// catches anything else. It costs one decompression, a fraction of the compression that writing
// did, and a buffer the size of the image.
template <class T>
std::string problemWithWritten(const Image<T>& image, FileFormat format,
                               const std::string& written) {
  std::error_code error;
  if (std::filesystem::file_size(written, error) == 0 || error) return "the file is empty";
  const std::size_t bytes = static_cast<std::size_t>(image.voxelCount()) * sizeof(T);
  try {
    itk::ImageIOBase::Pointer io = createFileIO(format);
    io->SetFileName(written);
    io->ReadImageInformation();
    // A reader may drop trailing dimensions of size 1.
    const unsigned dims = io->GetNumberOfDimensions();
    bool same = static_cast<std::size_t>(io->GetImageSizeInBytes()) == bytes;
    for (unsigned d = 0; same && d < 3; ++d)
      same = (d < dims ? static_cast<std::int64_t>(io->GetDimensions(d)) : 1) ==
             image.geometry().size[d];
    if (!same) return "the written header does not match the image";
    std::vector<char> raw(bytes);
    itk::ImageIORegion region(dims);
    for (unsigned d = 0; d < dims; ++d) {
      region.SetIndex(d, 0);
      region.SetSize(d, io->GetDimensions(d));
    }
    io->SetIORegion(region);
    io->Read(raw.data());
    if (std::memcmp(raw.data(), image.data(), bytes) != 0)
      return "the written voxels differ from the image";
  } catch (const std::bad_alloc&) {
    return "not enough memory to verify the written file";
  } catch (const itk::ExceptionObject&) {
    return "the written file is incomplete";
  } catch (const std::exception&) {
    return "the written file is incomplete";
  }
  return {};
}

// The largest file in `directory`: the one a file size limit stops first.
std::string largestFileIn(const std::string& directory) {
  std::string largest;
  std::uintmax_t most = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::uintmax_t size = entry.file_size(error);
    if (!error && (largest.empty() || size > most)) {
      largest = entry.path().string();
      most = size;
    }
  }
  return largest;
}

// Flushes every file of a header + data pair, then moves them into place
// and flushes the directory that now holds them.
Status commitPair(TemporaryDirectory& pairDir, const std::string& stagedHeader,
                  const std::string& path) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(stagedHeader).parent_path(), error))
    TESSERA_RETURN_IF_ERROR(syncPath(entry.path().string()));
  if (error) return Status(StatusCode::kIoError, "cannot list the written files", path);
  TESSERA_RETURN_IF_ERROR(pairDir.moveAllTo(path));
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return syncPath(parent.empty() ? "." : parent);
}

template <class T>
Status writeWithItk(const Image<T>& image, const std::string& path, bool dicomAllowed) {
  TESSERA_RETURN_IF_ERROR(checkFileOutput(path, dicomAllowed));
  const FileFormat format = outputFormatFromPath(path);
  TESSERA_RETURN_IF_ERROR(validateGeometry(image.geometry()));
  using ItkImage = itk::Image<T, 3>;
  auto itkImage = ItkImage::New();
  toItkGeometry(image.geometry(), itkImage.GetPointer());
  // The ITK image borrows our buffer (no copy); it must not free it.
  itkImage->GetPixelContainer()->SetImportPointer(
      const_cast<T*>(image.data()), static_cast<std::size_t>(image.voxelCount()), false);
  // Single-file formats go through a temporary sibling and a rename. Header
  // + data pairs (.mhd/.nhdr) are written under their final names into a
  // temporary directory beside the target (the header names its data file),
  // then moved data first, header last.
  const std::string ext = lower(fullExtension(path));
  const bool pair = ext == ".mhd" || ext == ".nhdr";
  AtomicFile file(path);
  TemporaryDirectory pairDir(path);
  const std::string target = pair ? pairDir.pathFor(path) : file.tempPath();
  if (pair && !pairDir.ok())
    return Status(StatusCode::kIoError, "cannot create a temporary directory", path);
  // ITK reports no cause; the size limit or a full disk is found afterwards.
  auto failed = [&](const std::string& what) {
    return incompleteWriteError(pair ? largestFileIn(pairDir.pathFor("")) : target, what, path);
  };
  try {
    auto writer = itk::ImageFileWriter<ItkImage>::New();
    writer->SetInput(itkImage);
    writer->SetImageIO(createFileIO(format));
    writer->SetFileName(target);
    writer->SetUseCompression(true);
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    return failed("writing failed: " + itkMessage(e));
  } catch (const std::exception& e) {
    return failed(std::string("writing failed: ") + e.what());
  }
  if (const std::string problem = problemWithWritten(image, format, target); !problem.empty())
    return failed(problem);
  return pair ? commitPair(pairDir, target, path) : file.commit();
}

template <class Src, class Dst>
Status convertVoxels(const std::vector<char>& raw, std::int64_t count, Dst* out,
                     std::int64_t* rounded, const std::string& path) {
  const Src* src = reinterpret_cast<const Src*>(raw.data());
  if constexpr (std::is_same_v<Src, Dst>) {
    std::memcpy(out, src, static_cast<std::size_t>(count) * sizeof(Dst));
    return Status();
  }
  constexpr double lo = static_cast<double>(std::numeric_limits<Dst>::lowest());
  constexpr double hi = static_cast<double>(std::numeric_limits<Dst>::max());
  for (std::int64_t i = 0; i < count; ++i) {
    double v = static_cast<double>(src[i]);
    if constexpr (std::is_floating_point_v<Src>) {
      if (!std::isfinite(v))
        return Status(StatusCode::kCorruptData, "voxel value is not finite", path);
      const double r = std::nearbyint(v);
      if (std::abs(r - v) > 1e-4) ++*rounded;
      v = r;
    }
    if (v < lo || v > hi) {
      char value[32];
      std::snprintf(value, sizeof value, "%.10g", v);
      return Status(StatusCode::kUnsupported,
                    "voxel value " + std::string(value) + " does not fit the " +
                        (sizeof(Dst) == 1 ? std::string("label range 0..255")
                                          : std::string("Hounsfield range -32768..32767")),
                    path);
    }
    out[i] = static_cast<Dst>(v);
  }
  return Status();
}

template <class Dst>
Status convertRaw(ComponentType type, const std::vector<char>& raw, std::int64_t count, Dst* out,
                  std::int64_t* rounded, const std::string& path) {
  switch (type) {
    case ComponentType::kUInt8:
      return convertVoxels<std::uint8_t>(raw, count, out, rounded, path);
    case ComponentType::kInt8:
      return convertVoxels<std::int8_t>(raw, count, out, rounded, path);
    case ComponentType::kUInt16:
      return convertVoxels<std::uint16_t>(raw, count, out, rounded, path);
    case ComponentType::kInt16:
      return convertVoxels<std::int16_t>(raw, count, out, rounded, path);
    case ComponentType::kUInt32:
      return convertVoxels<std::uint32_t>(raw, count, out, rounded, path);
    case ComponentType::kInt32:
      return convertVoxels<std::int32_t>(raw, count, out, rounded, path);
    case ComponentType::kFloat32:
      return convertVoxels<float>(raw, count, out, rounded, path);
    case ComponentType::kFloat64:
      return convertVoxels<double>(raw, count, out, rounded, path);
    default:
      return Status(StatusCode::kUnsupported,
                    std::string("voxel type ") + componentTypeName(type) + " is not supported",
                    path);
  }
}

// Reads the header and all voxels of a NIfTI/NRRD/MetaImage file, converted
// to T. Warnings (values rounded) are appended to *warnings.
template <class T>
Result<Image<T>> readFileImage(const std::string& path, const ReadOptions& options,
                               std::vector<std::string>* warnings, ImageHeader* headerOut) {
  TESSERA_ASSIGN_OR_RETURN(ImageHeader header, readHeader(path));
  if (headerOut) *headerOut = header;
  if (header.format == FileFormat::kDicomFile || header.format == FileFormat::kDicomDirectory)
    return Error{StatusCode::kUnsupported, "DICOM is read by readVolume", path};
  if (header.format == FileFormat::kNifti) TESSERA_RETURN_IF_ERROR(verifyNiftiVoxels(path));
  const std::int64_t count = header.geometry.voxelCount();
  std::int64_t rounded = 0;
  std::optional<Image<T>> image;
  try {
    itk::ImageIOBase::Pointer io = createFileIO(header.format);
    io->SetFileName(path);
    io->ReadImageInformation();
    // The buffer's type is what ITK delivers (float when it applied a
    // NIfTI scl_slope), not necessarily what the file stores.
    const ComponentType delivered = fromItkComponent(io->GetComponentType());
    const std::size_t bytes = io->GetImageSizeInBytes();
    // ITK's buffer and the converted image live side by side: both must fit
    // before either is allocated, so that a refused file leaves nothing behind.
    TESSERA_RETURN_IF_ERROR(
        std::move(
            checkAllocatable(header.geometry,
                             static_cast<std::int64_t>(sizeof(T)) +
                                 std::max<std::int64_t>(1, static_cast<std::int64_t>(bytes) /
                                                               std::max<std::int64_t>(1, count))))
            .withContext(path));
    TESSERA_ASSIGN_OR_RETURN(image, Image<T>::create(header.geometry));
    std::vector<char> raw(bytes);
    itk::ImageIORegion region(io->GetNumberOfDimensions());
    for (unsigned d = 0; d < io->GetNumberOfDimensions(); ++d) {
      region.SetIndex(d, 0);
      region.SetSize(d, io->GetDimensions(d));
    }
    io->SetIORegion(region);
    io->Read(raw.data());
    if (options.cancel) TESSERA_RETURN_IF_ERROR(options.cancel->check());
    TESSERA_RETURN_IF_ERROR(convertRaw(delivered, raw, count, image->data(), &rounded, path));
  } catch (const itk::ExceptionObject& e) {
    return Error{StatusCode::kCorruptData,
                 "cannot read the voxel data (truncated or damaged file): " + itkMessage(e), path};
  } catch (const std::bad_alloc&) {
    return Error{StatusCode::kResourceExhausted, "not enough memory to read the image", path};
  } catch (const std::exception& e) {
    return Error{StatusCode::kCorruptData, std::string("cannot read the voxel data: ") + e.what(),
                 path};
  }
  if (rounded > 0) {
    warnings->push_back(std::to_string(rounded) + " of " + std::to_string(count) +
                        " voxel values were not whole numbers and were rounded");
  }
  return std::move(*image);
}

}  // namespace

namespace {
FileFormat formatFromExtension(const std::string& path) {
  const std::string ext = lower(fullExtension(path));
  if (ext == ".nii" || ext == ".nii.gz") return FileFormat::kNifti;
  if (ext == ".nrrd" || ext == ".nhdr") return FileFormat::kNrrd;
  if (ext == ".mha" || ext == ".mhd") return FileFormat::kMetaImage;
  if (ext == ".dcm" || ext == ".dicom" || ext == ".ima") return FileFormat::kDicomFile;
  return FileFormat::kUnknown;
}
}  // namespace

FileFormat formatFromPath(const std::string& path) {
  if (isDirectory(path)) return FileFormat::kDicomDirectory;
  const FileFormat format = formatFromExtension(path);
  // DICOM files often have no extension at all ("IM0001"): sniff them.
  if (format == FileFormat::kUnknown && fileExists(path) && dicom::looksLikeDicom(path))
    return FileFormat::kDicomFile;
  return format;
}

FileFormat outputFormatFromPath(const std::string& path) {
  if (!path.empty() && path.back() == '/') return FileFormat::kDicomDirectory;
  if (isDirectory(path)) return FileFormat::kUnknown;
  const FileFormat format = formatFromExtension(path);
  return format == FileFormat::kDicomFile ? FileFormat::kUnknown : format;
}

const char* formatName(FileFormat format) {
  switch (format) {
    case FileFormat::kNifti:
      return "NIfTI";
    case FileFormat::kNrrd:
      return "NRRD";
    case FileFormat::kMetaImage:
      return "MetaImage";
    case FileFormat::kDicomFile:
      return "DICOM file";
    case FileFormat::kDicomDirectory:
      return "DICOM directory";
    case FileFormat::kUnknown:
      return "unknown";
  }
  return "unknown";
}

const char* componentTypeName(ComponentType type) {
  switch (type) {
    case ComponentType::kUInt8:
      return "uint8";
    case ComponentType::kInt8:
      return "int8";
    case ComponentType::kUInt16:
      return "uint16";
    case ComponentType::kInt16:
      return "int16";
    case ComponentType::kUInt32:
      return "uint32";
    case ComponentType::kInt32:
      return "int32";
    case ComponentType::kFloat32:
      return "float32";
    case ComponentType::kFloat64:
      return "float64";
    case ComponentType::kOther:
      return "other";
    case ComponentType::kUnknown:
      return "unknown";
  }
  return "unknown";
}

Result<ImageHeader> readHeader(const std::string& path, const std::string& seriesUid) {
  if (!fileExists(path)) return Error{StatusCode::kNotFound, "no such file or directory", path};
  ImageHeader header;
  header.format = formatFromPath(path);
  if (header.format == FileFormat::kUnknown) {
    return Error{StatusCode::kUnsupported,
                 "unrecognised file type; Tessera reads .nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd, "
                 "DICOM files and DICOM directories",
                 path};
  }
  if (header.format == FileFormat::kDicomFile || header.format == FileFormat::kDicomDirectory)
    return readDicomHeader(path, seriesUid);
  TESSERA_RETURN_IF_ERROR(checkImageFile(path, header.format));
  try {
    itk::ImageIOBase::Pointer io = createFileIO(header.format);
    if (!io->CanReadFile(path.c_str())) {
      return Error{StatusCode::kCorruptData,
                   std::string("not a valid ") + formatName(header.format) +
                       " file (damaged, truncated or another format)",
                   path};
    }
    io->SetFileName(path);
    io->ReadImageInformation();
    TESSERA_ASSIGN_OR_RETURN(header, headerFromImageIO(*io, header.format, path));
  } catch (const itk::ExceptionObject& e) {
    return Error{
        StatusCode::kCorruptData,
        std::string("cannot read the ") + formatName(header.format) + " header: " + itkMessage(e),
        path};
  }
  return header;
}

Result<Volume> readVolume(const std::string& path, const ReadOptions& options) {
  const FileFormat format = formatFromPath(path);
  if (format == FileFormat::kDicomFile || format == FileFormat::kDicomDirectory)
    return readDicomVolume(path, options);
  ProgressTracker tracker(options.progress);
  tracker.report(0.0, "reading " + path);
  std::vector<std::string> warnings;
  ImageHeader header;
  auto volume = readFileImage<std::int16_t>(path, options, &warnings, &header);
  if (!volume.ok()) return volume;
  for (const std::string& w : warnings) logWarning(path, ": ", w);
  if (options.report) {
    options.report->header = header;
    options.report->warnings.insert(options.report->warnings.end(), warnings.begin(),
                                    warnings.end());
  }
  tracker.report(1.0, "read " + path);
  return volume;
}

Result<std::vector<std::string>> volumeSourceFiles(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const std::string data, detachedDataFile(path, formatFromPath(path)));
  std::vector<std::string> files{path};
  if (!data.empty()) files.push_back(data);
  return files;
}

Result<LabelMap> readLabelMap(const std::string& path) {
  if (formatFromPath(path) == FileFormat::kDicomFile ||
      formatFromPath(path) == FileFormat::kDicomDirectory)
    return Error{StatusCode::kUnsupported,
                 "label maps are read from NIfTI, NRRD or MetaImage, not DICOM", path};
  std::vector<std::string> warnings;
  TESSERA_ASSIGN_OR_RETURN(Image<std::uint8_t> labels,
                           readFileImage<std::uint8_t>(path, {}, &warnings, nullptr));
  LabelMap map;
  map.labels = std::move(labels);
  map.table = defaultLabelTable();
  return map;
}

Status checkVolumeOutput(const std::string& path) {
  if (outputFormatFromPath(path) == FileFormat::kDicomDirectory)
    return checkDicomSeriesTarget(path);
  return checkFileOutput(path, true);
}

Status writeVolume(const Volume& volume, const std::string& path, ProgressSink* progress) {
  if (outputFormatFromPath(path) == FileFormat::kDicomDirectory) {
    DicomWriteOptions options;
    options.progress = progress;
    return writeDicomSeries(volume, path, options);
  }
  ProgressTracker tracker(progress);
  tracker.report(0.0, "writing " + path);
  TESSERA_RETURN_IF_ERROR(writeWithItk(volume, path, true));
  tracker.report(1.0, "wrote " + path);
  return Status();
}

Status writeLabelMap(const LabelMap& labels, const std::string& path) {
  return writeWithItk(labels.labels, path, false);
}

Status writeFloatImage(const Image<float>& image, const std::string& path) {
  return writeWithItk(image, path, false);
}

}  // namespace tessera::imaging
