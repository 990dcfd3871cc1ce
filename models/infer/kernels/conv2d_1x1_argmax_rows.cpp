#include <array>
#include <limits>
#include <utility>

#include "models/infer/internal/kernels.h"
#include "models/infer/internal/vec.h"

namespace tessera::models::infer::TESSERA_KERNEL_ISA {

Conv2d1x1ArgmaxWeights packConv2d1x1Argmax(const float* weight, const float* bias, int classes,
                                           int cin) {
  Conv2d1x1ArgmaxWeights w;
  w.cin = cin;
  w.classes = classes;
  w.weights.assign(static_cast<std::size_t>(w.inBlocks()) * 256, 0.0f);
  w.bias.assign(16, -std::numeric_limits<float>::infinity());
  for (int c = 0; c < classes; ++c) {
    w.bias[c] = bias ? bias[c] : 0.0f;
    for (int ic = 0; ic < cin; ++ic)
      w.weights[(static_cast<std::size_t>(ic / 16) * 16 + ic % 16) * 16 + c] =
          weight[static_cast<std::size_t>(c) * cin + ic];
  }
  return w;
}

namespace {

template <int N>
void conv2d1x1ArgmaxTile(const Conv2d1x1ArgmaxWeights& w, const FeatureMap& in, int y, int x0,
                         std::uint8_t* labels, float* margins, float* logitsOut) {
  Vec16 acc[N];
  const Vec16 b = load16(w.bias.data());
  for (int p = 0; p < N; ++p) acc[p] = b;
  for (int cb = 0; cb < w.inBlocks(); ++cb) {
    const int channels = std::min(16, w.cin - cb * 16);
    const float* src = in.pixel(cb, y, x0);
    const float* wb = w.weights.data() + static_cast<std::size_t>(cb) * 256;
    for (int ic = 0; ic < channels; ++ic) {
      const Vec16 wv = load16(wb + ic * 16);
#pragma GCC unroll 32
      for (int p = 0; p < N; ++p) acc[p] = fma16(broadcastFrom(src + p * 16 + ic), wv, acc[p]);
    }
  }
  for (int p = 0; p < N; ++p) {
    float logits[16];
    store16(logits, acc[p]);
    if (logitsOut) store16(logitsOut + 16 * p, acc[p]);
    int best = 0;
    float first = logits[0], second = -std::numeric_limits<float>::infinity();
    for (int c = 1; c < w.classes; ++c) {
      if (logits[c] > first) {
        second = first;
        first = logits[c];
        best = c;
      } else if (logits[c] > second) {
        second = logits[c];
      }
    }
    labels[p] = static_cast<std::uint8_t>(best);
    if (margins) margins[p] = first - second;
  }
}

using TileFn = void (*)(const Conv2d1x1ArgmaxWeights&, const FeatureMap&, int, int, std::uint8_t*,
                        float*, float*);
constexpr int kMaxPixels = kAccumulators;

template <std::size_t... I>
constexpr std::array<TileFn, sizeof...(I)> makeTable(std::index_sequence<I...>) {
  return {&conv2d1x1ArgmaxTile<static_cast<int>(I) + 1>...};
}
constexpr auto kTiles = makeTable(std::make_index_sequence<kMaxPixels>{});

}  // namespace

void conv2d1x1ArgmaxRows(const Conv2d1x1ArgmaxWeights& w, const FeatureMap& in, RowRun run,
                         std::uint8_t* labelsRow, float* marginRow, float* logitsRow) {
  for (int x = run.x0, left = run.length; left > 0;) {
    const int n = std::min(left, kMaxPixels);
    kTiles[n - 1](w, in, run.y, x, labelsRow + x, marginRow ? marginRow + x : nullptr,
                  logitsRow ? logitsRow + 16 * x : nullptr);
    x += n;
    left -= n;
  }
}

}  // namespace tessera::models::infer::TESSERA_KERNEL_ISA
