#include <array>
#include <utility>

#include "models/infer/internal/kernels.h"
#include "models/infer/internal/vec.h"

namespace tessera::models::infer::TESSERA_KERNEL_ISA {

ConvTranspose2x2Weights packConvTranspose2x2(const float* weight, const float* bias, int cin,
                                             int cout) {
  ConvTranspose2x2Weights w;
  w.cin = cin;
  w.cout = cout;
  const int icb = w.inBlocks(), ocb = w.outBlocks();
  w.weights.assign(static_cast<std::size_t>(ocb) * icb * 4 * 256, 0.0f);
  w.bias.assign(static_cast<std::size_t>(ocb) * 16, 0.0f);
  for (int oc = 0; oc < cout; ++oc) {
    w.bias[oc] = bias ? bias[oc] : 0.0f;
    for (int ic = 0; ic < cin; ++ic)
      for (int tap = 0; tap < 4; ++tap) {
        const std::size_t block = static_cast<std::size_t>(oc / 16) * icb + ic / 16;
        const std::size_t dst = ((block * 4 + tap) * 16 + ic % 16) * 16 + oc % 16;
        w.weights[dst] = weight[(static_cast<std::size_t>(ic) * cout + oc) * 4 + tap];
      }
  }
  return w;
}

namespace {

// N input pixels, each producing a 2×2 patch of one output block.
template <int N>
void convTranspose2x2Tile(const ConvTranspose2x2Weights& w, const FeatureMap& in, FeatureMap& out,
                          int y, int x0, int ocb) {
  Vec16 acc[4][N];
  const Vec16 b = load16(w.bias.data() + ocb * 16);
  for (int t = 0; t < 4; ++t)
    for (int p = 0; p < N; ++p) acc[t][p] = b;
  const int icb = w.inBlocks();
  for (int cb = 0; cb < icb; ++cb) {
    const int channels = std::min(16, w.cin - cb * 16);
    const float* src = in.pixel(cb, y, x0);
    const float* wb = w.weights.data() + (static_cast<std::size_t>(ocb) * icb + cb) * 4 * 256;
    for (int ic = 0; ic < channels; ++ic) {
      Vec16 wv[4];
      for (int t = 0; t < 4; ++t) wv[t] = load16(wb + t * 256 + ic * 16);
#pragma GCC unroll 8
      for (int p = 0; p < N; ++p) {
        const Vec16 x = broadcastFrom(src + p * 16 + ic);
        for (int t = 0; t < 4; ++t) acc[t][p] = fma16(x, wv[t], acc[t][p]);
      }
    }
  }
  for (int t = 0; t < 4; ++t) {
    float* dst = out.pixel(ocb, 2 * y + t / 2, 2 * x0 + t % 2);
    for (int p = 0; p < N; ++p) store16(dst + 2 * p * 16, acc[t][p]);
  }
}

using TileFn = void (*)(const ConvTranspose2x2Weights&, const FeatureMap&, FeatureMap&, int, int,
                        int);
// 4 taps × 6 pixels = 24 accumulators on AVX-512; one pixel at least.
constexpr int kMaxPixels = kAccumulators >= 8 ? kAccumulators / 4 : 1;

template <std::size_t... I>
constexpr std::array<TileFn, sizeof...(I)> makeTable(std::index_sequence<I...>) {
  return {&convTranspose2x2Tile<static_cast<int>(I) + 1>...};
}
constexpr auto kTiles = makeTable(std::make_index_sequence<kMaxPixels>{});

}  // namespace

void convTranspose2x2Rows(const ConvTranspose2x2Weights& w, const FeatureMap& in, FeatureMap& out,
                          RowRun run, int ocbBegin, int ocbEnd) {
  for (int ocb = ocbBegin; ocb < ocbEnd; ++ocb)
    for (int x = run.x0, left = run.length; left > 0;) {
      const int n = std::min(left, kMaxPixels);
      kTiles[n - 1](w, in, out, run.y, x, ocb);
      x += n;
      left -= n;
    }
}

}  // namespace tessera::models::infer::TESSERA_KERNEL_ISA
