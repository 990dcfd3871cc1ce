// Engine benchmark (not a test: timings on a shared machine are noisy, so
// it prints figures and ratios and never fails on them).
//
//   tessera_bench_engine [--threads 2] [--batch 8] [--size 512] [--repeats 2]
//                        [--skip-training] [--skip-inference] [--engine-only]
//
// For the default architecture (base 16, 4 levels, 8 heads, 3 input
// channels, 10 classes) on the CPU backend:
//   1. the machine's FP32 peak, measured with an AVX-512 FMA loop;
//   2. dense inference through UNet::forward per 512×512 slice (batch norm
//      not folded), GFLOP/s and % of peak;
//   3. every 3×3 convolution of the network on its own (GFLOP/s);
//   4. dense slices through the block-sparse inference engine (batch norm
//      folded; its kernels on the instruction set of kernelIsa(), printed);
//   5. one training step (forward + loss + backward) of a batch per
//      checkpointing mode: time and engine-allocator peak, as ratios to none.
// Inference and the plain training step also print where the time goes,
// per op kind.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/memory.h"
#include "core/parallel.h"
#include "models/backend/backend.h"
#include "models/infer/inference_engine.h"
#include "models/infer/kernel_isa.h"
#include "models/net/unet.h"

namespace tessera::models {
namespace {

double seconds(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Best of `repeats` runs after one warm-up (primitive creation, page faults).
double bestOf(int repeats, const std::function<void()>& f) {
  f();
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) best = std::min(best, seconds(f));
  return best;
}

// Independent FMA chains per thread, enough to hide the FMA latency on two
// ports: an upper bound no real kernel reaches. Compiled for AVX-512 whatever
// the build targets, run only where the CPU has it.
__attribute__((target("avx512f"))) void fmaChains(float* sink, std::int64_t iterations) {
  constexpr int kChains = 16;
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  for (int k = 1; k < kChains; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
  _mm512_storeu_ps(sink, acc[0]);
}

double peakGflops(int threads) {
  constexpr int kChains = 16;
  constexpr std::int64_t kIterations = 20'000'000;
  if (!__builtin_cpu_supports("avx512f")) return 0.0;
  std::vector<float> sink(static_cast<std::size_t>(threads) * 16);
  const double t = seconds([&] {
    parallelFor(0, threads,
                [&](std::int64_t thread) { fmaChains(sink.data() + thread * 16, kIterations); });
  });
  return 2.0 * 16 * kChains * kIterations * threads / t / 1e9;
}

// Forwards every op to another backend and adds up wall time per op kind.
class TimedBackend final : public Backend {
 public:
  explicit TimedBackend(Backend& inner) : inner_(inner) {}
  std::string name() const override { return inner_.name(); }
  Layout layout() const override { return inner_.layout(); }

  Tensor fromNCHW(const Tensor& x) override {
    Scope s(at("layout conversion"));
    return inner_.fromNCHW(x);
  }
  Tensor toNCHW(const Tensor& x) override {
    Scope s(at("layout conversion"));
    return inner_.toNCHW(x);
  }
  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* b, int stride, int pad) override {
    Scope s(at(w.h() == 3 ? "conv 3x3" : "conv 1x1"));
    return inner_.conv2d(x, w, b, stride, pad);
  }
  void conv2dBackward(const Tensor& x, const Tensor& w, const Tensor& dy, int stride, int pad,
                      Tensor* dx, Tensor* dw, Tensor* db) override {
    Scope s(at(w.h() == 3 ? "conv 3x3 backward" : "conv 1x1 backward"));
    inner_.conv2dBackward(x, w, dy, stride, pad, dx, dw, db);
  }
  Tensor convTranspose2x2(const Tensor& x, const Tensor& w, const Tensor* b) override {
    Scope s(at("up-conv"));
    return inner_.convTranspose2x2(x, w, b);
  }
  void convTranspose2x2Backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx,
                                Tensor* dw, Tensor* db) override {
    Scope s(at("up-conv backward"));
    inner_.convTranspose2x2Backward(x, w, dy, dx, dw, db);
  }
  Tensor maxPool2x2(const Tensor& x) override {
    Scope s(at("max pool"));
    return inner_.maxPool2x2(x);
  }
  Tensor maxPool2x2Backward(const Tensor& x, const Tensor& dy) override {
    Scope s(at("max pool backward"));
    return inner_.maxPool2x2Backward(x, dy);
  }
  Tensor relu(const Tensor& x) override {
    Scope s(at("relu"));
    return inner_.relu(x);
  }
  Tensor reluBackward(const Tensor& y, const Tensor& dy) override {
    Scope s(at("relu backward"));
    return inner_.reluBackward(y, dy);
  }
  Tensor batchNormTrain(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                        BatchNormState* state) override {
    Scope s(at("batch norm (train)"));
    return inner_.batchNormTrain(x, gamma, beta, eps, state);
  }
  Tensor batchNormApply(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const BatchNormState& state) override {
    Scope s(at("batch norm (apply)"));
    return inner_.batchNormApply(x, gamma, beta, state);
  }
  void batchNormBackward(const Tensor& x, const Tensor& gamma, const BatchNormState& state,
                         const Tensor& dy, Tensor* dx, Tensor* dgamma, Tensor* dbeta) override {
    Scope s(at("batch norm backward"));
    inner_.batchNormBackward(x, gamma, state, dy, dx, dgamma, dbeta);
  }
  Tensor concat(const Tensor& a, const Tensor& b) override {
    Scope s(at("concat / split"));
    return inner_.concat(a, b);
  }
  void split(const Tensor& ab, std::int64_t channelsA, Tensor* a, Tensor* b) override {
    Scope s(at("concat / split"));
    inner_.split(ab, channelsA, a, b);
  }
  Tensor add(const Tensor& a, const Tensor& b) override {
    Scope s(at("add"));
    return inner_.add(a, b);
  }
  Tensor attention(const Tensor& x, const AttentionWeights& p,
                   const std::vector<std::uint8_t>* mask) override {
    Scope s(at("attention"));
    return inner_.attention(x, p, mask);
  }
  Tensor attentionBackward(const Tensor& x, const AttentionWeights& p, const Tensor& dy,
                           AttentionGradients* g, const std::vector<std::uint8_t>* mask) override {
    Scope s(at("attention backward"));
    return inner_.attentionBackward(x, p, dy, g, mask);
  }
  double crossEntropyDiceLoss(const Tensor& logits, const Tensor& labels, double diceWeight,
                              Tensor* dlogits) override {
    Scope s(at("loss"));
    return inner_.crossEntropyDiceLoss(logits, labels, diceWeight, dlogits);
  }
  double distillationLoss(const Tensor& student, const Tensor& teacher, double temperature,
                          Tensor* dstudent) override {
    Scope s(at("distillation loss"));
    return inner_.distillationLoss(student, teacher, temperature, dstudent);
  }
  Tensor argmax(const Tensor& logits) override {
    Scope s(at("argmax"));
    return inner_.argmax(logits);
  }
  Tensor convTranspose(const Tensor& x, const Tensor& w, const Tensor* b,
                       const ConvTransposeParams& p) override {
    Scope s(at("convTranspose"));
    return inner_.convTranspose(x, w, b, p);
  }
  Tensor instanceNorm(const Tensor& x, const Tensor& g, const Tensor& b, float eps) override {
    Scope s(at("instanceNorm"));
    return inner_.instanceNorm(x, g, b, eps);
  }
  Tensor leakyRelu(const Tensor& x, float alpha) override {
    Scope s(at("leakyRelu"));
    return inner_.leakyRelu(x, alpha);
  }
  Tensor prelu(const Tensor& x, const Tensor& slope) override {
    Scope s(at("prelu"));
    return inner_.prelu(x, slope);
  }
  Tensor resize(const Tensor& x, const ResizeParams& p) override {
    Scope s(at("resize"));
    return inner_.resize(x, p);
  }
  Tensor softmax(const Tensor& logits) override {
    Scope s(at("softmax"));
    return inner_.softmax(logits);
  }
  Tensor pluginLayer(const tessera_layer& layer, const Tensor& x,
                     const std::vector<const Tensor*>& params) override {
    Scope s(at("pluginLayer"));
    return inner_.pluginLayer(layer, x, params);
  }
  void pluginLayerBackward(const tessera_layer& layer, const Tensor& x,
                           const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                           std::vector<Tensor>* dparams) override {
    Scope s(at("pluginLayerBackward"));
    inner_.pluginLayerBackward(layer, x, params, dy, dx, dparams);
  }

