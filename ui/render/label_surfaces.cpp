#include "ui/render/label_surfaces.h"

#include <vtkCellArray.h>
#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkImageData.h>
#include <vtkMatrix4x4.h>
#include <vtkPoints.h>
#include <vtkPolyDataNormals.h>
#include <vtkSTLWriter.h>
#include <vtkTransform.h>
#include <vtkTransformPolyDataFilter.h>
#include <vtkUnsignedCharArray.h>
#include <vtkWindowedSincPolyDataFilter.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>

#include "core/files.h"

namespace tessera::ui {

namespace {

struct Box {
  std::array<std::int64_t, 3> lo{INT64_MAX, INT64_MAX, INT64_MAX};
  std::array<std::int64_t, 3> hi{-1, -1, -1};
  bool empty() const { return hi[0] < 0; }
};

// Bounding boxes of every label value in one pass.
std::array<Box, 256> boundingBoxes(const Image<std::uint8_t>& labels) {
  std::array<Box, 256> boxes;
  const std::uint8_t* data = labels.data();
  for (std::int64_t k = 0; k < labels.nz(); ++k)
    for (std::int64_t j = 0; j < labels.ny(); ++j)
      for (std::int64_t i = 0; i < labels.nx(); ++i) {
        Box& b = boxes[*data++];
        const std::array<std::int64_t, 3> p{i, j, k};
        for (int a = 0; a < 3; ++a) {
          b.lo[a] = std::min(b.lo[a], p[a]);
          b.hi[a] = std::max(b.hi[a], p[a]);
        }
      }
  return boxes;
}

// A 0/1 mask of one label over its box plus one voxel of background on
// every side (so the surface closes at the edge of the volume), with the
// box's position kept in the image origin (voxel units × spacing).
vtkSmartPointer<vtkImageData> maskOf(const Image<std::uint8_t>& labels, std::uint8_t value,
                                     const Box& box) {
  const Geometry& g = labels.geometry();
  std::array<std::int64_t, 3> lo{}, dims{};
  for (int a = 0; a < 3; ++a) {
    lo[a] = box.lo[a] - 1;
    dims[a] = box.hi[a] - box.lo[a] + 3;
  }
  auto image = vtkSmartPointer<vtkImageData>::New();
  image->SetDimensions(int(dims[0]), int(dims[1]), int(dims[2]));
  image->SetSpacing(g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]);
  image->SetOrigin(lo[0] * g.spacingMm[0], lo[1] * g.spacingMm[1], lo[2] * g.spacingMm[2]);
  image->AllocateScalars(VTK_UNSIGNED_CHAR, 1);
  auto* out = static_cast<std::uint8_t*>(image->GetScalarPointer());
  std::fill(out, out + dims[0] * dims[1] * dims[2], 0);
  for (std::int64_t k = box.lo[2]; k <= box.hi[2]; ++k)
    for (std::int64_t j = box.lo[1]; j <= box.hi[1]; ++j) {
      const std::uint8_t* row = &labels.at(box.lo[0], j, k);
      std::uint8_t* dst =
          out + (box.lo[0] - lo[0]) + dims[0] * ((j - lo[1]) + dims[1] * (k - lo[2]));
      for (std::int64_t i = 0; i <= box.hi[0] - box.lo[0]; ++i) dst[i] = row[i] == value;
    }
  return image;
}

// Index space scaled by spacing → LPS: rotate by the direction, add origin.
vtkSmartPointer<vtkTransform> patientTransform(const Geometry& g) {
  auto matrix = vtkSmartPointer<vtkMatrix4x4>::New();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) matrix->SetElement(r, c, g.direction[3 * r + c]);
    matrix->SetElement(r, 3, g.originMm[r]);
  }
  auto transform = vtkSmartPointer<vtkTransform>::New();
  transform->SetMatrix(matrix);
  return transform;
}

std::string fileSafe(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out;
}

Status writeObj(vtkPolyData* surface, const std::string& header, const std::string& path) {
  AtomicFile file(path);
  {
    std::ofstream out(file.tempPath());
    if (!out) return Status(StatusCode::kIoError, "cannot write the mesh file", path);
    out << "# " << header << "\n";
    vtkPoints* points = surface->GetPoints();
    char line[128];
    for (vtkIdType i = 0; points && i < points->GetNumberOfPoints(); ++i) {
      double p[3];
      points->GetPoint(i, p);
      std::snprintf(line, sizeof line, "v %.4f %.4f %.4f\n", p[0], p[1], p[2]);
      out << line;
    }
    vtkCellArray* polys = surface->GetPolys();
    polys->InitTraversal();
    vtkIdType count = 0;
    const vtkIdType* ids = nullptr;
    while (polys->GetNextCell(count, ids)) {
      out << 'f';
      for (vtkIdType k = 0; k < count; ++k) out << ' ' << ids[k] + 1;
      out << '\n';
    }
    if (!out.flush()) return Status(StatusCode::kIoError, "cannot write the mesh file", path);
  }
  return file.commit();
}

}  // namespace

