#include "imaging/augment/augment.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

namespace tessera::imaging {

namespace {
// Box–Muller on raw 64-bit draws: identical on every standard library.
class Gaussian {
 public:
  explicit Gaussian(std::uint64_t seed) : rng_(seed) {}
  double next() {
    if (hasSpare_) {
      hasSpare_ = false;
      return spare_;
    }
    const double u = (static_cast<double>(rng_() >> 11) + 0.5) / 9007199254740992.0;
    const double v = (static_cast<double>(rng_() >> 11) + 0.5) / 9007199254740992.0;
    const double r = std::sqrt(-2.0 * std::log(u));
    spare_ = r * std::sin(6.283185307179586 * v);
    hasSpare_ = true;
    return r * std::cos(6.283185307179586 * v);
  }

 private:
  std::mt19937_64 rng_;
  double spare_ = 0;
  bool hasSpare_ = false;
};
// Source coordinates of every output pixel: the affine `map` (output →
// source) applied to the output grid displaced by a smooth random field.
// The field is drawn on a grid 8× coarser (the Gaussian is wide, so nothing
// is lost), smoothed, scaled to the asked RMS and resized with cubic
// interpolation.
std::pair<cv::Mat, cv::Mat> elasticMaps(const cv::Mat& map, int outWidth, int outHeight,
                                        const AugmentParams& p, Gaussian& gaussian) {
  constexpr int kCoarse = 8;
  const cv::Size coarse((outWidth + kCoarse - 1) / kCoarse + 1,
                        (outHeight + kCoarse - 1) / kCoarse + 1);
  cv::Mat field[2];
  for (cv::Mat& f : field) {
    f.create(coarse, CV_32F);
    for (int y = 0; y < coarse.height; ++y)
      for (int x = 0; x < coarse.width; ++x) f.at<float>(y, x) = float(gaussian.next());
    const double sigma = std::max(0.5, p.elasticSigmaPx / kCoarse);
    cv::GaussianBlur(f, f, cv::Size(), sigma, sigma, cv::BORDER_REFLECT);
  }
  double power = 0;
  for (const cv::Mat& f : field) power += cv::mean(f.mul(f))[0];
  const double gain = p.elasticPx / std::sqrt(std::max(power, 1e-12));
  cv::Mat dx, dy;
  cv::resize(field[0] * gain, dx, cv::Size(outWidth, outHeight), 0, 0, cv::INTER_CUBIC);
  cv::resize(field[1] * gain, dy, cv::Size(outWidth, outHeight), 0, 0, cv::INTER_CUBIC);
  cv::Mat mapX(outHeight, outWidth, CV_32F), mapY(outHeight, outWidth, CV_32F);
  const double* a = map.ptr<double>(0);
  const double* b = map.ptr<double>(1);
  for (int v = 0; v < outHeight; ++v)
    for (int u = 0; u < outWidth; ++u) {
      const double x = u + dx.at<float>(v, u), y = v + dy.at<float>(v, u);
      mapX.at<float>(v, u) = float(a[0] * x + a[1] * y + a[2]);
      mapY.at<float>(v, u) = float(b[0] * x + b[1] * y + b[2]);
    }
  return {mapX, mapY};
}

}  // namespace

void augmentSlices(const std::vector<const float*>& planesHu, const std::uint8_t* labels, int width,
                   int height, const AugmentParams& p, int outWidth, int outHeight,
                   const std::vector<float*>& outPlanesHu, std::uint8_t* outLabels) {
  // Output pixel (u, v) samples source point centre + R·S⁻¹·((u, v) − outCentre).
  const double angle = p.rotationDeg * M_PI / 180.0;
  const double c = std::cos(angle) / p.scale, s = std::sin(angle) / p.scale;
  const double ox = (outWidth - 1) / 2.0, oy = (outHeight - 1) / 2.0;
  cv::Mat map = (cv::Mat_<double>(2, 3) << c, -s, p.centreX - c * ox + s * oy,  //
                 s, c, p.centreY - s * ox - c * oy);
  const cv::Size outSize(outWidth, outHeight);
  const cv::Mat srcLabels(height, width, CV_8U, const_cast<std::uint8_t*>(labels));
  cv::Mat dstLabels(outHeight, outWidth, CV_8U, outLabels);
  Gaussian noise(p.noiseSeed);
  if (p.elasticPx > 0) {
    const auto [mapX, mapY] = elasticMaps(map, outWidth, outHeight, p, noise);
    for (std::size_t i = 0; i < planesHu.size(); ++i) {
      const cv::Mat src(height, width, CV_32F, const_cast<float*>(planesHu[i]));
      cv::Mat dst(outHeight, outWidth, CV_32F, outPlanesHu[i]);
      cv::remap(src, dst, mapX, mapY, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1024.0));
    }
    cv::remap(srcLabels, dstLabels, mapX, mapY, cv::INTER_NEAREST, cv::BORDER_CONSTANT,
              cv::Scalar(0));
  } else {
    const int flags = cv::WARP_INVERSE_MAP;
    for (std::size_t i = 0; i < planesHu.size(); ++i) {
      const cv::Mat src(height, width, CV_32F, const_cast<float*>(planesHu[i]));
      cv::Mat dst(outHeight, outWidth, CV_32F, outPlanesHu[i]);
      cv::warpAffine(src, dst, map, outSize, cv::INTER_LINEAR | flags, cv::BORDER_CONSTANT,
                     cv::Scalar(-1024.0));
    }
    cv::warpAffine(srcLabels, dstLabels, map, outSize, cv::INTER_NEAREST | flags,
                   cv::BORDER_CONSTANT, cv::Scalar(0));
  }

  const std::size_t n = static_cast<std::size_t>(outWidth) * outHeight;
  for (float* plane : outPlanesHu)
    for (std::size_t k = 0; k < n; ++k) {
      double v = plane[k] * p.huScale + p.huShift;
      if (p.noiseSigmaHu > 0) v += p.noiseSigmaHu * noise.next();
      plane[k] = static_cast<float>(v);
    }
}

}  // namespace tessera::imaging
