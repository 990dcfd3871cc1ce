// Draws one slice of the study as a colour image at the slice's own
// resolution (one pixel per voxel, already turned and flipped as the view
// shows it): CT grey through the window, labels blended on top with their
// colours, and the block map as outlined, hatched blocks. The view then
// scales it to the screen. Toolkit-free.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/image.h"
#include "ui/model/slice_view_model.h"
#include "ui/model/window_level.h"

namespace tessera::ui {

struct OverlayStyle {
  bool showLabels = true;
  double labelOpacity = 0.5;  // 0..1: weight of the label colour over the grey
  std::array<bool, 256> labelVisible{};
  std::array<std::array<std::uint8_t, 3>, 256> labelRgb{};
  bool showBlocks = false;
  std::array<std::uint8_t, 3> blockRgb{255, 190, 0};
  double blockOutlineOpacity = 0.9;
  double blockHatchOpacity = 0.3;
};

// Pixels are 0xFFRRGGBB (the layout of Qt's QImage::Format_RGB32), rows top
// to bottom.
struct SliceImage {
  int width = 0, height = 0;
  std::vector<std::uint32_t> pixels;
  std::uint32_t at(int x, int y) const { return pixels[static_cast<std::size_t>(y) * width + x]; }
};

inline std::uint32_t packRgb(std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  return 0xFF000000u | (std::uint32_t{r} << 16) | (std::uint32_t{g} << 8) | b;
}

// `labels` and `blocks` may be null; when given they share the CT's size.
SliceImage renderSlice(const Volume& ct, const Image<std::uint8_t>* labels,
                       const Image<std::uint8_t>* blocks, const SliceAxes& axes, std::int64_t slice,
                       const GreyTable& grey, const OverlayStyle& style);

// The colour a voxel of grey `g` takes under a label of colour `rgb` at
// `opacity`: (1 - opacity)·g + opacity·colour per channel, rounded.
std::array<std::uint8_t, 3> blend(std::array<std::uint8_t, 3> base, std::array<std::uint8_t, 3> rgb,
                                  double opacity);

// Block overlay: the block map marks the voxels of computed blocks. Blocks
// tile the slices of constant k (x-y slices), so only views of those slices
// draw them: a one-voxel outline on the 16-voxel grid lines and next to
// uncomputed voxels, and a light diagonal hatch inside.
constexpr int kBlockSize = 16;

}  // namespace tessera::ui