LabelSurfaces buildLabelSurfaces(const Image<std::uint8_t>& labels,
                                 const std::vector<std::uint8_t>& values,
                                 const SurfaceOptions& options, const CancelToken* cancel) {
  LabelSurfaces surfaces;
  if (labels.empty()) return surfaces;
  const auto boxes = boundingBoxes(labels);
  std::vector<std::uint8_t> wanted = values;
  if (wanted.empty())
    for (int v = 1; v < 256; ++v)
      if (!boxes[v].empty()) wanted.push_back(static_cast<std::uint8_t>(v));
  const auto transform = patientTransform(labels.geometry());
  for (std::uint8_t value : wanted) {
    if (cancel && cancel->cancelled()) break;
    if (value == 0 || boxes[value].empty()) continue;
    auto contour = vtkSmartPointer<vtkDiscreteFlyingEdges3D>::New();
    contour->SetInputData(maskOf(labels, value, boxes[value]));
    contour->SetValue(0, 1.0);
    contour->ComputeNormalsOff();
    contour->ComputeGradientsOff();
    contour->ComputeScalarsOff();
    auto smooth = vtkSmartPointer<vtkWindowedSincPolyDataFilter>::New();
    smooth->SetInputConnection(contour->GetOutputPort());
    smooth->SetNumberOfIterations(options.smoothingIterations);
    smooth->SetPassBand(options.passBand);
    smooth->NormalizeCoordinatesOn();
    smooth->BoundarySmoothingOff();
    smooth->FeatureEdgeSmoothingOff();
    smooth->NonManifoldSmoothingOn();
    auto place = vtkSmartPointer<vtkTransformPolyDataFilter>::New();
    place->SetInputConnection(smooth->GetOutputPort());
    place->SetTransform(transform);
    auto normals = vtkSmartPointer<vtkPolyDataNormals>::New();
    normals->SetInputConnection(place->GetOutputPort());
    normals->SplittingOff();
    normals->ConsistencyOn();
    normals->AutoOrientNormalsOn();
    normals->Update();
    auto surface = vtkSmartPointer<vtkPolyData>::New();
    surface->ShallowCopy(normals->GetOutput());
    if (surface->GetNumberOfPolys() > 0) surfaces[value] = surface;
  }
  return surfaces;
}

Status writeSurface(vtkPolyData* surface, const std::string& labelName, std::uint8_t value,
                    const std::string& path) {
  if (!surface || surface->GetNumberOfPolys() == 0)
    return Status(StatusCode::kInvalidArgument, "label " + labelName + " has no surface", path);
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  const std::string header =
      "Tessera label " + labelName + " (" + std::to_string(int(value)) + ") frame LPS units mm";
  std::string extension = fullExtension(path);
  std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
  if (extension == ".obj") return writeObj(surface, header, path);
  if (extension != ".stl")
    return Status(StatusCode::kInvalidArgument, "meshes are written as .stl or .obj", path);
  AtomicFile file(path);
  auto writer = vtkSmartPointer<vtkSTLWriter>::New();
  writer->SetInputData(surface);
  writer->SetFileName(file.tempPath().c_str());
  writer->SetFileTypeToBinary();
  writer->SetHeader(header.c_str());
  if (writer->Write() != 1 || writer->GetErrorCode() != 0)
    return Status(StatusCode::kIoError, "cannot write the mesh file", path);
  return file.commit();
}

Result<std::vector<std::string>> exportLabelSurfaces(const LabelSurfaces& surfaces,
                                                     const LabelTable& table,
                                                     const std::string& directory,
                                                     const std::string& extension) {
  if (!isDirectory(directory))
    return Error{StatusCode::kNotFound, "the folder for the meshes does not exist", directory};
  if (surfaces.empty())
    return Error{StatusCode::kInvalidArgument, "there are no labels to export as meshes",
                 directory};
  std::vector<std::string> written;
  for (const auto& [value, surface] : surfaces) {
    const std::string name = table.nameOf(value);
    const std::string path =
        directory + "/" + std::to_string(int(value)) + "_" + fileSafe(name) + extension;
    TESSERA_RETURN_IF_ERROR(writeSurface(surface, name, value, path));
    written.push_back(path);
  }
  return written;
}

}  // namespace tessera::ui
