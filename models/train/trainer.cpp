#include "models/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <locale>
#include <map>
#include <optional>
#include <sstream>

#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/parallel.h"
#include "core/slice_context.h"
#include "imaging/figures/plot.h"
#include "models/backend/plugin_layer.h"
#include "models/graph/graph_net.h"
#include "models/infer/inference_engine.h"
#include "models/io/onnx_model.h"
#include "models/pipeline/plugins.h"
#include "models/train/adamw.h"
#include "models/train/train_state.h"

namespace tessera::models {

namespace fs = std::filesystem;

ValidationResult validateModel(const Model& model, const std::vector<const TrainingCase*>& cases,
                               int slicesPerCase) {
  const int classes = model.info.architecture.classes;
  std::vector<double> intersection(classes, 0), predicted(classes, 0), truth(classes, 0);
  const int radius = model.info.contextRadius();
  PhysicalSliceContext<std::int16_t> contextBuilder(radius, model.info.contextOffsetMm);
  std::unique_ptr<infer::InferenceEngine> engine;
  for (const TrainingCase* c : cases) {
    const int w = static_cast<int>(c->ct.nx()), h = static_cast<int>(c->ct.ny());
    if (!engine || engine->width() != w || engine->height() != h) {
      auto created = infer::InferenceEngine::create(model, w, h);
      if (!created.ok()) continue;
      engine = std::move(*created);
    }
    std::vector<std::uint8_t> labels(static_cast<std::size_t>(w) * h);
    const std::int64_t nz = c->ct.nz();
    for (int i = 0; i < slicesPerCase; ++i) {
      const std::int64_t k = (2 * i + 1) * nz / (2 * slicesPerCase);
      const std::vector<const std::int16_t*>& context = contextBuilder.at(c->ct, k);
      infer::SliceStats stats;
      engine->run(context, BlockMask(engine->grid(), true), labels.data(), &stats);
      const std::uint8_t* ref = c->labels.slice(k);
      for (std::size_t p = 0; p < labels.size(); ++p) {
        const int a = labels[p], b = ref[p] < classes ? ref[p] : 0;
        predicted[a] += 1;
        truth[b] += 1;
        if (a == b) intersection[a] += 1;
      }
    }
  }
  ValidationResult r;
  r.dice.assign(classes, NAN);
  int scored = 0;
  double sum = 0;
  for (int c = 0; c < classes; ++c) {
    if (predicted[c] + truth[c] == 0) continue;
    r.dice[c] = 2 * intersection[c] / (predicted[c] + truth[c]);
    if (c > 0 && truth[c] > 0) {
      sum += r.dice[c];
      ++scored;
    }
  }
  r.meanDice = scored ? sum / scored : 0.0;
  return r;
}

namespace {

std::unique_ptr<Backend> makeBackend(const std::string& name) {
  if (name == "reference") return makeReferenceBackend();
  return makeCpuBackend();
}

// Cases in the pool at a step: slot i holds case i + poolSize · generation,
// generations staggered so that the pool changes gradually.
std::int64_t poolCaseIndex(int slot, int poolSize, std::int64_t refresh, std::int64_t step) {
  const std::int64_t offset = refresh * slot / std::max(1, poolSize);
  const std::int64_t generation = refresh > 0 ? (step + offset) / refresh : 0;
  return slot + std::int64_t{poolSize} * generation;
}

struct PlotData {
  std::vector<double> steps, losses, valSteps, valDice;
};

Status writePlot(const PlotData& d, const std::string& path) {
  imaging::PlotSeries loss{"training loss", {200, 60, 40}, d.steps, d.losses, false};
  imaging::PlotSeries dice{"validation mean Dice", {40, 90, 200}, d.valSteps, d.valDice, true};
  imaging::PlotOptions o;
  o.title = "Tessera training";
  o.xLabel = "step";
  o.logLeft = true;
  return imaging::writeLinePlotPng({loss, dice}, o, path);
}

bool sameNormalisation(const InputNormalization& a, const InputNormalization& b) {
  return a.huMin == b.huMin && a.huMax == b.huMax && a.huOffset == b.huOffset &&
         a.huScale == b.huScale;
}

// What a student must share with its teacher for the logits to be comparable.
Status checkTeacher(const ModelInfo& student, const ModelInfo& teacher, const std::string& path) {
  auto differs = [&](const std::string& what) {
    return Error{StatusCode::kInvalidArgument,
                 "the teacher and the student differ in their " + what +
                     "; distil into a fresh student (without --init), which takes the teacher's",
                 path};
  };
  if (student.architecture.classes != teacher.architecture.classes ||
      student.labels.labels.size() != teacher.labels.labels.size())
    return differs("classes (" + std::to_string(student.architecture.classes) + " and " +
                   std::to_string(teacher.architecture.classes) + ")");
  for (std::size_t i = 0; i < student.labels.labels.size(); ++i)
    if (student.labels.labels[i].name != teacher.labels.labels[i].name)
      return differs("labels ('" + student.labels.labels[i].name + "' and '" +
                     teacher.labels.labels[i].name + "' at value " + std::to_string(i) + ")");
  if (student.architecture.inputChannels != teacher.architecture.inputChannels)
    return differs("input slices (" + std::to_string(student.architecture.inputChannels) + " and " +
                   std::to_string(teacher.architecture.inputChannels) + ")");
  if (!sameNormalisation(student.input, teacher.input)) return differs("input normalisation");
  if (student.contextOffsetMm != teacher.contextOffsetMm) {
    std::ostringstream text;
    text.imbue(std::locale::classic());
    text << "context offsets (" << student.contextOffsetMm << " and " << teacher.contextOffsetMm
         << " mm, 0: neighbouring slices)";
    return differs(text.str());
  }
  return Status::success();
}

// The teacher's full-resolution logits for a batch, (N, classes, H, W) kNCHW.
// An imported network runs one slice at a time.
Tensor teacherLogits(const Model& teacher, Backend& backend, const Tensor& input) {
  if (teacher.net) return teacher.net->forward(backend, input);
  const Shape s = input.shape();
  const std::int64_t classes = teacher.info.architecture.classes, plane = s.h * s.w;
  Tensor out = Tensor::zeros({s.n, classes, s.h, s.w});
  for (std::int64_t n = 0; n < s.n; ++n) {
    Tensor one = Tensor::zeros({1, s.c, s.h, s.w});
    std::copy_n(input.data() + n * s.c * plane, s.c * plane, one.data());
    const Tensor logits = teacher.graph->forward(backend, one);
    std::copy_n(logits.data(), classes * plane, out.data() + n * classes * plane);
  }
  return out;
}

std::string csvHeader(const ModelInfo& info) {
  std::string h = "step,mean_dice";
  for (const Label& l : info.labels.labels) h += ",dice_" + l.name;
  return h + "\n";
}

}  // namespace

Result<TrainerReport> train(const TrainerOptions& o, ProgressSink* progress,
                            const CancelToken* cancel) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  if (o.outDir.empty()) return Error{StatusCode::kInvalidArgument, "no output directory given"};
  if (o.threads > 0) setNumThreads(o.threads);
  std::error_code fsError;
  fs::create_directories(o.outDir, fsError);
  if (!isDirectory(o.outDir))
    return Error{StatusCode::kIoError, "cannot create the output directory", o.outDir};
  if (o.batchSize < 1 || o.steps < 1)
    return Error{StatusCode::kInvalidArgument, "steps and batch size must be positive"};
  if (o.sampler.crop % 16 != 0 || o.sampler.crop < 32)
    return Error{StatusCode::kInvalidArgument, "the crop must be a multiple of 16, at least 32"};

