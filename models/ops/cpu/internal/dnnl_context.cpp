#include "models/ops/cpu/internal/dnnl_context.h"

#include <cstring>

namespace tessera::models::cpu {
namespace {
// Reordered weights of parameters no longer alive stay cached until this
// many bytes accumulate; then the cache starts over.
constexpr std::int64_t kWeightCacheBytes = std::int64_t{256} << 20;
}  // namespace

memory::desc activationDesc(const Shape& s) {
  return memory::desc({s.n, s.c, s.h, s.w}, memory::data_type::f32, memory::format_tag::nChw16c);
}

memory::desc plainDesc(const memory::dims& dims, memory::format_tag tag) {
  return memory::desc(dims, memory::data_type::f32, tag);
}

memory wrap(const memory::desc& desc, const dnnl::engine& dnnlEngine, const float* data) {
  // oneDNN takes a non-const handle for inputs too; it does not write them.
  return memory(desc, dnnlEngine, const_cast<float*>(data));
}

Tensor scratch(std::size_t bytes) {
  return Tensor::empty({1, 1, 1, static_cast<std::int64_t>((bytes + 3) / 4)});
}

DnnlContext::DnnlContext() : dnnlEngine_(dnnl::engine::kind::cpu, 0), stream_(dnnlEngine_) {}

Tensor padDim1(const Tensor& t, std::int64_t c) {
  Tensor out = Tensor::zeros({t.n(), c, t.h(), t.w()});
  const std::int64_t inner = t.h() * t.w();
  for (std::int64_t n = 0; n < t.n(); ++n)
    std::memcpy(out.data() + n * c * inner, t.data() + n * t.c() * inner,
                static_cast<std::size_t>(t.c() * inner) * 4);
  return out;
}

Tensor cropDim1(const Tensor& t, std::int64_t c) {
  Tensor out = Tensor::empty({t.n(), c, t.h(), t.w()});
  const std::int64_t inner = t.h() * t.w();
  for (std::int64_t n = 0; n < t.n(); ++n)
    std::memcpy(out.data() + n * c * inner, t.data() + n * t.c() * inner,
                static_cast<std::size_t>(c * inner) * 4);
  return out;
}

memory DnnlContext::weights(const Tensor& w, const memory::desc& user, const memory::desc& target,
                            std::int64_t paddedDim1) {
  Tensor padded;  // outlives the reorder: a memory does not own its handle
  auto source = [&]() -> memory {
    if (paddedDim1 == 0) return wrap(user, dnnlEngine_, w.data());
    padded = padDim1(w, paddedDim1);
    return wrap(user, dnnlEngine_, padded.data());
  };
  if (user == target && paddedDim1 == 0) return wrap(user, dnnlEngine_, w.data());
  std::vector<WeightEntry>& entries = weights_[w.data()];
  const std::size_t bytes = static_cast<std::size_t>(w.bytes());
  for (WeightEntry& e : entries)
    if (e.user == user && e.target == target) {
      if (std::memcmp(e.source.data(), w.data(), bytes) == 0) return e.reordered;
      std::memcpy(e.source.data(), w.data(), bytes);
      reorder(source(), e.reordered);
      return e.reordered;
    }
  if (weightBytes_ > kWeightCacheBytes) {
    weights_.clear();
    weightBytes_ = 0;
    return weights(w, user, target, paddedDim1);
  }
  WeightEntry e;
  e.user = user;
  e.target = target;
  e.source = w.clone();
  e.storage = scratch(target.get_size());
  e.reordered = memory(target, dnnlEngine_, e.storage.data());
  reorder(source(), e.reordered);
  weightBytes_ += w.bytes() + e.storage.bytes();
  entries.push_back(e);
  return entries.back().reordered;
}

void DnnlContext::reorder(memory from, memory to) {
  dnnl::reorder(from, to).execute(stream_, from, to);
  stream_.wait();
}

void DnnlContext::execute(const dnnl::primitive& p, const std::unordered_map<int, memory>& args) {
  p.execute(stream_, args);
  stream_.wait();
}

}  // namespace tessera::models::cpu