  void reset() { seconds_.clear(); }
  // Time per op kind, largest first, against the wall time of the whole run.
  void print(double wall) const {
    std::vector<std::pair<double, std::string>> rows;
    double ops = 0;
    for (const auto& [name, t] : seconds_) {
      rows.emplace_back(t, name);
      ops += t;
    }
    std::sort(rows.rbegin(), rows.rend());
    for (const auto& [t, name] : rows)
      std::printf("    %-22s %9.1f ms %5.1f %%\n", name.c_str(), t * 1e3, 100.0 * t / wall);
    std::printf("    %-22s %9.1f ms %5.1f %%\n", "(outside ops)", (wall - ops) * 1e3,
                100.0 * (wall - ops) / wall);
  }

 private:
  struct Scope {
    explicit Scope(double& total) : total(total), start(std::chrono::steady_clock::now()) {}
    ~Scope() {
      total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    double& total;
    std::chrono::steady_clock::time_point start;
  };
  double& at(const char* op) { return seconds_[op]; }

  Backend& inner_;
  std::map<std::string, double> seconds_;
};

Tensor random(Shape shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape);
  std::uint64_t s = seed;
  for (std::int64_t i = 0; i < shape.count(); ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    t.data()[i] = static_cast<float>(static_cast<std::int64_t>(s >> 40) % 2001 - 1000) / 1000.0f;
  }
  return t;
}

struct Options {
  int threads = 2;
  int batch = 8;
  int size = 512;
  int repeats = 2;
  bool training = true;
  bool inference = true;
  bool engine = true;
};

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](int* out) {
      if (i + 1 >= argc) return false;
      *out = std::atoi(argv[++i]);
      return *out > 0;
    };
    if (a == "--threads" && value(&o->threads)) continue;
    if (a == "--batch" && value(&o->batch)) continue;
    if (a == "--size" && value(&o->size)) continue;
    if (a == "--repeats" && value(&o->repeats)) continue;
    if (a == "--skip-training") {
      o->training = false;
      continue;
    }
    if (a == "--skip-inference") {
      o->inference = false;
      o->engine = false;
      continue;
    }
    if (a == "--engine-only") {
      o->inference = o->training = false;
      continue;
    }
    std::fprintf(stderr,
                 "usage: tessera_bench_engine [--threads N] [--batch N] [--size PIXELS] "
                 "[--repeats N] [--skip-training] [--skip-inference] [--engine-only]\n");
    return false;
  }
  return o->size % 16 == 0;
}

