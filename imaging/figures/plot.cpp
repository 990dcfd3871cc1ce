#include "imaging/figures/plot.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/files.h"

namespace tessera::imaging {

namespace {
struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  void finish() {
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) hi = lo + 1;
  }
};

std::string format(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", v);
  return buffer;
}
}  // namespace

Status writeLinePlotPng(const std::vector<PlotSeries>& series, const PlotOptions& o,
                        const std::string& path) {
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  const int left = 80, right = 80, top = 40, bottom = 60;
  cv::Mat image(o.height, o.width, CV_8UC3, cv::Scalar(255, 255, 255));
  Range xr, yl, yr;
  auto transformLeft = [&](double v) { return o.logLeft ? std::log10(std::max(v, 1e-8)) : v; };
  for (const PlotSeries& s : series) {
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      xr.add(s.x[i]);
      (s.rightAxis ? yr : yl).add(s.rightAxis ? s.y[i] : transformLeft(s.y[i]));
    }
  }
  xr.finish();
  yl.finish();
  yr.finish();
  const int pw = o.width - left - right, ph = o.height - top - bottom;
  auto px = [&](double x) { return left + static_cast<int>((x - xr.lo) / (xr.hi - xr.lo) * pw); };
  auto py = [&](double y, const Range& r) {
    return top + ph - static_cast<int>((y - r.lo) / (r.hi - r.lo) * ph);
  };
  const cv::Scalar axis(60, 60, 60), grid(225, 225, 225);
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  for (int t = 0; t <= 5; ++t) {
    const int y = top + ph * t / 5;
    cv::line(image, {left, y}, {left + pw, y}, grid, 1);
    const double vl = yl.hi - (yl.hi - yl.lo) * t / 5;
    cv::putText(image, format(o.logLeft ? std::pow(10.0, vl) : vl), {5, y + 5}, font, 0.45, axis, 1,
                cv::LINE_AA);
    const double vr = yr.hi - (yr.hi - yr.lo) * t / 5;
    cv::putText(image, format(vr), {left + pw + 8, y + 5}, font, 0.45, axis, 1, cv::LINE_AA);
    const int x = left + pw * t / 5;
    cv::line(image, {x, top}, {x, top + ph}, grid, 1);
    cv::putText(image, format(xr.lo + (xr.hi - xr.lo) * t / 5), {x - 15, top + ph + 20}, font, 0.45,
                axis, 1, cv::LINE_AA);
  }
  cv::rectangle(image, {left, top}, {left + pw, top + ph}, axis, 1);
  cv::putText(image, o.title, {left, 25}, font, 0.6, axis, 1, cv::LINE_AA);
  cv::putText(image, o.xLabel, {left + pw / 2 - 20, o.height - 15}, font, 0.5, axis, 1,
              cv::LINE_AA);
  int legendY = top + 20;
  for (const PlotSeries& s : series) {
    if (s.x.empty()) continue;
    const cv::Scalar colour(s.rgb[2], s.rgb[1], s.rgb[0]);
    const Range& r = s.rightAxis ? yr : yl;
    for (std::size_t i = 1; i < s.x.size() && i < s.y.size(); ++i) {
      const double a = s.rightAxis ? s.y[i - 1] : transformLeft(s.y[i - 1]);
      const double b = s.rightAxis ? s.y[i] : transformLeft(s.y[i]);
      if (!std::isfinite(a) || !std::isfinite(b)) continue;
      cv::line(image, {px(s.x[i - 1]), py(a, r)}, {px(s.x[i]), py(b, r)}, colour, 2, cv::LINE_AA);
    }
    cv::line(image, {left + pw - 190, legendY - 5}, {left + pw - 165, legendY - 5}, colour, 3);
    cv::putText(image, s.name + (s.rightAxis ? " (right)" : ""), {left + pw - 160, legendY}, font,
                0.45, axis, 1, cv::LINE_AA);
    legendY += 20;
  }
  AtomicFile file(path);
  try {
    if (!cv::imwrite(file.tempPath(), image))
      return Status(StatusCode::kIoError, "cannot write the plot", path);
  } catch (const cv::Exception& e) {
    return Status(StatusCode::kIoError, std::string("cannot write the plot: ") + e.what(), path);
  }
  return file.commit();
}

}  // namespace tessera::imaging
