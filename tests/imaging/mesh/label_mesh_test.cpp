#include "imaging/mesh/label_mesh.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <vtkOBJReader.h>
#include <vtkPolyData.h>
#include <vtkSTLReader.h>
#include <vtkSmartPointer.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <utility>

#include "tests/support/write_limits.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;

struct Sphere {
  LabelMap map;
  Vec3 centreLpsMm;
  double radiusMm;
  std::int64_t voxels = 0;
};

// Labels every voxel whose centre lies within `radius` of a world point.
Sphere makeSphere(const Geometry& g, const Vec3& centreLps, double radius, std::uint8_t value) {
  Sphere s{LabelMap{*Image<std::uint8_t>::create(g), defaultLabelTable()}, centreLps, radius};
  for (std::int64_t k = 0; k < g.size[2]; ++k)
    for (std::int64_t j = 0; j < g.size[1]; ++j)
      for (std::int64_t i = 0; i < g.size[0]; ++i) {
        const Vec3 p = g.worldFromVoxel({double(i), double(j), double(k)});
        const double d = std::hypot(p[0] - centreLps[0], p[1] - centreLps[1], p[2] - centreLps[2]);
        if (d <= radius) {
          s.map.labels.at(i, j, k) = value;
          ++s.voxels;
        }
      }
  return s;
}

Mat3 rotation(int axis, double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  switch (axis) {
    case 0:
      return {1, 0, 0, 0, c, -s, 0, s, c};
    case 1:
      return {c, 0, s, 0, 1, 0, -s, 0, c};
    default:
      return {c, -s, 0, s, c, 0, 0, 0, 1};
  }
}

// Every undirected edge belongs to exactly two triangles that traverse it in
// opposite directions: a closed, consistently oriented surface.
bool isClosedAndConsistent(const Mesh& mesh) {
  std::map<std::pair<std::uint32_t, std::uint32_t>, int> directed;
  for (std::size_t t = 0; t < mesh.triangles.size(); t += 3)
    for (int e = 0; e < 3; ++e)
      ++directed[{mesh.triangles[t + e], mesh.triangles[t + (e + 1) % 3]}];
  for (const auto& [edge, count] : directed) {
    if (count != 1) return false;
    auto reverse = directed.find({edge.second, edge.first});
    if (reverse == directed.end() || reverse->second != 1) return false;
  }
  return !directed.empty();
}

// Volume and centroid of the enclosed solid from the divergence theorem
// (signed tetrahedra against the origin).
std::pair<double, Vec3> volumeAndCentroid(const Mesh& mesh) {
  double volume = 0;
  Vec3 moment{0, 0, 0};
  const float* v = mesh.vertices.data();
  for (std::size_t t = 0; t < mesh.triangles.size(); t += 3) {
    const float* a = v + 3 * mesh.triangles[t];
    const float* b = v + 3 * mesh.triangles[t + 1];
    const float* c = v + 3 * mesh.triangles[t + 2];
    const double tet = (double(a[0]) * (double(b[1]) * c[2] - double(b[2]) * c[1]) -
                        double(a[1]) * (double(b[0]) * c[2] - double(b[2]) * c[0]) +
                        double(a[2]) * (double(b[0]) * c[1] - double(b[1]) * c[0])) /
                       6.0;
    volume += tet;
    for (int r = 0; r < 3; ++r) moment[r] += tet * (double(a[r]) + b[r] + c[r]) / 4.0;
  }
  return {volume, {moment[0] / volume, moment[1] / volume, moment[2] / volume}};
}

std::array<double, 6> bounds(const Mesh& mesh) {
  std::array<double, 6> b{1e30, -1e30, 1e30, -1e30, 1e30, -1e30};
  for (std::size_t p = 0; p < mesh.vertexCount(); ++p)
    for (int r = 0; r < 3; ++r) {
      b[2 * r] = std::min<double>(b[2 * r], mesh.vertices[3 * p + r]);
      b[2 * r + 1] = std::max<double>(b[2 * r + 1], mesh.vertices[3 * p + r]);
    }
  return b;
}

class LabelMeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_mesh_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(LabelMeshTest, SphereIsClosedAndEnclosesTheLabelVolume) {
  Geometry g;
  g.size = {30, 26, 20};
  g.spacingMm = {0.9, 1.1, 1.3};
  const Sphere sphere = makeSphere(g, g.worldFromVoxel({14.2, 12.6, 9.7}), 10.0, 5);
  const double labelVolume = sphere.voxels * g.voxelVolumeMm3();
  for (int iterations : {0, 20}) {
    SCOPED_TRACE(iterations);
    MeshOptions options;
    options.smoothingIterations = iterations;
    auto mesh = buildLabelMesh(sphere.map, 5, options);
    ASSERT_TRUE(mesh.ok()) << mesh.error().toString();
    EXPECT_EQ(mesh->labelValue, 5);
    EXPECT_EQ(mesh->labelName, "liver");
    EXPECT_GT(mesh->triangleCount(), 500u);
    EXPECT_TRUE(isClosedAndConsistent(*mesh));
    const auto [volume, centroid] = volumeAndCentroid(*mesh);
    EXPECT_GT(volume, 0.0) << "triangles must wind counter-clockwise seen from outside";
    EXPECT_NEAR(volume / labelVolume, 1.0, 0.02) << volume << " vs " << labelVolume;
    for (int r = 0; r < 3; ++r) EXPECT_NEAR(centroid[r], sphere.centreLpsMm[r], 0.2);
  }
}

TEST_F(LabelMeshTest, ObliqueFlippedVolumeGivesTheSphereAtItsWorldPlace) {
  Geometry g;
  g.size = {28, 32, 24};
  g.spacingMm = {1.0, 0.8, 1.2};
  g.originMm = {-143.0, 87.5, -312.25};
  Mat3 d = multiply(rotation(2, 0.5), rotation(0, 0.35));
  for (int r = 0; r < 3; ++r) d[3 * r + 1] = -d[3 * r + 1];  // flip the j axis
  g.direction = d;
  ASSERT_LT(determinant(g.direction), 0.0);
  ASSERT_TRUE(validateGeometry(g).ok());
  const Vec3 centre = g.worldFromVoxel({12.3, 17.1, 10.6});  // off the grid centre
  const Sphere sphere = makeSphere(g, centre, 8.0, 7);
  auto mesh = buildLabelMesh(sphere.map, 7);
  ASSERT_TRUE(mesh.ok()) << mesh.error().toString();
  EXPECT_EQ(mesh->frame, MeshFrame::kLPS);
  EXPECT_TRUE(isClosedAndConsistent(*mesh));
  const auto [volume, centroid] = volumeAndCentroid(*mesh);
  EXPECT_NEAR(volume / (sphere.voxels * g.voxelVolumeMm3()), 1.0, 0.04);
  for (int r = 0; r < 3; ++r) EXPECT_NEAR(centroid[r], centre[r], 0.2);
  // Every vertex sits near the sphere's surface and its normal points away
  // from the centre.
  int outward = 0;
  for (std::size_t p = 0; p < mesh->vertexCount(); ++p) {
    const float* v = &mesh->vertices[3 * p];
    const float* n = &mesh->normals[3 * p];
    const double dx = v[0] - centre[0], dy = v[1] - centre[1], dz = v[2] - centre[2];
    EXPECT_NEAR(std::sqrt(dx * dx + dy * dy + dz * dz), 8.0, 1.2);
    EXPECT_NEAR(std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]), 1.0, 1e-3);
    if (dx * n[0] + dy * n[1] + dz * n[2] > 0) ++outward;
  }
  EXPECT_EQ(outward, static_cast<int>(mesh->vertexCount()));
}

TEST_F(LabelMeshTest, RasFrameNegatesXAndY) {
  Geometry g;
  g.size = {20, 20, 16};
  g.originMm = {10.0, -20.0, 30.0};
  g.direction = rotation(1, 0.3);
  const Sphere sphere = makeSphere(g, g.worldFromVoxel({9.5, 10.2, 7.7}), 5.0, 4);
  auto lps = buildLabelMesh(sphere.map, 4);
  MeshOptions options;
  options.frame = MeshFrame::kRAS;
  auto ras = buildLabelMesh(sphere.map, 4, options);
  ASSERT_TRUE(lps.ok() && ras.ok());
  EXPECT_EQ(ras->frame, MeshFrame::kRAS);
  ASSERT_EQ(lps->vertices.size(), ras->vertices.size());
  ASSERT_EQ(lps->triangles, ras->triangles);  // a proper rotation keeps the winding
  for (std::size_t p = 0; p < lps->vertexCount(); ++p) {
    EXPECT_FLOAT_EQ(ras->vertices[3 * p], -lps->vertices[3 * p]);
    EXPECT_FLOAT_EQ(ras->vertices[3 * p + 1], -lps->vertices[3 * p + 1]);
    EXPECT_FLOAT_EQ(ras->vertices[3 * p + 2], lps->vertices[3 * p + 2]);
    EXPECT_FLOAT_EQ(ras->normals[3 * p], -lps->normals[3 * p]);
  }
  EXPECT_GT(volumeAndCentroid(*ras).first, 0.0);
}