// Dense slices of random HU through the inference engine, fresh weights of
// the default architecture; the time per slice does not depend on them.
int benchEngine(const UNetConfig& config, const Options& o, double peak) {
  ModelInfo info;
  info.architecture = config;
  for (int c = 0; c < config.classes; ++c)
    info.labels.labels.push_back({static_cast<std::uint8_t>(c), "class " + std::to_string(c), {}});
  Result<Model> model = makeModel(info, 1);
  if (!model.ok()) {
    std::fprintf(stderr, "tessera_bench_engine: %s\n", model.error().toString().c_str());
    return 1;
  }
  auto engine = infer::InferenceEngine::create(*model, o.size, o.size);
  if (!engine.ok()) {
    std::fprintf(stderr, "tessera_bench_engine: %s\n", engine.error().toString().c_str());
    return 1;
  }
  const std::size_t pixels = static_cast<std::size_t>(o.size) * o.size;
  std::vector<std::int16_t> hu(pixels * config.inputChannels);
  std::uint64_t state = 7;
  for (auto& v : hu) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<std::int16_t>(static_cast<int>((state >> 33) % 2400) - 1100);
  }
  std::vector<const std::int16_t*> slices;
  for (int c = 0; c < config.inputChannels; ++c) slices.push_back(hu.data() + c * pixels);
  std::vector<std::uint8_t> labels(pixels);
  const BlockMask all((*engine)->grid(), true);
  infer::SliceStats stats;
  const double t = bestOf(o.repeats, [&] { (*engine)->run(slices, all, labels.data(), &stats); });
  std::printf("\nInference engine, dense %dx%d slice (BN folded), best of %d, kernels %s\n", o.size,
              o.size, o.repeats, infer::kernelIsaName(*infer::kernelIsa()));
  std::printf("  %.1f ms per slice, %.2f GFLOP, %.1f GFLOP/s", t * 1e3, stats.flops / 1e9,
              stats.flops / t / 1e9);
  if (peak > 0) std::printf(", %.1f %% of peak", 100.0 * stats.flops / t / 1e9 / peak);
  std::printf("\n");
  return 0;
}

