// Bottleneck multi-head self-attention among the active tokens of each
// sample (tokens = pixels). Tokens are gathered from nChw16c into a
// token-major T×C matrix, every product is one oneDNN sgemm (row-major),
// and the residual result is scattered back. The backward recomputes the
// forward per sample (the Backend interface keeps no state) and the
// attention matrix per head, so it holds two T×T buffers per thread.
//
// The C×C projections are large GEMMs that oneDNN threads itself. The
// per-head work (T×T scores from only C/heads channels) runs one head per
// thread with single-threaded GEMMs: a few synchronisations per sample
// instead of several per head, and each head's result does not depend on
// which thread computed it.
#include <algorithm>
#include <cassert>
#include <cmath>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"
#include "models/ops/cpu/internal/vector_math.h"

namespace tessera::models::cpu {
namespace {

constexpr std::int64_t B = kChannelBlock;
using Buffer = Tensor;  // tracked float storage used as a plain matrix

Buffer matrix(std::int64_t rows, std::int64_t cols) {
  return Tensor::empty({1, 1, rows, cols});
}

// Row-major C = alpha·op(A)·op(B) + beta·C; op = 'N' or 'T'.
void gemm(char ta, char tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
  const dnnl::status s = dnnl::sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (s != dnnl::status::success)
    throw dnnl::error(static_cast<dnnl_status_t>(s), "sgemm in the attention block failed");
}

std::vector<std::int64_t> activeTokens(const Tensor& x, std::int64_t n,
                                       const std::vector<std::uint8_t>* mask) {
  const std::int64_t hw = x.h() * x.w();
  std::vector<std::int64_t> tokens;
  tokens.reserve(static_cast<std::size_t>(hw));
  for (std::int64_t p = 0; p < hw; ++p)
    if (!mask || mask->empty() || (*mask)[n * hw + p]) tokens.push_back(p);
  return tokens;
}

// x[n, :, token] → rows of a T×C matrix, and the reverse (adding).
void gather(const Tensor& x, std::int64_t n, const std::vector<std::int64_t>& tokens, float* out) {
  const std::int64_t c = x.c(), hw = x.h() * x.w(), nb = paddedChannels(c) / B;
  parallelFor(0, static_cast<std::int64_t>(tokens.size()), [&](std::int64_t t) {
    for (std::int64_t ch = 0; ch < c; ++ch)
      out[t * c + ch] = x.data()[((n * nb + ch / B) * hw + tokens[t]) * B + ch % B];
  });
}

void scatterAdd(const float* rows, std::int64_t n, const std::vector<std::int64_t>& tokens,
                Tensor& y) {
  const std::int64_t c = y.c(), hw = y.h() * y.w(), nb = paddedChannels(c) / B;
  parallelFor(0, static_cast<std::int64_t>(tokens.size()), [&](std::int64_t t) {
    for (std::int64_t ch = 0; ch < c; ++ch)
      y.data()[((n * nb + ch / B) * hw + tokens[t]) * B + ch % B] += rows[t * c + ch];
  });
}

// out (T×C) = X Wᵀ + b for a (C, C, 1, 1) weight stored row-major (out, in).
void project(const float* x, std::int64_t t, std::int64_t c, const Tensor& w, const Tensor& b,
             float* out) {
  for (std::int64_t i = 0; i < t; ++i) std::copy(b.data(), b.data() + c, out + i * c);
  gemm('N', 'T', t, c, c, 1.0f, x, c, w.data(), c, 1.0f, out, c);
}

// Row-wise softmax in place over a T×T matrix (serial: runs inside a head).
void softmaxRows(float* s, std::int64_t t) {
  for (std::int64_t i = 0; i < t; ++i) {
    float* row = s + i * t;
    const float best = maxOf(row, t);
    for (std::int64_t j = 0; j < t; ++j) row[j] = expApprox(row[j] - best);
    const float inv = static_cast<float>(1.0 / sumOf(row, t));
    for (std::int64_t j = 0; j < t; ++j) row[j] *= inv;
  }
}

// Calls body(head, scratch) for every head, heads spread over the threads;
// each thread has its own `buffers` T×T scratch matrices. GEMMs called from
// inside run single-threaded (oneDNN does not nest parallel regions).
template <class Body>
void forEachHead(int heads, std::int64_t t, int buffers, Body&& body) {
  const int threads = std::max(1, std::min(numThreads(), heads));
  std::vector<Buffer> scratch;
  for (int i = 0; i < threads * buffers; ++i) scratch.push_back(matrix(t, t));
  parallelChunks(0, heads, [&](std::int64_t begin, std::int64_t end, int thread) {
    for (std::int64_t h = begin; h < end; ++h)
      body(static_cast<int>(h), scratch.data() + thread * buffers);
  });
}

// One sample's forward: inputs, projections and the per-head outputs.
struct Sample {
  std::vector<std::int64_t> tokens;
  Buffer x, q, k, v, o;  // T×C each
};

Sample forwardSample(const Tensor& x, std::int64_t n, const AttentionWeights& p,
                     const std::vector<std::int64_t>& tokens) {
  Sample s;
  s.tokens = tokens;
  const std::int64_t t = static_cast<std::int64_t>(tokens.size()), c = x.c();
  const std::int64_t d = c / p.heads;
  s.x = matrix(t, c);
  gather(x, n, s.tokens, s.x.data());
  s.q = matrix(t, c);
  s.k = matrix(t, c);
  s.v = matrix(t, c);
  s.o = matrix(t, c);
  project(s.x.data(), t, c, *p.wq, *p.bq, s.q.data());
  project(s.x.data(), t, c, *p.wk, *p.bk, s.k.data());
  project(s.x.data(), t, c, *p.wv, *p.bv, s.v.data());
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  forEachHead(p.heads, t, 1, [&](int h, Buffer* scores) {
    const std::int64_t off = h * d;
    float* a = scores[0].data();
    gemm('N', 'T', t, t, d, scale, s.q.data() + off, c, s.k.data() + off, c, 0.0f, a, t);
    softmaxRows(a, t);
    gemm('N', 'N', t, d, t, 1.0f, a, t, s.v.data() + off, c, 0.0f, s.o.data() + off, c);
  });
  return s;
}

}  // namespace

Tensor attention(const Tensor& x, const AttentionWeights& p,
                 const std::vector<std::uint8_t>* tokenMask) {
  assert(x.layout() == Layout::kBlocked16 && x.c() % p.heads == 0);
  const std::int64_t c = x.c();
  Tensor y = x.clone();
  for (std::int64_t n = 0; n < x.n(); ++n) {
    const std::vector<std::int64_t> tokens = activeTokens(x, n, tokenMask);
    const std::int64_t t = static_cast<std::int64_t>(tokens.size());
    if (t == 0) continue;
    const Sample s = forwardSample(x, n, p, tokens);
    Buffer out = matrix(t, c);
    project(s.o.data(), t, c, *p.wo, *p.bo, out.data());
    scatterAdd(out.data(), n, s.tokens, y);
  }
  return y;
}

Tensor attentionBackward(const Tensor& x, const AttentionWeights& p, const Tensor& dy,
                         AttentionGradients* g, const std::vector<std::uint8_t>* tokenMask) {
  assert(x.layout() == Layout::kBlocked16 && dy.layout() == Layout::kBlocked16);
  const std::int64_t c = x.c(), d = c / p.heads;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  Tensor* weightGrads[4] = {&g->dwq, &g->dwk, &g->dwv, &g->dwo};
  Tensor* biasGrads[4] = {&g->dbq, &g->dbk, &g->dbv, &g->dbo};
  for (Tensor* w : weightGrads) *w = Tensor::zeros({c, c, 1, 1});
  // Bias gradients are summed in double over all samples' tokens.
  std::vector<double> biasSums(static_cast<std::size_t>(4 * c), 0.0);
  auto addColumns = [&](const float* m, std::int64_t t, int which) {
    double* sum = biasSums.data() + which * c;
    for (std::int64_t i = 0; i < t; ++i)
      for (std::int64_t ch = 0; ch < c; ++ch) sum[ch] += m[i * c + ch];
  };
  Tensor dx = dy.clone();
  for (std::int64_t n = 0; n < x.n(); ++n) {
    const std::vector<std::int64_t> tokens = activeTokens(x, n, tokenMask);
    const std::int64_t t = static_cast<std::int64_t>(tokens.size());
    if (t == 0) continue;
    const Sample s = forwardSample(x, n, p, tokens);
    Buffer dyT = matrix(t, c), dO = matrix(t, c);
    gather(dy, n, s.tokens, dyT.data());
    // Output projection: dWo += dYᵀ O, dO = dY Wo.
    addColumns(dyT.data(), t, 3);
    gemm('T', 'N', c, c, t, 1.0f, dyT.data(), c, s.o.data(), c, 1.0f, g->dwo.data(), c);
    gemm('N', 'N', t, c, c, 1.0f, dyT.data(), c, p.wo->data(), c, 0.0f, dO.data(), c);
    Buffer dQ = matrix(t, c), dK = matrix(t, c), dV = matrix(t, c);
    forEachHead(p.heads, t, 2, [&](int h, Buffer* scratch) {
      const std::int64_t off = h * d;
      float* a = scratch[0].data();
      float* da = scratch[1].data();
      gemm('N', 'T', t, t, d, scale, s.q.data() + off, c, s.k.data() + off, c, 0.0f, a, t);
      softmaxRows(a, t);
      // dA = dO_h V_hᵀ; dV_h = Aᵀ dO_h; dS = A ⊙ (dA − rowsum(A ⊙ dA))·scale.
      gemm('N', 'T', t, t, d, 1.0f, dO.data() + off, c, s.v.data() + off, c, 0.0f, da, t);
      gemm('T', 'N', t, d, t, 1.0f, a, t, dO.data() + off, c, 0.0f, dV.data() + off, c);
      for (std::int64_t i = 0; i < t; ++i) {
        const float* ar = a + i * t;
        float* dr = da + i * t;
        const float rowDot = static_cast<float>(dotOf(ar, dr, t));
        for (std::int64_t j = 0; j < t; ++j) dr[j] = ar[j] * (dr[j] - rowDot) * scale;
      }
      // dQ_h = dS K_h; dK_h = dSᵀ Q_h.
      gemm('N', 'N', t, d, t, 1.0f, da, t, s.k.data() + off, c, 0.0f, dQ.data() + off, c);
      gemm('T', 'N', t, d, t, 1.0f, da, t, s.q.data() + off, c, 0.0f, dK.data() + off, c);
    });
    // Input projections: dW += dPᵀ X, dX = Σ dP W.
    Buffer dX = matrix(t, c);
    const Buffer* dP[3] = {&dQ, &dK, &dV};
    const Tensor* w[3] = {p.wq, p.wk, p.wv};
    for (int i = 0; i < 3; ++i) {
      addColumns(dP[i]->data(), t, i);
      gemm('T', 'N', c, c, t, 1.0f, dP[i]->data(), c, s.x.data(), c, 1.0f, weightGrads[i]->data(),
           c);
      gemm('N', 'N', t, c, c, 1.0f, dP[i]->data(), c, w[i]->data(), c, i == 0 ? 0.0f : 1.0f,
           dX.data(), c);
    }
    scatterAdd(dX.data(), n, s.tokens, dx);
  }
  for (int i = 0; i < 4; ++i) {
    *biasGrads[i] = Tensor::empty({1, c, 1, 1});
    for (std::int64_t ch = 0; ch < c; ++ch)
      biasGrads[i]->data()[ch] = static_cast<float>(biasSums[i * c + ch]);
  }
  return dx;
}

}  // namespace tessera::models::cpu
