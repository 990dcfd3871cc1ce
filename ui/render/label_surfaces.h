// Label surfaces for the 3D view: the meshes of imaging/mesh (smoothed,
// closed, in LPS millimetres through the full direction matrix) handed to
// VTK as polygon data. Pure functions of their input: safe on a worker thread.
//
// The 3D view does not need export quality. Meshing every label of a
// 512×512 study at full resolution takes close to a minute on two cores,
// most of it in the soft-tissue and fat shells, which wrap the whole body and
// hide the organs anyway. Display surfaces therefore mesh a label map
// downsampled in-plane, leave the wrapping tissues out and add one cheap
// outline of the whole body instead. Exports (WorkstationModel::exportMeshes)
// stay at full resolution.
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
#include "imaging/mesh/label_mesh.h"

namespace tessera::ui {

// Keyed by label value; kBodyShell (background's value, never a label
// surface) holds the outline of the whole body.
using LabelSurfaces = std::map<std::uint8_t, vtkSmartPointer<vtkPolyData>>;
inline constexpr std::uint8_t kBodyShell = 0;

// Points, triangles and normals of a mesh; coordinates unchanged.
vtkSmartPointer<vtkPolyData> polyDataFromMesh(const imaging::Mesh& mesh);

// One full-resolution surface per label value present (background excluded).
Result<LabelSurfaces> buildLabelSurfaces(const LabelMap& labels,
                                         const CancelToken* cancel = nullptr);

struct DisplaySurfaceOptions {
  // In-plane step of the grid the labels are meshed on: 2 meshes a 512² study
  // on 256² (a quarter of the voxels). 0 picks 2 for slices wider than 256
  // voxels, else 1.
  int inPlaneStep = 0;
  // Labels left out by name: the tissues that wrap the body.
  std::vector<std::string> skipNames{"soft_tissue", "fat"};
  // Also the outline of every non-background voxel, on a grid twice as
  // coarse again, under kBodyShell.
  bool bodyShell = true;
  const CancelToken* cancel = nullptr;
};

// Surfaces for the 3D view (see above), built on up to two threads.
Result<LabelSurfaces> buildDisplaySurfaces(const LabelMap& labels,
                                           const DisplaySurfaceOptions& options = {});

// Labels on a grid `step` times coarser along i and j: each coarse voxel
// takes the most frequent label of its step×step patch (non-background wins
// ties), and its centre lies at the patch's centre, so surfaces stay in place.
// Partial patches at the far edges count the voxels they have.
LabelMap downsampleInPlane(const LabelMap& labels, int step);

}  // namespace tessera::ui
