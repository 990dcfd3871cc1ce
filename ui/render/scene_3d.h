// The 3D scene of the workstation: label surfaces and volume rendering of
// the CT, in patient coordinates (LPS mm), with camera operations. A VTK
// renderer that is not a widget (ITK-SNAP's AbstractVTKRenderer idea): the
// widget that hosts it only forwards sizes and mouse movements.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <vtkActor.h>
#include <vtkImageData.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>
#include <vtkVolume.h>

#include "core/image.h"
#include "ui/render/label_surfaces.h"

namespace tessera::ui {

enum class VolumePreset { kOff = 0, kSoftTissue, kBone, kLung, kMip };
struct VolumePresetInfo {
  VolumePreset preset;
  const char* name;
};
const std::vector<VolumePresetInfo>& volumePresets();

class Scene3D {
 public:
  Scene3D();
  ~Scene3D();
  Scene3D(const Scene3D&) = delete;
  Scene3D& operator=(const Scene3D&) = delete;

  vtkRenderer* renderer() const { return renderer_; }
  // Adds the scene's renderers to a render window (the widget's).
  void attach(vtkRenderWindow* window);

  // The CT for volume rendering; the scene keeps the volume alive and reads
  // its voxels in place. Resets the camera. Null clears the scene.
  void setCt(std::shared_ptr<const Volume> ct);
  void setVolumePreset(VolumePreset preset);
  VolumePreset volumePreset() const { return preset_; }

  // Replaces the label surfaces; colours from `table`. A kBodyShell surface
  // is drawn as a faint veil in the soft-tissue colour.
  void setSurfaces(const LabelSurfaces& surfaces, const LabelTable& table);
  void setSurfaceVisible(std::uint8_t value, bool visible);
  void setSurfaceColours(const LabelTable& table);
  std::size_t surfaceCount() const { return actors_.size(); }
  bool hasSurface(std::uint8_t value) const { return actors_.count(value) != 0; }

  // Camera: facing the patient (anterior view, superior up), the surfaces
  // (or, without any, the CT) filling the view. New surfaces reframe the
  // view until the camera is moved.
  void resetCamera();
  // Orbits about the focal point by screen-pixel drags (`viewportSize` in pixels).
  void rotate(double dxPixels, double dyPixels, const std::array<int, 2>& viewportSize);
  void zoom(double factor);
  void pan(double dxPixels, double dyPixels, const std::array<int, 2>& viewportSize);

 private:
  void applyPreset();
  void syncMarker();

  vtkSmartPointer<vtkRenderer> renderer_;
  // A small cube labelled with the patient directions in the lower-left
  // corner, turned with the main camera.
  vtkSmartPointer<vtkRenderer> markerRenderer_;
  std::shared_ptr<const Volume> ct_;
  vtkSmartPointer<vtkImageData> image_;
  vtkSmartPointer<vtkVolume> volume_;
  VolumePreset preset_ = VolumePreset::kOff;
  std::map<std::uint8_t, vtkSmartPointer<vtkActor>> actors_;
  std::map<std::uint8_t, bool> hidden_;
  bool cameraMoved_ = false;
};

}  // namespace tessera::ui
