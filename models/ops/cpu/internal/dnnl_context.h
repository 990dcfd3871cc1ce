// Private to the CPU backend: the oneDNN engine and stream, primitives cached
// by shape, and weights reordered into oneDNN's blocked formats, cached per
// parameter storage. oneDNN types never leave models/ops/cpu/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "models/backend/tensor.h"

namespace tessera::models::cpu {

using dnnl::memory;

// nChw16c descriptor of a kBlocked16 tensor. oneDNN pads the channels of
// this format to a multiple of 16 and expects the padding to be zero, which
// is exactly Tensor's kBlocked16 storage: activations go to oneDNN as they are.
memory::desc activationDesc(const Shape& shape);
// Plain descriptors of kNCHW parameters.
memory::desc plainDesc(const memory::dims& dims, memory::format_tag tag);

// A oneDNN memory over a tensor's storage (no copy; the tensor keeps ownership).
memory wrap(const memory::desc& desc, const dnnl::engine& dnnlEngine, const float* data);

// Whether oneDNN fell back to its reference implementation (correct but
// orders of magnitude slower), e.g. for nChw16c with fewer than 16 channels.
template <class Pd>
bool isReference(const Pd& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

// A kNCHW tensor with its second dimension zero-padded to `c` (c >= t.c()),
// and the inverse (the first t.c() entries of that dimension).
Tensor padDim1(const Tensor& t, std::int64_t c);
Tensor cropDim1(const Tensor& t, std::int64_t c);

class DnnlContext {
 public:
  DnnlContext();
  const dnnl::engine& dnnlEngine() const { return dnnlEngine_; }
  dnnl::stream& stream() { return stream_; }

  // The primitive (and its descriptor) for `key`, built by make() once.
  // Keys name the op and every dimension the primitive depends on.
  template <class Entry, class Make>
  Entry& cached(const std::string& key, Make&& make) {
    auto it = primitives_.find(key);
    if (it == primitives_.end())
      it = primitives_.emplace(key, std::make_shared<Entry>(make())).first;
    return *static_cast<Entry*>(it->second.get());
  }

  // `w` (kNCHW storage described by `user`) in the format `target` a
  // primitive asked for. Cached by storage pointer and target format; an entry
  // is reused only while the weights' contents equal a kept copy, so an
  // optimizer step that updates a parameter in place is never missed (the
  // comparison reads the weights once; the reorder it saves also writes them).
  // With paddedDim1 > 0, `user` describes padDim1(w, paddedDim1) instead.
  memory weights(const Tensor& w, const memory::desc& user, const memory::desc& target,
                 std::int64_t paddedDim1 = 0);

  // Copies `from` into `to` (formats may differ) and waits.
  void reorder(memory from, memory to);
  // Runs a primitive and waits.
  void execute(const dnnl::primitive& p, const std::unordered_map<int, memory>& args);

 private:
  struct WeightEntry {
    memory::desc user, target;
    Tensor source;     // copy of the kNCHW weights the entry was made from
    Tensor storage;    // reordered weights (tracked allocation)
    memory reordered;  // over storage
  };

  dnnl::engine dnnlEngine_;
  dnnl::stream stream_;
  std::unordered_map<std::string, std::shared_ptr<void>> primitives_;
  std::unordered_map<const float*, std::vector<WeightEntry>> weights_;
  std::int64_t weightBytes_ = 0;
};

// Scratch tensor of at least `bytes` bytes (tracked), for oneDNN buffers in
// formats that differ from Tensor's.
Tensor scratch(std::size_t bytes);

}  // namespace tessera::models::cpu