  if (const std::vector<std::string> folders = PluginRegistry::foldersFrom(o.pluginFolders);
      !folders.empty())
    TESSERA_RETURN_IF_ERROR(PluginRegistry::load(folders).status());

  const std::string checkpointModel = (fs::path(o.outDir) / "checkpoint.onnx").string();
  const std::string checkpointState = (fs::path(o.outDir) / "checkpoint.state").string();

  std::optional<Model> teacher;
  if (!o.teacherModel.empty()) {
    if (!(o.temperature > 0) || !std::isfinite(o.temperature) || !std::isfinite(o.distillWeight) ||
        o.distillWeight < 0)
      return Error{StatusCode::kInvalidArgument,
                   "the distillation temperature must be positive and its weight not negative"};
    auto loaded = importOnnx(o.teacherModel);
    if (!loaded.ok())
      return Error{loaded.error().code, "cannot read the teacher: " + loaded.error().message,
                   o.teacherModel};
    teacher = std::move(*loaded);
  }

  // The model: resumed, fine-tuned or fresh.
  Model model;
  TrainState state;
  if (o.resume) {
    if (!fileExists(checkpointModel) || !fileExists(checkpointState))
      return Error{StatusCode::kNotFound,
                   "nothing to resume: no checkpoint in the output directory", o.outDir};
    TESSERA_ASSIGN_OR_RETURN(model, importOnnx(checkpointModel));
    TESSERA_ASSIGN_OR_RETURN(state, readTrainState(checkpointState));
    // The log's columns say whether the run had a teacher.
    const bool taught =
        state.trainLog.substr(0, state.trainLog.find('\n')).find("distillation_loss") !=
        std::string::npos;
    if (taught != teacher.has_value())
      return Error{StatusCode::kInvalidArgument,
                   taught ? "this run was distilled from a teacher: resume it with the same "
                            "--teacher"
                          : "this run had no teacher: resume it without --teacher",
                   o.outDir};
  } else if (!o.initModel.empty()) {
    TESSERA_ASSIGN_OR_RETURN(model, importOnnx(o.initModel));
    if (model.graph)
      return Error{StatusCode::kUnsupported,
                   "this model is an imported network that runs dense only (" +
                       model.info.denseOnlyReason +
                       "); Tessera fine-tunes its own U-Net and imported networks laid out like it",
                   o.initModel};
    if (!model.info.architecture.deepSupervision) {
      // Fine-tuning adds fresh deep-supervision heads to an inference model.
      ModelInfo info = model.info;
      info.architecture.deepSupervision = true;
      TESSERA_ASSIGN_OR_RETURN(Model fresh, makeModel(info, o.seed));
      for (auto& p : fresh.net->parameters().all())
        if (const Parameter* q = model.net->parameters().find(p->name)) p->value = q->value.clone();
      model = std::move(fresh);
    }
    // The file keeps its history: what it was trained with, then this run.
    if (!o.model.trainingSummary.empty())
      model.info.trainingSummary =
          model.info.trainingSummary.empty()
              ? o.model.trainingSummary
              : model.info.trainingSummary + "; then fine-tuned: " + o.model.trainingSummary;
  } else {
    ModelInfo info = o.model;
    info.architecture.deepSupervision = true;
    if (teacher) {
      info.labels = teacher->info.labels;
      info.architecture.classes = teacher->info.architecture.classes;
      info.architecture.inputChannels = teacher->info.architecture.inputChannels;
      info.input = teacher->info.input;
      info.contextOffsetMm = teacher->info.contextOffsetMm;
    }
    if (teacher) info.postProcessing = teacher->info.postProcessing;
    TESSERA_ASSIGN_OR_RETURN(model, makeModel(info, o.seed));
  }
  if (o.postProcessing) {
    TESSERA_RETURN_IF_ERROR(std::move(validatePostProcessing(*o.postProcessing, model.info.labels))
                                .withContext("--post-processing"));
    model.info.postProcessing = *o.postProcessing;
  }
  const ModelInfo& info = model.info;
  if (teacher) {
    TESSERA_RETURN_IF_ERROR(checkTeacher(info, teacher->info, o.teacherModel));
    // Every crop goes through the teacher whole (a U-Net's 2^levels ≤ 16
    // divides every crop).
    if (teacher->graph) {
      const std::int64_t multiple = teacher->graph->sizeMultiple();
      if (o.sampler.crop % multiple != 0)
        return Error{StatusCode::kInvalidArgument,
                     "the teacher needs H and W multiples of " + std::to_string(multiple) +
                         "; choose a --crop that is one",
                     o.teacherModel};
      TESSERA_RETURN_IF_ERROR(teacher->graph->checkShapes(o.sampler.crop, o.sampler.crop).status());
    }
  }

