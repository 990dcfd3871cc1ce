#include "core/blocks.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <string>

namespace tessera {

namespace {

bool isPowerOfTwo(int v) {
  return v > 0 && (v & (v - 1)) == 0;
}

// Largest block the detector's 32-bit accumulators hold without overflow
// (64 × 64 pixels × 2 × 65535 HU of edge energy < 2^31).
constexpr int kMaxBlockSize = 64;

}  // namespace

BlockGrid::BlockGrid(int width, int height, int blockSize)
    : width_(width), height_(height), blockSize_(blockSize) {
  assert(width > 0 && height > 0 && isPowerOfTwo(blockSize) && blockSize <= kMaxBlockSize);
  blocksX_ = (width + blockSize - 1) / blockSize;
  blocksY_ = (height + blockSize - 1) / blockSize;
}

Result<BlockGrid> BlockGrid::create(std::int64_t width, std::int64_t height, int blockSize) {
  constexpr std::int64_t kMaxSide = 1 << 20;
  if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide)
    return Error{StatusCode::kInvalidArgument,
                 "slice of " + std::to_string(width) + " x " + std::to_string(height) +
                     " pixels cannot be tiled into blocks",
                 {}};
  if (!isPowerOfTwo(blockSize) || blockSize > kMaxBlockSize)
    return Error{StatusCode::kInvalidArgument,
                 "block size must be a power of two up to " + std::to_string(kMaxBlockSize) +
                     ", got " + std::to_string(blockSize),
                 {}};
  return BlockGrid(static_cast<int>(width), static_cast<int>(height), blockSize);
}

PixelRect BlockGrid::pixelRect(int bx, int by) const {
  const PixelRect r = paddedRect(bx, by);
  return {r.x0, r.y0, std::min(r.x1, width_), std::min(r.y1, height_)};
}

PixelRect BlockGrid::paddedRect(int bx, int by) const {
  return {bx * blockSize_, by * blockSize_, (bx + 1) * blockSize_, (by + 1) * blockSize_};
}

int BlockGrid::maxLevel() const {
  int level = 0;
  while ((blockSize_ >> (level + 1)) >= 1) ++level;
  return level;
}

PixelRect BlockGrid::levelRect(int bx, int by, int level) const {
  assert(level >= 0 && level <= maxLevel());
  const int s = levelBlockSize(level);
  return {bx * s, by * s, (bx + 1) * s, (by + 1) * s};
}

// --- BlockMask --------------------------------------------------------------

BlockMask::BlockMask(int blocksX, int blocksY, bool active)
    : blocksX_(blocksX),
      blocksY_(blocksY),
      bits_(static_cast<std::size_t>(blocksX) * blocksY, active ? 1 : 0) {
  assert(blocksX >= 0 && blocksY >= 0);
}

void BlockMask::fill(bool active) {
  std::fill(bits_.begin(), bits_.end(), active ? 1 : 0);
}

int BlockMask::count() const {
  int n = 0;
  for (std::uint8_t b : bits_) n += b;
  return n;
}

double BlockMask::activeFraction() const {
  return bits_.empty() ? 0.0 : static_cast<double>(count()) / static_cast<double>(bits_.size());
}

bool BlockMask::any() const {
  return std::any_of(bits_.begin(), bits_.end(), [](std::uint8_t b) { return b != 0; });
}

bool BlockMask::all() const {
  return std::all_of(bits_.begin(), bits_.end(), [](std::uint8_t b) { return b != 0; });
}

namespace {

// out[i] = any(in[i - k .. i + k]) along a line of n entries `stride` apart,
// in place, using a running count over a copy of the line.
void dilateLine(std::uint8_t* line, int n, std::ptrdiff_t stride, int k, std::uint8_t* copy) {
  for (int i = 0; i < n; ++i) copy[i] = line[i * stride];
  int inWindow = 0;
  for (int i = 0; i < std::min(k, n); ++i) inWindow += copy[i];
  for (int i = 0; i < n; ++i) {
    if (i + k < n) inWindow += copy[i + k];
    if (i - k - 1 >= 0) inWindow -= copy[i - k - 1];
    line[i * stride] = inWindow > 0 ? 1 : 0;
  }
}

}  // namespace

void BlockMask::dilate(int k) {
  if (k <= 0 || bits_.empty()) return;
  if (none() || all()) return;
  // Chebyshev dilation is separable: rows, then columns. The line copy lives
  // on the stack for slices up to 16384 pixels wide.
  const int longest = std::max(blocksX_, blocksY_);
  std::array<std::uint8_t, 1024> stackCopy;
  std::vector<std::uint8_t> heapCopy;
  std::uint8_t* copy = stackCopy.data();
  if (longest > static_cast<int>(stackCopy.size())) {
    heapCopy.resize(longest);
    copy = heapCopy.data();
  }
  for (int y = 0; y < blocksY_; ++y) dilateLine(&bits_[y * blocksX_], blocksX_, 1, k, copy);
  for (int x = 0; x < blocksX_; ++x) dilateLine(&bits_[x], blocksY_, blocksX_, k, copy);
}

