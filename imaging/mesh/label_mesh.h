// Surface meshes of labels for export (STL, OBJ) and 3D display. Built with
// VTK privately: discrete flying edges on the label, windowed-sinc smoothing,
// optional quadric decimation, point normals. Vertices are in patient
// coordinates (mm) through the full direction matrix, so oblique and flipped
// volumes give meshes at the right place in the world.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

// LPS is Tessera's (and DICOM's, ITK's) patient frame. RAS (x and y negated)
// is what 3D Slicer, FreeSurfer and NIfTI world coordinates use.
enum class MeshFrame { kLPS, kRAS };
const char* meshFrameName(MeshFrame frame);

struct Mesh {
  std::uint8_t labelValue = 0;
  std::string labelName;
  MeshFrame frame = MeshFrame::kLPS;
  std::vector<float> vertices;  // x, y, z per vertex, mm in `frame`
  std::vector<float> normals;   // unit outward normal per vertex (may be empty)
  // Three vertex indices per triangle, counter-clockwise seen from outside
  // (right-hand rule gives the outward normal), whatever the frame.
  std::vector<std::uint32_t> triangles;

  std::size_t vertexCount() const { return vertices.size() / 3; }
  std::size_t triangleCount() const { return triangles.size() / 3; }
  bool empty() const { return triangles.empty(); }
};

struct MeshOptions {
  // Windowed-sinc smoothing; 0 iterations keeps the raw voxel surface.
  int smoothingIterations = 20;
  // Lower is smoother (VTK's pass band, 0..2); 0.1 removes the voxel
  // staircase while keeping the shape and volume of organs.
  double passBand = 0.1;
  // Fraction of triangles to remove with quadric decimation (0 = none, < 1).
  double decimation = 0.0;
  bool computeNormals = true;
  MeshFrame frame = MeshFrame::kLPS;
  // Labels to mesh; empty means every non-background value present.
  std::vector<std::uint8_t> labels;
  const CancelToken* cancel = nullptr;
  ProgressSink* progress = nullptr;
};

// Mesh of one label value. The surface is closed even where the label
// touches the edge of the grid (it is capped there). An absent label gives
// kNotFound. Reentrant: independent calls may run concurrently.
Result<Mesh> buildLabelMesh(const LabelMap& labels, std::uint8_t value,
                            const MeshOptions& options = {});

// One mesh per requested (or present) label, in value order.
Result<std::vector<Mesh>> buildLabelMeshes(const LabelMap& labels, const MeshOptions& options = {});

// Writes by extension: ".stl" (binary; the 80-byte header reads
// "Tessera label <name> (<value>) frame <LPS|RAS> units mm") or ".obj"
// (comment lines stating the same). Atomic: temporary file, then rename.
Status writeMesh(const Mesh& mesh, const std::string& path);

// "liver.stl"-style file name for a label: lower case, characters other
// than letters, digits, '-' and '_' replaced by '_'.
std::string meshFileName(const Mesh& mesh, const std::string& extension);

}  // namespace tessera::imaging
