#include "ui/model/slice_image.h"

#include <algorithm>
#include <cmath>

namespace tessera::ui {

std::array<std::uint8_t, 3> blend(std::array<std::uint8_t, 3> base, std::array<std::uint8_t, 3> rgb,
                                  double opacity) {
  std::array<std::uint8_t, 3> out{};
  for (int c = 0; c < 3; ++c)
    out[c] = static_cast<std::uint8_t>(
        std::clamp(std::lround((1.0 - opacity) * base[c] + opacity * rgb[c]), 0L, 255L));
  return out;
}

SliceImage renderSlice(const Volume& ct, const Image<std::uint8_t>* labels,
                       const Image<std::uint8_t>* blocks, const SliceAxes& axes, std::int64_t slice,
                       const GreyTable& grey, const OverlayStyle& style) {
  const Geometry& g = ct.geometry();
  const std::array<std::int64_t, 3> stride{1, g.size[0], g.size[0] * g.size[1]};
  const std::int64_t columns = g.size[axes.u], rows = g.size[axes.v];
  SliceImage image;
  image.width = static_cast<int>(columns);
  image.height = static_cast<int>(rows);
  image.pixels.resize(static_cast<std::size_t>(columns * rows));
  if (slice < 0 || slice >= g.size[axes.normal]) return image;

  const double opacity = std::clamp(style.labelOpacity, 0.0, 1.0);
  const bool drawLabels = style.showLabels && labels != nullptr && opacity > 0.0;
  const std::int64_t base = slice * stride[axes.normal];
  const auto voxelIndex = [&](std::int64_t c, std::int64_t r) {
    const std::int64_t iu = axes.flipU ? columns - 1 - c : c;
    const std::int64_t iv = axes.flipV ? rows - 1 - r : r;
    return base + iu * stride[axes.u] + iv * stride[axes.v];
  };
  const auto blockAt = [&](std::int64_t c, std::int64_t r) {
    if (c < 0 || r < 0 || c >= columns || r >= rows) return false;
    return blocks->data()[voxelIndex(c, r)] != 0;
  };
  // Blocks tile slices of constant k (the engine's slices): only views of
  // those slices show them.
  const bool drawBlocks = style.showBlocks && blocks != nullptr && axes.normal == 2;
  const auto gridLine = [&](std::int64_t index) { return index % kBlockSize == 0; };

  for (std::int64_t r = 0; r < rows; ++r) {
    std::uint32_t* out = image.pixels.data() + r * columns;
    for (std::int64_t c = 0; c < columns; ++c) {
      const std::int64_t index = voxelIndex(c, r);
      const std::uint8_t gv = grey(ct.data()[index]);
      std::array<std::uint8_t, 3> rgb{gv, gv, gv};
      if (drawLabels) {
        const std::uint8_t label = labels->data()[index];
        if (label != 0 && style.labelVisible[label])
          rgb = blend(rgb, style.labelRgb[label], opacity);
      }
      if (drawBlocks && blocks->data()[index] != 0) {
        const std::int64_t iu = axes.flipU ? columns - 1 - c : c;
        const std::int64_t iv = axes.flipV ? rows - 1 - r : r;
        const bool edge = gridLine(iu) || gridLine(iv) || !blockAt(c - 1, r) ||
                          !blockAt(c + 1, r) || !blockAt(c, r - 1) || !blockAt(c, r + 1);
        if (edge)
          rgb = blend(rgb, style.blockRgb, style.blockOutlineOpacity);
        else if ((c + r) % 8 == 0)
          rgb = blend(rgb, style.blockRgb, style.blockHatchOpacity);
      }
      out[c] = packRgb(rgb[0], rgb[1], rgb[2]);
    }
  }
  return image;
}

}  // namespace tessera::ui
