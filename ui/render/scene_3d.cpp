#include "ui/render/scene_3d.h"

#include <vtkAnnotatedCubeActor.h>
#include <vtkCallbackCommand.h>
#include <vtkCamera.h>
#include <vtkColorTransferFunction.h>
#include <vtkCommand.h>
#include <vtkMatrix4x4.h>
#include <vtkPiecewiseFunction.h>
#include <vtkPointData.h>
#include <vtkPolyDataMapper.h>
#include <vtkProperty.h>
#include <vtkShortArray.h>
#include <vtkSmartVolumeMapper.h>
#include <vtkVolumeProperty.h>

#include <algorithm>
#include <cmath>

namespace tessera::ui {

const std::vector<VolumePresetInfo>& volumePresets() {
  static const std::vector<VolumePresetInfo> kPresets = {
      {VolumePreset::kOff, "Surfaces only"}, {VolumePreset::kSoftTissue, "CT soft tissue"},
      {VolumePreset::kBone, "CT bone"},      {VolumePreset::kLung, "CT lung"},
      {VolumePreset::kMip, "CT MIP"},
  };
  return kPresets;
}

Scene3D::Scene3D()
    : renderer_(vtkSmartPointer<vtkRenderer>::New()),
      markerRenderer_(vtkSmartPointer<vtkRenderer>::New()) {
  // The dark blue-grey gradient of clinical 3D viewers: anatomy stands out,
  // and a blank view is easy to tell from a rendered one.
  renderer_->GradientBackgroundOn();
  renderer_->SetBackground(0.02, 0.02, 0.04);
  renderer_->SetBackground2(0.16, 0.18, 0.24);
  renderer_->SetUseFXAA(false);
  // Translucent wrapping tissues over opaque organs need order-independent
  // transparency.
  renderer_->SetUseDepthPeeling(true);
  renderer_->SetMaximumNumberOfPeels(4);
  renderer_->SetOcclusionRatio(0.05);

  // LPS faces: +x is the patient's left, +y posterior, +z superior.
  auto cube = vtkSmartPointer<vtkAnnotatedCubeActor>::New();
  cube->SetXPlusFaceText("L");
  cube->SetXMinusFaceText("R");
  cube->SetYPlusFaceText("P");
  cube->SetYMinusFaceText("A");
  cube->SetZPlusFaceText("S");
  cube->SetZMinusFaceText("I");
  cube->SetFaceTextScale(0.6);
  cube->GetCubeProperty()->SetColor(0.25, 0.28, 0.34);
  cube->GetTextEdgesProperty()->SetColor(0.9, 0.9, 0.9);
  cube->GetTextEdgesProperty()->SetLineWidth(1.5);
  for (vtkProperty* face :
       {cube->GetXPlusFaceProperty(), cube->GetXMinusFaceProperty(), cube->GetYPlusFaceProperty(),
        cube->GetYMinusFaceProperty(), cube->GetZPlusFaceProperty(), cube->GetZMinusFaceProperty()})
    face->SetColor(1.0, 0.84, 0.47);
  markerRenderer_->AddActor(cube);
  markerRenderer_->SetViewport(0.0, 0.0, 0.13, 0.17);
  markerRenderer_->SetLayer(1);
  markerRenderer_->InteractiveOff();
  auto sync = vtkSmartPointer<vtkCallbackCommand>::New();
  sync->SetClientData(this);
  sync->SetCallback([](vtkObject*, unsigned long, void* client, void*) {
    static_cast<Scene3D*>(client)->syncMarker();
  });
  renderer_->AddObserver(vtkCommand::StartEvent, sync);
}

void Scene3D::syncMarker() {
  vtkCamera* main = renderer_->GetActiveCamera();
  vtkCamera* marker = markerRenderer_->GetActiveCamera();
  double direction[3];
  main->GetDirectionOfProjection(direction);
  marker->SetFocalPoint(0, 0, 0);
  marker->SetPosition(-4.0 * direction[0], -4.0 * direction[1], -4.0 * direction[2]);
  marker->SetViewUp(main->GetViewUp());
  markerRenderer_->ResetCameraClippingRange();
}

Scene3D::~Scene3D() = default;

void Scene3D::attach(vtkRenderWindow* window) {
  window->SetNumberOfLayers(2);
  window->AddRenderer(renderer_);
  window->AddRenderer(markerRenderer_);
}

void Scene3D::setCt(std::shared_ptr<const Volume> ct) {
  if (volume_) renderer_->RemoveVolume(volume_);
  volume_ = nullptr;
  image_ = nullptr;
  ct_ = std::move(ct);
  for (auto& [value, actor] : actors_) renderer_->RemoveActor(actor);
  actors_.clear();
  hidden_.clear();
  if (!ct_ || ct_->empty()) return;

  const Geometry& g = ct_->geometry();
  image_ = vtkSmartPointer<vtkImageData>::New();
  image_->SetDimensions(int(g.size[0]), int(g.size[1]), int(g.size[2]));
  image_->SetSpacing(g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]);
  image_->SetOrigin(0, 0, 0);
  // Zero copy: VTK reads the document's voxels, which ct_ keeps alive; the
  // array never frees or writes them.
  auto scalars = vtkSmartPointer<vtkShortArray>::New();
  scalars->SetArray(const_cast<std::int16_t*>(ct_->data()), ct_->voxelCount(), 1);
  image_->GetPointData()->SetScalars(scalars);

