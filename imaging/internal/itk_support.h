// ITK glue private to imaging/ (never included outside it): geometry
// conversion between Tessera and ITK, and readable ITK error messages.
#pragma once

#include <itkImage.h>
#include <itkImageIOBase.h>

#include <string>

#include "core/geometry.h"
#include "imaging/io/volume_io.h"

namespace tessera::imaging {

// The description of an ITK exception without its source location noise.
std::string itkMessage(const itk::ExceptionObject& e);

template <class ItkImage>
void toItkGeometry(const Geometry& g, ItkImage* image) {
  typename ItkImage::RegionType region;
  typename ItkImage::SpacingType spacing;
  typename ItkImage::PointType origin;
  typename ItkImage::DirectionType direction;
  for (unsigned a = 0; a < 3; ++a) {
    region.SetIndex(a, 0);
    region.SetSize(a, static_cast<itk::SizeValueType>(g.size[a]));
    spacing[a] = g.spacingMm[a];
    origin[a] = g.originMm[a];
    for (unsigned c = 0; c < 3; ++c) direction(a, c) = g.direction[3 * a + c];
  }
  image->SetRegions(region);
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
}

template <class ItkImage>
Geometry fromItkGeometry(const ItkImage& image) {
  Geometry g;
  const auto size = image.GetLargestPossibleRegion().GetSize();
  for (unsigned a = 0; a < 3; ++a) {
    g.size[a] = static_cast<std::int64_t>(size[a]);
    g.spacingMm[a] = image.GetSpacing()[a];
    g.originMm[a] = image.GetOrigin()[a];
    for (unsigned c = 0; c < 3; ++c) g.direction[3 * a + c] = image.GetDirection()(a, c);
  }
  return g;
}

ComponentType fromItkComponent(itk::IOComponentEnum type);
ComponentType fromNiftiDatatype(int datatype);

// Geometry and voxel type from an ImageIO whose information was read.
// 2D images become one slice; 4D images with one time point become 3D.
// Checks the claimed size against what can be allocated.
Result<ImageHeader> headerFromImageIO(itk::ImageIOBase& io, FileFormat format,
                                      const std::string& path);

// `path` without trailing '/' (a lone "/" stays).
std::string trimTrailingSlashes(std::string path);

// A directory beside a target path for writing header + data pairs;
// removed (with anything left in it) on destruction.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& besidePath);
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  bool ok() const { return ok_; }
  const std::string& path() const { return dir_; }
  // The path a file named like `finalPath` has inside this directory.
  std::string pathFor(const std::string& finalPath) const;
  // Moves every file into finalPath's directory; the file named like
  // finalPath last.
  Status moveAllTo(const std::string& finalPath);
  // Renames this directory, once complete, to `target` (absent, or an empty
  // directory, which it replaces) and syncs the parent; `what` names the
  // contents in the error ("the series").
  Status placeAs(const std::string& target, const std::string& what);

 private:
  std::string dir_;
  bool ok_ = false;
};

}  // namespace tessera::imaging