void benchInference(TimedBackend& cpu, const UNetConfig& config, UNet& net, const Options& o,
                    double peak) {
  const Tensor slice = random({1, config.inputChannels, o.size, o.size}, 1);
  const double t = bestOf(o.repeats, [&] { net.forward(cpu, slice); });
  cpu.reset();
  const double once = seconds([&] { net.forward(cpu, slice); });
  const double flops = config.forwardFlops(o.size, o.size);
  std::printf("\nDense inference, UNet::forward, batch 1, %dx%d (BN not folded)\n", o.size, o.size);
  std::printf("  %.1f ms per slice, %.2f GFLOP, %.1f GFLOP/s", t * 1e3, flops / 1e9,
              flops / t / 1e9);
  if (peak > 0) std::printf(", %.1f %% of peak", 100.0 * flops / t / 1e9 / peak);
  std::printf("\n  where one more forward (%.1f ms) spends its time:\n", once * 1e3);
  cpu.print(once);

  std::printf("\n3x3 convolutions alone (Backend::conv2d, batch 1, best of %d)\n", o.repeats);
  std::printf("  %-10s %6s %6s %9s %10s %9s\n", "layer", "cin", "cout", "pixels", "ms", "GFLOP/s");
  struct Layer {
    std::string name;
    std::int64_t cin, cout;
    int level;
  };
  std::vector<Layer> layers;
  std::int64_t cin = config.inputChannels;
  for (int l = 0; l <= config.levels; ++l) {
    const std::string n = l < config.levels ? "enc" + std::to_string(l) : std::string("bott");
    layers.push_back({n + ".conv1", cin, config.channels(l), l});
    layers.push_back({n + ".conv2", config.channels(l), config.channels(l), l});
    cin = config.channels(l);
  }
  for (int l = config.levels - 1; l >= 0; --l)
    layers.push_back(
        {"dec" + std::to_string(l) + ".conv1", 2 * config.channels(l), config.channels(l), l});
  for (const Layer& layer : layers) {
    const std::int64_t side = o.size >> layer.level;
    const Tensor x = cpu.fromNCHW(random({1, layer.cin, side, side}, 2));
    const Tensor w = random({layer.cout, layer.cin, 3, 3}, 3);
    const double tc = bestOf(o.repeats, [&] { cpu.conv2d(x, w, nullptr, 1, 1); });
    const double f = 2.0 * layer.cin * layer.cout * 9 * side * side;
    std::printf("  %-10s %6lld %6lld %4lldx%-4lld %10.2f %9.1f\n", layer.name.c_str(),
                static_cast<long long>(layer.cin), static_cast<long long>(layer.cout),
                static_cast<long long>(side), static_cast<long long>(side), tc * 1e3, f / tc / 1e9);
  }
}

