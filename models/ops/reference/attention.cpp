#include <cassert>
#include <cmath>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {
namespace {

using Matrix = std::vector<std::vector<double>>;  // [token][channel]

std::vector<std::int64_t> activeTokens(const Tensor& x, std::int64_t n,
                                       const std::vector<std::uint8_t>* mask) {
  std::vector<std::int64_t> tokens;
  const std::int64_t hw = x.h() * x.w();
  for (std::int64_t p = 0; p < hw; ++p)
    if (!mask || mask->empty() || (*mask)[n * hw + p]) tokens.push_back(p);
  return tokens;
}

Matrix project(const Tensor& x, std::int64_t n, const std::vector<std::int64_t>& tokens,
               const Tensor& w, const Tensor& b) {
  Matrix out(tokens.size(), std::vector<double>(w.n(), 0.0));
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const std::int64_t h = tokens[t] / x.w(), wx = tokens[t] % x.w();
    for (std::int64_t oc = 0; oc < w.n(); ++oc) {
      double sum = b.at(0, oc, 0, 0);
      for (std::int64_t ic = 0; ic < w.c(); ++ic) sum += w.at(oc, ic, 0, 0) * x.at(n, ic, h, wx);
      out[t][oc] = sum;
    }
  }
  return out;
}

struct Forward {
  std::vector<std::int64_t> tokens;
  Matrix q, k, v, o;
  std::vector<Matrix> a;  // per head [t][t']
};

Forward forwardSample(const Tensor& x, std::int64_t n, const AttentionWeights& p,
                      const std::vector<std::uint8_t>* mask) {
  Forward f;
  f.tokens = activeTokens(x, n, mask);
  f.q = project(x, n, f.tokens, *p.wq, *p.bq);
  f.k = project(x, n, f.tokens, *p.wk, *p.bk);
  f.v = project(x, n, f.tokens, *p.wv, *p.bv);
  const std::size_t t = f.tokens.size();
  const std::int64_t c = x.c(), d = c / p.heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  f.o.assign(t, std::vector<double>(c, 0.0));
  f.a.assign(p.heads, Matrix(t, std::vector<double>(t, 0.0)));
  for (int h = 0; h < p.heads; ++h)
    for (std::size_t i = 0; i < t; ++i) {
      double best = -1e300;
      for (std::size_t j = 0; j < t; ++j) {
        double s = 0;
        for (std::int64_t e = h * d; e < (h + 1) * d; ++e) s += f.q[i][e] * f.k[j][e];
        f.a[h][i][j] = s * scale;
        best = std::max(best, f.a[h][i][j]);
      }
      double total = 0;
      for (std::size_t j = 0; j < t; ++j) total += (f.a[h][i][j] = std::exp(f.a[h][i][j] - best));
      for (std::size_t j = 0; j < t; ++j) f.a[h][i][j] /= total;
      for (std::int64_t e = h * d; e < (h + 1) * d; ++e) {
        double sum = 0;
        for (std::size_t j = 0; j < t; ++j) sum += f.a[h][i][j] * f.v[j][e];
        f.o[i][e] = sum;
      }
    }
  return f;
}

}  // namespace

Tensor attention(const Tensor& x, const AttentionWeights& p,
                 const std::vector<std::uint8_t>* tokenMask) {
  assert(x.layout() == Layout::kNCHW && x.c() % p.heads == 0);
  Tensor y = x.clone();
  for (std::int64_t n = 0; n < x.n(); ++n) {
    const Forward f = forwardSample(x, n, p, tokenMask);
    for (std::size_t t = 0; t < f.tokens.size(); ++t) {
      const std::int64_t h = f.tokens[t] / x.w(), w = f.tokens[t] % x.w();
      for (std::int64_t oc = 0; oc < x.c(); ++oc) {
        double sum = p.bo->at(0, oc, 0, 0);
        for (std::int64_t ic = 0; ic < x.c(); ++ic) sum += p.wo->at(oc, ic, 0, 0) * f.o[t][ic];
        y.at(n, oc, h, w) += static_cast<float>(sum);
      }
    }
  }
  return y;
}

