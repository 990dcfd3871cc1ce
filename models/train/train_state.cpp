#include "models/train/train_state.h"

#include <cstring>
#include <fstream>

#include "core/files.h"
#include "core/json.h"

namespace tessera::models {

namespace {
constexpr char kMagic[8] = {'T', 'E', 'S', 'S', 'T', 'A', 'T', 'E'};
constexpr std::uint32_t kVersion = 1;

JsonValue numbers(const std::vector<double>& values) {
  JsonValue a = JsonValue::array();
  for (double v : values) a.push(JsonValue::number(v));
  return a;
}

std::vector<double> toNumbers(const JsonValue* v) {
  std::vector<double> out;
  if (v)
    for (const JsonValue& item : v->items()) out.push_back(item.asNumber());
  return out;
}
}  // namespace

TrainState captureTrainState(const ParameterSet& params, AdamW& optimizer, std::int64_t step) {
  TrainState s;
  for (const auto& p : params.all()) {
    s.parameterNames.push_back(p->name);
    s.parameters.push_back(p->value.clone());
  }
  s.step = step;
  s.optimizerSteps = optimizer.steps();
  for (const Tensor& t : optimizer.firstMoments()) s.firstMoments.push_back(t.clone());
  for (const Tensor& t : optimizer.secondMoments()) s.secondMoments.push_back(t.clone());
  return s;
}

Status applyTrainState(const TrainState& s, ParameterSet& params, AdamW& optimizer) {
  if (s.parameters.size() != params.all().size())
    return Status(StatusCode::kCorruptData, "the checkpoint's parameters do not match the model");
  for (std::size_t i = 0; i < s.parameters.size(); ++i) {
    Parameter& p = *params.all()[i];
    if (p.name != s.parameterNames[i] || p.value.shape() != s.parameters[i].shape())
      return Status(StatusCode::kCorruptData, "the checkpoint's parameter " + s.parameterNames[i] +
                                                  " does not match the model");
    p.value = s.parameters[i].clone();
    ++p.version;
  }
  auto& m = optimizer.firstMoments();
  auto& v = optimizer.secondMoments();
  if (s.firstMoments.size() != m.size() || s.secondMoments.size() != v.size())
    return Status(StatusCode::kCorruptData,
                  "the checkpoint's optimiser state does not match the model");
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (s.firstMoments[i].shape() != m[i].shape() || s.secondMoments[i].shape() != v[i].shape())
      return Status(StatusCode::kCorruptData,
                    "the checkpoint's optimiser state does not match the model");
    m[i] = s.firstMoments[i].clone();
    v[i] = s.secondMoments[i].clone();
  }
  optimizer.setSteps(s.optimizerSteps);
  return Status();
}

Status writeTrainState(const TrainState& s, const std::string& path) {
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  JsonValue header = JsonValue::object();
  header.set("step", JsonValue::number(static_cast<double>(s.step)));
  header.set("optimizer_steps", JsonValue::number(static_cast<double>(s.optimizerSteps)));
  auto shapeOf = [](const Tensor& t) {
    return numbers({double(t.n()), double(t.c()), double(t.h()), double(t.w())});
  };
  JsonValue params = JsonValue::array();
  for (std::size_t i = 0; i < s.parameters.size(); ++i) {
    JsonValue entry = JsonValue::object();
    entry.set("name", JsonValue::string(s.parameterNames[i]));
    entry.set("shape", shapeOf(s.parameters[i]));
    params.push(entry);
  }
  header.set("parameters", params);
  JsonValue shapes = JsonValue::array();
  for (const Tensor& t : s.firstMoments) shapes.push(shapeOf(t));
  header.set("moment_shapes", shapes);
  header.set("train_log", JsonValue::string(s.trainLog));
  header.set("validation_log", JsonValue::string(s.validationLog));
  header.set("plot_steps", numbers(s.plotSteps));
  header.set("plot_losses", numbers(s.plotLosses));
  header.set("plot_val_steps", numbers(s.plotValSteps));
  header.set("plot_val_dice", numbers(s.plotValDice));
  const std::string json = header.dump(false);

  AtomicFile file(path);
  std::ofstream out(file.tempPath(), std::ios::binary);
  if (!out) return Status(StatusCode::kIoError, "cannot write the training state", path);
  const std::uint64_t length = json.size();
  out.write(kMagic, 8);
  out.write(reinterpret_cast<const char*>(&kVersion), 4);
  out.write(reinterpret_cast<const char*>(&length), 8);
  out.write(json.data(), static_cast<std::streamsize>(json.size()));
  for (const auto* list : {&s.parameters, &s.firstMoments, &s.secondMoments})
    for (const Tensor& t : *list)
      out.write(reinterpret_cast<const char*>(t.data()), static_cast<std::streamsize>(t.bytes()));
  out.close();
  if (!out)
    return Status(StatusCode::kIoError, "writing the training state failed (disk full?)", path);
  return file.commit();
}

