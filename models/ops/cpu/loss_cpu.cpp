// Softmax cross-entropy + soft Dice (the definition of
// ref::crossEntropyDiceLoss) on nChw16c logits. Two passes over
// the pixels: the first stores the softmax in dlogits and sums the per-class
// statistics per image row (in double, rows added in a fixed order); the
// second turns the stored softmax into the gradient.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {
namespace {

constexpr std::int64_t B = kChannelBlock;
constexpr std::int64_t kMaxClasses = 256;

}  // namespace

double crossEntropyDiceLoss(const Tensor& logits, const Tensor& labels, double diceWeight,
                            Tensor* dlogits) {
  assert(logits.layout() == Layout::kBlocked16 && labels.layout() == Layout::kNCHW);
  const std::int64_t classes = logits.c(), width = logits.w();
  assert(classes <= kMaxClasses);
  const BlockedPixels at{paddedChannels(classes) / B, logits.h() * logits.w()};
  const double pixels = static_cast<double>(logits.n() * logits.h() * logits.w());
  *dlogits = Tensor::zeros(logits.shape(), Layout::kBlocked16);
  const float* in = logits.data();
  float* out = dlogits->data();
  const float* label = labels.data();

  // Per row: [0] Σ −log p_y, [1 + c] Σ p_c, [1 + C + c] Σ y_c, [1 + 2C + c] Σ p_c·y_c.
  const std::int64_t rows = logits.n() * logits.h(), stride = 1 + 3 * classes;
  std::vector<double> partial(static_cast<std::size_t>(rows * stride), 0.0);
  parallelFor(0, rows, [&](std::int64_t r) {
    const std::int64_t n = r / logits.h(), p0 = (r % logits.h()) * width;
    double* acc = partial.data() + r * stride;
    float e[kMaxClasses];
    for (std::int64_t x = 0; x < width; ++x) {
      const std::int64_t p = p0 + x;
      float best = -INFINITY;
      for (std::int64_t c = 0; c < classes; ++c) best = std::max(best, in[at.at(n, c, p)]);
      double total = 0;
      for (std::int64_t c = 0; c < classes; ++c)
        total += (e[c] = std::exp(in[at.at(n, c, p)] - best));
      const auto y = static_cast<std::int64_t>(label[n * at.hw + p]);
      assert(y >= 0 && y < classes);
      for (std::int64_t c = 0; c < classes; ++c) {
        const float pc = static_cast<float>(e[c] / total);
        out[at.at(n, c, p)] = pc;
        acc[1 + c] += pc;
      }
      const float py = out[at.at(n, y, p)];
      acc[0] -= std::log(std::max(1e-30, static_cast<double>(py)));
      acc[1 + classes + y] += 1;
      acc[1 + 2 * classes + y] += py;
    }
  });
  std::vector<double> total(static_cast<std::size_t>(stride), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t k = 0; k < stride; ++k) total[k] += partial[r * stride + k];
  const double ce = total[0] / pixels;
  const double* sumP = total.data() + 1;
  const double* sumY = sumP + classes;
  const double* inter = sumY + classes;

  // Soft Dice per class over the batch, averaged over classes present in the
  // labels or predicted: D_c = 2 Σ p·y / (Σ p + Σ y + 1).
  constexpr double kEps = 1.0;
  std::vector<double> coefInter(classes, 0.0), coefAll(classes, 0.0);
  int scored = 0;
  double diceSum = 0;
  for (std::int64_t c = 0; c < classes; ++c) {
    if (sumY[c] <= 0 && sumP[c] < 0.5) continue;
    ++scored;
    const double den = sumP[c] + sumY[c] + kEps;
    diceSum += 2 * inter[c] / den;
    coefInter[c] = 2 / den;
    coefAll[c] = -2 * inter[c] / (den * den);
  }
  const double dice = scored ? 1.0 - diceSum / scored : 0.0;
  const bool diceGradient = scored && diceWeight != 0;
  const double factor = diceGradient ? -diceWeight / scored : 0.0;

  parallelFor(0, rows, [&](std::int64_t r) {
    const std::int64_t n = r / logits.h(), p0 = (r % logits.h()) * width;
    for (std::int64_t x = 0; x < width; ++x) {
      const std::int64_t p = p0 + x;
      const auto y = static_cast<std::int64_t>(label[n * at.hw + p]);
      double dot = 0;
      if (diceGradient)
        for (std::int64_t c = 0; c < classes; ++c)
          dot += factor * (coefAll[c] + (c == y ? coefInter[c] : 0.0)) * out[at.at(n, c, p)];
      for (std::int64_t c = 0; c < classes; ++c) {
        float& v = out[at.at(n, c, p)];
        const double pc = v;
        double g = (pc - (c == y ? 1.0 : 0.0)) / pixels;
        if (diceGradient) g += pc * (factor * (coefAll[c] + (c == y ? coefInter[c] : 0.0)) - dot);
        v = static_cast<float>(g);
      }
    }
  });
  return ce + diceWeight * dice;
}

}  // namespace tessera::models::cpu