TEST_F(LabelMeshTest, LabelCutByTheFieldOfViewIsCappedAndClosed) {
  Geometry g;
  g.size = {16, 16, 10};
  const Sphere sphere = makeSphere(g, {8.0, 7.5, 0.0}, 6.0, 1);  // centre on the k = 0 face
  MeshOptions options;
  options.smoothingIterations = 0;
  auto mesh = buildLabelMesh(sphere.map, 1, options);
  ASSERT_TRUE(mesh.ok()) << mesh.error().toString();
  EXPECT_TRUE(isClosedAndConsistent(*mesh));
  // The cap lies at the outer edge of the first slice, half a voxel below it.
  EXPECT_NEAR(bounds(*mesh)[4], -0.5, 1e-4);
  // Unsmoothed discrete surfaces cut voxel corners: the enclosed volume lies a
  // little below the voxel count, never above it.
  const double volume = volumeAndCentroid(*mesh).first;
  EXPECT_LT(volume, sphere.voxels * g.voxelVolumeMm3());
  EXPECT_GT(volume, 0.85 * sphere.voxels * g.voxelVolumeMm3());
}

TEST_F(LabelMeshTest, AllLabelsInValueOrderAndMissingLabelsReported) {
  Geometry g;
  g.size = {24, 12, 12};
  Sphere a = makeSphere(g, {6.0, 6.0, 6.0}, 4.0, 6);
  const Sphere b = makeSphere(g, {17.0, 6.0, 6.0}, 4.0, 2);
  for (std::int64_t n = 0; n < a.map.labels.voxelCount(); ++n)
    if (b.map.labels.data()[n]) a.map.labels.data()[n] = 2;
  auto meshes = buildLabelMeshes(a.map);
  ASSERT_TRUE(meshes.ok()) << meshes.error().toString();
  ASSERT_EQ(meshes->size(), 2u);
  EXPECT_EQ((*meshes)[0].labelValue, 2);
  EXPECT_EQ((*meshes)[1].labelValue, 6);
  EXPECT_LT(bounds((*meshes)[1])[1], bounds((*meshes)[0])[0]);  // label 6 lies at lower x

  auto missing = buildLabelMesh(a.map, 9);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, StatusCode::kNotFound);

  MeshOptions bad;
  bad.passBand = 0.0;
  EXPECT_EQ(buildLabelMeshes(a.map, bad).error().code, StatusCode::kInvalidArgument);
  bad = MeshOptions();
  bad.decimation = 1.0;
  EXPECT_EQ(buildLabelMeshes(a.map, bad).error().code, StatusCode::kInvalidArgument);

  CancelToken token;
  token.cancel();
  MeshOptions cancelled;
  cancelled.cancel = &token;
  EXPECT_EQ(buildLabelMeshes(a.map, cancelled).error().code, StatusCode::kCancelled);
}

TEST_F(LabelMeshTest, DecimationRemovesTrianglesAndKeepsTheVolume) {
  Geometry g;
  g.size = {30, 30, 30};
  const Sphere sphere = makeSphere(g, {15.0, 14.5, 15.2}, 11.0, 3);
  auto full = buildLabelMesh(sphere.map, 3);
  MeshOptions options;
  options.decimation = 0.6;
  auto reduced = buildLabelMesh(sphere.map, 3, options);
  ASSERT_TRUE(full.ok() && reduced.ok());
  EXPECT_LT(reduced->triangleCount(), full->triangleCount() / 2);
  EXPECT_NEAR(volumeAndCentroid(*reduced).first / volumeAndCentroid(*full).first, 1.0, 0.03);
}

