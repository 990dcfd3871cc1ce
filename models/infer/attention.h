// Bottleneck self-attention among the active block tokens (one token per
// 16×16 block at a 4-pooling U-Net's bottleneck), the engine's dynamic
// attention: inactive tokens neither attend nor are attended to.
#pragma once

#include <vector>

#include "models/infer/feature_map.h"
#include "models/infer/internal/kernels.h"

namespace tessera::models::infer {

struct AttentionPacked {
  int channels = 0, heads = 1;
  // Row-major (out, in) matrices; q's carry the 1/sqrt(d) score scale.
  FloatBuffer wq, bq, wk, bk, wv, bv, wo, bo;
};

// Weights (C, C, 1, 1) and biases (C) as stored in the model.
AttentionPacked packAttention(const float* wq, const float* bq, const float* wk, const float* bk,
                              const float* wv, const float* bv, const float* wo, const float* bo,
                              int channels, int heads);

// out = in + Wo·MHSA(in) at `tokens` (pixel indices y·width + x); other
// pixels of `out` are left untouched. Returns the FLOPs spent.
double attentionTokens(const AttentionPacked& p, const FeatureMap& in, FeatureMap& out,
                       const std::vector<int>& tokens);

}  // namespace tessera::models::infer