  auto mapper = vtkSmartPointer<vtkSmartVolumeMapper>::New();
  mapper->SetInputData(image_);
  volume_ = vtkSmartPointer<vtkVolume>::New();
  volume_->SetMapper(mapper);
  // The image is in index × spacing; the direction and origin place it in LPS.
  auto matrix = vtkSmartPointer<vtkMatrix4x4>::New();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) matrix->SetElement(r, c, g.direction[3 * r + c]);
    matrix->SetElement(r, 3, g.originMm[r]);
  }
  volume_->SetUserMatrix(matrix);
  applyPreset();
  renderer_->AddVolume(volume_);
  resetCamera();
}

void Scene3D::setVolumePreset(VolumePreset preset) {
  preset_ = preset;
  applyPreset();
}

void Scene3D::applyPreset() {
  if (!volume_) return;
  volume_->SetVisibility(preset_ != VolumePreset::kOff);
  auto colour = vtkSmartPointer<vtkColorTransferFunction>::New();
  auto opacity = vtkSmartPointer<vtkPiecewiseFunction>::New();
  auto property = vtkSmartPointer<vtkVolumeProperty>::New();
  property->SetInterpolationTypeToLinear();
  property->ShadeOn();
  property->SetAmbient(0.2);
  property->SetDiffuse(0.9);
  property->SetSpecular(0.2);
  auto* mapper = vtkSmartVolumeMapper::SafeDownCast(volume_->GetMapper());
  mapper->SetBlendModeToComposite();
  switch (preset_) {
    case VolumePreset::kOff:
    case VolumePreset::kSoftTissue:
      colour->AddRGBPoint(-1024, 0, 0, 0);
      colour->AddRGBPoint(-100, 0.55, 0.25, 0.15);
      colour->AddRGBPoint(40, 0.85, 0.45, 0.35);
      colour->AddRGBPoint(200, 0.95, 0.8, 0.6);
      colour->AddRGBPoint(1000, 1, 1, 0.95);
      opacity->AddPoint(-1024, 0);
      opacity->AddPoint(-200, 0);
      opacity->AddPoint(-50, 0.05);
      opacity->AddPoint(60, 0.25);
      opacity->AddPoint(300, 0.5);
      opacity->AddPoint(1000, 0.8);
      break;
    case VolumePreset::kBone:
      colour->AddRGBPoint(-1024, 0, 0, 0);
      colour->AddRGBPoint(150, 0.7, 0.55, 0.4);
      colour->AddRGBPoint(400, 0.95, 0.9, 0.8);
      colour->AddRGBPoint(2000, 1, 1, 1);
      opacity->AddPoint(-1024, 0);
      opacity->AddPoint(150, 0);
      opacity->AddPoint(300, 0.4);
      opacity->AddPoint(1000, 0.9);
      break;
    case VolumePreset::kLung:
      colour->AddRGBPoint(-1024, 0, 0, 0);
      colour->AddRGBPoint(-900, 0.35, 0.55, 0.8);
      colour->AddRGBPoint(-500, 0.75, 0.85, 0.95);
      colour->AddRGBPoint(0, 0.9, 0.6, 0.5);
      opacity->AddPoint(-1024, 0);
      opacity->AddPoint(-950, 0);
      opacity->AddPoint(-800, 0.08);
      opacity->AddPoint(-500, 0.15);
      opacity->AddPoint(-300, 0);
      opacity->AddPoint(100, 0);
      opacity->AddPoint(300, 0.3);
      break;
    case VolumePreset::kMip:
      colour->AddRGBPoint(-200, 0, 0, 0);
      colour->AddRGBPoint(400, 1, 1, 1);
      opacity->AddPoint(-1024, 0);
      opacity->AddPoint(-200, 0);
      opacity->AddPoint(400, 1);
      property->ShadeOff();
      mapper->SetBlendModeToMaximumIntensity();
      break;
  }
  property->SetColor(colour);
  property->SetScalarOpacity(opacity);
  volume_->SetProperty(property);
}

