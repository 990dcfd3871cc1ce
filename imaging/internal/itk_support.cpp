#include "imaging/internal/itk_support.h"

#include <charconv>

#include <unistd.h>

#include <itkMetaDataObject.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/files.h"
#include "core/image.h"

namespace tessera::imaging {
namespace fs = std::filesystem;

std::string itkMessage(const itk::ExceptionObject& e) {
  std::string text = e.GetDescription();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

ComponentType fromItkComponent(itk::IOComponentEnum type) {
  switch (type) {
    case itk::IOComponentEnum::UCHAR:
      return ComponentType::kUInt8;
    case itk::IOComponentEnum::CHAR:
      return ComponentType::kInt8;
    case itk::IOComponentEnum::USHORT:
      return ComponentType::kUInt16;
    case itk::IOComponentEnum::SHORT:
      return ComponentType::kInt16;
    case itk::IOComponentEnum::UINT:
      return ComponentType::kUInt32;
    case itk::IOComponentEnum::INT:
      return ComponentType::kInt32;
    case itk::IOComponentEnum::FLOAT:
      return ComponentType::kFloat32;
    case itk::IOComponentEnum::DOUBLE:
      return ComponentType::kFloat64;
    case itk::IOComponentEnum::UNKNOWNCOMPONENTTYPE:
      return ComponentType::kUnknown;
    default:
      return ComponentType::kOther;
  }
}

ComponentType fromNiftiDatatype(int datatype) {
  switch (datatype) {
    case 2:
      return ComponentType::kUInt8;
    case 4:
      return ComponentType::kInt16;
    case 8:
      return ComponentType::kInt32;
    case 16:
      return ComponentType::kFloat32;
    case 64:
      return ComponentType::kFloat64;
    case 256:
      return ComponentType::kInt8;
    case 512:
      return ComponentType::kUInt16;
    case 768:
      return ComponentType::kUInt32;
    default:
      return ComponentType::kOther;
  }
}

Result<ImageHeader> headerFromImageIO(itk::ImageIOBase& io, FileFormat format,
                                      const std::string& path) {
  ImageHeader header;
  header.format = format;
  header.fileDimensions = static_cast<int>(io.GetNumberOfDimensions());
  header.components = static_cast<int>(io.GetNumberOfComponents());
  header.componentType = fromItkComponent(io.GetComponentType());
  const unsigned dims = io.GetNumberOfDimensions();
  if (dims < 2 || dims > 4)
    return Error{StatusCode::kUnsupported,
                 "images with " + std::to_string(dims) + " dimensions are not supported", path};
  if (dims == 4 && io.GetDimensions(3) != 1)
    return Error{StatusCode::kUnsupported,
                 "4D images (" + std::to_string(io.GetDimensions(3)) +
                     " time points) are not supported; extract one 3D volume first",
                 path};
  if (header.components != 1)
    return Error{StatusCode::kUnsupported,
                 "images with " + std::to_string(header.components) +
                     " components per voxel (colour or vector) are not CT",
                 path};
  Geometry& g = header.geometry;
  const unsigned spatial = std::min(dims, 3u);
  for (unsigned a = 0; a < spatial; ++a) {
    g.size[a] = static_cast<std::int64_t>(io.GetDimensions(a));
    g.spacingMm[a] = io.GetSpacing(a);
    g.originMm[a] = io.GetOrigin(a);
    const std::vector<double> column = io.GetDirection(a);
    for (unsigned r = 0; r < 3; ++r) g.direction[3 * r + a] = r < column.size() ? column[r] : 0.0;
  }
  if (spatial == 2) {
    g.size[2] = 1;
    g.direction[2] = 0.0;
    g.direction[5] = 0.0;
    g.direction[8] = 1.0;
  }
  if (format == FileFormat::kNifti) {
    // ITK applies scl_slope/scl_inter itself and then reports float voxels;
    // the header keeps what the file stores.
    const itk::MetaDataDictionary& dict = io.GetMetaDataDictionary();
    std::string datatype, slope, intercept;
    if (itk::ExposeMetaData<std::string>(dict, "datatype", datatype))
      header.componentType = fromNiftiDatatype(std::atoi(datatype.c_str()));
    if (itk::ExposeMetaData<std::string>(dict, "scl_slope", slope) &&
        itk::ExposeMetaData<std::string>(dict, "scl_inter", intercept)) {
      double s = 0, i = 0;
      std::from_chars(slope.data(), slope.data() + slope.size(), s);
      std::from_chars(intercept.data(), intercept.data() + intercept.size(), i);
      if (s != 0.0 && std::isfinite(s) && std::isfinite(i)) {
        header.rescaleSlope = s;
        header.rescaleIntercept = i;
      }
    }
  }
  TESSERA_RETURN_IF_ERROR(std::move(validateGeometry(g)).withContext(path));
  TESSERA_RETURN_IF_ERROR(std::move(checkAllocatable(g, 2)).withContext(path));
  return header;
}

namespace {
std::atomic<unsigned> g_dirCounter{0};
}

TemporaryDirectory::TemporaryDirectory(const std::string& besidePath) {
  fs::path parent = fs::path(besidePath).parent_path();
  if (parent.empty()) parent = ".";
  dir_ = (parent / (".tessera-tmp-" + std::to_string(::getpid()) + "-" +
                    std::to_string(g_dirCounter.fetch_add(1))))
             .string();
  std::error_code error;
  ok_ = fs::create_directory(dir_, error);
}

TemporaryDirectory::~TemporaryDirectory() {
  if (!ok_) return;
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string TemporaryDirectory::pathFor(const std::string& finalPath) const {
  return (fs::path(dir_) / fs::path(finalPath).filename()).string();
}

std::string trimTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

Status TemporaryDirectory::placeAs(const std::string& target, const std::string& what) {
  std::error_code error;
  if (fs::exists(target, error)) fs::remove(target, error);  // empty, checked by the caller
  fs::rename(dir_, target, error);
  if (error)
    return Status(StatusCode::kIoError, "cannot move " + what + " into place: " + error.message(),
                  target);
  fs::path parent = fs::path(target).parent_path();
  return syncPath(parent.empty() ? std::string(".") : parent.string());
}

Status TemporaryDirectory::moveAllTo(const std::string& finalPath) {
  fs::path parent = fs::path(finalPath).parent_path();
  if (parent.empty()) parent = ".";
  const std::string last = fs::path(finalPath).filename().string();
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir_, error)) {
    if (entry.path().filename() == last) continue;
    fs::rename(entry.path(), parent / entry.path().filename(), error);
    if (error)
      return Status(StatusCode::kIoError, "cannot move " + entry.path().string(), finalPath);
  }
  fs::rename(pathFor(finalPath), finalPath, error);
  if (error)
    return Status(StatusCode::kIoError, "cannot move the finished file into place", finalPath);
  return Status();
}

}  // namespace tessera::imaging
