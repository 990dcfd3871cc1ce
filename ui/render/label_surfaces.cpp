#include "ui/render/label_surfaces.h"

#include <vtkCellArray.h>
#include <vtkFloatArray.h>
#include <vtkPointData.h>
#include <vtkPoints.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

#include "core/parallel.h"

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

LabelMap downsampleInPlane(const LabelMap& labels, int step) {
  const Image<std::uint8_t>& in = labels.labels;
  if (step <= 1) return labels;
  const Geometry& g = in.geometry();
  Geometry coarse = g;
  for (int a = 0; a < 2; ++a) {
    coarse.size[a] = (g.size[a] + step - 1) / step;
    coarse.spacingMm[a] = g.spacingMm[a] * step;
  }
  const double centre = (step - 1) / 2.0;
  coarse.originMm = g.worldFromVoxel({centre, centre, 0.0});
  LabelMap out{std::move(*Image<std::uint8_t>::create(coarse, 0)), labels.table};
  const std::int64_t nx = g.size[0], ny = g.size[1];
  parallelFor(0, g.size[2], [&](std::int64_t k) {
    std::uint8_t values[64];
    int counts[64];
    for (std::int64_t cj = 0; cj < coarse.size[1]; ++cj)
      for (std::int64_t ci = 0; ci < coarse.size[0]; ++ci) {
        int distinct = 0;
        for (std::int64_t j = cj * step; j < std::min(ny, (cj + 1) * step); ++j) {
          const std::uint8_t* row = &in.at(0, j, k);
          for (std::int64_t i = ci * step; i < std::min(nx, (ci + 1) * step); ++i) {
            int d = 0;
            while (d < distinct && values[d] != row[i]) ++d;
            if (d == distinct) {
              values[distinct] = row[i];
              counts[distinct++] = 0;
            }
            ++counts[d];
          }
        }
        int best = 0;
        for (int d = 1; d < distinct; ++d)
          if (counts[d] > counts[best] || (counts[d] == counts[best] && values[best] == 0))
            best = d;
        out.labels.at(ci, cj, k) = values[best];
      }
  });
  return out;
}

Result<LabelSurfaces> buildDisplaySurfaces(const LabelMap& labels,
                                           const DisplaySurfaceOptions& options) {
  const Geometry& g = labels.labels.geometry();
  int step = options.inPlaneStep;
  if (step <= 0) step = std::max(g.size[0], g.size[1]) > 256 ? 2 : 1;
  if (step > 8)
    return Status(StatusCode::kInvalidArgument, "the in-plane step of display surfaces is 1..8");
  const LabelMap coarse = downsampleInPlane(labels, step);

  std::array<std::int64_t, 256> counts{};
  for (std::uint8_t v : coarse.labels.buffer()) ++counts[v];
  struct Task {
    const LabelMap* labels;
    std::uint8_t value;   // in `labels`
    std::uint8_t key;     // in the result
    std::int64_t voxels;  // cost estimate: largest first
  };
  std::vector<Task> tasks;
  for (int value = 1; value < 256; ++value) {
    if (counts[value] == 0) continue;
    const std::string name = labels.table.nameOf(static_cast<std::uint8_t>(value));
    if (std::find(options.skipNames.begin(), options.skipNames.end(), name) !=
        options.skipNames.end())
      continue;
    tasks.push_back({&coarse, static_cast<std::uint8_t>(value), static_cast<std::uint8_t>(value),
                     counts[value]});
  }
  LabelMap body;
  if (options.bodyShell && counts[0] < coarse.labels.voxelCount()) {
    LabelMap mask{std::move(*Image<std::uint8_t>::create(coarse.labels.geometry(), 0)), {}};
    const auto& from = coarse.labels.buffer();
    auto& to = mask.labels.buffer();
    for (std::size_t i = 0; i < from.size(); ++i) to[i] = from[i] != 0;
    mask.table.labels = {{0, "background", {0, 0, 0}}, {1, "body", {200, 160, 140}}};
    body = downsampleInPlane(mask, 2);
    tasks.push_back({&body, 1, kBodyShell, 0});
  }
  std::stable_sort(tasks.begin(), tasks.end(),
                   [](const Task& a, const Task& b) { return a.voxels > b.voxels; });

  imaging::MeshOptions meshOptions;
  meshOptions.cancel = options.cancel;
  LabelSurfaces surfaces;
  std::optional<Error> failure;
  std::mutex mutex;
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t t = next++; t < tasks.size(); t = next++) {
      auto mesh = imaging::buildLabelMesh(*tasks[t].labels, tasks[t].value, meshOptions);
      vtkSmartPointer<vtkPolyData> surface;
      try {
        if (mesh.ok() && !mesh->empty()) surface = polyDataFromMesh(*mesh);
      } catch (const std::bad_alloc&) {
        mesh = Error{StatusCode::kResourceExhausted, "not enough memory for the 3D surfaces", ""};
      }
      std::lock_guard<std::mutex> lock(mutex);
      if (!mesh.ok()) {
        if (!failure) failure = mesh.error();
        next = tasks.size();
        return;
      }
      if (surface) surfaces[tasks[t].key] = surface;
    }
  };
  // Two workers: the meshes are independent, and two is what a busy
  // workstation can spare next to the UI.
  const int threads = std::min<int>(2, std::max(1, hardwareThreads()));
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(work);
  work();
  for (std::thread& worker : workers) worker.join();
  if (failure) return *failure;
  return surfaces;
}

}  // namespace tessera::ui
