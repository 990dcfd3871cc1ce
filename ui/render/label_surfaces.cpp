#include "ui/render/label_surfaces.h"

#include <vtkCellArray.h>
#include <vtkFloatArray.h>
#include <vtkPointData.h>
#include <vtkPoints.h>

namespace tessera::ui {

vtkSmartPointer<vtkPolyData> polyDataFromMesh(const imaging::Mesh& mesh) {
  auto points = vtkSmartPointer<vtkPoints>::New();
  points->SetDataTypeToFloat();
  points->SetNumberOfPoints(static_cast<vtkIdType>(mesh.vertexCount()));
  for (std::size_t i = 0; i < mesh.vertexCount(); ++i)
    points->SetPoint(static_cast<vtkIdType>(i), mesh.vertices[3 * i], mesh.vertices[3 * i + 1],
                     mesh.vertices[3 * i + 2]);
  auto triangles = vtkSmartPointer<vtkCellArray>::New();
  triangles->AllocateExact(static_cast<vtkIdType>(mesh.triangleCount()),
                           static_cast<vtkIdType>(mesh.triangles.size()));
  for (std::size_t t = 0; t < mesh.triangles.size(); t += 3) {
    const vtkIdType ids[3] = {mesh.triangles[t], mesh.triangles[t + 1], mesh.triangles[t + 2]};
    triangles->InsertNextCell(3, ids);
  }
  auto polyData = vtkSmartPointer<vtkPolyData>::New();
  polyData->SetPoints(points);
  polyData->SetPolys(triangles);
  if (mesh.normals.size() == mesh.vertices.size()) {
    auto normals = vtkSmartPointer<vtkFloatArray>::New();
    normals->SetNumberOfComponents(3);
    normals->SetNumberOfTuples(static_cast<vtkIdType>(mesh.vertexCount()));
    std::copy(mesh.normals.begin(), mesh.normals.end(), normals->GetPointer(0));
    polyData->GetPointData()->SetNormals(normals);
  }
  return polyData;
}

Result<LabelSurfaces> buildLabelSurfaces(const LabelMap& labels, const CancelToken* cancel) {
  imaging::MeshOptions options;
  options.cancel = cancel;
  TESSERA_ASSIGN_OR_RETURN(auto meshes, imaging::buildLabelMeshes(labels, options));
  LabelSurfaces surfaces;
  for (const imaging::Mesh& mesh : meshes)
    if (!mesh.empty()) surfaces[mesh.labelValue] = polyDataFromMesh(mesh);
  return surfaces;
}

}  // namespace tessera::ui