  // Data.
  std::unique_ptr<CaseSource> source, validationSource;
  if (o.dataDir.empty()) {
    source = makePhantomSource(o.phantoms);
    PhantomSourceOptions v = o.phantoms;
    v.seed = o.phantoms.seed + 1000003;
    validationSource = makePhantomSource(v);
  } else {
    TESSERA_ASSIGN_OR_RETURN(source, makeFolderSource(o.dataDir));
    TESSERA_ASSIGN_OR_RETURN(validationSource, makeFolderSource(o.dataDir));
  }
  logInfo("training on ", source->describe(), "; validating on ", validationSource->describe());
  std::vector<TrainingCase> validationCases;
  for (int i = 0; i < o.validationCases; ++i) {
    const std::int64_t index = o.dataDir.empty() ? i : validationSource->size() - 1 - i;
    if (index < 0) break;
    TESSERA_ASSIGN_OR_RETURN(TrainingCase c, validationSource->load(index));
    validationCases.push_back(std::move(c));
  }
  std::vector<const TrainingCase*> validationPointers;
  for (const TrainingCase& c : validationCases) validationPointers.push_back(&c);

  std::unique_ptr<Backend> backend = makeBackend(o.backend);
  ParameterSet& params = model.net->parameters();
  AdamW optimizer(params, AdamWOptions{0.9, 0.999, 1e-8, o.weightDecay});
  std::int64_t step = 0;
  if (o.resume) {
    TESSERA_RETURN_IF_ERROR(applyTrainState(state, params, optimizer));
    step = state.step;
  }

