#include "imaging/mesh/label_mesh.h"

#include <vtkCellArray.h>
#include <vtkDataArray.h>
#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkIdList.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataNormals.h>
#include <vtkQuadricDecimation.h>
#include <vtkSmartPointer.h>
#include <vtkUnsignedCharArray.h>
#include <vtkWindowedSincPolyDataFilter.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>

#include "core/files.h"
#include "imaging/stats/label_stats.h"

namespace tessera::imaging {
namespace {

Status checkOptions(const MeshOptions& o) {
  if (o.smoothingIterations < 0 || o.smoothingIterations > 1000)
    return Status(StatusCode::kInvalidArgument, "smoothing iterations must be within 0..1000");
  if (!(o.passBand > 0.0 && o.passBand <= 2.0))
    return Status(StatusCode::kInvalidArgument, "the smoothing pass band must be within (0, 2]");
  if (!(o.decimation >= 0.0 && o.decimation < 1.0))
    return Status(StatusCode::kInvalidArgument, "decimation must be within [0, 1)");
  return Status();
}

// Signed volume enclosed by the triangles (divergence theorem), mm³.
double signedVolume(const Mesh& mesh) {
  double sum = 0;
  const float* v = mesh.vertices.data();
  for (std::size_t t = 0; t < mesh.triangles.size(); t += 3) {
    const float* a = v + 3 * mesh.triangles[t];
    const float* b = v + 3 * mesh.triangles[t + 1];
    const float* c = v + 3 * mesh.triangles[t + 2];
    sum += double(a[0]) * (double(b[1]) * c[2] - double(b[2]) * c[1]) -
           double(a[1]) * (double(b[0]) * c[2] - double(b[2]) * c[0]) +
           double(a[2]) * (double(b[0]) * c[1] - double(b[1]) * c[0]);
  }
  return sum / 6.0;
}

// Unnormalised face normal (b − a) × (c − a).
std::array<double, 3> faceNormal(const float* a, const float* b, const float* c) {
  const double u[3] = {double(b[0]) - a[0], double(b[1]) - a[1], double(b[2]) - a[2]};
  const double w[3] = {double(c[0]) - a[0], double(c[1]) - a[1], double(c[2]) - a[2]};
  return {u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]};
}

// Makes triangles wind counter-clockwise seen from outside (positive enclosed
// volume) and vertex normals point the same way. A reflection in the
// direction matrix flips the winding VTK produced, hence the check.
void orientOutwards(Mesh& mesh) {
  if (signedVolume(mesh) < 0)
    for (std::size_t t = 0; t < mesh.triangles.size(); t += 3)
      std::swap(mesh.triangles[t + 1], mesh.triangles[t + 2]);
  if (mesh.normals.empty()) return;
  double agreement = 0;
  const float* v = mesh.vertices.data();
  const float* n = mesh.normals.data();
  for (std::size_t t = 0; t < mesh.triangles.size(); t += 3) {
    const std::uint32_t i = mesh.triangles[t];
    const auto f =
        faceNormal(v + 3 * i, v + 3 * mesh.triangles[t + 1], v + 3 * mesh.triangles[t + 2]);
    agreement += f[0] * n[3 * i] + f[1] * n[3 * i + 1] + f[2] * n[3 * i + 2];
  }
  if (agreement < 0)
    for (float& x : mesh.normals) x = -x;
}

Result<Mesh> meshFromBox(const LabelMap& labels, std::uint8_t value, const LabelBoundingBox& box,
                         const MeshOptions& options) {
  const Geometry& g = labels.labels.geometry();
  // The crop keeps one background voxel around the label, also beyond the
  // grid, so that the surface is closed where the label meets the edge.
  std::array<std::int64_t, 3> lo, dims;
  for (int a = 0; a < 3; ++a) {
    lo[a] = box.minIndex[a] - 1;
    dims[a] = box.maxIndex[a] - box.minIndex[a] + 3;
  }
  if (dims[0] > std::numeric_limits<int>::max() || dims[1] > std::numeric_limits<int>::max() ||
      dims[2] > std::numeric_limits<int>::max())
    return Status(StatusCode::kUnsupported, "label too large to mesh");

  vtkNew<vtkImageData> image;
  image->SetDimensions(static_cast<int>(dims[0]), static_cast<int>(dims[1]),
                       static_cast<int>(dims[2]));
  // Points come out in "scaled index" space: index × spacing from the crop's
  // corner; the direction and origin are applied afterwards.
  image->SetSpacing(g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]);
  image->SetOrigin(lo[0] * g.spacingMm[0], lo[1] * g.spacingMm[1], lo[2] * g.spacingMm[2]);
  vtkNew<vtkUnsignedCharArray> mask;
  mask->SetNumberOfTuples(dims[0] * dims[1] * dims[2]);
  std::uint8_t* out = mask->GetPointer(0);
  std::memset(out, 0, static_cast<std::size_t>(dims[0] * dims[1] * dims[2]));
  for (std::int64_t k = box.minIndex[2]; k <= box.maxIndex[2]; ++k)
    for (std::int64_t j = box.minIndex[1]; j <= box.maxIndex[1]; ++j) {
      const std::uint8_t* row = &labels.labels.at(0, j, k);
      std::uint8_t* dst = out + (k - lo[2]) * dims[0] * dims[1] + (j - lo[1]) * dims[0];
      for (std::int64_t i = box.minIndex[0]; i <= box.maxIndex[0]; ++i)
        dst[i - lo[0]] = row[i] == value ? 1 : 0;
    }
  image->GetPointData()->SetScalars(mask);

