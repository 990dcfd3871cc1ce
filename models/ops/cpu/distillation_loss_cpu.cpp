// ref::distillationLoss on nChw16c student logits: one pass over the pixels,
// per-row partial sums in double added in a fixed order (deterministic for
// any thread count).
#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {
namespace {
constexpr std::int64_t kMaxClasses = 256;
}  // namespace

double distillationLoss(const Tensor& student, const Tensor& teacher, double temperature,
                        Tensor* dstudent) {
  assert(student.layout() == Layout::kBlocked16 && teacher.layout() == Layout::kNCHW);
  assert(student.shape() == teacher.shape() && temperature > 0);
  const std::int64_t classes = student.c(), width = student.w(), hw = student.h() * width;
  assert(classes <= kMaxClasses);
  const BlockedPixels at{paddedChannels(classes) / kChannelBlock, hw};
  const double pixels = static_cast<double>(student.n() * hw);
  *dstudent = Tensor::zeros(student.shape(), Layout::kBlocked16);
  const float* s = student.data();
  const float* t = teacher.data();
  float* out = dstudent->data();

  const std::int64_t rows = student.n() * student.h();
  std::vector<double> partial(static_cast<std::size_t>(rows), 0.0);
  parallelFor(0, rows, [&](std::int64_t r) {
    const std::int64_t n = r / student.h(), p0 = (r % student.h()) * width;
    double zs[kMaxClasses], zt[kMaxClasses];
    double kl = 0;
    for (std::int64_t x = 0; x < width; ++x) {
      const std::int64_t p = p0 + x;
      double bestS = -INFINITY, bestT = -INFINITY;
      for (std::int64_t c = 0; c < classes; ++c) {
        zs[c] = s[at.at(n, c, p)] / temperature;
        zt[c] = t[(n * classes + c) * hw + p] / temperature;
        bestS = std::max(bestS, zs[c]);
        bestT = std::max(bestT, zt[c]);
      }
      double sumS = 0, sumT = 0;
      for (std::int64_t c = 0; c < classes; ++c) {
        sumS += std::exp(zs[c] - bestS);
        sumT += std::exp(zt[c] - bestT);
      }
      const double logSumS = bestS + std::log(sumS), logSumT = bestT + std::log(sumT);
      for (std::int64_t c = 0; c < classes; ++c) {
        const double logQ = zt[c] - logSumT, logP = zs[c] - logSumS;
        const double q = std::exp(logQ), pc = std::exp(logP);
        kl += q * (logQ - logP);
        out[at.at(n, c, p)] = static_cast<float>(temperature * (pc - q) / pixels);
      }
    }
    partial[static_cast<std::size_t>(r)] = kl;
  });
  double kl = 0;
  for (double v : partial) kl += v;
  return temperature * temperature * kl / pixels;
}

}  // namespace tessera::models::cpu