  const std::string logPath = (fs::path(o.outDir) / "train_log.csv").string();
  const std::string valPath = (fs::path(o.outDir) / "validation.csv").string();
  // Logs are rewritten from the checkpoint's history on resume, so a crash
  // between checkpoints never leaves rows the resumed run would repeat.
  std::string logText = o.resume
                            ? state.trainLog
                            : std::string(teacher ? "step,loss,distillation_loss," : "step,loss,") +
                                  "learning_rate,seconds,samples_per_second,peak_mb\n";
  std::string valText = o.resume ? state.validationLog : csvHeader(info);
  PlotData plot =
      o.resume ? PlotData{state.plotSteps, state.plotLosses, state.plotValSteps, state.plotValDice}
               : PlotData{};

  std::map<std::int64_t, TrainingCase> cache;
  TrainerReport report;
  // Steps take seconds: every one is reported, so a sink can stop after any step.
  ProgressTracker tracker(progress, 0.0);
  double lastLoss = 0;
  const std::int64_t firstStep = step;
  auto saveCheckpoint = [&]() -> Status {
    ExportOptions e;
    e.includeTrainingHeads = true;
    TESSERA_RETURN_IF_ERROR(exportOnnx(model, checkpointModel, e));
    TrainState s = captureTrainState(params, optimizer, step);
    s.trainLog = logText;
    s.validationLog = valText;
    s.plotSteps = plot.steps;
    s.plotLosses = plot.losses;
    s.plotValSteps = plot.valSteps;
    s.plotValDice = plot.valDice;
    return writeTrainState(s, checkpointState);
  };
  auto validate = [&]() -> Status {
    const ValidationResult v = validateModel(model, validationPointers, o.validationSlicesPerCase);
    report.validation = v;
    report.validation.step = step;
    std::ostringstream row;
    row << step << "," << v.meanDice;
    for (double d : v.dice) row << "," << (std::isnan(d) ? std::string("") : std::to_string(d));
    valText += row.str() + "\n";
    plot.valSteps.push_back(static_cast<double>(step));
    plot.valDice.push_back(v.meanDice);
    logInfo("step ", step, ": validation mean Dice ", v.meanDice);
    TESSERA_RETURN_IF_ERROR(writeTextFileAtomic(valPath, valText));
    return writePlot(plot, (fs::path(o.outDir) / "training.png").string());
  };