void BlockMask::fillHoles() {
  if (bits_.empty() || all() || none()) return;
  // Mark (2) inactive blocks reachable from the border by alternating
  // forward and backward sweeps until nothing changes: no extra memory.
  constexpr std::uint8_t kOutside = 2;
  auto at = [&](int x, int y) -> std::uint8_t& { return bits_[y * blocksX_ + x]; };
  for (int x = 0; x < blocksX_; ++x) {
    if (at(x, 0) == 0) at(x, 0) = kOutside;
    if (at(x, blocksY_ - 1) == 0) at(x, blocksY_ - 1) = kOutside;
  }
  for (int y = 0; y < blocksY_; ++y) {
    if (at(0, y) == 0) at(0, y) = kOutside;
    if (at(blocksX_ - 1, y) == 0) at(blocksX_ - 1, y) = kOutside;
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (int y = 0; y < blocksY_; ++y)
      for (int x = 0; x < blocksX_; ++x)
        if (at(x, y) == 0 &&
            ((x > 0 && at(x - 1, y) == kOutside) || (y > 0 && at(x, y - 1) == kOutside))) {
          at(x, y) = kOutside;
          changed = true;
        }
    for (int y = blocksY_ - 1; y >= 0; --y)
      for (int x = blocksX_ - 1; x >= 0; --x)
        if (at(x, y) == 0 && ((x + 1 < blocksX_ && at(x + 1, y) == kOutside) ||
                              (y + 1 < blocksY_ && at(x, y + 1) == kOutside))) {
          at(x, y) = kOutside;
          changed = true;
        }
  }
  for (std::uint8_t& b : bits_) b = b == kOutside ? 0 : 1;
}

BlockMask BlockMask::dilated(int k) const {
  BlockMask out = *this;
  out.dilate(k);
  return out;
}

BlockMask& BlockMask::operator|=(const BlockMask& other) {
  assert(other.blocksX_ == blocksX_ && other.blocksY_ == blocksY_);
  for (std::size_t i = 0; i < bits_.size(); ++i) bits_[i] |= other.bits_[i];
  return *this;
}

BlockMask& BlockMask::operator&=(const BlockMask& other) {
  assert(other.blocksX_ == blocksX_ && other.blocksY_ == blocksY_);
  for (std::size_t i = 0; i < bits_.size(); ++i) bits_[i] &= other.bits_[i];
  return *this;
}

std::vector<int> BlockMask::activeIndices() const {
  std::vector<int> out;
  out.reserve(count());
  for (int i = 0; i < size(); ++i)
    if (bits_[i]) out.push_back(i);
  return out;
}

// --- density detector -------------------------------------------------------

bool isActive(const BlockFeatures& f, const DetectorOptions& o) {
  return f.bodyFraction >= o.minBodyFraction || f.meanHu >= o.minMeanHu ||
         f.spreadHu >= o.minSpreadHu || f.edgeHu >= o.minEdgeHu;
}

