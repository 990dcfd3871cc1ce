// 2× up-sampling by a transposed 2×2 convolution with stride 2, through
// oneDNN's deconvolution. oneDNN's deconvolution weights are logically
// (Cout, Cin, 2, 2); our (Cin, Cout, 2, 2) storage is its `iohw` format.
//
// oneDNN 2.6 runs the backward passes in reference code when the output has
// fewer than 16 channels (or, generally, when they do not fill blocks); the
// output's zero channel padding is then presented as real channels with
// zero weights and bias (same storage, same result), as conv2d_cpu.cpp does
// for inputs.
#include <string>

#include "models/ops/cpu/internal/cpu_ops.h"
#include "models/ops/cpu/internal/dnnl_context.h"

namespace tessera::models::cpu {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using Tag = memory::format_tag;

struct DeconvShapes {
  bool padded = false;
  std::int64_t outputChannels = 0;  // as oneDNN sees them
  memory::desc src, weightsAny, weightsUser, bias, dst;
  memory::dims strides{2, 2}, padding{0, 0}, paddingR{0, 0};
};

// Output (H − 1)·stride − 2·pad + kernel + outputPad: oneDNN's padding is
// pad on the top and left, pad − outputPad on the bottom and right.
DeconvShapes shapes(const Shape& x, const Shape& w, bool bias, bool padded,
                    const ConvTransposeParams& p = {}) {
  DeconvShapes s;
  s.padded = padded;
  s.outputChannels = padded ? paddedChannels(w.c) : w.c;
  const std::int64_t oc = s.outputChannels, k = p.kernel;
  s.src = activationDesc(x);
  s.dst = activationDesc({x.n, oc, (x.h - 1) * p.stride - 2 * p.pad + k + p.outputPad,
                          (x.w - 1) * p.stride - 2 * p.pad + k + p.outputPad});
  s.weightsUser = plainDesc({oc, w.n, k, k}, Tag::iohw);
  s.weightsAny = plainDesc({oc, w.n, k, k}, Tag::any);
  if (bias) s.bias = plainDesc({oc}, Tag::x);
  s.strides = {p.stride, p.stride};
  s.padding = {p.pad, p.pad};
  s.paddingR = {p.pad - p.outputPad, p.pad - p.outputPad};
  return s;
}

std::string key(const Shape& x, const Shape& w, bool bias, const ConvTransposeParams& p = {}) {
  return x.str() + w.str() + (bias ? "b" : "") + std::to_string(p.kernel) + "/" +
         std::to_string(p.stride) + "/" + std::to_string(p.pad) + "/" + std::to_string(p.outputPad);
}

using FwdPd = dnnl::deconvolution_forward::primitive_desc;

FwdPd forwardPd(DnnlContext& ctx, const DeconvShapes& s) {
  const dnnl::deconvolution_forward::desc d(prop_kind::forward_training,
                                            algorithm::deconvolution_direct, s.src, s.weightsAny,
                                            s.bias, s.dst, s.strides, s.padding, s.paddingR);
  return FwdPd(d, ctx.dnnlEngine());
}

template <class PdType, class Prim>
struct Planned {
  using Pd = PdType;
  DeconvShapes shapes;
  Pd pd;
  Prim prim;
};

// Unpadded unless that gets oneDNN's reference code and padding would help.
template <class Pd, class Prim, class MakePd>
Planned<Pd, Prim> plan(const Shape& x, const Shape& w, bool bias, MakePd&& makePd,
                       const ConvTransposeParams& p = {}) {
  DeconvShapes s = shapes(x, w, bias, false, p);
  Pd pd = makePd(s);
  if (isReference(pd) && w.c % kChannelBlock != 0) {
    s = shapes(x, w, bias, true, p);
    pd = makePd(s);
  }
  return {s, pd, Prim(pd)};
}

using Forward = Planned<FwdPd, dnnl::deconvolution_forward>;
using BackwardData =
    Planned<dnnl::deconvolution_backward_data::primitive_desc, dnnl::deconvolution_backward_data>;
using BackwardWeights = Planned<dnnl::deconvolution_backward_weights::primitive_desc,
                                dnnl::deconvolution_backward_weights>;

memory weights(DnnlContext& ctx, const DeconvShapes& s, const Tensor& w,
               const memory::desc& target) {
  return ctx.weights(w, s.weightsUser, target, s.padded ? s.outputChannels : 0);
}

}  // namespace

Tensor convTranspose2x2(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias) {
  return convTranspose(ctx, x, w, bias, ConvTransposeParams{});
}

