// Smoothed surface meshes of labels, built with VTK (discrete flying edges on
// each label's bounding box, windowed-sinc smoothing, normals) and placed in
// patient coordinates: LPS millimetres through the full direction matrix, so
// oblique and flipped volumes give surfaces at the right place. Pure
// functions of their inputs: safe to run on a worker thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

#include "core/image.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::ui {

struct SurfaceOptions {
  int smoothingIterations = 15;
  double passBand = 0.1;  // windowed-sinc pass band: lower is smoother
};

using LabelSurfaces = std::map<std::uint8_t, vtkSmartPointer<vtkPolyData>>;

// One surface per requested label value that has voxels (all non-zero values
// present when `values` is empty). Stops early, returning what it has, when
// `cancel` is triggered.
LabelSurfaces buildLabelSurfaces(const Image<std::uint8_t>& labels,
                                 const std::vector<std::uint8_t>& values = {},
                                 const SurfaceOptions& options = {},
                                 const CancelToken* cancel = nullptr);

// Writes a surface as binary STL or as OBJ (by extension), atomically; the
// STL header and the OBJ comment name the label and state "frame LPS units mm".
Status writeSurface(vtkPolyData* surface, const std::string& labelName, std::uint8_t value,
                    const std::string& path);

// Writes one file per label into `directory`: <value>_<name>.<stl|obj>.
// Returns the paths written.
Result<std::vector<std::string>> exportLabelSurfaces(const LabelSurfaces& surfaces,
                                                     const LabelTable& table,
                                                     const std::string& directory,
                                                     const std::string& extension);

}  // namespace tessera::ui