TEST_F(LabelMeshTest, StlAndObjReadBackThroughVtk) {
  Geometry g;
  g.size = {20, 22, 18};
  g.spacingMm = {0.7, 0.7, 1.5};
  g.originMm = {-50.0, 20.0, 100.0};
  const Sphere sphere = makeSphere(g, g.worldFromVoxel({9.0, 11.0, 8.0}), 5.5, 5);
  auto mesh = buildLabelMesh(sphere.map, 5);
  ASSERT_TRUE(mesh.ok());
  const auto expected = bounds(*mesh);
  const std::string header = "Tessera label liver (5) frame LPS units mm";

  const std::string stl = path(meshFileName(*mesh, ".stl"));
  EXPECT_EQ(fs::path(stl).filename(), "liver.stl");
  ASSERT_TRUE(writeMesh(*mesh, stl).ok());
  {
    std::ifstream in(stl, std::ios::binary);
    char text[80];
    in.read(text, 80);
    EXPECT_EQ(std::string(text, header.size()), header);
    EXPECT_EQ(fs::file_size(stl), 84 + 50 * mesh->triangleCount());
  }
  vtkNew<vtkSTLReader> stlReader;
  stlReader->SetFileName(stl.c_str());
  stlReader->Update();
  ASSERT_EQ(stlReader->GetOutput()->GetNumberOfPolys(),
            static_cast<vtkIdType>(mesh->triangleCount()));
  double b[6];
  stlReader->GetOutput()->GetBounds(b);
  for (int n = 0; n < 6; ++n) EXPECT_NEAR(b[n], expected[n], 1e-4);

  const std::string obj = path("liver.obj");
  ASSERT_TRUE(writeMesh(*mesh, obj).ok());
  {
    std::ifstream in(obj);
    std::string first;
    std::getline(in, first);
    EXPECT_EQ(first, "# " + header);
  }
  vtkNew<vtkOBJReader> objReader;
  objReader->SetFileName(obj.c_str());
  objReader->Update();
  ASSERT_EQ(objReader->GetOutput()->GetNumberOfPolys(),
            static_cast<vtkIdType>(mesh->triangleCount()));
  EXPECT_EQ(objReader->GetOutput()->GetNumberOfPoints(),
            static_cast<vtkIdType>(mesh->vertexCount()));
  objReader->GetOutput()->GetBounds(b);
  for (int n = 0; n < 6; ++n) EXPECT_NEAR(b[n], expected[n], 1e-4);
}

TEST_F(LabelMeshTest, FailedWritesLeaveNoFile) {
  Geometry g;
  g.size = {10, 10, 10};
  const Sphere sphere = makeSphere(g, {5.0, 5.0, 5.0}, 3.0, 1);
  auto mesh = buildLabelMesh(sphere.map, 1);
  ASSERT_TRUE(mesh.ok());
  EXPECT_EQ(writeMesh(*mesh, path("missing/soft_tissue.stl")).code(), StatusCode::kNotFound);
  EXPECT_EQ(writeMesh(*mesh, path("soft_tissue.ply")).code(), StatusCode::kUnsupported);
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(dir_.c_str(), W_OK) != 0) {  // root ignores permissions
    EXPECT_FALSE(writeMesh(*mesh, path("soft_tissue.obj")).ok());
  }
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(LabelMeshTest, MeshOverTheFileSizeLimitIsAnErrorAndLeavesNothing) {
  Geometry g;
  g.size = {40, 40, 40};
  const Sphere sphere = makeSphere(g, {20.0, 20.0, 20.0}, 15.0, 1);
  auto mesh = buildLabelMesh(sphere.map, 1);
  ASSERT_TRUE(mesh.ok());
  constexpr std::uint64_t kLimit = 4096;
  ASSERT_GT(mesh->triangleCount() * 50, kLimit) << "the mesh must not fit under the limit";
  for (const char* name : {"soft_tissue.stl", "soft_tissue.obj"}) {
    SCOPED_TRACE(name);
    const std::string out = path(name);
    const tessera::testing::ChildOutcome child = tessera::testing::withFileSizeLimit(
        kLimit, [&] { return writeMesh(*mesh, out).toString(); });
    ASSERT_TRUE(child.exited) << child.text;
    EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos) << child.text;
    EXPECT_NE(child.text.find(out), std::string::npos) << child.text;
    EXPECT_TRUE(fs::is_empty(dir_));
  }
}

// Timing, not a pass/fail criterion: run with --gtest_also_run_disabled_tests.
TEST(LabelMeshBenchmark, DISABLED_BodySizedLabels) {
  Geometry g;
  g.size = {512, 512, 300};
  g.spacingMm = {0.8, 0.8, 1.5};
  LabelMap map{*Image<std::uint8_t>::create(g), defaultLabelTable()};
  for (std::int64_t k = 0; k < g.size[2]; ++k)
    for (std::int64_t j = 0; j < g.size[1]; ++j)
      for (std::int64_t i = 0; i < g.size[0]; ++i) {
        const double body = std::pow((i - 256.0) / 220.0, 2) + std::pow((j - 256.0) / 160.0, 2);
        const double organ = std::pow((i - 200.0) / 60.0, 2) + std::pow((j - 230.0) / 50.0, 2) +
                             std::pow((k - 150.0) / 60.0, 2);
        map.labels.at(i, j, k) = organ < 1 ? 5 : body < 1 ? 1 : 0;
      }
  const auto start = std::chrono::steady_clock::now();
  auto meshes = buildLabelMeshes(map);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(meshes.ok());
  ASSERT_EQ(meshes->size(), 2u);
  std::printf("meshes, 512x512x300, 2 labels (%zu + %zu triangles): %.2f s\n",
              (*meshes)[0].triangleCount(), (*meshes)[1].triangleCount(), seconds);
}

}  // namespace
}  // namespace tessera::imaging