  vtkNew<vtkDiscreteFlyingEdges3D> contour;
  contour->SetInputData(image);
  contour->SetValue(0, 1);
  contour->ComputeNormalsOff();
  contour->ComputeGradientsOff();
  contour->ComputeScalarsOff();
  contour->Update();
  vtkSmartPointer<vtkPolyData> surface = contour->GetOutput();
  if (options.cancel && options.cancel->cancelled())
    return Status(StatusCode::kCancelled, "mesh building cancelled");

  if (options.smoothingIterations > 0) {
    vtkNew<vtkWindowedSincPolyDataFilter> smoother;
    smoother->SetInputData(surface);
    smoother->SetNumberOfIterations(options.smoothingIterations);
    smoother->SetPassBand(options.passBand);
    smoother->BoundarySmoothingOff();
    smoother->FeatureEdgeSmoothingOff();
    smoother->NonManifoldSmoothingOn();
    smoother->NormalizeCoordinatesOn();
    smoother->Update();
    surface = smoother->GetOutput();
  }
  if (options.decimation > 0.0) {
    vtkNew<vtkQuadricDecimation> decimate;
    decimate->SetInputData(surface);
    decimate->SetTargetReduction(options.decimation);
    decimate->VolumePreservationOn();
    decimate->Update();
    surface = decimate->GetOutput();
  }
  if (options.computeNormals) {
    vtkNew<vtkPolyDataNormals> normals;
    normals->SetInputData(surface);
    normals->SplittingOff();  // splitting would duplicate vertices and open the surface
    normals->ConsistencyOn();
    normals->ComputePointNormalsOn();
    normals->ComputeCellNormalsOff();
    normals->Update();
    surface = normals->GetOutput();
  }
  if (options.cancel && options.cancel->cancelled())
    return Status(StatusCode::kCancelled, "mesh building cancelled");

  vtkPoints* points = surface->GetPoints();
  vtkCellArray* polys = surface->GetPolys();
  if (!points || !polys || polys->GetNumberOfCells() == 0)
    return Status(StatusCode::kInternal,
                  "the surface of label " + std::to_string(value) + " came out empty");
  const vtkIdType pointCount = points->GetNumberOfPoints();
  if (pointCount > static_cast<vtkIdType>(std::numeric_limits<std::uint32_t>::max()))
    return Status(StatusCode::kUnsupported, "mesh has more than 2^32 vertices");

  Mesh mesh;
  mesh.labelValue = value;
  mesh.labelName = labels.table.nameOf(value);
  mesh.frame = options.frame;
  const Mat3& d = g.direction;
  // RAS negates the first two patient axes.
  const double sign[3] = {options.frame == MeshFrame::kRAS ? -1.0 : 1.0,
                          options.frame == MeshFrame::kRAS ? -1.0 : 1.0, 1.0};
  mesh.vertices.resize(static_cast<std::size_t>(pointCount) * 3);
  for (vtkIdType p = 0; p < pointCount; ++p) {
    double s[3];
    points->GetPoint(p, s);
    for (int r = 0; r < 3; ++r) {
      const double world =
          g.originMm[r] + d[3 * r] * s[0] + d[3 * r + 1] * s[1] + d[3 * r + 2] * s[2];
      mesh.vertices[3 * p + r] = static_cast<float>(sign[r] * world);
    }
  }
  if (vtkDataArray* normals = surface->GetPointData()->GetNormals()) {
    mesh.normals.resize(mesh.vertices.size());
    for (vtkIdType p = 0; p < pointCount; ++p) {
      double n[3];
      normals->GetTuple(p, n);
      for (int r = 0; r < 3; ++r)
        mesh.normals[3 * p + r] = static_cast<float>(
            sign[r] * (d[3 * r] * n[0] + d[3 * r + 1] * n[1] + d[3 * r + 2] * n[2]));
    }
  }
  mesh.triangles.reserve(static_cast<std::size_t>(polys->GetNumberOfCells()) * 3);
  vtkNew<vtkIdList> cell;
  for (polys->InitTraversal(); polys->GetNextCell(cell);) {
    if (cell->GetNumberOfIds() != 3)
      return Status(StatusCode::kInternal, "the label surface contains a non-triangle cell");
    for (int c = 0; c < 3; ++c)
      mesh.triangles.push_back(static_cast<std::uint32_t>(cell->GetId(c)));
  }
  orientOutwards(mesh);
  return mesh;
}

