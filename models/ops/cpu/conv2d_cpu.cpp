// Dense convolution through oneDNN: nChw16c activations as they are,
// weights reordered once per parameter version (DnnlContext::weights).
//
// oneDNN 2.6's fast kernels reject nChw16c inputs with fewer than 16
// channels (the 3-channel first layer, narrow research models) and fall
// back to its reference code, ~100× slower. Each primitive therefore tries
// how the input channels reach oneDNN, in order, and keeps the first that
// gets a fast kernel:
//   blocked  the tensor as it is;
//   plain    converted to nchw, oneDNN's first-layer path (forward, weights);
//   padded   the zero channel padding presented as real channels, with
//            zero weights for them: same storage, same result, more FLOPs.
#include <string>

#include "models/ops/cpu/internal/cpu_ops.h"
#include "models/ops/cpu/internal/dnnl_context.h"

namespace tessera::models::cpu {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using Tag = memory::format_tag;

enum class Form { kBlocked, kPlain, kPadded };

struct ConvShapes {
  Form form = Form::kBlocked;
  std::int64_t inputChannels = 0;  // as oneDNN sees them
  memory::desc src, weightsAny, weightsUser, bias, dst;
  memory::dims strides, padding;
};

ConvShapes shapes(const Shape& x, const Shape& w, bool bias, int stride, int pad, Form form) {
  const std::int64_t k = w.h;
  const std::int64_t ho = (x.h + 2 * pad - k) / stride + 1;
  const std::int64_t wo = (x.w + 2 * pad - k) / stride + 1;
  ConvShapes s;
  s.form = form;
  s.inputChannels = form == Form::kPadded ? paddedChannels(x.c) : x.c;
  const std::int64_t ic = s.inputChannels;
  s.src = form == Form::kPlain ? plainDesc({x.n, ic, x.h, x.w}, Tag::nchw)
                               : activationDesc({x.n, ic, x.h, x.w});
  s.dst = activationDesc({x.n, w.n, ho, wo});
  s.weightsUser = plainDesc({w.n, ic, k, k}, Tag::oihw);
  s.weightsAny = plainDesc({w.n, ic, k, k}, Tag::any);
  if (bias) s.bias = plainDesc({w.n}, Tag::x);
  s.strides = {stride, stride};
  s.padding = {pad, pad};
  return s;
}

std::string key(const Shape& x, const Shape& w, bool bias, int stride, int pad) {
  return x.str() + w.str() + (bias ? "b" : "") + std::to_string(stride) + "/" + std::to_string(pad);
}

// The forms worth trying for an input of c channels, in order of preference.
std::vector<Form> forms(std::int64_t c, bool plainAllowed) {
  std::vector<Form> out{Form::kBlocked};
  if (c < kChannelBlock && plainAllowed) out.push_back(Form::kPlain);
  if (c % kChannelBlock != 0) out.push_back(Form::kPadded);
  return out;
}

using FwdPd = dnnl::convolution_forward::primitive_desc;

FwdPd forwardPd(DnnlContext& ctx, const ConvShapes& s) {
  const dnnl::convolution_forward::desc d(prop_kind::forward_training,
                                          algorithm::convolution_direct, s.src, s.weightsAny,
                                          s.bias, s.dst, s.strides, s.padding, s.padding);
  return FwdPd(d, ctx.dnnlEngine());
}

// A primitive with the shapes it was made for.
template <class PdType, class Prim>
struct Planned {
  using Pd = PdType;
  ConvShapes shapes;
  Pd pd;
  Prim prim;
};

// The first form whose primitive descriptor (made by makePd) is not oneDNN's
// reference code; the last form otherwise.
template <class Pd, class Prim, class MakePd>
Planned<Pd, Prim> plan(const Shape& x, const Shape& w, bool bias, int stride, int pad,
                       bool plainAllowed, MakePd&& makePd) {
  const std::vector<Form> candidates = forms(x.c, plainAllowed);
  for (std::size_t i = 0;; ++i) {
    ConvShapes s = shapes(x, w, bias, stride, pad, candidates[i]);
    Pd pd = makePd(s);
    if (!isReference(pd) || i + 1 == candidates.size()) return {s, pd, Prim(pd)};
  }
}

using Forward = Planned<FwdPd, dnnl::convolution_forward>;
using BackwardData =
    Planned<dnnl::convolution_backward_data::primitive_desc, dnnl::convolution_backward_data>;
using BackwardWeights =
    Planned<dnnl::convolution_backward_weights::primitive_desc, dnnl::convolution_backward_weights>;

// The input as the chosen form needs it; `keep` holds a converted copy.
memory input(DnnlContext& ctx, const ConvShapes& s, const Tensor& x, Tensor& keep) {
  if (s.form != Form::kPlain) return wrap(s.src, ctx.dnnlEngine(), x.data());
  keep = x.to(Layout::kNCHW);
  return wrap(s.src, ctx.dnnlEngine(), keep.data());
}

memory weights(DnnlContext& ctx, const ConvShapes& s, const Tensor& w, const memory::desc& target) {
  return ctx.weights(w, s.weightsUser, target, s.form == Form::kPadded ? s.inputChannels : 0);
}

}  // namespace

