#include <array>
#include <utility>

#include "models/infer/internal/kernels.h"
#include "models/infer/internal/vec.h"

namespace tessera::models::infer::TESSERA_KERNEL_ISA {

Conv2d3x3Weights packConv2d3x3(const float* weight, const float* bias, const float* scale,
                               const float* shift, int cout, int cin) {
  Conv2d3x3Weights w;
  w.cin = cin;
  w.cout = cout;
  const int icb = w.inBlocks(), ocb = w.outBlocks();
  w.weights.assign(static_cast<std::size_t>(ocb) * icb * 9 * 256, 0.0f);
  w.bias.assign(static_cast<std::size_t>(ocb) * 16, 0.0f);
  for (int oc = 0; oc < cout; ++oc) {
    const float s = scale ? scale[oc] : 1.0f;
    w.bias[oc] = (bias ? bias[oc] * s : 0.0f) + (shift ? shift[oc] : 0.0f);
    for (int ic = 0; ic < cin; ++ic)
      for (int tap = 0; tap < 9; ++tap) {
        const std::size_t block = static_cast<std::size_t>(oc / 16) * icb + ic / 16;
        const std::size_t dst = ((block * 9 + tap) * 16 + ic % 16) * 16 + oc % 16;
        w.weights[dst] = weight[(static_cast<std::size_t>(oc) * cin + ic) * 9 + tap] * s;
      }
  }
  return w;
}

namespace {

// N output pixels × OCB output-channel blocks accumulated in registers.
template <int N, int OCB>
void conv2d3x3Tile(const Conv2d3x3Weights& w, const FeatureMap& in, FeatureMap& out, int y, int x0,
                   int ocb, bool relu) {
  Vec16 acc[OCB][N];
  for (int o = 0; o < OCB; ++o) {
    const Vec16 b = load16(w.bias.data() + (ocb + o) * 16);
    for (int p = 0; p < N; ++p) acc[o][p] = b;
  }
  const int icb = w.inBlocks();
  const std::int64_t rowStride = in.rowStride();
  const std::int64_t ocbStride = static_cast<std::int64_t>(icb) * 9 * 256;
  for (int cb = 0; cb < icb; ++cb) {
    const int channels = std::min(16, w.cin - cb * 16);
    // Top-left of the 3×3 window of the first output pixel.
    const float* base = in.pixel(cb, y - 1, x0 - 1);
    const float* wb = w.weights.data() + ocb * ocbStride + static_cast<std::int64_t>(cb) * 9 * 256;
    for (int tap = 0; tap < 9; ++tap) {
      const float* row = base + (tap / 3) * rowStride + (tap % 3) * 16;
      const float* wt = wb + tap * 256;
      for (int ic = 0; ic < channels; ++ic) {
        Vec16 wv[OCB];
        for (int o = 0; o < OCB; ++o) wv[o] = load16(wt + o * ocbStride + ic * 16);
#pragma GCC unroll 32
        for (int p = 0; p < N; ++p) {
          const Vec16 x = broadcastFrom(row + p * 16 + ic);
          for (int o = 0; o < OCB; ++o) acc[o][p] = fma16(x, wv[o], acc[o][p]);
        }
      }
    }
  }
  for (int o = 0; o < OCB; ++o) {
    float* dst = out.pixel(ocb + o, y, x0);
    for (int p = 0; p < N; ++p)
      store16(dst + p * 16, relu ? max16(acc[o][p], zero16()) : acc[o][p]);
  }
}

using TileFn = void (*)(const Conv2d3x3Weights&, const FeatureMap&, FeatureMap&, int, int, int,
                        bool);

// Widest tiles that keep the accumulators in registers (24 and 12 pixels on AVX-512).
constexpr int kMaxPixels1 = kAccumulators;      // one output block
constexpr int kMaxPixels2 = kAccumulators / 2;  // two output blocks

template <int OCB, std::size_t... I>
constexpr std::array<TileFn, sizeof...(I)> makeTable(std::index_sequence<I...>) {
  return {&conv2d3x3Tile<static_cast<int>(I) + 1, OCB>...};
}
constexpr auto kTiles1 = makeTable<1>(std::make_index_sequence<kMaxPixels1>{});
constexpr auto kTiles2 = makeTable<2>(std::make_index_sequence<kMaxPixels2>{});

}  // namespace

void conv2d3x3Rows(const Conv2d3x3Weights& w, const FeatureMap& in, FeatureMap& out, RowRun run,
                   int ocbBegin, int ocbEnd, bool relu) {
  int ocb = ocbBegin;
  for (; ocb + 2 <= ocbEnd; ocb += 2) {
    for (int x = run.x0, left = run.length; left > 0;) {
      const int n = std::min(left, kMaxPixels2);
      kTiles2[n - 1](w, in, out, run.y, x, ocb, relu);
      x += n;
      left -= n;
    }
  }
  for (; ocb < ocbEnd; ++ocb) {
    for (int x = run.x0, left = run.length; left > 0;) {
      const int n = std::min(left, kMaxPixels1);
      kTiles1[n - 1](w, in, out, run.y, x, ocb, relu);
      x += n;
      left -= n;
    }
  }
}

}  // namespace tessera::models::infer::TESSERA_KERNEL_ISA