std::string headerText(const Mesh& mesh) {
  return "Tessera label " + mesh.labelName + " (" + std::to_string(mesh.labelValue) + ") frame " +
         meshFrameName(mesh.frame) + " units mm";
}

Status writeStl(const Mesh& mesh, std::FILE* file) {
  static_assert(std::endian::native == std::endian::little, "STL is little-endian");
  char header[80] = {};
  const std::string text = headerText(mesh);
  std::memcpy(header, text.data(), std::min<std::size_t>(text.size(), sizeof header));
  const auto count = static_cast<std::uint32_t>(mesh.triangleCount());
  if (std::fwrite(header, 1, sizeof header, file) != sizeof header ||
      std::fwrite(&count, 4, 1, file) != 1)
    return Status(StatusCode::kIoError, "write failed (disk full?)");
  const float* v = mesh.vertices.data();
  std::vector<char> buffer;
  buffer.reserve(50 * 4096);
  for (std::size_t t = 0; t < mesh.triangles.size(); t += 3) {
    const float* corners[3] = {v + 3 * mesh.triangles[t], v + 3 * mesh.triangles[t + 1],
                               v + 3 * mesh.triangles[t + 2]};
    const auto f = faceNormal(corners[0], corners[1], corners[2]);
    const double length = std::sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    float record[12] = {};
    if (length > 0)
      for (int r = 0; r < 3; ++r) record[r] = static_cast<float>(f[r] / length);
    for (int c = 0; c < 3; ++c) std::memcpy(record + 3 + 3 * c, corners[c], 3 * sizeof(float));
    const char* bytes = reinterpret_cast<const char*>(record);
    buffer.insert(buffer.end(), bytes, bytes + sizeof record);
    buffer.push_back(0);  // attribute byte count
    buffer.push_back(0);
    if (buffer.size() >= 50 * 4096 || t + 3 == mesh.triangles.size()) {
      if (std::fwrite(buffer.data(), 1, buffer.size(), file) != buffer.size())
        return Status(StatusCode::kIoError, "write failed (disk full?)");
      buffer.clear();
    }
  }
  return Status();
}