namespace {

struct Accumulator {
  std::int32_t body = 0, sum = 0, edge = 0;
  std::int64_t squares = 0;
};

// Statistics use HU clamped to the CT range [-1024, 3071] and offset by
// +1024, so that one row of a block sums in 32 bits and the loop vectorises;
// padding such as -3024 outside the reconstruction circle counts as air.
constexpr std::int32_t kHuMin = -1024, kHuMax = 3071;
inline std::int32_t clampHu(std::int32_t v) {
  return std::min(std::max(v, kHuMin), kHuMax);
}

// One row of N pixels of one block whose right neighbour column and next row
// exist: the hot path, branch-free so that it vectorises.
template <int N>
inline void accumulateInterior(const std::int16_t* row, const std::int16_t* next, int threshold,
                               Accumulator& acc) {
  std::int32_t body = 0, sum = 0, edge = 0, squares = 0;
  for (int x = 0; x < N; ++x) {
    const std::int32_t v = clampHu(row[x]), right = clampHu(row[x + 1]), down = clampHu(next[x]);
    const std::int32_t o = v - kHuMin;
    body += v > threshold;
    sum += o;
    squares += o * o;  // ≤ 16 · 4095², fits
    edge += std::abs(right - v) + std::abs(down - v);
  }
  acc.body += body;
  acc.sum += sum;
  acc.edge += edge;
  acc.squares += squares;
}

// Any row segment; `next` is null on the last image row, `hasRight` false
// when x0 + n is the image border.
inline void accumulateGeneral(const std::int16_t* row, const std::int16_t* next, int n,
                              bool hasRight, int threshold, Accumulator& acc) {
  for (int x = 0; x < n; ++x) {
    const std::int32_t v = clampHu(row[x]);
    const std::int64_t o = v - kHuMin;
    acc.body += v > threshold;
    acc.sum += static_cast<std::int32_t>(o);
    acc.squares += o * o;
    if (x + 1 < n || hasRight) acc.edge += std::abs(clampHu(row[x + 1]) - v);
    if (next) acc.edge += std::abs(clampHu(next[x]) - v);
  }
}

BlockFeatures finish(const Accumulator& acc, int pixels) {
  const double n = pixels;
  const double mean = acc.sum / n;  // offset by -kHuMin
  const double variance = static_cast<double>(acc.squares) / n - mean * mean;
  BlockFeatures f;
  f.bodyFraction = static_cast<float>(acc.body / n);
  f.meanHu = static_cast<float>(mean + kHuMin);
  f.spreadHu = static_cast<float>(std::sqrt(std::max(0.0, variance)));
  f.edgeHu = static_cast<float>(acc.edge / n);
  return f;
}

// Features of blocks [bxBegin, bxEnd) of block row `by`; out has bxEnd - bxBegin entries.
void scanBlocks(const std::int16_t* slice, int width, int height, int blockSize, int threshold,
                int by, int bxBegin, int bxEnd, Accumulator* acc, BlockFeatures* out) {
  const int y0 = by * blockSize;
  const int y1 = std::min(y0 + blockSize, height);
  for (int b = bxBegin; b < bxEnd; ++b) acc[b - bxBegin] = Accumulator{};
  for (int y = y0; y < y1; ++y) {
    const std::int16_t* row = slice + static_cast<std::ptrdiff_t>(y) * width;
    const std::int16_t* next = y + 1 < height ? row + width : nullptr;
    for (int b = bxBegin; b < bxEnd; ++b) {
      const int x0 = b * blockSize;
      const int x1 = std::min(x0 + blockSize, width);
      Accumulator& a = acc[b - bxBegin];
      if (blockSize == 16 && x1 - x0 == 16 && x1 < width && next)
        accumulateInterior<16>(row + x0, next + x0, threshold, a);
      else
        accumulateGeneral(row + x0, next ? next + x0 : nullptr, x1 - x0, x1 < width, threshold, a);
    }
  }
  for (int b = bxBegin; b < bxEnd; ++b) {
    const int pixels = (std::min((b + 1) * blockSize, width) - b * blockSize) * (y1 - y0);
    out[b - bxBegin] = finish(acc[b - bxBegin], pixels);
  }
}

// Marks (ORs into `mask`) the blocks of one slice that pass the thresholds;
// optionally records every block's features. Scratch stays on the stack.
void markActive(const std::int16_t* slice, int width, int height, const DetectorOptions& options,
                BlockMask& mask, BlockFeatures* features) {
  constexpr int kGroup = 64;
  std::array<Accumulator, kGroup> acc;
  std::array<BlockFeatures, kGroup> group;
  const int blocksX = mask.blocksX();
  for (int by = 0; by < mask.blocksY(); ++by) {
    for (int begin = 0; begin < blocksX; begin += kGroup) {
      const int end = std::min(begin + kGroup, blocksX);
      BlockFeatures* out = features ? features + by * blocksX + begin : group.data();
      scanBlocks(slice, width, height, options.blockSize, options.bodyThresholdHu, by, begin, end,
                 acc.data(), out);
      for (int b = begin; b < end; ++b)
        if (isActive(out[b - begin], options)) mask.set(b, by);
    }
  }
}

}  // namespace

BlockMask detectBlocks(const std::int16_t* sliceHu, int width, int height,
                       const DetectorOptions& options) {
  return detectBlocks(sliceHu, width, height, options, nullptr);
}

BlockMask detectBlocks(const std::int16_t* sliceHu, int width, int height,
                       const DetectorOptions& options, std::vector<BlockFeatures>* features) {
  const BlockGrid grid(width, height, options.blockSize);
  BlockMask mask(grid);
  if (features) features->resize(grid.blockCount());
  markActive(sliceHu, width, height, options, mask, features ? features->data() : nullptr);
  if (options.fillHoles) mask.fillHoles();
  mask.dilate(options.dilation);
  return mask;
}

BlockMask detectBlocks(std::span<const std::int16_t* const> slices, int width, int height,
                       const DetectorOptions& options) {
  const BlockGrid grid(width, height, options.blockSize);
  BlockMask mask(grid);
  for (const std::int16_t* slice : slices) {
    if (mask.all()) break;
    markActive(slice, width, height, options, mask, nullptr);
  }
  if (options.fillHoles) mask.fillHoles();
  mask.dilate(options.dilation);
  return mask;
}

}  // namespace tessera
