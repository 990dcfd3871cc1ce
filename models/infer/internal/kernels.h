// Inference kernels of the block-sparse engine. Each computes a horizontal
// run of output pixels of one row (a row segment) for a range of 16-channel
// output blocks, reading the input FeatureMap in place (no gather: the one-
// pixel halo is read from the neighbouring pixels, which hold real values or
// the background vector). Runs of adjacent active blocks are processed as
// one segment, which packs many small blocks together at coarse levels.
//
// Written with GCC vector extensions (16 floats per vector), so -march picks
// AVX-512, AVX2 or SSE code from the same source. Batch norm is folded into
// the weights and bias; ReLU is fused into the epilogue.
#pragma once

#include <cstdint>
#include <vector>

#include "core/memory.h"
#include "models/infer/feature_map.h"

namespace tessera::models::infer {

using FloatBuffer = std::vector<float, TrackedAllocator<float>>;

// 3×3 convolution, stride 1, zero padding 1 (the FeatureMap border).
// Packed weights: [ocb][icb][tap 9][ic 16][oc 16]; bias [ocb][16].
struct Conv3x3Weights {
  int cin = 0, cout = 0;
  FloatBuffer weights, bias;
  int inBlocks() const { return (cin + 15) / 16; }
  int outBlocks() const { return (cout + 15) / 16; }
};
// weight (cout, cin, 3, 3) OIHW; scale/shift per output channel fold batch
// norm: w' = w·scale, b' = bias·scale + shift (bias may be null).
Conv3x3Weights packConv3x3(const float* weight, const float* bias, const float* scale,
                           const float* shift, int cout, int cin);
void conv3x3Segment(const Conv3x3Weights& w, const FeatureMap& in, FeatureMap& out, int y, int x0,
                    int length, int ocbBegin, int ocbEnd, bool relu);

// 2×2 transposed convolution, stride 2: input row y, pixels [x0, x0+length)
// produce output rows 2y, 2y+1, pixels [2·x0, 2·(x0+length)).
// Packed: [ocb][icb][tap 4][ic 16][oc 16], tap = 2·dy + dx; bias [ocb][16].
struct UpConvWeights {
  int cin = 0, cout = 0;
  FloatBuffer weights, bias;
  int inBlocks() const { return (cin + 15) / 16; }
  int outBlocks() const { return (cout + 15) / 16; }
};
// weight (cin, cout, 2, 2), ONNX ConvTranspose layout.
UpConvWeights packUpConv(const float* weight, const float* bias, int cin, int cout);
void upConvSegment(const UpConvWeights& w, const FeatureMap& in, FeatureMap& out, int y, int x0,
                   int length, int ocbBegin, int ocbEnd);

// 1×1 convolution to ≤ 16 classes fused with argmax: writes one label byte
// per pixel (ties to the lower class) and, optionally, the margin between
// the two largest logits (a confidence for output-driven refinement).
// Packed: [icb][ic 16][class 16]; bias [16] (lanes ≥ classes are −inf).
struct HeadWeights {
  int cin = 0, classes = 0;
  FloatBuffer weights, bias;
  int inBlocks() const { return (cin + 15) / 16; }
};
HeadWeights packHead(const float* weight, const float* bias, int classes, int cin);
// logitsRow (optional): 16 floats per pixel, lanes ≥ classes are −inf.
void headArgmaxSegment(const HeadWeights& w, const FeatureMap& in, int y, int x0, int length,
                       std::uint8_t* labelsRow, float* marginRow, float* logitsRow = nullptr);

// 2×2 max pooling: output row y, pixels [x0, x0+length) from input rows 2y, 2y+1.
void maxPoolSegment(const FeatureMap& in, FeatureMap& out, int y, int x0, int length);

}  // namespace tessera::models::infer
