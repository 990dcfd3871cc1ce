// Paintbrush and eraser on one slice. The brush is a disc of a radius in
// millimetres in the slice plane (round on screen whatever the spacing); a
// drag stamps discs along the segment between mouse positions so that a fast
// stroke leaves no gaps. Painting sets every voxel under the brush to the
// selected label; erasing returns voxels of the selected label (and only
// those) to background. A stroke becomes one undoable Edit of the document.
// Toolkit-free.
#pragma once

#include <cstdint>
#include <vector>

#include "ui/model/image_document.h"
#include "ui/model/slice_view_model.h"

namespace tessera::ui {

enum class BrushMode { kPaint, kErase };

struct BrushSettings {
  BrushMode mode = BrushMode::kPaint;
  double radiusMm = 4.0;
  std::uint8_t label = 1;
};

// Linear voxel indices of the current slice of `view` whose centres lie
// within `radiusMm` of the screen point (the voxel under the point is always
// included, so the smallest brush paints one voxel).
std::vector<std::int64_t> brushVoxels(const SliceViewModel& view, const ScreenPoint& centre,
                                      double radiusMm);

class PaintTool {
 public:
  // Starts a stroke and stamps at `at`. The document and view must outlive
  // the stroke.
  void begin(ImageDocument& document, const SliceViewModel& view, const ScreenPoint& at,
             const BrushSettings& brush);
  // Stamps along the segment from the last point to `to`.
  void moveTo(const ScreenPoint& to);
  // Ends the stroke; returns the committed edit, or nullptr if nothing changed.
  const Edit* end();
  bool active() const { return document_ != nullptr; }

 private:
  void stamp(const ScreenPoint& at);

  ImageDocument* document_ = nullptr;
  const SliceViewModel* view_ = nullptr;
  BrushSettings brush_;
  ScreenPoint last_;
};

}  // namespace tessera::ui