Tensor attentionBackward(const Tensor& x, const AttentionWeights& p, const Tensor& dy,
                         AttentionGradients* g, const std::vector<std::uint8_t>* tokenMask) {
  const std::int64_t c = x.c(), d = c / p.heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Tensor dx = dy.clone();
  g->dwq = Tensor::zeros(p.wq->shape());
  g->dwk = Tensor::zeros(p.wk->shape());
  g->dwv = Tensor::zeros(p.wv->shape());
  g->dwo = Tensor::zeros(p.wo->shape());
  g->dbq = Tensor::zeros({1, c, 1, 1});
  g->dbk = Tensor::zeros({1, c, 1, 1});
  g->dbv = Tensor::zeros({1, c, 1, 1});
  g->dbo = Tensor::zeros({1, c, 1, 1});
  for (std::int64_t n = 0; n < x.n(); ++n) {
    const Forward f = forwardSample(x, n, p, tokenMask);
    const std::size_t t = f.tokens.size();
    Matrix dyT(t, std::vector<double>(c)), dO(t, std::vector<double>(c, 0.0));
    Matrix dQ(t, std::vector<double>(c, 0.0)), dK = dQ, dV = dQ;
    for (std::size_t i = 0; i < t; ++i) {
      const std::int64_t h = f.tokens[i] / x.w(), w = f.tokens[i] % x.w();
      for (std::int64_t oc = 0; oc < c; ++oc) dyT[i][oc] = dy.at(n, oc, h, w);
      for (std::int64_t oc = 0; oc < c; ++oc) {
        g->dbo.at(0, oc, 0, 0) += static_cast<float>(dyT[i][oc]);
        for (std::int64_t ic = 0; ic < c; ++ic) {
          g->dwo.at(oc, ic, 0, 0) += static_cast<float>(dyT[i][oc] * f.o[i][ic]);
          dO[i][ic] += p.wo->at(oc, ic, 0, 0) * dyT[i][oc];
        }
      }
    }
    for (int hd = 0; hd < p.heads; ++hd) {
      const Matrix& a = f.a[hd];
      for (std::size_t i = 0; i < t; ++i) {
        std::vector<double> dA(t, 0.0);
        double rowDot = 0;
        for (std::size_t j = 0; j < t; ++j) {
          for (std::int64_t e = hd * d; e < (hd + 1) * d; ++e) {
            dA[j] += dO[i][e] * f.v[j][e];
            dV[j][e] += a[i][j] * dO[i][e];
          }
          rowDot += a[i][j] * dA[j];
        }
        for (std::size_t j = 0; j < t; ++j) {
          const double dS = a[i][j] * (dA[j] - rowDot) * scale;
          for (std::int64_t e = hd * d; e < (hd + 1) * d; ++e) {
            dQ[i][e] += dS * f.k[j][e];
            dK[j][e] += dS * f.q[i][e];
          }
        }
      }
    }
    auto backProject = [&](const Matrix& dP, const Tensor& w, Tensor* dw, Tensor* db) {
      for (std::size_t i = 0; i < t; ++i) {
        const std::int64_t h = f.tokens[i] / x.w(), wx = f.tokens[i] % x.w();
        for (std::int64_t oc = 0; oc < c; ++oc) {
          db->at(0, oc, 0, 0) += static_cast<float>(dP[i][oc]);
          for (std::int64_t ic = 0; ic < c; ++ic) {
            dw->at(oc, ic, 0, 0) += static_cast<float>(dP[i][oc] * x.at(n, ic, h, wx));
            dx.at(n, ic, h, wx) += static_cast<float>(w.at(oc, ic, 0, 0) * dP[i][oc]);
          }
        }
      }
    };
    backProject(dQ, *p.wq, &g->dwq, &g->dbq);
    backProject(dK, *p.wk, &g->dwk, &g->dbk);
    backProject(dV, *p.wv, &g->dwv, &g->dbv);
  }
  return dx;
}

}  // namespace tessera::models::ref
