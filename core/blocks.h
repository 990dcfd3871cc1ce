// Block tiling of axial slices for the block-sparse engine (docs/ENGINE.md, "Block sparsity").
//
// A slice of width × height pixels is cut into square blocks of 16 pixels
// (the last row and column of blocks are padded past the image border). A
// BlockMask says which blocks the network computes; the density detector
// derives it from the slice's Hounsfield units in one fused pass. Blocks keep
// covering the same *image* pixels at every U-Net level, so at level L a
// block spans 16 >> L feature pixels.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace tessera {

constexpr int kBlockSize = 16;

// Half-open pixel rectangle [x0, x1) × [y0, y1).
struct PixelRect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
  int area() const { return empty() ? 0 : width() * height(); }
  bool empty() const { return x1 <= x0 || y1 <= y0; }
  bool operator==(const PixelRect&) const = default;
};

class BlockGrid {
 public:
  BlockGrid() = default;
  // Precondition: width, height > 0 and blockSize a power of two; use
  // create() for sizes that come from a file or a user.
  BlockGrid(int width, int height, int blockSize = kBlockSize);
  static Result<BlockGrid> create(std::int64_t width, std::int64_t height,
                                  int blockSize = kBlockSize);

  int width() const { return width_; }
  int height() const { return height_; }
  int blockSize() const { return blockSize_; }
  int blocksX() const { return blocksX_; }
  int blocksY() const { return blocksY_; }
  int blockCount() const { return blocksX_ * blocksY_; }
  // The slice padded up to a whole number of blocks.
  int paddedWidth() const { return blocksX_ * blockSize_; }
  int paddedHeight() const { return blocksY_ * blockSize_; }

  // Blocks are numbered row-major: index = by * blocksX + bx.
  int index(int bx, int by) const { return by * blocksX_ + bx; }
  int blockX(int index) const { return index % blocksX_; }
  int blockY(int index) const { return index / blocksX_; }
  int blockOfPixel(int x, int y) const { return index(x / blockSize_, y / blockSize_); }

  // The block's pixels inside the slice (cut at the image border).
  PixelRect pixelRect(int bx, int by) const;
  // The block's pixels in the padded slice (always blockSize × blockSize).
  PixelRect paddedRect(int bx, int by) const;

  // U-Net level L (0 = full resolution) has a feature map of paddedWidth >> L
  // by paddedHeight >> L; a block covers (blockSize >> L)² feature pixels
  // there. Valid levels are 0..maxLevel() (4 for 16-pixel blocks).
  int maxLevel() const;
  int levelBlockSize(int level) const { return blockSize_ >> level; }
  int levelWidth(int level) const { return paddedWidth() >> level; }
  int levelHeight(int level) const { return paddedHeight() >> level; }
  PixelRect levelRect(int bx, int by, int level) const;

  bool operator==(const BlockGrid&) const = default;

 private:
  int width_ = 0, height_ = 0, blockSize_ = kBlockSize, blocksX_ = 0, blocksY_ = 0;
};

// One byte per block (0 or 1), row-major, so the engine can gather from it
// directly. Operations between two masks require equal dimensions.
class BlockMask {
 public:
  BlockMask() = default;
  BlockMask(int blocksX, int blocksY, bool active = false);
  explicit BlockMask(const BlockGrid& grid, bool active = false)
      : BlockMask(grid.blocksX(), grid.blocksY(), active) {}

  int blocksX() const { return blocksX_; }
  int blocksY() const { return blocksY_; }
  int size() const { return blocksX_ * blocksY_; }

  bool test(int bx, int by) const { return bits_[by * blocksX_ + bx] != 0; }
  bool test(int index) const { return bits_[index] != 0; }
  void set(int bx, int by, bool active = true) { bits_[by * blocksX_ + bx] = active ? 1 : 0; }
  void set(int index, bool active = true) { bits_[index] = active ? 1 : 0; }
  void fill(bool active);

  int count() const;
  // count() / size(); 0 for an empty grid.
  double activeFraction() const;
  bool any() const;
  bool all() const;
  bool none() const { return !any(); }

  // Activates inactive regions that do not reach the border through
  // inactive blocks (4-connected): air enclosed by anatomy.
  void fillHoles();

  // Adds every block within Chebyshev distance k (the 8-neighbourhood
  // applied k times). Empty and full masks return at once.
  void dilate(int k);
  BlockMask dilated(int k) const;

  BlockMask& operator|=(const BlockMask& other);
  BlockMask& operator&=(const BlockMask& other);
  // Row-major indices of the active blocks, ascending.
  std::vector<int> activeIndices() const;

  const std::uint8_t* data() const { return bits_.data(); }
  bool operator==(const BlockMask&) const = default;

 private:
  int blocksX_ = 0, blocksY_ = 0;
  std::vector<std::uint8_t> bits_;
};

// Per-block statistics of one slice, over the block's pixels inside the
// image, with HU clamped to the CT range [-1024, 3071] (padding values such
// as -3024 outside the reconstruction circle count as air).
struct BlockFeatures {
  float bodyFraction = 0;  // fraction of pixels above DetectorOptions::bodyThresholdHu
  float meanHu = 0;
  float spreadHu = 0;  // standard deviation of HU
  // Mean |dx| + |dy| per pixel in HU (forward differences, zero past the
  // image border): the block's edge energy, normalised so that cut border
  // blocks compare with whole ones.
  float edgeHu = 0;
};

// Thresholds of the density detector. A block is active when any test
// passes; then air enclosed by active blocks is activated (gas in the
// stomach, bowel or trachea reads like outside air, but only anatomy
// surrounds it) and the mask is dilated. The defaults keep every block that
// holds anatomy (aerated lung included: below the body threshold, but its
// mean is far above air's -1000) and leave air with scanner noise up to
// σ ≈ 40 HU inactive. Dense objects outside the patient (the table, a
// blanket) are *not* told apart from anatomy by density: their blocks are
// active and the network labels them background.
struct DetectorOptions {
  int blockSize = kBlockSize;
  int bodyThresholdHu = -500;     // air -1000, lung ≈ -850, fat ≈ -100
  double minBodyFraction = 0.05;  // ≥ 13 of 256 pixels above the threshold
  double minMeanHu = -950;        // aerated lung (-950..-700); air's block mean stays near -1000
  double minSpreadHu = 60;        // textured blocks (air noise σ is 10-40 HU)
  double minEdgeHu = 150;         // air noise σ = 40 gives ≈ 90 HU per pixel
  bool fillHoles = true;          // activate air enclosed by active blocks
  int dilation = 1;               // blocks added around the active ones
};

bool isActive(const BlockFeatures& features, const DetectorOptions& options);

// Fused single pass over a slice of width × height HU values (x fastest).
// Allocates only the returned mask. Precondition: width, height > 0.
BlockMask detectBlocks(const std::int16_t* sliceHu, int width, int height,
                       const DetectorOptions& options = {});
// Same decision; also fills `features` (one per block, row-major; the vector
// is reused when it already has the capacity).
BlockMask detectBlocks(const std::int16_t* sliceHu, int width, int height,
                       const DetectorOptions& options, std::vector<BlockFeatures>* features);
// 2.5D: a block is active when it is active in any of the slices (the slice
// and its neighbours), then the union is dilated once.
BlockMask detectBlocks(std::span<const std::int16_t* const> slices, int width, int height,
                       const DetectorOptions& options = {});

}  // namespace tessera