Result<TrainState> readTrainState(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{StatusCode::kNotFound, "cannot open the training state", path};
  char magic[8];
  std::uint32_t version = 0;
  std::uint64_t length = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&version), 4);
  in.read(reinterpret_cast<char*>(&length), 8);
  if (!in || std::memcmp(magic, kMagic, 8) != 0)
    return Error{StatusCode::kCorruptData, "not a Tessera training state", path};
  if (version != kVersion)
    return Error{StatusCode::kUnsupported, "training state format " + std::to_string(version),
                 path};
  if (length > (std::uint64_t{1} << 30))
    return Error{StatusCode::kCorruptData, "training state header is implausibly large", path};
  std::string json(length, '\0');
  in.read(json.data(), static_cast<std::streamsize>(length));
  if (!in) return Error{StatusCode::kCorruptData, "training state is truncated", path};
  TESSERA_ASSIGN_OR_RETURN(JsonValue header, parseJson(json));
  TrainState s;
  s.step = static_cast<std::int64_t>(header.getNumber("step"));
  s.optimizerSteps = static_cast<std::int64_t>(header.getNumber("optimizer_steps"));
  s.trainLog = header.getString("train_log");
  s.validationLog = header.getString("validation_log");
  s.plotSteps = toNumbers(header.find("plot_steps"));
  s.plotLosses = toNumbers(header.find("plot_losses"));
  s.plotValSteps = toNumbers(header.find("plot_val_steps"));
  s.plotValDice = toNumbers(header.find("plot_val_dice"));
  const JsonValue* params = header.find("parameters");
  const JsonValue* shapes = header.find("moment_shapes");
  if (!params || !shapes)
    return Error{StatusCode::kCorruptData, "training state lacks its table of contents", path};
  auto readTensor = [&](const JsonValue& shape, std::vector<Tensor>* list) -> Status {
    const auto d = toNumbers(&shape);
    if (d.size() != 4) return Status(StatusCode::kCorruptData, "bad tensor shape", path);
    Shape sh{std::int64_t(d[0]), std::int64_t(d[1]), std::int64_t(d[2]), std::int64_t(d[3])};
    if (sh.n < 0 || sh.c < 0 || sh.h < 0 || sh.w < 0 || sh.count() > (std::int64_t{1} << 28))
      return Status(StatusCode::kCorruptData, "bad tensor shape", path);
    Tensor t = Tensor::zeros(sh);
    in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(t.bytes()));
    if (!in) return Status(StatusCode::kCorruptData, "training state is truncated", path);
    list->push_back(std::move(t));
    return Status();
  };
  for (const JsonValue& entry : params->items()) {
    s.parameterNames.push_back(entry.getString("name"));
    const JsonValue* shape = entry.find("shape");
    if (!shape) return Error{StatusCode::kCorruptData, "bad parameter entry", path};
    TESSERA_RETURN_IF_ERROR(readTensor(*shape, &s.parameters));
  }
  for (auto* list : {&s.firstMoments, &s.secondMoments})
    for (const JsonValue& shape : shapes->items()) TESSERA_RETURN_IF_ERROR(readTensor(shape, list));
  return s;
}

}  // namespace tessera::models
