// Argument and result structs of the ops that take or return more than a
// tensor, shared by every backend (the Backend interface, the reference ops,
// the CPU ops) so that each has exactly one definition. Parameters are always
// kNCHW, whatever the backend's activation layout.
#pragma once

#include <vector>

#include "models/backend/tensor.h"

namespace tessera::models {

// Batch statistics of a training-mode batch norm over (N, H, W), per channel,
// kept for the backward and for recomputation in checkpointed training (or
// running statistics converted to this form for inference).
struct BatchNormState {
  std::vector<float> mean;    // batch mean per channel
  std::vector<float> invStd;  // 1/sqrt(batch variance (biased) + eps)
};

// The bottleneck attention block's parameters, borrowed from the caller
// (never owned): projection weights (C, C, 1, 1), biases (1, C, 1, 1), and
// the number of heads, which divides C.
struct AttentionWeights {
  const Tensor* wq;
  const Tensor* bq;
  const Tensor* wk;
  const Tensor* bk;
  const Tensor* wv;
  const Tensor* bv;
  const Tensor* wo;
  const Tensor* bo;
  int heads = 1;
};

// Gradients of the attention parameters, shaped as in AttentionWeights;
// overwritten by the backward, not accumulated.
struct AttentionGradients {
  Tensor dwq, dbq, dwk, dbk, dwv, dbv, dwo, dbo;
};

// A transposed convolution of imported networks (PyTorch ConvTranspose2d):
// square kernel, output size (H − 1)·stride − 2·pad + kernel + outputPad.
struct ConvTransposeParams {
  int kernel = 2;
  int stride = 2;
  int pad = 0;
  int outputPad = 0;  // < stride; extra rows and columns at the bottom and right
};

// Up-sampling of imported networks by whole factors (ONNX Resize, PyTorch
// Upsample / interpolate).
enum class ResizeMode {
  kNearest,             // source pixel floor(o / scale)
  kLinear,              // bilinear, half-pixel centres (align_corners=False)
  kLinearAlignCorners,  // bilinear, corner pixels aligned (align_corners=True)
};
struct ResizeParams {
  int scaleH = 2;
  int scaleW = 2;
  ResizeMode mode = ResizeMode::kNearest;
};

}  // namespace tessera::models
