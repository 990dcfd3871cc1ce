// Knowledge distillation's loss (Hinton et al. 2015): the student matches
// the teacher's softened class distribution at every pixel.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

double distillationLoss(const Tensor& student, const Tensor& teacher, double temperature,
                        Tensor* dstudent) {
  assert(student.shape() == teacher.shape() && temperature > 0);
  const std::int64_t classes = student.c();
  const double pixels = static_cast<double>(student.n() * student.h() * student.w());
  *dstudent = Tensor::zeros(student.shape());
  std::vector<double> q(classes), logQ(classes), p(classes), logP(classes);
  // log softmax(z / T) into logs, softmax into probs.
  const auto softened = [&](const Tensor& z, std::int64_t n, std::int64_t h, std::int64_t w,
                            std::vector<double>& logs, std::vector<double>& probs) {
    double best = -INFINITY;
    for (std::int64_t c = 0; c < classes; ++c)
      best = std::max(best, z.at(n, c, h, w) / temperature);
    double total = 0;
    for (std::int64_t c = 0; c < classes; ++c)
      total += std::exp(z.at(n, c, h, w) / temperature - best);
    for (std::int64_t c = 0; c < classes; ++c) {
      logs[c] = z.at(n, c, h, w) / temperature - best - std::log(total);
      probs[c] = std::exp(logs[c]);
    }
  };
  double kl = 0;
  for (std::int64_t n = 0; n < student.n(); ++n)
    for (std::int64_t h = 0; h < student.h(); ++h)
      for (std::int64_t w = 0; w < student.w(); ++w) {
        softened(teacher, n, h, w, logQ, q);
        softened(student, n, h, w, logP, p);
        for (std::int64_t c = 0; c < classes; ++c) {
          kl += q[c] * (logQ[c] - logP[c]);
          dstudent->at(n, c, h, w) = static_cast<float>(temperature * (p[c] - q[c]) / pixels);
        }
      }
  return temperature * temperature * kl / pixels;
}

}  // namespace tessera::models::ref