Tensor conv2d(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias, int stride,
              int pad) {
  const bool hasBias = bias != nullptr;
  Forward& f =
      ctx.cached<Forward>("conv.fwd" + key(x.shape(), w.shape(), hasBias, stride, pad), [&] {
        return plan<FwdPd, dnnl::convolution_forward>(
            x.shape(), w.shape(), hasBias, stride, pad, true,
            [&](const ConvShapes& s) { return forwardPd(ctx, s); });
      });
  const ConvShapes& s = f.shapes;
  const memory::dims od = s.dst.dims();
  Tensor y = Tensor::empty({od[0], od[1], od[2], od[3]}, Layout::kBlocked16);
  Tensor converted;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, input(ctx, s, x, converted)},
                                       {DNNL_ARG_WEIGHTS, weights(ctx, s, w, f.pd.weights_desc())},
                                       {DNNL_ARG_DST, wrap(s.dst, ctx.dnnlEngine(), y.data())}};
  if (bias) args.emplace(DNNL_ARG_BIAS, wrap(s.bias, ctx.dnnlEngine(), bias->data()));
  ctx.execute(f.prim, args);
  return y;
}

void conv2dBackward(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor& dy,
                    int stride, int pad, Tensor* dx, Tensor* dw, Tensor* dbias) {
  const bool hasBias = dbias != nullptr;
  const std::string k = key(x.shape(), w.shape(), hasBias, stride, pad);
  if (dx) {
    // No plain form here: its nchw result would need converting back.
    BackwardData& b = ctx.cached<BackwardData>("conv.bwd_data" + k, [&] {
      return plan<BackwardData::Pd, dnnl::convolution_backward_data>(
          x.shape(), w.shape(), false, stride, pad, false, [&](const ConvShapes& s) {
            const dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, s.src,
                                                          s.weightsAny, s.dst, s.strides, s.padding,
                                                          s.padding);
            return BackwardData::Pd(d, ctx.dnnlEngine(), forwardPd(ctx, s));
          });
    });
    const ConvShapes& s = b.shapes;
    // The padded form computes the padding channels' gradient: zero, as the
    // padded weights are.
    *dx = Tensor::empty(x.shape(), Layout::kBlocked16);
    ctx.execute(b.prim, {{DNNL_ARG_DIFF_DST, wrap(s.dst, ctx.dnnlEngine(), dy.data())},
                         {DNNL_ARG_WEIGHTS, weights(ctx, s, w, b.pd.weights_desc())},
                         {DNNL_ARG_DIFF_SRC, wrap(s.src, ctx.dnnlEngine(), dx->data())}});
  }
  if (!dw && !dbias) return;
  BackwardWeights& b = ctx.cached<BackwardWeights>("conv.bwd_weights" + k, [&] {
    return plan<BackwardWeights::Pd, dnnl::convolution_backward_weights>(
        x.shape(), w.shape(), hasBias, stride, pad, true, [&](const ConvShapes& s) {
          const dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, s.src,
                                                           s.weightsAny, s.bias, s.dst, s.strides,
                                                           s.padding, s.padding);
          return BackwardWeights::Pd(d, ctx.dnnlEngine(), forwardPd(ctx, s));
        });
  });
  const ConvShapes& s = b.shapes;
  // oneDNN computes the weight gradient in its own format; it is reordered
  // into the caller's OIHW tensor (cropped when the input was padded).
  const memory::desc& computed = b.pd.diff_weights_desc();
  Tensor computedStorage = scratch(computed.get_size());
  const memory diffWeights(computed, ctx.dnnlEngine(), computedStorage.data());
  Tensor converted;
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, input(ctx, s, x, converted)},
      {DNNL_ARG_DIFF_DST, wrap(s.dst, ctx.dnnlEngine(), dy.data())},
      {DNNL_ARG_DIFF_WEIGHTS, diffWeights}};
  if (dbias) {
    *dbias = Tensor::empty({1, w.n(), 1, 1});
    args.emplace(DNNL_ARG_DIFF_BIAS, wrap(s.bias, ctx.dnnlEngine(), dbias->data()));
  }
  ctx.execute(b.prim, args);
  if (!dw) return;
  Tensor oihw = Tensor::empty({w.n(), s.inputChannels, w.h(), w.w()});
  ctx.reorder(diffWeights, wrap(s.weightsUser, ctx.dnnlEngine(), oihw.data()));
  *dw = s.form == Form::kPadded ? cropDim1(oihw, w.c()) : oihw;
}

}  // namespace tessera::models::cpu