void Scene3D::setSurfaces(const LabelSurfaces& surfaces, const LabelTable& table) {
  for (auto& [value, actor] : actors_) renderer_->RemoveActor(actor);
  actors_.clear();
  for (const auto& [value, surface] : surfaces) {
    auto mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
    mapper->SetInputData(surface);
    mapper->ScalarVisibilityOff();
    auto actor = vtkSmartPointer<vtkActor>::New();
    actor->SetMapper(mapper);
    actor->GetProperty()->SetSpecular(0.25);
    actor->GetProperty()->SetSpecularPower(20);
    actor->SetVisibility(!hidden_[value]);
    renderer_->AddActor(actor);
    actors_[value] = actor;
  }
  setSurfaceColours(table);
  // The first surfaces of a study frame the view, until the person moves it.
  if (!cameraMoved_ && !surfaces.empty()) resetCamera();
}

void Scene3D::setSurfaceColours(const LabelTable& table) {
  for (auto& [value, actor] : actors_) {
    const Label* label = value == kBodyShell ? nullptr : table.find(value);
    auto rgb = label ? label->rgb : std::array<std::uint8_t, 3>{200, 200, 200};
    // Tissues that wrap the organs stay faint so that the organs inside
    // show through: the body outline as a veil, soft tissue and fat barely.
    double opacity = 1.0;
    if (value == kBodyShell) {
      rgb = {200, 160, 140};
      for (const Label& l : table.labels)
        if (l.name == "soft_tissue") rgb = l.rgb;
      opacity = 0.12;
    }
    if (label && label->name == "soft_tissue") opacity = 0.1;
    if (label && label->name == "fat") opacity = 0.04;
    actor->GetProperty()->SetColor(rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0);
    actor->GetProperty()->SetOpacity(opacity);
  }
}

void Scene3D::setSurfaceVisible(std::uint8_t value, bool visible) {
  hidden_[value] = !visible;
  auto it = actors_.find(value);
  if (it != actors_.end()) it->second->SetVisibility(visible);
}