  tracker.report(static_cast<double>(step) / o.steps, "step " + std::to_string(step));
  while (step < o.steps) {
    if (cancel && cancel->cancelled()) {
      TESSERA_RETURN_IF_ERROR(saveCheckpoint());
      return Error{StatusCode::kCancelled, "training cancelled; resume with --resume", o.outDir};
    }
    // The pool for this step; cases leaving it are dropped.
    std::vector<const TrainingCase*> pool;
    std::map<std::int64_t, TrainingCase> next;
    for (int slot = 0; slot < o.poolSize; ++slot) {
      const std::int64_t index =
          poolCaseIndex(slot, o.poolSize, o.poolRefreshSteps, step) % source->size();
      auto it = cache.find(index);
      if (it != cache.end()) {
        next.emplace(index, std::move(it->second));
        cache.erase(it);
      } else if (!next.count(index)) {
        TESSERA_ASSIGN_OR_RETURN(TrainingCase c, source->load(index));
        next.emplace(index, std::move(c));
      }
    }
    cache = std::move(next);
    for (const auto& [index, c] : cache) pool.push_back(&c);

    const auto t0 = Clock::now();
    const TrainingBatch batch = sampleBatch(pool, info, o.sampler, o.batchSize, o.seed, step);
    params.zeroGrad();
    TrainStepOptions stepOptions;
    stepOptions.checkpointing = o.checkpointing;
    stepOptions.halfStorage = o.halfStorage;
    stepOptions.diceWeight = o.diceWeight;
    stepOptions.headWeights = o.headWeights;
    Tensor teacherOut;
    if (teacher) {
      teacherOut = teacherLogits(*teacher, *backend, batch.input);
      TESSERA_RETURN_IF_ERROR(takePluginLayerFailure());
      stepOptions.teacherLogits = &teacherOut;
      stepOptions.temperature = o.temperature;
      stepOptions.distillWeight = o.distillWeight;
    }
    const TrainStepResult r =
        model.net->trainStep(*backend, batch.input, batch.labels, stepOptions);
    TESSERA_RETURN_IF_ERROR(takePluginLayerFailure());
    if (!std::isfinite(r.loss))
      return Error{StatusCode::kInternal,
                   "the loss became " + std::to_string(r.loss) +
                       "; lower --lr or resume from the last checkpoint",
                   o.outDir};
    const double lr = warmupCosine(step, o.warmupSteps, o.steps, o.learningRate, o.minLearningRate);
    optimizer.step(lr);
    ++step;
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    lastLoss = r.loss;
    report.peakBytes = std::max(report.peakBytes, r.peakBytes);
    char line[256];
    if (teacher)
      std::snprintf(line, sizeof line, "%lld,%.6f,%.6f,%.6g,%.3f,%.2f,%.1f\n",
                    static_cast<long long>(step), r.loss, r.distillationLoss, lr, seconds,
                    o.batchSize / seconds, r.peakBytes / 1048576.0);
    else
      std::snprintf(line, sizeof line, "%lld,%.6f,%.6g,%.3f,%.2f,%.1f\n",
                    static_cast<long long>(step), r.loss, lr, seconds, o.batchSize / seconds,
                    r.peakBytes / 1048576.0);
    logText += line;
    plot.steps.push_back(static_cast<double>(step));
    plot.losses.push_back(r.loss);
    if (step % 10 == 0 || step == o.steps)
      TESSERA_RETURN_IF_ERROR(writeTextFileAtomic(logPath, logText));
    if (step % o.validateEvery == 0 || step == o.steps) TESSERA_RETURN_IF_ERROR(validate());
    if (step % o.checkpointEvery == 0 || step == o.steps) TESSERA_RETURN_IF_ERROR(saveCheckpoint());
    char message[128];
    std::snprintf(message, sizeof message, "step %lld/%lld loss %.4f", static_cast<long long>(step),
                  static_cast<long long>(o.steps), r.loss);
    tracker.report(static_cast<double>(step) / o.steps, message);
  }
  TESSERA_RETURN_IF_ERROR(writeTextFileAtomic(logPath, logText));

  // The shipped model keeps the deep-supervision heads: the inference
  // engine's output-driven sparsity settles blocks with them.
  report.modelPath = (fs::path(o.outDir) / "model.onnx").string();
  ExportOptions exportOptions;
  exportOptions.includeTrainingHeads = true;
  TESSERA_RETURN_IF_ERROR(exportOnnx(model, report.modelPath, exportOptions));
  report.steps = step - firstStep;
  report.finalLoss = lastLoss;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace tessera::models
