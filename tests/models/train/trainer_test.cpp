#include "models/train/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/files.h"
#include "models/io/onnx_model.h"
#include "models/train/dataset.h"
#include "models/train/train_settings.h"

namespace tessera::models {
namespace {
namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_trainer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TrainerOptions options(const std::string& name) const {
    TrainerOptions o;
    o.outDir = (dir_ / name).string();
    o.model.architecture.inputChannels = 3;
    o.model.architecture.baseWidth = 16;
    o.model.architecture.levels = 2;
    o.model.architecture.attentionHeads = 2;
    o.model.labels = defaultLabelTable();
    o.model.architecture.classes = static_cast<int>(o.model.labels.labels.size());
    o.seed = 5;
    o.steps = 3;
    o.batchSize = 2;
    o.sampler.crop = 32;
    o.warmupSteps = 1;
    o.poolSize = 1;
    o.phantoms.matrix = 64;
    o.phantoms.slices = 12;
    o.validationCases = 1;
    o.validationSlicesPerCase = 2;
    o.validateEvery = 3;
    o.checkpointEvery = 1;
    return o;
  }

  static std::vector<Tensor> weights(const std::string& modelPath) {
    auto model = importOnnx(modelPath);
    EXPECT_TRUE(model.ok()) << (model.ok() ? "" : model.error().toString());
    std::vector<Tensor> out;
    if (model.ok())
      for (const auto& p : model->net->parameters().all()) out.push_back(p->value.clone());
    return out;
  }

  fs::path dir_;
};

// Cancels once the tracker reports a given fraction.
struct CancelAt : ProgressSink {
  CancelToken token;
  double at;
  explicit CancelAt(double fraction) : at(fraction) {}
  void update(const ProgressUpdate& u) override {
    if (u.fraction >= at) token.cancel();
  }
};

TEST_F(TrainerTest, WritesLogsPlotCheckpointAndModel) {
  auto report = train(options("a"), nullptr, nullptr);
  ASSERT_TRUE(report.ok()) << report.error().toString();
  EXPECT_EQ(report->steps, 3);
  EXPECT_TRUE(std::isfinite(report->finalLoss));
  EXPECT_GT(report->peakBytes, 0);
  for (const char* f : {"train_log.csv", "validation.csv", "training.png", "checkpoint.onnx",
                        "checkpoint.state", "model.onnx"})
    EXPECT_TRUE(fileExists((dir_ / "a" / f).string())) << f;
  auto log = readTextFile((dir_ / "a" / "train_log.csv").string());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(std::count(log->begin(), log->end(), '\n'), 4);  // header + 3 steps
  // The shipped model keeps the deep-supervision heads (output-driven sparsity needs them).
  auto info = readOnnxInfo((dir_ / "a" / "model.onnx").string());
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->architecture.deepSupervision);
}

TEST_F(TrainerTest, SameSeedAndThreadsGiveIdenticalWeights) {
  ASSERT_TRUE(train(options("a"), nullptr, nullptr).ok());
  ASSERT_TRUE(train(options("b"), nullptr, nullptr).ok());
  const auto a = weights((dir_ / "a" / "model.onnx").string());
  const auto b = weights((dir_ / "b" / "model.onnx").string());
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(maxAbsoluteDifference(a[i], b[i]), 0.0) << i;
}

TEST_F(TrainerTest, ResumedRunEqualsAnUninterruptedOne) {
  ASSERT_TRUE(train(options("full"), nullptr, nullptr).ok());
  CancelAt stopper(0.6);  // after step 2 of 3
  auto cancelled = train(options("resumed"), &stopper, &stopper.token);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, StatusCode::kCancelled);
  EXPECT_FALSE(fileExists((dir_ / "resumed" / "model.onnx").string()));
  TrainerOptions resume = options("resumed");
  resume.resume = true;
  auto finished = train(resume, nullptr, nullptr);
  ASSERT_TRUE(finished.ok()) << finished.error().toString();
  EXPECT_EQ(finished->steps, 1);
  const auto a = weights((dir_ / "full" / "model.onnx").string());
  const auto b = weights((dir_ / "resumed" / "model.onnx").string());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(maxAbsoluteDifference(a[i], b[i]), 0.0) << i;
  auto logA = readTextFile((dir_ / "full" / "train_log.csv").string());
  auto logB = readTextFile((dir_ / "resumed" / "train_log.csv").string());
  ASSERT_TRUE(logA.ok() && logB.ok());
  // Same rows apart from the timing columns.
  EXPECT_EQ(std::count(logA->begin(), logA->end(), '\n'),
            std::count(logB->begin(), logB->end(), '\n'));
}