Tensor convTranspose(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                     const ConvTransposeParams& p) {
  Forward& f =
      ctx.cached<Forward>("deconv.fwd" + key(x.shape(), w.shape(), bias != nullptr, p), [&] {
        return plan<FwdPd, dnnl::deconvolution_forward>(
            x.shape(), w.shape(), bias != nullptr,
            [&](const DeconvShapes& s) { return forwardPd(ctx, s); }, p);
      });
  const DeconvShapes& s = f.shapes;
  const memory::dims out = s.dst.dims();
  Tensor y = Tensor::empty({x.n(), w.c(), out[2], out[3]}, Layout::kBlocked16);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(s.src, ctx.dnnlEngine(), x.data())},
                                       {DNNL_ARG_WEIGHTS, weights(ctx, s, w, f.pd.weights_desc())},
                                       {DNNL_ARG_DST, wrap(s.dst, ctx.dnnlEngine(), y.data())}};
  Tensor paddedBias;
  if (bias) {
    paddedBias = s.padded ? padDim1(*bias, s.outputChannels) : *bias;
    args.emplace(DNNL_ARG_BIAS, wrap(s.bias, ctx.dnnlEngine(), paddedBias.data()));
  }
  ctx.execute(f.prim, args);
  return y;
}

void convTranspose2x2Backward(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor& dy,
                              Tensor* dx, Tensor* dw, Tensor* dbias) {
  const bool hasBias = dbias != nullptr;
  if (dx) {
    BackwardData& b =
        ctx.cached<BackwardData>("deconv.bwd_data" + key(x.shape(), w.shape(), false), [&] {
          return plan<BackwardData::Pd, dnnl::deconvolution_backward_data>(
              x.shape(), w.shape(), false, [&](const DeconvShapes& s) {
                const dnnl::deconvolution_backward_data::desc d(algorithm::deconvolution_direct,
                                                                s.src, s.weightsAny, s.dst,
                                                                s.strides, s.padding, s.padding);
                return BackwardData::Pd(d, ctx.dnnlEngine(), forwardPd(ctx, s));
              });
        });
    const DeconvShapes& s = b.shapes;
    *dx = Tensor::empty(x.shape(), Layout::kBlocked16);
    ctx.execute(b.prim, {{DNNL_ARG_DIFF_DST, wrap(s.dst, ctx.dnnlEngine(), dy.data())},
                         {DNNL_ARG_WEIGHTS, weights(ctx, s, w, b.pd.weights_desc())},
                         {DNNL_ARG_DIFF_SRC, wrap(s.src, ctx.dnnlEngine(), dx->data())}});
  }
  if (!dw && !dbias) return;
  BackwardWeights& b =
      ctx.cached<BackwardWeights>("deconv.bwd_weights" + key(x.shape(), w.shape(), hasBias), [&] {
        return plan<BackwardWeights::Pd, dnnl::deconvolution_backward_weights>(
            x.shape(), w.shape(), hasBias, [&](const DeconvShapes& s) {
              const dnnl::deconvolution_backward_weights::desc d(algorithm::deconvolution_direct,
                                                                 s.src, s.weightsAny, s.bias, s.dst,
                                                                 s.strides, s.padding, s.padding);
              return BackwardWeights::Pd(d, ctx.dnnlEngine(), forwardPd(ctx, s));
            });
      });
  const DeconvShapes& s = b.shapes;
  const memory::desc& computed = b.pd.diff_weights_desc();
  Tensor computedStorage = scratch(computed.get_size());
  const memory diffWeights(computed, ctx.dnnlEngine(), computedStorage.data());
  Tensor biasGrad;
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, wrap(s.src, ctx.dnnlEngine(), x.data())},
      {DNNL_ARG_DIFF_DST, wrap(s.dst, ctx.dnnlEngine(), dy.data())},
      {DNNL_ARG_DIFF_WEIGHTS, diffWeights}};
  if (dbias) {
    biasGrad = Tensor::empty({1, s.outputChannels, 1, 1});
    args.emplace(DNNL_ARG_DIFF_BIAS, wrap(s.bias, ctx.dnnlEngine(), biasGrad.data()));
  }
  ctx.execute(b.prim, args);
  if (dbias) *dbias = s.padded ? cropDim1(biasGrad, w.c()) : biasGrad;
  if (!dw) return;
  Tensor iohw = Tensor::empty({w.n(), s.outputChannels, 2, 2});
  ctx.reorder(diffWeights, wrap(s.weightsUser, ctx.dnnlEngine(), iohw.data()));
  *dw = s.padded ? cropDim1(iohw, w.c()) : iohw;
}

}  // namespace tessera::models::cpu
