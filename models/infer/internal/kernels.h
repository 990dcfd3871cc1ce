// Inference kernels of the block-sparse engine, one op per file in
// models/infer/kernels/, each named after the reference op it implements
// (models/ops/reference/reference_ops.h). Each computes one RowRun of
// output pixels for a range of 16-channel output blocks, reading the input
// FeatureMap in place (no gather: the one-pixel halo is read from the
// neighbouring pixels, which hold real values or the background vector).
// Adjacent active blocks form one RowRun, which packs many small blocks
// together at coarse levels.
//
// Written on the 16-float vectors of vec.h (one zmm, two ymm or four xmm
// registers, by the instruction set being compiled).
// Batch norm is folded into the weights and bias; ReLU is fused into the
// epilogue.
//
// Each kernel source is compiled once per instruction set (KernelIsa), into
// namespace infer::avx512, infer::avx2 or infer::generic, with that set's
// flags (models/CMakeLists.txt). The functions declared here in namespace
// infer dispatch through the KernelSet of kernelIsa(); weight packing does
// not depend on the set.
#pragma once

#include <cstdint>
#include <vector>

#include "core/memory.h"
#include "models/infer/feature_map.h"
#include "models/infer/kernel_isa.h"

namespace tessera::models::infer {

using FloatBuffer = std::vector<float, TrackedAllocator<float>>;

// A horizontal run of feature pixels in one row: row y, columns
// [x0, x0 + length), in the coordinates of the level the kernel names.
struct RowRun {
  int y = 0, x0 = 0, length = 0;
};

// ref::conv2d with a 3×3 kernel, stride 1, zero padding 1 (the FeatureMap
// border), then batch norm and optionally ReLU.
// Packed weights: [ocb][icb][tap 9][ic 16][oc 16]; bias [ocb][16].
struct Conv2d3x3Weights {
  int cin = 0, cout = 0;
  FloatBuffer weights, bias;
  int inBlocks() const { return (cin + 15) / 16; }
  int outBlocks() const { return (cout + 15) / 16; }
};
// weight (cout, cin, 3, 3) OIHW; scale/shift per output channel fold batch
// norm: w' = w·scale, b' = bias·scale + shift (any of bias, scale, shift may
// be null: 0, 1, 0).
Conv2d3x3Weights packConv2d3x3(const float* weight, const float* bias, const float* scale,
                               const float* shift, int cout, int cin);
// Writes output blocks [ocbBegin, ocbEnd) at the pixels of `run`; reads
// rows run.y − 1 … run.y + 1, columns run.x0 − 1 … run.x0 + run.length.
void conv2d3x3Rows(const Conv2d3x3Weights& w, const FeatureMap& in, FeatureMap& out, RowRun run,
                   int ocbBegin, int ocbEnd, bool relu);

// ref::convTranspose2x2 (stride 2): the input pixels of `run` (row y,
// columns [x0, x0+length)) produce output rows 2y, 2y+1, columns
// [2·x0, 2·(x0+length)). Packed: [ocb][icb][tap 4][ic 16][oc 16],
// tap = 2·dy + dx; bias [ocb][16].
struct ConvTranspose2x2Weights {
  int cin = 0, cout = 0;
  FloatBuffer weights, bias;
  int inBlocks() const { return (cin + 15) / 16; }
  int outBlocks() const { return (cout + 15) / 16; }
};
// weight (cin, cout, 2, 2), ONNX ConvTranspose layout; bias may be null.
ConvTranspose2x2Weights packConvTranspose2x2(const float* weight, const float* bias, int cin,
                                             int cout);
void convTranspose2x2Rows(const ConvTranspose2x2Weights& w, const FeatureMap& in, FeatureMap& out,
                          RowRun run, int ocbBegin, int ocbEnd);

// ref::conv2d with a 1×1 kernel to ≤ 16 classes fused with ref::argmax:
// writes one label byte per pixel (ties to the lower class) and,
// optionally, the margin between the two largest logits (a confidence for
// output-driven sparsity: settling). Packed: [icb][ic 16][class 16]; bias [16]
// (lanes ≥ classes are −inf).
struct Conv2d1x1ArgmaxWeights {
  int cin = 0, classes = 0;
  FloatBuffer weights, bias;
  int inBlocks() const { return (cin + 15) / 16; }
};
// weight (classes, cin, 1, 1); bias may be null.
Conv2d1x1ArgmaxWeights packConv2d1x1Argmax(const float* weight, const float* bias, int classes,
                                           int cin);
// labelsRow, marginRow (optional): one entry per pixel of the row, written
// at columns [run.x0, run.x0 + run.length). logitsRow (optional): 16 floats
// per pixel of the row, lanes ≥ classes are −inf.
void conv2d1x1ArgmaxRows(const Conv2d1x1ArgmaxWeights& w, const FeatureMap& in, RowRun run,
                         std::uint8_t* labelsRow, float* marginRow, float* logitsRow = nullptr);

// ref::maxPool2x2: output row run.y, columns [x0, x0+length) from input rows
// 2y, 2y+1, every channel block of `out`.
void maxPool2x2Rows(const FeatureMap& in, FeatureMap& out, RowRun run);

// The kernels of one instruction set, as compiled in namespace infer::<set>.
struct KernelSet {
  KernelIsa isa;
  decltype(&conv2d3x3Rows) conv2d3x3;
  decltype(&convTranspose2x2Rows) convTranspose2x2;
  decltype(&conv2d1x1ArgmaxRows) conv2d1x1Argmax;
  decltype(&maxPool2x2Rows) maxPool2x2;
};
// Any set, supported or not (tests compare the sets); calling a function of
// a set the CPU lacks (cpuSupports) is an illegal instruction.
const KernelSet& kernelSet(KernelIsa isa);

// Declarations of the functions above for each set's namespace.
#define TESSERA_INFER_KERNEL_DECLARATIONS                                                          \
  Conv2d3x3Weights packConv2d3x3(const float* weight, const float* bias, const float* scale,       \
                                 const float* shift, int cout, int cin);                           \
  void conv2d3x3Rows(const Conv2d3x3Weights& w, const FeatureMap& in, FeatureMap& out, RowRun run, \
                     int ocbBegin, int ocbEnd, bool relu);                                         \
  ConvTranspose2x2Weights packConvTranspose2x2(const float* weight, const float* bias, int cin,    \
                                               int cout);                                          \
  void convTranspose2x2Rows(const ConvTranspose2x2Weights& w, const FeatureMap& in,                \
                            FeatureMap& out, RowRun run, int ocbBegin, int ocbEnd);                \
  Conv2d1x1ArgmaxWeights packConv2d1x1Argmax(const float* weight, const float* bias, int classes,  \
                                             int cin);                                             \
  void conv2d1x1ArgmaxRows(const Conv2d1x1ArgmaxWeights& w, const FeatureMap& in, RowRun run,      \
                           std::uint8_t* labelsRow, float* marginRow, float* logitsRow);           \
  void maxPool2x2Rows(const FeatureMap& in, FeatureMap& out, RowRun run);
namespace generic {
TESSERA_INFER_KERNEL_DECLARATIONS
}
namespace avx2 {
TESSERA_INFER_KERNEL_DECLARATIONS
}
namespace avx512 {
TESSERA_INFER_KERNEL_DECLARATIONS
}
#undef TESSERA_INFER_KERNEL_DECLARATIONS

}  // namespace tessera::models::infer
