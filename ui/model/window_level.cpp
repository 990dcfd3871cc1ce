#include "ui/model/window_level.h"

#include <algorithm>
#include <cmath>

namespace tessera::ui {

const std::vector<WindowPreset>& windowPresets() {
  static const std::vector<WindowPreset> kPresets = {
      {"Soft tissue", {400, 40}}, {"Lung", {1500, -600}}, {"Bone", {1800, 400}},
      {"Brain", {80, 40}},        {"Liver", {150, 30}},
  };
  return kPresets;
}

std::uint8_t greyFor(double hu, const WindowLevel& wl) {
  const double lower = wl.level - wl.window / 2.0;
  const double grey = std::round(255.0 * (hu - lower) / wl.window);
  return static_cast<std::uint8_t>(std::clamp(grey, 0.0, 255.0));
}

GreyTable::GreyTable(const WindowLevel& windowLevel)
    : windowLevel_(clampWindowLevel(windowLevel)), table_(65536) {
  for (int hu = -32768; hu <= 32767; ++hu)
    table_[static_cast<std::uint16_t>(static_cast<std::int16_t>(hu))] = greyFor(hu, windowLevel_);
}

WindowLevel clampWindowLevel(WindowLevel wl) {
  if (!std::isfinite(wl.window)) wl.window = 400.0;
  if (!std::isfinite(wl.level)) wl.level = 40.0;
  wl.window = std::clamp(wl.window, 1.0, 65536.0);
  wl.level = std::clamp(wl.level, -32768.0, 32767.0);
  return wl;
}

WindowLevel dragWindowLevel(const WindowLevel& start, double dx, double dy) {
  const double huPerPixel = std::max(start.window, 40.0) / 256.0;
  return clampWindowLevel({start.window + dx * huPerPixel, start.level + dy * huPerPixel});
}

}  // namespace tessera::ui
