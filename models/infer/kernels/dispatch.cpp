// The entry points of kernels.h: weight packing (one build, the generic
// one) and the row kernels through the KernelSet of kernelIsa().
#include <cstdlib>
#include <string>

#include "models/infer/internal/kernels.h"

namespace tessera::models::infer {
namespace {

constexpr KernelSet kGenericSet{KernelIsa::kGeneric, &generic::conv2d3x3Rows,
                                &generic::convTranspose2x2Rows, &generic::conv2d1x1ArgmaxRows,
                                &generic::maxPool2x2Rows};
constexpr KernelSet kAvx2Set{KernelIsa::kAvx2, &avx2::conv2d3x3Rows, &avx2::convTranspose2x2Rows,
                             &avx2::conv2d1x1ArgmaxRows, &avx2::maxPool2x2Rows};
constexpr KernelSet kAvx512Set{KernelIsa::kAvx512, &avx512::conv2d3x3Rows,
                               &avx512::convTranspose2x2Rows, &avx512::conv2d1x1ArgmaxRows,
                               &avx512::maxPool2x2Rows};

constexpr KernelIsa kWidestFirst[] = {KernelIsa::kAvx512, KernelIsa::kAvx2, KernelIsa::kGeneric};

KernelIsa widestSupported() {
  for (KernelIsa isa : kWidestFirst)
    if (cpuSupports(isa)) return isa;
  return KernelIsa::kGeneric;
}

std::string supportedList() {
  std::string names;
  for (KernelIsa isa : kWidestFirst)
    if (cpuSupports(isa)) names += std::string(names.empty() ? "" : ", ") + kernelIsaName(isa);
  return names;
}

// The set the row kernels use. When TESSERA_ISA is refused, kernelIsa()
// reports it (InferenceEngine::create fails), and direct callers of the
// kernels get the widest supported set.
const KernelSet& activeSet() {
  static const KernelSet* const set = [] {
    const Result<KernelIsa> isa = kernelIsa();
    return &kernelSet(isa.ok() ? *isa : widestSupported());
  }();
  return *set;
}

}  // namespace

const char* kernelIsaName(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kAvx512:
      return "avx512";
    case KernelIsa::kAvx2:
      return "avx2";
    case KernelIsa::kGeneric:
      break;
  }
  return "generic";
}

bool cpuSupports(KernelIsa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case KernelIsa::kAvx512:
      // The subsets the avx512 objects are compiled for (models/CMakeLists.txt).
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma");
    case KernelIsa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KernelIsa::kGeneric:
      break;
  }
  return true;
}

Result<KernelIsa> chooseKernelIsa(const char* forced) {
  if (forced == nullptr || *forced == '\0') return widestSupported();
  const std::string name = forced;
  for (KernelIsa isa : kWidestFirst) {
    if (name != kernelIsaName(isa)) continue;
    if (!cpuSupports(isa))
      return Error{StatusCode::kUnsupported, "TESSERA_ISA=" + name + ": this CPU cannot run the " +
                                                 name + " kernels (it supports " + supportedList() +
                                                 ")"};
    return isa;
  }
  return Error{StatusCode::kInvalidArgument,
               "TESSERA_ISA=" + name + ": unknown instruction set (use avx512, avx2 or generic)"};
}

Result<KernelIsa> kernelIsa() {
  static const Result<KernelIsa> chosen = chooseKernelIsa(std::getenv("TESSERA_ISA"));
  return chosen;
}

const KernelSet& kernelSet(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kAvx512:
      return kAvx512Set;
    case KernelIsa::kAvx2:
      return kAvx2Set;
    case KernelIsa::kGeneric:
      break;
  }
  return kGenericSet;
}

Conv2d3x3Weights packConv2d3x3(const float* weight, const float* bias, const float* scale,
                               const float* shift, int cout, int cin) {
  return generic::packConv2d3x3(weight, bias, scale, shift, cout, cin);
}

ConvTranspose2x2Weights packConvTranspose2x2(const float* weight, const float* bias, int cin,
                                             int cout) {
  return generic::packConvTranspose2x2(weight, bias, cin, cout);
}

Conv2d1x1ArgmaxWeights packConv2d1x1Argmax(const float* weight, const float* bias, int classes,
                                           int cin) {
  return generic::packConv2d1x1Argmax(weight, bias, classes, cin);
}

void conv2d3x3Rows(const Conv2d3x3Weights& w, const FeatureMap& in, FeatureMap& out, RowRun run,
                   int ocbBegin, int ocbEnd, bool relu) {
  activeSet().conv2d3x3(w, in, out, run, ocbBegin, ocbEnd, relu);
}

void convTranspose2x2Rows(const ConvTranspose2x2Weights& w, const FeatureMap& in, FeatureMap& out,
                          RowRun run, int ocbBegin, int ocbEnd) {
  activeSet().convTranspose2x2(w, in, out, run, ocbBegin, ocbEnd);
}

void conv2d1x1ArgmaxRows(const Conv2d1x1ArgmaxWeights& w, const FeatureMap& in, RowRun run,
                         std::uint8_t* labelsRow, float* marginRow, float* logitsRow) {
  activeSet().conv2d1x1Argmax(w, in, run, labelsRow, marginRow, logitsRow);
}

void maxPool2x2Rows(const FeatureMap& in, FeatureMap& out, RowRun run) {
  activeSet().maxPool2x2(in, out, run);
}

}  // namespace tessera::models::infer
