// Softmax cross-entropy + soft Dice, in double, with the deep-supervision
// label downsampling it relies on (reference only); the softmax is softmax.cpp.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>
#include <vector>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

double crossEntropyDiceLoss(const Tensor& logits, const Tensor& labels, double diceWeight,
                            Tensor* dlogits) {
  const Tensor p = softmax(logits);
  const std::int64_t classes = logits.c();
  const double pixels = static_cast<double>(logits.n() * logits.h() * logits.w());
  *dlogits = Tensor::zeros(logits.shape());
  double ce = 0;
  // Soft Dice per class over the batch: D_c = 2 Σ p·y / (Σ p + Σ y + eps).
  constexpr double kEps = 1.0;
  std::vector<double> inter(classes, 0.0), sumP(classes, 0.0), sumY(classes, 0.0);
  for (std::int64_t n = 0; n < logits.n(); ++n)
    for (std::int64_t h = 0; h < logits.h(); ++h)
      for (std::int64_t w = 0; w < logits.w(); ++w) {
        const auto y = static_cast<std::int64_t>(labels.at(n, 0, h, w));
        ce -= std::log(std::max(1e-30, static_cast<double>(p.at(n, y, h, w))));
        for (std::int64_t c = 0; c < classes; ++c) {
          const double pc = p.at(n, c, h, w);
          sumP[c] += pc;
          if (c == y) {
            sumY[c] += 1;
            inter[c] += pc;
          }
          dlogits->at(n, c, h, w) = static_cast<float>((pc - (c == y ? 1.0 : 0.0)) / pixels);
        }
      }
  ce /= pixels;
  // Dice term averaged over classes that occur in labels or predictions.
  std::vector<double> dDiceDp(classes, 0.0);
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
  if (scored && diceWeight != 0) {
    const double factor = -diceWeight / scored;  // d(1 - mean D)/dD_c
    for (std::int64_t n = 0; n < logits.n(); ++n)
      for (std::int64_t h = 0; h < logits.h(); ++h)
        for (std::int64_t w = 0; w < logits.w(); ++w) {
          const auto y = static_cast<std::int64_t>(labels.at(n, 0, h, w));
          // dL/dp_c, then through the softmax Jacobian.
          std::vector<double> dp(classes);
          double dot = 0;
          for (std::int64_t c = 0; c < classes; ++c) {
            dp[c] = factor * (coefAll[c] + (c == y ? coefInter[c] : 0.0));
            dot += dp[c] * p.at(n, c, h, w);
          }
          for (std::int64_t c = 0; c < classes; ++c)
            dlogits->at(n, c, h, w) += static_cast<float>(p.at(n, c, h, w) * (dp[c] - dot));
        }
  }
  return ce + diceWeight * dice;
}

Tensor downsampleLabels(const Tensor& labels, int factor) {
  assert(labels.h() % factor == 0 && labels.w() % factor == 0);
  Tensor out = Tensor::zeros({labels.n(), 1, labels.h() / factor, labels.w() / factor});
  for (std::int64_t n = 0; n < labels.n(); ++n)
    for (std::int64_t oy = 0; oy < out.h(); ++oy)
      for (std::int64_t ox = 0; ox < out.w(); ++ox) {
        std::map<int, int> votes;
        for (int dy = 0; dy < factor; ++dy)
          for (int dx = 0; dx < factor; ++dx)
            ++votes[static_cast<int>(labels.at(n, 0, oy * factor + dy, ox * factor + dx))];
        int best = -1, bestCount = -1;
        for (const auto& [label, count] : votes)
          if (count > bestCount) {
            best = label;
            bestCount = count;
          }
        out.at(n, 0, oy, ox) = static_cast<float>(best);
      }
  return out;
}

}  // namespace tessera::models::ref
