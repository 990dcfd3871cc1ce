// Training-time augmentation of 2.5D slices (OpenCV, private): one affine
// map (rotation, scale, translation) applied to every context slice with
// linear interpolation and to the labels with nearest neighbour, producing a
// crop of the requested size, optionally composed with an elastic
// deformation (a smooth random displacement field, the same for every plane
// and the labels); then intensity jitter and Gaussian noise in Hounsfield
// units. Deterministic for given parameters and seed.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera::imaging {

struct AugmentParams {
  double centreX = 0, centreY = 0;  // crop centre in source pixels
  double rotationDeg = 0;           // counter-clockwise in the image
  double scale = 1;                 // > 1 zooms in
  double huShift = 0;               // added to every HU value
  double huScale = 1;               // applied around 0 HU (contrast)
  double noiseSigmaHu = 0;          // additive Gaussian noise
  // Elastic deformation of the output grid: RMS displacement in output
  // pixels (0: none) of a field smoothed by a Gaussian of elasticSigmaPx.
  double elasticPx = 0, elasticSigmaPx = 24;
  std::uint64_t noiseSeed = 0;  // also seeds the displacement field
};

// planesHu: `planes` source images of width × height HU values (x fastest),
// labels: width × height. Outputs outWidth × outHeight per plane / labels.
// Pixels mapped from outside the source read as air (−1024 HU, label 0).
void augmentSlices(const std::vector<const float*>& planesHu, const std::uint8_t* labels, int width,
                   int height, const AugmentParams& params, int outWidth, int outHeight,
                   const std::vector<float*>& outPlanesHu, std::uint8_t* outLabels);

}  // namespace tessera::imaging
