#include "imaging/augment/augment.h"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <random>

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
  const int flags = cv::WARP_INVERSE_MAP;
  for (std::size_t i = 0; i < planesHu.size(); ++i) {
    const cv::Mat src(height, width, CV_32F, const_cast<float*>(planesHu[i]));
    cv::Mat dst(outHeight, outWidth, CV_32F, outPlanesHu[i]);
    cv::warpAffine(src, dst, map, outSize, cv::INTER_LINEAR | flags, cv::BORDER_CONSTANT,
                   cv::Scalar(-1024.0));
  }
  const cv::Mat srcLabels(height, width, CV_8U, const_cast<std::uint8_t*>(labels));
  cv::Mat dstLabels(outHeight, outWidth, CV_8U, outLabels);
  cv::warpAffine(srcLabels, dstLabels, map, outSize, cv::INTER_NEAREST | flags, cv::BORDER_CONSTANT,
                 cv::Scalar(0));

  Gaussian noise(p.noiseSeed);
  const std::size_t n = static_cast<std::size_t>(outWidth) * outHeight;
  for (float* plane : outPlanesHu)
    for (std::size_t k = 0; k < n; ++k) {
      double v = plane[k] * p.huScale + p.huShift;
      if (p.noiseSigmaHu > 0) v += p.noiseSigmaHu * noise.next();
      plane[k] = static_cast<float>(v);
    }
}

}  // namespace tessera::imaging
