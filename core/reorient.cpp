#include "core/reorient.h"

#include <cmath>

#include "core/parallel.h"

namespace tessera {

Reorientation canonicalReorientation(const Geometry& g) {
  Reorientation r;
  std::array<bool, 3> usedAxis{false, false, false}, doneWorld{false, false, false};
  for (int round = 0; round < 3; ++round) {
    int bestWorld = -1, bestAxis = -1;
    double best = -1;
    for (int w = 0; w < 3; ++w)
      for (int a = 0; a < 3; ++a)
        if (!doneWorld[w] && !usedAxis[a] && std::abs(g.direction[3 * w + a]) > best) {
          best = std::abs(g.direction[3 * w + a]);
          bestWorld = w;
          bestAxis = a;
        }
    doneWorld[bestWorld] = usedAxis[bestAxis] = true;
    r.perm[bestWorld] = bestAxis;
    r.flip[bestWorld] = g.direction[3 * bestWorld + bestAxis] < 0;
  }
  return r;
}

namespace {
Geometry canonicalGeometry(const Geometry& g, const Reorientation& r) {
  Geometry c;
  Vec3 firstVoxel{0, 0, 0};
  for (int k = 0; k < 3; ++k) {
    const int a = r.perm[k];
    c.size[k] = g.size[a];
    c.spacingMm[k] = g.spacingMm[a];
    for (int w = 0; w < 3; ++w)
      c.direction[3 * w + k] = g.direction[3 * w + a] * (r.flip[k] ? -1 : 1);
    firstVoxel[a] = r.flip[k] ? static_cast<double>(g.size[a] - 1) : 0.0;
  }
  c.originMm = g.worldFromVoxel(firstVoxel);
  return c;
}

// Calls f(canonicalIndex, inputIndex) for every voxel.
template <class F>
void forEachVoxel(const Geometry& input, const Reorientation& r, F&& f) {
  std::array<std::int64_t, 3> csize;
  for (int k = 0; k < 3; ++k) csize[k] = input.size[r.perm[k]];
  std::array<std::int64_t, 3> stride{1, input.size[0], input.size[0] * input.size[1]};
  parallelFor(0, csize[2], [&](std::int64_t c2) {
    for (std::int64_t c1 = 0; c1 < csize[1]; ++c1)
      for (std::int64_t c0 = 0; c0 < csize[0]; ++c0) {
        const std::int64_t cc[3] = {c0, c1, c2};
        std::int64_t in = 0;
        for (int k = 0; k < 3; ++k) {
          const std::int64_t v = r.flip[k] ? csize[k] - 1 - cc[k] : cc[k];
          in += v * stride[r.perm[k]];
        }
        f(c0 + csize[0] * (c1 + csize[1] * c2), in);
      }
  });
}
}  // namespace

template <class T>
Image<T> reorient(ImageView<T> image, const Reorientation& r) {
  Image<T> out = std::move(*Image<T>::create(canonicalGeometry(image.geometry(), r)));
  const T* src = image.data();
  T* dst = out.data();
  forEachVoxel(image.geometry(), r, [&](std::int64_t c, std::int64_t i) { dst[c] = src[i]; });
  return out;
}

template <class T>
Image<T> reorientBack(const Image<T>& canonical, const Reorientation& r, const Geometry& original) {
  Image<T> out = std::move(*Image<T>::create(original));
  const T* src = canonical.data();
  T* dst = out.data();
  forEachVoxel(original, r, [&](std::int64_t c, std::int64_t i) { dst[i] = src[c]; });
  return out;
}

template Image<std::int16_t> reorient(ImageView<std::int16_t>, const Reorientation&);
template Image<std::uint8_t> reorient(ImageView<std::uint8_t>, const Reorientation&);
template Image<std::int16_t> reorientBack(const Image<std::int16_t>&, const Reorientation&,
                                          const Geometry&);
template Image<std::uint8_t> reorientBack(const Image<std::uint8_t>&, const Reorientation&,
                                          const Geometry&);

bool SlicePlacement::fits(const std::array<std::int64_t, 3>& size) const {
  if (width <= 0 || height <= 0) return false;
  const std::int64_t total = size[0] * size[1] * size[2];
  for (std::int64_t u : {std::int64_t{0}, width - 1})
    for (std::int64_t v : {std::int64_t{0}, height - 1}) {
      const std::int64_t i = voxelIndex(u, v);
      if (i < 0 || i >= total) return false;
    }
  return true;
}

SlicePlacement canonicalSlicePlacement(const Geometry& geometry, std::int64_t k) {
  const Reorientation r = canonicalReorientation(geometry);
  const auto& size = geometry.size;
  const std::int64_t stride[3] = {1, size[0], size[0] * size[1]};
  std::int64_t first = 0, step[3];
  for (int c = 0; c < 3; ++c) {
    const int axis = r.perm[static_cast<std::size_t>(c)];
    step[c] = r.flip[static_cast<std::size_t>(c)] ? -stride[axis] : stride[axis];
    if (r.flip[static_cast<std::size_t>(c)]) first += (size[axis] - 1) * stride[axis];
  }
  SlicePlacement p;
  p.firstVoxel = first + k * step[2];
  p.uStride = step[0];
  p.vStride = step[1];
  p.width = size[r.perm[0]];
  p.height = size[r.perm[1]];
  return p;
}

}  // namespace tessera