Status writeObj(const Mesh& mesh, std::FILE* file) {
  bool ok = std::fprintf(file, "# %s\n# %zu vertices, %zu triangles\n", headerText(mesh).c_str(),
                         mesh.vertexCount(), mesh.triangleCount()) > 0;
  const float* v = mesh.vertices.data();
  for (std::size_t p = 0; ok && p < mesh.vertexCount(); ++p)
    ok = std::fprintf(file, "v %.9g %.9g %.9g\n", v[3 * p], v[3 * p + 1], v[3 * p + 2]) > 0;
  const bool withNormals = mesh.normals.size() == mesh.vertices.size();
  const float* n = mesh.normals.data();
  for (std::size_t p = 0; ok && withNormals && p < mesh.vertexCount(); ++p)
    ok = std::fprintf(file, "vn %.6g %.6g %.6g\n", n[3 * p], n[3 * p + 1], n[3 * p + 2]) > 0;
  for (std::size_t t = 0; ok && t < mesh.triangles.size(); t += 3) {
    const unsigned long a = mesh.triangles[t] + 1ul, b = mesh.triangles[t + 1] + 1ul,
                        c = mesh.triangles[t + 2] + 1ul;  // OBJ indices start at 1
    ok = withNormals ? std::fprintf(file, "f %lu//%lu %lu//%lu %lu//%lu\n", a, a, b, b, c, c) > 0
                     : std::fprintf(file, "f %lu %lu %lu\n", a, b, c) > 0;
  }
  return ok ? Status() : Status(StatusCode::kIoError, "write failed (disk full?)");
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

const char* meshFrameName(MeshFrame frame) {
  return frame == MeshFrame::kRAS ? "RAS" : "LPS";
}

Result<Mesh> buildLabelMesh(const LabelMap& labels, std::uint8_t value,
                            const MeshOptions& options) {
  MeshOptions one = options;
  one.labels = {value};
  TESSERA_ASSIGN_OR_RETURN(std::vector<Mesh> meshes, buildLabelMeshes(labels, one));
  return std::move(meshes.front());
}

Result<std::vector<Mesh>> buildLabelMeshes(const LabelMap& labels, const MeshOptions& options) {
  TESSERA_RETURN_IF_ERROR(checkOptions(options));
  StatisticsOptions statisticsOptions;
  statisticsOptions.cancel = options.cancel;
  TESSERA_ASSIGN_OR_RETURN(std::vector<LabelStatistics> present,
                           computeLabelStatistics(labels, statisticsOptions));
  std::vector<const LabelStatistics*> todo;
  if (options.labels.empty()) {
    for (const LabelStatistics& s : present) todo.push_back(&s);
  } else {
    for (std::uint8_t value : options.labels) {
      auto found = std::find_if(present.begin(), present.end(),
                                [&](const LabelStatistics& s) { return s.value == value; });
      if (found == present.end())
        return Status(StatusCode::kNotFound, "label " + labels.table.nameOf(value) + " (" +
                                                 std::to_string(value) +
                                                 ") is not present in the label map");
      todo.push_back(&*found);
    }
  }
  ProgressTracker progress(options.progress);
  std::vector<Mesh> meshes;
  meshes.reserve(todo.size());
  for (std::size_t n = 0; n < todo.size(); ++n) {
    progress.report(static_cast<double>(n) / todo.size(), "mesh " + std::to_string(n + 1) + "/" +
                                                              std::to_string(todo.size()) + " (" +
                                                              todo[n]->name + ")");
    try {
      TESSERA_ASSIGN_OR_RETURN(Mesh mesh,
                               meshFromBox(labels, todo[n]->value, todo[n]->bbox, options));
      meshes.push_back(std::move(mesh));
    } catch (const std::bad_alloc&) {
      return Status(StatusCode::kResourceExhausted, "not enough memory to mesh " + todo[n]->name);
    }
  }
  progress.report(1.0, "meshes done");
  return meshes;
}

Status writeMesh(const Mesh& mesh, const std::string& path) {
  const std::string extension = lowercase(fullExtension(path));
  if (extension != ".stl" && extension != ".obj")
    return Status(StatusCode::kUnsupported, "mesh files are written as .stl or .obj", path);
  if (mesh.vertices.size() % 3 != 0 || mesh.triangles.size() % 3 != 0)
    return Status(StatusCode::kInvalidArgument, "malformed mesh", path);
  for (std::uint32_t index : mesh.triangles)
    if (index >= mesh.vertexCount())
      return Status(StatusCode::kInvalidArgument, "mesh triangle refers to a missing vertex", path);
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  AtomicFile atomic(path);
  std::FILE* file = std::fopen(atomic.tempPath().c_str(), "wb");
  if (!file) return Status(StatusCode::kIoError, writeErrorMessage(errno), path);
  errno = 0;
  Status status = extension == ".stl" ? writeStl(mesh, file) : writeObj(mesh, file);
  // The position counts every byte handed to stdio, written yet or not: the
  // size the file must have on the disk once closed.
  const long expected = std::ftell(file);
  if (status.ok() && std::fflush(file) != 0) status = Status(StatusCode::kIoError, "");
  int failure = errno;
  if (std::fclose(file) != 0 && status.ok()) {
    status = Status(StatusCode::kIoError, "");
    failure = errno;
  }
  if (!status.ok()) {
    return Status(StatusCode::kIoError,
                  "cannot write the mesh: " +
                      (failure != 0 ? writeErrorMessage(failure) : std::string("write failed")),
                  path);
  }
  if (expected < 0) return Status(StatusCode::kIoError, "cannot write the mesh", path);
  return atomic.commit(static_cast<std::uint64_t>(expected));
}

std::string meshFileName(const Mesh& mesh, const std::string& extension) {
  std::string name = lowercase(mesh.labelName);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  if (name.empty()) name = "label_" + std::to_string(mesh.labelValue);
  return name + extension;
}

}  // namespace tessera::imaging