void benchTraining(TimedBackend& cpu, const UNetConfig& config, UNet& net, const Options& o) {
  const Tensor input = random({o.batch, config.inputChannels, o.size, o.size}, 4);
  Tensor labels = Tensor::empty({o.batch, 1, o.size, o.size});
  const Tensor r = random(labels.shape(), 5);
  for (std::int64_t i = 0; i < labels.shape().count(); ++i)
    labels.data()[i] = std::floor((r.data()[i] + 1.0f) * 0.5f * (config.classes - 0.01f));
  struct Mode {
    const char* name;
    Checkpointing checkpointing;
    bool half;
  };
  const Mode modes[] = {{"none", Checkpointing::kNone, false},
                        {"stage", Checkpointing::kStage, false},
                        {"aggressive", Checkpointing::kAggressive, false},
                        {"aggressive+half", Checkpointing::kAggressive, true}};
  std::printf("\nTraining step (forward + loss + backward), batch %d of %dx%d, best of %d\n",
              o.batch, o.size, o.size, o.repeats);
  std::printf("  %-16s %9s %8s %11s %12s\n", "checkpointing", "s", "time/none", "peak MiB",
              "none/peak");
  double baseTime = 0, basePeak = 0;
  bool warm = false;
  for (const Mode& m : modes) {
    TrainStepOptions options;
    options.checkpointing = m.checkpointing;
    options.halfStorage = m.half;
    std::int64_t peak = 0;
    auto step = [&] {
      net.parameters().zeroGrad();
      peak = net.trainStep(cpu, input, labels, options).peakBytes;
    };
    if (!warm) {
      step();  // primitive creation and first-touch page faults, once
      warm = true;
    }
    double best = 1e30, total = 0;
    cpu.reset();
    for (int i = 0; i < o.repeats; ++i) {
      const double t = seconds(step);
      best = std::min(best, t);
      total += t;
    }
    if (m.checkpointing == Checkpointing::kNone) {
      baseTime = best;
      basePeak = static_cast<double>(peak);
    }
    std::printf("  %-16s %9.2f %8.2fx %11.1f %11.2fx\n", m.name, best, best / baseTime,
                static_cast<double>(peak) / (1 << 20), basePeak / static_cast<double>(peak));
    if (m.checkpointing == Checkpointing::kNone || m.checkpointing == Checkpointing::kAggressive) {
      std::printf("    where its %d step(s) spent their time:\n", o.repeats);
      cpu.print(total);
    }
  }
}

int run(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) return 2;
  setNumThreads(o.threads);
  const UNetConfig config;  // the default architecture
  std::printf(
      "Tessera engine benchmark: %d threads, base %d, %d levels, %d heads, %d inputs, "
      "%d classes\n",
      o.threads, config.baseWidth, config.levels, config.attentionHeads, config.inputChannels,
      config.classes);
  const double peak = peakGflops(o.threads);
  std::printf("FP32 peak (AVX-512 FMA loop): %.1f GFLOP/s on %d threads\n", peak, o.threads);
  UNet net(config);
  net.initialize(1);
  auto backend = makeCpuBackend();
  TimedBackend cpu(*backend);
  if (o.inference) benchInference(cpu, config, net, o, peak);
  if (o.engine && benchEngine(config, o, peak) != 0) return 1;
  if (o.training) benchTraining(cpu, config, net, o);
  return 0;
}

}  // namespace
}  // namespace tessera::models

int main(int argc, char** argv) {
  return tessera::models::run(argc, argv);
}
