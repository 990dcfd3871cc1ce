#include "models/infer/attention.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace tessera::models::infer {

AttentionPacked packAttention(const float* wq, const float* bq, const float* wk, const float* bk,
                              const float* wv, const float* bv, const float* wo, const float* bo,
                              int channels, int heads) {
  AttentionPacked p;
  p.channels = channels;
  p.heads = heads;
  const std::size_t cc = static_cast<std::size_t>(channels) * channels;
  const float scale = 1.0f / std::sqrt(static_cast<float>(channels / heads));
  p.wq.assign(wq, wq + cc);
  p.bq.assign(bq, bq + channels);
  for (float& v : p.wq) v *= scale;
  for (float& v : p.bq) v *= scale;
  p.wk.assign(wk, wk + cc);
  p.bk.assign(bk, bk + channels);
  p.wv.assign(wv, wv + cc);
  p.bv.assign(bv, bv + channels);
  p.wo.assign(wo, wo + cc);
  p.bo.assign(bo, bo + channels);
  return p;
}

namespace {
// C (rows × n) = A (rows × k) · Bᵀ (B is n × k, row-major) + bias.
void linear(const float* a, int rows, int k, const float* b, const float* bias, int n, float* c) {
  dnnl_sgemm('N', 'T', rows, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
  parallelFor(0, rows, [&](std::int64_t r) {
    for (int j = 0; j < n; ++j) c[r * n + j] += bias[j];
  });
}
}  // namespace

double attentionTokens(const AttentionPacked& p, const FeatureMap& in, FeatureMap& out,
                       const std::vector<int>& tokens) {
  const int t = static_cast<int>(tokens.size());
  if (t == 0) return 0.0;
  const int c = p.channels, d = c / p.heads;
  const int width = in.width();
  FloatBuffer x(static_cast<std::size_t>(t) * c), q(x.size()), k(x.size()), v(x.size()),
      o(x.size()), y(x.size());
  parallelFor(0, t, [&](std::int64_t i) {
    const int py = tokens[i] / width, px = tokens[i] % width;
    for (int cb = 0; cb < in.channelBlocks(); ++cb)
      std::copy_n(in.pixel(cb, py, px), 16, x.data() + i * c + cb * 16);
  });
  linear(x.data(), t, c, p.wq.data(), p.bq.data(), c, q.data());
  linear(x.data(), t, c, p.wk.data(), p.bk.data(), c, k.data());
  linear(x.data(), t, c, p.wv.data(), p.bv.data(), c, v.data());
  FloatBuffer scores(static_cast<std::size_t>(t) * t);
  for (int h = 0; h < p.heads; ++h) {
    dnnl_sgemm('N', 'T', t, t, d, 1.0f, q.data() + h * d, c, k.data() + h * d, c, 0.0f,
               scores.data(), t);
    parallelFor(0, t, [&](std::int64_t i) {
      float* row = scores.data() + i * t;
      const float best = *std::max_element(row, row + t);
      float total = 0.0f;
      for (int j = 0; j < t; ++j) total += (row[j] = std::exp(row[j] - best));
      const float inv = 1.0f / total;
      for (int j = 0; j < t; ++j) row[j] *= inv;
    });
    dnnl_sgemm('N', 'N', t, d, t, 1.0f, scores.data(), t, v.data() + h * d, c, 0.0f,
               o.data() + h * d, c);
  }
  linear(o.data(), t, c, p.wo.data(), p.bo.data(), c, y.data());
  parallelFor(0, t, [&](std::int64_t i) {
    const int py = tokens[i] / width, px = tokens[i] % width;
    for (int cb = 0; cb < out.channelBlocks(); ++cb) {
      float* dst = out.pixel(cb, py, px);
      for (int lane = 0; lane < 16; ++lane)
        dst[lane] = x[i * c + cb * 16 + lane] + y[i * c + cb * 16 + lane];
    }
  });
  return 2.0 * t * c * c * 4 + 2.0 * 2.0 * t * double(t) * c;
}

}  // namespace tessera::models::infer