void Scene3D::resetCamera() {
  cameraMoved_ = false;
  vtkCamera* camera = renderer_->GetActiveCamera();
  // Facing the patient: the camera stands anterior (-y in LPS) looking
  // posterior, superior up, so the patient's left is on screen right.
  camera->SetFocalPoint(0, 0, 0);
  camera->SetPosition(0, -1, 0);
  camera->SetViewUp(0, 0, 1);
  // The anatomy when there are surfaces; the whole CT otherwise, even while
  // its volume rendering is switched off.
  double bounds[6];
  bool any = false;
  for (const auto& [value, actor] : actors_) {
    if (!actor->GetVisibility()) continue;
    const double* b = actor->GetBounds();
    if (!b || !(b[0] <= b[1])) continue;  // empty
    for (int a = 0; a < 3; ++a) {
      bounds[2 * a] = any ? std::min(bounds[2 * a], b[2 * a]) : b[2 * a];
      bounds[2 * a + 1] = any ? std::max(bounds[2 * a + 1], b[2 * a + 1]) : b[2 * a + 1];
    }
    any = true;
  }
  if (!any && volume_) {
    std::copy_n(volume_->GetBounds(), 6, bounds);
    any = true;
  }
  if (!any) return;
  // Seen from the front only the box's width (x) and height (z) matter:
  // they fill 85 % of the view, whichever limits first.
  const int* size = renderer_->GetSize();
  const double aspect = size[0] > 0 && size[1] > 0 ? double(size[0]) / size[1] : 1.4;
  const double halfHeight =
      std::max((bounds[5] - bounds[4]) / 2, (bounds[1] - bounds[0]) / 2 / aspect) / 0.85;
  const double distance =
      halfHeight / std::tan(camera->GetViewAngle() * M_PI / 360.0) + (bounds[3] - bounds[2]) / 2;
  const double centre[3] = {(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2,
                            (bounds[4] + bounds[5]) / 2};
  camera->SetFocalPoint(centre);
  camera->SetPosition(centre[0], centre[1] - std::max(distance, 1.0), centre[2]);
  renderer_->ResetCameraClippingRange();
}

void Scene3D::rotate(double dx, double dy, const std::array<int, 2>& size) {
  cameraMoved_ = true;
  vtkCamera* camera = renderer_->GetActiveCamera();
  const double degreesPerPixelX = 180.0 / std::max(size[0], 1);
  const double degreesPerPixelY = 180.0 / std::max(size[1], 1);
  camera->Azimuth(-dx * degreesPerPixelX);
  camera->Elevation(dy * degreesPerPixelY);
  camera->OrthogonalizeViewUp();
  renderer_->ResetCameraClippingRange();
}

void Scene3D::zoom(double factor) {
  if (!(factor > 0)) return;
  cameraMoved_ = true;
  renderer_->GetActiveCamera()->Dolly(factor);
  renderer_->ResetCameraClippingRange();
}

void Scene3D::pan(double dx, double dy, const std::array<int, 2>& size) {
  cameraMoved_ = true;
  vtkCamera* camera = renderer_->GetActiveCamera();
  double focal[3], position[3], up[3], direction[3];
  camera->GetFocalPoint(focal);
  camera->GetPosition(position);
  camera->GetViewUp(up);
  camera->GetDirectionOfProjection(direction);
  // Screen right = direction × up; world units per pixel from the view angle.
  const double right[3] = {direction[1] * up[2] - direction[2] * up[1],
                           direction[2] * up[0] - direction[0] * up[2],
                           direction[0] * up[1] - direction[1] * up[0]};
  const double distance = camera->GetDistance();
  const double mmPerPixel =
      2.0 * distance * std::tan(camera->GetViewAngle() * M_PI / 360.0) / std::max(size[1], 1);
  for (int a = 0; a < 3; ++a) {
    const double shift = (-dx * right[a] + dy * up[a]) * mmPerPixel;
    focal[a] += shift;
    position[a] += shift;
  }
  camera->SetFocalPoint(focal);
  camera->SetPosition(position);
  renderer_->ResetCameraClippingRange();
}

}  // namespace tessera::ui