TEST_F(TrainerTest, FineTunedModelRecordsBothTrainingRuns) {
  TrainerOptions first = options("first");
  first.model.trainingSummary = "first run";
  ASSERT_TRUE(train(first, nullptr, nullptr).ok());
  TrainerOptions second = options("second");
  second.initModel = (dir_ / "first" / "model.onnx").string();
  second.model.trainingSummary = "second run";
  ASSERT_TRUE(train(second, nullptr, nullptr).ok());
  auto info = readOnnxInfo((dir_ / "second" / "model.onnx").string());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->trainingSummary, "first run; then fine-tuned: second run");
}

TEST_F(TrainerTest, ResumeWithoutCheckpointAndBadOptionsAreClearErrors) {
  TrainerOptions o = options("none");
  o.resume = true;
  auto r = train(o, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, StatusCode::kNotFound);
  o = options("bad");
  o.sampler.crop = 30;
  EXPECT_EQ(train(o, nullptr, nullptr).error().code, StatusCode::kInvalidArgument);
}

// The distillation_loss column of a run's train_log.csv, checking its header.
std::vector<double> distillationLosses(const std::string& outDir) {
  auto log = readTextFile((fs::path(outDir) / "train_log.csv").string());
  EXPECT_TRUE(log.ok());
  std::vector<double> values;
  if (!log.ok()) return values;
  std::istringstream rows(*log);
  std::string line;
  std::getline(rows, line);
  EXPECT_EQ(line, "step,loss,distillation_loss,learning_rate,seconds,samples_per_second,peak_mb");
  while (std::getline(rows, line)) {
    const std::size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    values.push_back(std::stod(line.substr(b + 1, c - b - 1)));
  }
  return values;
}

// Knowledge distillation: a fresh student takes the teacher's labels,
// normalisation and context, logs the distillation loss, and learning the
// teacher's softened outputs brings that loss down.
TEST_F(TrainerTest, DistillationPullsTheStudentTowardsTheTeacher) {
  ModelInfo teacherInfo = options("unused").model;
  teacherInfo.architecture.inputChannels = 1;
  teacherInfo.architecture.baseWidth = 8;
  teacherInfo.architecture.attentionHeads = 0;
  teacherInfo.architecture.deepSupervision = true;
  teacherInfo.labels.labels.resize(4);
  teacherInfo.labels.labels[3].name = "renamed";
  teacherInfo.architecture.classes = 4;
  teacherInfo.input.huScale = 500.0f;
  auto teacher = makeModel(teacherInfo, 77);
  ASSERT_TRUE(teacher.ok()) << teacher.error().toString();
  const std::string teacherPath = (dir_ / "teacher.onnx").string();
  ASSERT_TRUE(exportOnnx(*teacher, teacherPath).ok());

  TrainerOptions o = options("student");
  o.teacherModel = teacherPath;
  o.temperature = 2.0;
  o.distillWeight = 5.0;
  o.diceWeight = 0.0;
  o.steps = 16;
  o.warmupSteps = 0;
  o.learningRate = 5e-3;
  o.validateEvery = o.checkpointEvery = 16;
  o.model.architecture.baseWidth = 8;
  auto report = train(o, nullptr, nullptr);
  ASSERT_TRUE(report.ok()) << report.error().toString();
  auto student = readOnnxInfo(report->modelPath);
  ASSERT_TRUE(student.ok()) << student.error().toString();
  EXPECT_EQ(student->architecture.classes, 4);
  EXPECT_EQ(student->architecture.inputChannels, 1);
  EXPECT_EQ(student->labels.labels[3].name, "renamed");
  EXPECT_EQ(student->input.huScale, 500.0f);
  EXPECT_EQ(student->architecture.baseWidth, 8);

  const std::vector<double> taught = distillationLosses((dir_ / "student").string());
  // The same run, batches and initial weights with the term weighted 0: the
  // loss is still logged, but nothing pulls the student towards the teacher.
  o.outDir = (dir_ / "control").string();
  o.distillWeight = 0.0;
  ASSERT_TRUE(train(o, nullptr, nullptr).ok());
  const std::vector<double> control = distillationLosses(o.outDir);
  ASSERT_EQ(taught.size(), 16u);
  ASSERT_EQ(control.size(), 16u);
  EXPECT_EQ(taught[0], control[0]);  // the same starting point
  auto lastSteps = [](const std::vector<double>& v) { return (v[12] + v[13] + v[14] + v[15]) / 4; };
  EXPECT_GT(taught[0], 0.0);
  EXPECT_LT(lastSteps(taught), 0.75 * taught[0]);
  EXPECT_LT(lastSteps(taught), 0.75 * lastSteps(control));
}

