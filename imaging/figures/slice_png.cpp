#include "imaging/figures/slice_png.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <vector>

#include "core/files.h"

namespace tessera::imaging {

Status writeSlicePng(const Volume& ct, const LabelMap* labels, std::int64_t k,
                     const std::string& path, const SlicePngOptions& options) {
  if (ct.empty()) return Status(StatusCode::kInvalidArgument, "the volume is empty", path);
  if (k < 0 || k >= ct.nz())
    return Status(StatusCode::kInvalidArgument,
                  "slice " + std::to_string(k) + " is outside the volume (0.." +
                      std::to_string(ct.nz() - 1) + ")",
                  path);
  if (labels && (labels->labels.nx() != ct.nx() || labels->labels.ny() != ct.ny() ||
                 labels->labels.nz() != ct.nz()))
    return Status(StatusCode::kInvalidArgument, "labels and volume differ in size", path);
  if (!(options.window > 0))
    return Status(StatusCode::kInvalidArgument, "the window width must be positive", path);
  const std::string ext = fullExtension(path);
  if (ext != ".png" && ext != ".PNG")
    return Status(StatusCode::kInvalidArgument, "the picture must be a .png file", path);
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));

  const int w = static_cast<int>(ct.nx()), h = static_cast<int>(ct.ny());
  const double lo = options.level - 0.5 * options.window;
  cv::Mat grey(h, w, CV_8UC3);
  const std::int16_t* hu = ct.slice(k);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double g = std::clamp((hu[y * w + x] - lo) / options.window, 0.0, 1.0) * 255.0;
      const auto v = static_cast<std::uint8_t>(g + 0.5);
      grey.at<cv::Vec3b>(y, x) = {v, v, v};
    }
  cv::Mat canvas = grey;
  if (labels) {
    cv::Mat overlay = grey.clone();
    const std::uint8_t* lab = labels->labels.slice(k);
    std::array<bool, 256> present{};
    const double a = std::clamp(options.overlayAlpha, 0.0, 1.0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const std::uint8_t l = lab[y * w + x];
        present[l] = true;
        const Label* info = labels->table.find(l);
        if (l == 0 || !info) continue;
        cv::Vec3b& p = overlay.at<cv::Vec3b>(y, x);
        // OpenCV stores BGR.
        for (int c = 0; c < 3; ++c)
          p[c] = static_cast<std::uint8_t>((1 - a) * p[c] + a * info->rgb[2 - c] + 0.5);
      }
    if (options.legend) {
      const double scale = std::max(0.35, w / 1400.0);
      const int line = static_cast<int>(22 * scale / 0.35 * 0.5) + 4;
      int y = h - 6 - line * static_cast<int>(std::count(present.begin() + 1, present.end(), true));
      for (int l = 1; l < 256; ++l) {
        const Label* info = labels->table.find(static_cast<std::uint8_t>(l));
        if (!present[l] || !info) continue;
        y += line;
        const cv::Scalar colour(info->rgb[2], info->rgb[1], info->rgb[0]);
        cv::rectangle(overlay, cv::Rect(6, y - line + 4, line - 6, line - 6), colour, cv::FILLED);
        cv::putText(overlay, info->name, cv::Point(6 + line, y - 2), cv::FONT_HERSHEY_SIMPLEX,
                    scale, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
      }
    }
    cv::hconcat(grey, overlay, canvas);
  }
  AtomicFile file(path);
  try {
    if (!cv::imwrite(file.tempPath(), canvas))
      return Status(StatusCode::kIoError, "cannot write the PNG", path);
  } catch (const cv::Exception& e) {
    return Status(StatusCode::kIoError, std::string("cannot write the PNG: ") + e.what(), path);
  }
  return file.commit();
}

}  // namespace tessera::imaging
