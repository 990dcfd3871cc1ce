// Activation buffers of the inference engine: nChw16c with a one-pixel zero
// border, [channelBlocks][height + 2][width + 2][16] floats, so 3×3
// convolutions read their halo without bounds checks and the image border
// behaves like zero padding. Pixel (x, y) of block cb starts at
// data + ((cb·(height+2) + y + 1)·(width+2) + x + 1)·16.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/blocks.h"

namespace tessera::models::infer {

class FeatureMap {
 public:
  FeatureMap() = default;
  // Zero-filled. channels ≤ 16·channelBlocks; lanes past `channels` stay zero.
  FeatureMap(int channels, int height, int width);

  int channels() const { return channels_; }
  int channelBlocks() const { return (channels_ + 15) / 16; }
  int height() const { return height_; }
  int width() const { return width_; }
  std::int64_t rowStride() const { return std::int64_t{width_ + 2} * 16; }
  std::int64_t blockStride() const { return std::int64_t{height_ + 2} * rowStride(); }
  std::int64_t floats() const { return blockStride() * channelBlocks(); }

  float* pixel(int cb, int y, int x) {
    return data_.get() + cb * blockStride() + (y + 1) * rowStride() + (x + 1) * 16;
  }
  const float* pixel(int cb, int y, int x) const {
    return data_.get() + cb * blockStride() + (y + 1) * rowStride() + (x + 1) * 16;
  }
  float* data() { return data_.get(); }

  // A view of channel blocks [firstBlock, firstBlock + blocks) sharing
  // storage (concat halves are views of one buffer).
  FeatureMap channelView(int firstBlock, int blocks) const;

  // The value inactive pixels hold: what the dense network computes on air,
  // so that sparse results stay close to dense ones (16 floats per channel
  // block; views share their parent's vector).
  float* background() { return background_->data() + backgroundOffset_; }
  // Fills the interior pixels of `blocks` (image blocks of `blockPixels`
  // feature pixels) with the background vector.
  void fillBackground(const std::vector<int>& blockIndices, int blocksX, int blockPixels);
  // Blocks whose pixels currently hold computed (non-background) values.
  BlockMask& written() { return *written_; }

 private:
  int channels_ = 0, height_ = 0, width_ = 0;
  std::shared_ptr<float> data_;
  std::shared_ptr<std::vector<float>> background_;
  int backgroundOffset_ = 0;
  std::shared_ptr<BlockMask> written_;
};

}  // namespace tessera::models::infer
