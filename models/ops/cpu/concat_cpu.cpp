// Channel concatenation on nChw16c. When the first part fills whole
// 16-channel blocks (every U-Net of base width 16·k) both parts are copied as
// contiguous block planes; otherwise channels are moved lane by lane.
#include <cassert>
#include <cstring>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {
namespace {

constexpr std::int64_t B = kChannelBlock;

std::int64_t blocks(std::int64_t c) {
  return paddedChannels(c) / B;
}

// Pointer to channel c's lane at pixel 0 of sample n.
const float* lane(const Tensor& t, std::int64_t n, std::int64_t c) {
  return t.data() + ((n * blocks(t.c()) + c / B) * t.h() * t.w()) * B + c % B;
}
float* lane(Tensor& t, std::int64_t n, std::int64_t c) {
  return t.data() + ((n * blocks(t.c()) + c / B) * t.h() * t.w()) * B + c % B;
}

// Copies `count` whole block planes per sample, from block fromFirst of
// `from` to block toFirst of `to`.
void copyPlanes(const Tensor& from, std::int64_t fromFirst, Tensor& to, std::int64_t toFirst,
                std::int64_t count) {
  const std::int64_t plane = from.h() * from.w() * B;
  const std::int64_t fromBlocks = blocks(from.c()), toBlocks = blocks(to.c());
  parallelFor(0, from.n() * count, [&](std::int64_t i) {
    const std::int64_t n = i / count, k = i % count;
    std::memcpy(to.data() + (n * toBlocks + toFirst + k) * plane,
                from.data() + (n * fromBlocks + fromFirst + k) * plane,
                static_cast<std::size_t>(plane) * 4);
  });
}

// Moves `count` channels from `from` (starting at fromC) to `to` (starting
// at toC), lane by lane, for every sample and pixel.
void copyChannels(const Tensor& from, std::int64_t fromC, Tensor& to, std::int64_t toC,
                  std::int64_t count) {
  const std::int64_t hw = from.h() * from.w();
  parallelFor(0, from.n() * count, [&](std::int64_t i) {
    const std::int64_t n = i / count, c = i % count;
    const float* s = lane(from, n, fromC + c);
    float* d = lane(to, n, toC + c);
    for (std::int64_t p = 0; p < hw; ++p) d[p * B] = s[p * B];
  });
}

}  // namespace

Tensor concat(const Tensor& a, const Tensor& b) {
  assert(a.layout() == Layout::kBlocked16 && b.layout() == Layout::kBlocked16);
  assert(a.n() == b.n() && a.h() == b.h() && a.w() == b.w());
  const Shape shape{a.n(), a.c() + b.c(), a.h(), a.w()};
  if (a.c() % B == 0) {
    Tensor y = Tensor::empty(shape, Layout::kBlocked16);
    copyPlanes(a, 0, y, 0, blocks(a.c()));
    copyPlanes(b, 0, y, blocks(a.c()), blocks(b.c()));  // b's zero padding becomes y's
    return y;
  }
  Tensor y = Tensor::zeros(shape, Layout::kBlocked16);
  copyChannels(a, 0, y, 0, a.c());
  copyChannels(b, 0, y, a.c(), b.c());
  return y;
}

void split(const Tensor& ab, std::int64_t channelsA, Tensor* a, Tensor* b) {
  assert(ab.layout() == Layout::kBlocked16 && channelsA > 0 && channelsA < ab.c());
  const Shape sa{ab.n(), channelsA, ab.h(), ab.w()};
  const Shape sb{ab.n(), ab.c() - channelsA, ab.h(), ab.w()};
  if (channelsA % B == 0) {
    *a = Tensor::empty(sa, Layout::kBlocked16);
    *b = Tensor::empty(sb, Layout::kBlocked16);
    copyPlanes(ab, 0, *a, 0, blocks(sa.c));
    copyPlanes(ab, blocks(sa.c), *b, 0, blocks(sb.c));
    return;
  }
  *a = Tensor::zeros(sa, Layout::kBlocked16);
  *b = Tensor::zeros(sb, Layout::kBlocked16);
  copyChannels(ab, 0, *a, 0, sa.c);
  copyChannels(ab, channelsA, *b, 0, sb.c);
}

}  // namespace tessera::models::cpu
