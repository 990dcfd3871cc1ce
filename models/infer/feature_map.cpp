#include "models/infer/feature_map.h"

#include <cstring>
#include <new>

#include "core/memory.h"

namespace tessera::models::infer {

FeatureMap::FeatureMap(int channels, int height, int width)
    : channels_(channels), height_(height), width_(width) {
  const std::size_t bytes = static_cast<std::size_t>(floats()) * 4;
  float* p = static_cast<float*>(trackedAlloc(bytes));
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  data_ = std::shared_ptr<float>(p, [bytes](float* q) { trackedFree(q, bytes); });
  background_ = std::make_shared<std::vector<float>>(channelBlocks() * 16, 0.0f);
  written_ = std::make_shared<BlockMask>();
}

FeatureMap FeatureMap::channelView(int firstBlock, int blocks) const {
  FeatureMap view = *this;
  view.channels_ = blocks * 16;
  view.data_ = std::shared_ptr<float>(data_, data_.get() + firstBlock * blockStride());
  view.backgroundOffset_ = backgroundOffset_ + firstBlock * 16;
  view.written_ = std::make_shared<BlockMask>();
  return view;
}

void FeatureMap::fillBackground(const std::vector<int>& blockIndices, int blocksX,
                                int blockPixels) {
  for (int cb = 0; cb < channelBlocks(); ++cb) {
    const float* value = background() + cb * 16;
    for (int index : blockIndices) {
      const int x0 = (index % blocksX) * blockPixels, y0 = (index / blocksX) * blockPixels;
      for (int y = y0; y < y0 + blockPixels; ++y) {
        float* row = pixel(cb, y, x0);
        for (int x = 0; x < blockPixels; ++x) std::memcpy(row + x * 16, value, 64);
      }
    }
  }
}

}  // namespace tessera::models::infer