TEST_F(TrainerTest, ATeacherThatDoesNotMatchTheStudentIsRefused) {
  ASSERT_TRUE(train(options("plain"), nullptr, nullptr).ok());
  const std::string plainModel = (dir_ / "plain" / "model.onnx").string();
  ModelInfo otherInfo = options("unused").model;
  otherInfo.labels.labels.resize(3);
  otherInfo.architecture.classes = 3;
  auto other = makeModel(otherInfo, 3);
  ASSERT_TRUE(other.ok());
  const std::string otherPath = (dir_ / "other.onnx").string();
  ASSERT_TRUE(exportOnnx(*other, otherPath).ok());

  TrainerOptions o = options("init");
  o.initModel = plainModel;
  o.teacherModel = otherPath;
  auto r = train(o, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("differ in their classes (10 and 3)"), std::string::npos)
      << r.error().toString();
  EXPECT_FALSE(fs::exists(dir_ / "init" / "model.onnx"));

  o = options("missing");
  o.teacherModel = (dir_ / "no_such.onnx").string();
  r = train(o, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot read the teacher"), std::string::npos)
      << r.error().toString();

  // A run without a teacher is not resumed with one, nor the other way round.
  o = options("plain");
  o.resume = true;
  o.teacherModel = plainModel;
  r = train(o, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("this run had no teacher"), std::string::npos)
      << r.error().toString();
}

TEST(PhantomSourceTest, SpacingIsDrawnPerCaseWithinTheRangeAndRealisticPhantomsDiffer) {
  PhantomSourceOptions o;
  o.seed = 3;
  o.matrix = 64;
  o.slices = 4;
  o.headFraction = 0;
  o.spacingMinMm = 1;
  o.spacingMaxMm = 5;
  const auto drawn = makePhantomSource(o);
  std::vector<double> spacings;
  for (int i = 0; i < 6; ++i) {
    auto c = drawn->load(i);
    ASSERT_TRUE(c.ok()) << c.error().toString();
    spacings.push_back(c->ct.geometry().spacingMm[2]);
    EXPECT_GE(spacings.back(), 1.0 - 1e-9);
    EXPECT_LE(spacings.back(), 5.0 + 1e-9);
  }
  EXPECT_GT(*std::max_element(spacings.begin(), spacings.end()) -
                *std::min_element(spacings.begin(), spacings.end()),
            1.0);
  // The same case drawn twice is the same volume; the realistic variety of
  // it is another scan of that patient.
  auto again = drawn->load(2);
  auto first = drawn->load(2);
  ASSERT_TRUE(again.ok() && first.ok());
  EXPECT_TRUE(
      std::equal(again->ct.data(), again->ct.data() + again->ct.voxelCount(), first->ct.data()));
  o.realistic = true;
  auto realistic = makePhantomSource(o)->load(2);
  ASSERT_TRUE(realistic.ok()) << realistic.error().toString();
  EXPECT_EQ(realistic->ct.geometry().spacingMm[2], first->ct.geometry().spacingMm[2]);
  EXPECT_FALSE(std::equal(realistic->ct.data(), realistic->ct.data() + realistic->ct.voxelCount(),
                          first->ct.data()));
}

TEST(TrainSettingsTest, PhantomAndAugmentationOptionsAreParsedAndChecked) {
  TrainSettings s;
  ASSERT_TRUE(s.set("out", "/tmp/x").ok());
  ASSERT_TRUE(s.set("phantoms", "realistic").ok());
  ASSERT_TRUE(s.set("spacing", "1-5").ok());
  ASSERT_TRUE(s.set("hu-shift", "50").ok());
  ASSERT_TRUE(s.set("elastic", "4").ok());
  auto o = s.toTrainerOptions();
  ASSERT_TRUE(o.ok()) << o.error().toString();
  EXPECT_TRUE(o->phantoms.realistic);
  EXPECT_EQ(o->phantoms.spacingMinMm, 1);
  EXPECT_EQ(o->phantoms.spacingMaxMm, 5);
  EXPECT_EQ(o->sampler.maxHuShift, 50);
  EXPECT_EQ(o->sampler.elasticPx, 4);
  EXPECT_NE(o->model.trainingSummary.find("--phantoms realistic --spacing 1-5"), std::string::npos)
      << o->model.trainingSummary;
  ASSERT_TRUE(s.set("spacing", "2.5").ok());
  o = s.toTrainerOptions();
  ASSERT_TRUE(o.ok()) << o.error().toString();
  EXPECT_EQ(o->phantoms.spacingMinMm, 2.5);
  EXPECT_EQ(o->phantoms.spacingMaxMm, 2.5);
  for (const char* bad : {"5-1", "0.1-2", "1-", "one", "1-5-7"}) {
    ASSERT_TRUE(s.set("spacing", bad).ok());
    auto r = s.toTrainerOptions();
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().toString().find("--spacing"), std::string::npos) << r.error().toString();
  }
  ASSERT_TRUE(s.set("spacing", "0").ok());
  ASSERT_TRUE(s.set("phantoms", "fancy").ok());
  auto r = s.toTrainerOptions();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().toString().find("classic or realistic"), std::string::npos);
}

}  // namespace
}  // namespace tessera::models
