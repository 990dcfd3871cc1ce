// Line plots as PNG (OpenCV, private), for training curves.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::imaging {

struct PlotSeries {
  std::string name;
  std::array<std::uint8_t, 3> rgb{0, 0, 0};
  std::vector<double> x, y;
  bool rightAxis = false;  // plotted against the right-hand axis
};

struct PlotOptions {
  std::string title;
  std::string xLabel, leftLabel, rightLabel;
  bool logLeft = false;  // logarithmic left axis (losses)
  int width = 1000, height = 560;
};

// Written atomically; empty series are skipped.
Status writeLinePlotPng(const std::vector<PlotSeries>& series, const PlotOptions& options,
                        const std::string& path);

}  // namespace tessera::imaging
