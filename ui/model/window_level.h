// Window/level (contrast) for CT display: a window width and centre in
// Hounsfield units, the radiological presets, and the grey mapping the slice
// views use. Toolkit-free.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::ui {

struct WindowLevel {
  double window = 400.0;  // HU spanned from black to white, >= 1
  double level = 40.0;    // HU shown as mid-grey
  bool operator==(const WindowLevel&) const = default;
};

struct WindowPreset {
  std::string name;  // "Soft tissue", ...
  WindowLevel windowLevel;
};

// Soft tissue W400/L40, lung W1500/L-600, bone W1800/L400, brain W80/L40,
// liver W150/L30, in that order.
const std::vector<WindowPreset>& windowPresets();

// Grey value 0..255 of a HU value: black at level - window/2, white at
// level + window/2, linear and rounded to nearest in between, clamped outside.
std::uint8_t greyFor(double hu, const WindowLevel& windowLevel);

// The same mapping tabulated over the whole int16 range, rebuilt when the
// window changes, so that drawing a slice is one table look-up per voxel.
class GreyTable {
 public:
  explicit GreyTable(const WindowLevel& windowLevel);
  std::uint8_t operator()(std::int16_t hu) const { return table_[static_cast<std::uint16_t>(hu)]; }
  const WindowLevel& windowLevel() const { return windowLevel_; }

 private:
  WindowLevel windowLevel_;
  std::vector<std::uint8_t> table_;  // indexed by the int16 bit pattern
};

// Window/level after dragging the mouse by (dx, dy) screen pixels from where
// the drag started with `start`: right widens the window, down raises the
// level (the image darkens), at a rate proportional to the window so that a
// narrow brain window and a wide lung window both drag comfortably.
WindowLevel dragWindowLevel(const WindowLevel& start, double dxPixels, double dyPixels);

// Keeps the window within [1, 65536] HU and the level within the int16 range.
WindowLevel clampWindowLevel(WindowLevel windowLevel);

}  // namespace tessera::ui
