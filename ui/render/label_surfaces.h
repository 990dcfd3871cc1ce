// Label surfaces for the 3D view: the meshes of imaging/mesh (smoothed,
// closed, in LPS millimetres through the full direction matrix) handed to
// VTK as polygon data. A pure function of its input: safe on a worker thread.
#pragma once

#include <cstdint>
#include <map>

#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

#include "core/image.h"
#include "core/progress.h"
#include "core/status.h"
#include "imaging/mesh/label_mesh.h"

namespace tessera::ui {

using LabelSurfaces = std::map<std::uint8_t, vtkSmartPointer<vtkPolyData>>;

// Points, triangles and normals of a mesh; coordinates unchanged.
vtkSmartPointer<vtkPolyData> polyDataFromMesh(const imaging::Mesh& mesh);

// One surface per label value present (background excluded).
Result<LabelSurfaces> buildLabelSurfaces(const LabelMap& labels,
                                         const CancelToken* cancel = nullptr);

}  // namespace tessera::ui
