#include "models/backend/plugin_layer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <set>

namespace tessera::models {

namespace {

struct Table {
  std::mutex mutex;
  std::vector<PluginLayer> layers;
  bool failed = false;
  Error failure;
};

Table& table() {
  static Table t;
  return t;
}

bool validName(const char* name) {
  if (!name || !*name) return false;
  for (const char* c = name; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return false;
  return true;
}

tessera_tensor view(const Tensor& t) {
  return {t.n(), t.c(), t.h(), t.w(), const_cast<float*>(t.data())};
}

Error layerError(const tessera_layer& layer, const std::string& message) {
  return Error{StatusCode::kUnsupported,
               "plugin layer '" + std::string(layer.name ? layer.name : "?") + "': " + message};
}

Status call(const tessera_layer& layer, tessera_layer_fn fn, const tessera_layer_call& c,
            const char* what) {
  char message[512] = {0};
  if (fn(&c, message, sizeof message) != 0) {
    message[sizeof message - 1] = '\0';
    return layerError(
        layer, std::string(what) + " failed: " + (message[0] ? message : "(no message given)"));
  }
  return Status();
}

Tensor randomTensor(Shape shape, std::mt19937_64& rng, float scale) {
  Tensor t = Tensor::empty(shape);
  for (std::int64_t i = 0; i < shape.count(); ++i)
    t.data()[i] = scale * (static_cast<float>(rng() >> 40) / 16777216.0f * 2.0f - 1.0f);
  return t;
}

// Largest |a − b| relative to the largest |b| (at least 1e-3): a layer's
// outputs are compared as a whole, not element by element.
double difference(const Tensor& a, const Tensor& b) {
  double worst = 0, scale = 1e-3;
  for (std::int64_t i = 0; i < b.shape().count(); ++i) {
    scale = std::max(scale, static_cast<double>(std::abs(b.data()[i])));
    const double d = std::abs(static_cast<double>(a.data()[i]) - b.data()[i]);
    worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(worst, d);
  }
  return worst / scale;
}

}  // namespace

Result<std::vector<tessera_layer_parameter>> pluginLayerParameters(const tessera_layer& layer,
                                                                   std::int64_t channels) {
  constexpr int kCapacity = 64;
  std::vector<tessera_layer_parameter> params(kCapacity);
  char message[512] = {0};
  const int count = layer.parameters(channels, params.data(), kCapacity, message, sizeof message);
  message[sizeof message - 1] = '\0';
  if (count < 0)
    return layerError(layer, "cannot take " + std::to_string(channels) +
                                 " channels: " + (message[0] ? message : "(no message given)"));
  if (count > kCapacity)
    return layerError(layer, "declares more than " + std::to_string(kCapacity) + " parameters");
  params.resize(static_cast<std::size_t>(count));
  std::set<std::string> names;
  for (tessera_layer_parameter& p : params) {
    p.name[sizeof p.name - 1] = '\0';
    if (!validName(p.name) || !names.insert(p.name).second)
      return layerError(layer, "a parameter name is empty, not [a-z0-9_]+ or repeated");
    std::int64_t count64 = 1;
    for (std::int64_t d : p.dims) {
      if (d < 1 || d > (std::int64_t{1} << 24) || count64 > (std::int64_t{1} << 28) / d)
        return layerError(layer, std::string("parameter '") + p.name + "' has invalid dims");
      count64 *= d;
    }
    std::underlying_type_t<tessera_init> init;
    std::memcpy(&init, &p.init, sizeof init);
    if (init != TESSERA_INIT_ZEROS && init != TESSERA_INIT_ONES && init != TESSERA_INIT_NORMAL)
      return layerError(layer, std::string("parameter '") + p.name + "' has no valid init");
    if (init == TESSERA_INIT_NORMAL && !(p.std >= 0 && p.std < 1e3))
      return layerError(layer, std::string("parameter '") + p.name + "' has an invalid std");
  }
  return params;
}

Status runPluginForward(const tessera_layer& layer, tessera_layer_fn fn, const Tensor& x,
                        const std::vector<const Tensor*>& params, const std::uint8_t* active,
                        Tensor* y) {
  *y = Tensor::zeros(x.shape());
  std::vector<tessera_tensor> p;
  for (const Tensor* t : params) p.push_back(view(*t));
  tessera_layer_call c{};
  c.struct_size = sizeof c;
  c.x = view(x);
  c.parameters = p.data();
  c.parameter_count = static_cast<int>(p.size());
  c.active = active;
  c.y = view(*y);
  return call(layer, fn, c, "forward");
}

Status runPluginBackward(const tessera_layer& layer, tessera_layer_fn fn, const Tensor& x,
                         const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                         std::vector<Tensor>* dparams) {
  std::vector<tessera_tensor> p, dp;
  dparams->clear();
  for (const Tensor* t : params) {
    p.push_back(view(*t));
    dparams->push_back(Tensor::zeros(t->shape()));
    dp.push_back(view(dparams->back()));
  }
  tessera_layer_call c{};
  c.struct_size = sizeof c;
  c.x = view(x);
  c.parameters = p.data();
  c.parameter_count = static_cast<int>(p.size());
  c.dy = view(dy);
  if (dx) {
    *dx = Tensor::zeros(x.shape());
    c.dx = view(*dx);
  } else {
    c.dx = {x.n(), x.c(), x.h(), x.w(), nullptr};
  }
  c.dparameters = dp.data();
  return call(layer, fn, c, "backward");
}

Status checkPluginLayer(const tessera_layer& layer) {
  if (!validName(layer.name)) return layerError(layer, "its name is empty or not [a-z0-9_]+");
  if (!layer.parameters || !layer.forward_reference || !layer.backward_reference ||
      !layer.forward_cpu || !layer.backward_cpu)
    return layerError(layer,
                      "it lacks one of parameters, forward_reference, backward_reference, "
                      "forward_cpu and backward_cpu");
  constexpr std::int64_t kChannels = 32;
  TESSERA_ASSIGN_OR_RETURN(const std::vector<tessera_layer_parameter> declared,
                           pluginLayerParameters(layer, kChannels));
  std::mt19937_64 rng(20261203);
  const Shape shape{2, kChannels, 12, 12};
  const Tensor x = randomTensor(shape, rng, 1.0f);
  std::vector<Tensor> values;
  for (const tessera_layer_parameter& p : declared)
    values.push_back(randomTensor({p.dims[0], p.dims[1], p.dims[2], p.dims[3]}, rng, 0.5f));
  std::vector<const Tensor*> params;
  for (const Tensor& t : values) params.push_back(&t);

  constexpr double kTolerance = 1e-4;
  auto agree = [&](const Tensor& cpu, const Tensor& reference, const std::string& what) {
    const double d = difference(cpu, reference);
    if (d <= kTolerance) return Status();
    return Status(layerError(layer, "its reference and CPU implementations disagree (" + what +
                                        ": relative difference " + std::to_string(d) +
                                        ", tolerance 1e-4)"));
  };
  Tensor yReference, yCpu;
  TESSERA_RETURN_IF_ERROR(
      runPluginForward(layer, layer.forward_reference, x, params, nullptr, &yReference));
  TESSERA_RETURN_IF_ERROR(runPluginForward(layer, layer.forward_cpu, x, params, nullptr, &yCpu));
  TESSERA_RETURN_IF_ERROR(agree(yCpu, yReference, "forward"));

  // Half the pixels active, in 4×4 squares: the outputs there must not change.
  std::vector<std::uint8_t> active(static_cast<std::size_t>(shape.n * shape.h * shape.w));
  for (std::int64_t n = 0; n < shape.n; ++n)
    for (std::int64_t y = 0; y < shape.h; ++y)
      for (std::int64_t xx = 0; xx < shape.w; ++xx)
        active[(n * shape.h + y) * shape.w + xx] = ((y / 4 + xx / 4 + n) % 2) != 0;
  Tensor yMasked;
  TESSERA_RETURN_IF_ERROR(
      runPluginForward(layer, layer.forward_cpu, x, params, active.data(), &yMasked));
  for (std::int64_t n = 0; n < shape.n; ++n)
    for (std::int64_t c = 0; c < shape.c; ++c)
      for (std::int64_t y = 0; y < shape.h; ++y)
        for (std::int64_t xx = 0; xx < shape.w; ++xx)
          if (!active[(n * shape.h + y) * shape.w + xx]) {
            yMasked.at(n, c, y, xx) = yCpu.at(n, c, y, xx);
          }
  TESSERA_RETURN_IF_ERROR(agree(yMasked, yCpu, "forward with an active mask"));

  const Tensor dy = randomTensor(shape, rng, 1.0f);
  Tensor dxReference, dxCpu;
  std::vector<Tensor> dpReference, dpCpu;
  TESSERA_RETURN_IF_ERROR(runPluginBackward(layer, layer.backward_reference, x, params, dy,
                                            &dxReference, &dpReference));
  TESSERA_RETURN_IF_ERROR(
      runPluginBackward(layer, layer.backward_cpu, x, params, dy, &dxCpu, &dpCpu));
  TESSERA_RETURN_IF_ERROR(agree(dxCpu, dxReference, "input gradient"));
  for (std::size_t i = 0; i < declared.size(); ++i)
    TESSERA_RETURN_IF_ERROR(
        agree(dpCpu[i], dpReference[i], std::string("gradient of ") + declared[i].name));
  return Status();
}

Status registerPluginLayer(const tessera_layer* layer, const std::string& plugin) {
  TESSERA_RETURN_IF_ERROR(checkPluginLayer(*layer));
  Table& t = table();
  const std::lock_guard<std::mutex> lock(t.mutex);
  for (const PluginLayer& known : t.layers) {
    if (known.layer == layer) return Status();
    if (std::strcmp(known.layer->name, layer->name) == 0)
      return Status(StatusCode::kInvalidArgument, "a layer named '" + std::string(layer->name) +
                                                      "' is already loaded from " + known.plugin);
  }
  t.layers.push_back({layer, plugin});
  return Status();
}

const tessera_layer* findPluginLayer(const std::string& name) {
  Table& t = table();
  const std::lock_guard<std::mutex> lock(t.mutex);
  for (const PluginLayer& known : t.layers)
    if (name == known.layer->name) return known.layer;
  return nullptr;
}

std::vector<PluginLayer> registeredPluginLayers() {
  Table& t = table();
  const std::lock_guard<std::mutex> lock(t.mutex);
  return t.layers;
}

void recordPluginLayerFailure(const Error& error) {
  Table& t = table();
  const std::lock_guard<std::mutex> lock(t.mutex);
  if (t.failed) return;
  t.failed = true;
  t.failure = error;
}

Status takePluginLayerFailure() {
  Table& t = table();
  const std::lock_guard<std::mutex> lock(t.mutex);
  if (!t.failed) return Status();
  t.failed = false;
  return Status(t.failure);
}

}  // namespace tessera::models
