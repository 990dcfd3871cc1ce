#include "models/infer/segmenter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/support/small_model.h"

namespace tessera::models {
namespace {

std::shared_ptr<const Model> smallModel() {
  return testing::smallEngineModel();
}

Volume randomVolume(std::array<std::int64_t, 3> size, std::uint64_t seed) {
  Geometry g;
  g.size = size;
  g.spacingMm = {0.8, 0.9, 2.0};
  g.originMm = {-10, 20, 30};
  Volume v = std::move(*Volume::create(g));
  std::mt19937_64 rng(seed);
  for (std::int64_t i = 0; i < v.voxelCount(); ++i)
    v.data()[i] = static_cast<std::int16_t>(static_cast<int>(rng() % 2000) - 1000);
  return v;
}

TEST(Segmenter, DenseVolumeMatchesTheEngineSliceBySlice) {
  auto model = smallModel();
  const Volume v = randomVolume({40, 33, 4}, 2);
  Segmenter segmenter(model);
  SegmentOptions options;
  options.mode = SegmentMode::kDense;
  auto result = segmenter.segment(v, options);
  ASSERT_TRUE(result.ok()) << result.error().toString();
  EXPECT_TRUE(sameGeometry(result->labels.labels.geometry(), v.geometry()));
  EXPECT_EQ(result->stats.slices, 4);
  EXPECT_NEAR(result->stats.flops, result->stats.denseFlops, 1e-6 * result->stats.denseFlops);
  auto engine = std::move(*infer::InferenceEngine::create(*model, 40, 33));
  std::vector<std::uint8_t> labels(40 * 33);
  for (int k = 0; k < 4; ++k) {
    // Context slices clamp at the ends of the volume.
    std::vector<const std::int16_t*> ctx{v.slice(std::max(k - 1, 0)), v.slice(k),
                                         v.slice(std::min(k + 1, 3))};
    infer::SliceStats s;
    engine->run(ctx, BlockMask(engine->grid(), true), labels.data(), &s);
    EXPECT_TRUE(std::equal(labels.begin(), labels.end(), result->labels.labels.slice(k))) << k;
  }
}

// With neighbours at a fixed distance, the same anatomy scanned at half the
// spacing gives the same labels on the slices both scans share: what the
// network sees no longer depends on the slice spacing. By index, it does.
TEST(Segmenter, ContextAtAFixedDistanceDoesNotDependOnTheSliceSpacing) {
  const Volume coarse = randomVolume({40, 33, 6}, 5);  // 2 mm slices
  Geometry g = coarse.geometry();
  g.size[2] = 11;
  g.spacingMm[2] = 1.0;
  Volume fine = std::move(*Volume::create(g));  // slice 2k = coarse k, odd slices in between
  for (std::int64_t k = 0; k < 11; ++k)
    for (std::int64_t p = 0; p < 40 * 33; ++p)
      fine.slice(k)[p] =
          k % 2 == 0 ? coarse.slice(k / 2)[p]
                     : static_cast<std::int16_t>(std::lround(0.5f * coarse.slice(k / 2)[p] +
                                                             0.5f * coarse.slice(k / 2 + 1)[p]));
  ModelInfo info = smallModel()->info;
  SegmentOptions options;
  options.mode = SegmentMode::kDense;
  for (const double offset : {2.0, 0.0}) {
    SCOPED_TRACE(offset);
    info.contextOffsetMm = offset;
    auto model = std::make_shared<Model>(std::move(*makeModel(info, 3)));
    Segmenter segmenter(model);
    auto a = segmenter.segment(coarse, options);
    auto b = segmenter.segment(fine, options);
    ASSERT_TRUE(a.ok() && b.ok());
    int same = 0;
    for (std::int64_t k = 1; k < 5; ++k)  // away from the ends, where clamping differs
      same += std::equal(a->labels.labels.slice(k), a->labels.labels.slice(k) + 40 * 33,
                         b->labels.labels.slice(2 * k));
    if (offset > 0)
      EXPECT_EQ(same, 4);
    else
      EXPECT_EQ(same, 0);
  }
}

TEST(Segmenter, FlippedInputGivesFlippedLabels) {
  auto model = smallModel();
  const Volume v = randomVolume({32, 32, 3}, 4);
  Volume flipped = v;
  for (std::int64_t k = 0; k < 3; ++k)
    for (std::int64_t j = 0; j < 32; ++j)
      for (std::int64_t i = 0; i < 32; ++i) flipped.at(i, j, k) = v.at(31 - i, 31 - j, k);
  // Same world: the flipped axes point the other way from the far corner.
  flipped.geometry().direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  flipped.geometry().originMm = v.geometry().worldFromVoxel({31, 31, 0});
  Segmenter segmenter(model);
  SegmentOptions options;
  options.mode = SegmentMode::kDense;
  const auto a = segmenter.segment(v, options);
  const auto b = segmenter.segment(flipped, options);
  ASSERT_TRUE(a.ok() && b.ok());
  for (std::int64_t k = 0; k < 3; ++k)
    for (std::int64_t j = 0; j < 32; ++j)
      for (std::int64_t i = 0; i < 32; ++i)
        ASSERT_EQ(b->labels.labels.at(i, j, k), a->labels.labels.at(31 - i, 31 - j, k));
}

// The SDK hands the segmenter its caller's buffer: a view, read in place,
// in canonical order and (through a copy of its own) in any other.
TEST(Segmenter, AViewOfACallersBufferSegmentsLikeTheVolume) {
  auto model = smallModel();
  const Volume v = randomVolume({32, 24, 3}, 6);
  const std::vector<std::int16_t> buffer(v.data(), v.data() + v.voxelCount());
  Segmenter segmenter(model);
  SegmentOptions options;
  options.mode = SegmentMode::kDense;
  const auto fromVolume = segmenter.segment(v, options);
  const auto fromView = segmenter.segment(VolumeView(buffer.data(), v.geometry()), options);
  ASSERT_TRUE(fromVolume.ok() && fromView.ok());
  EXPECT_EQ(fromView->labels.labels.buffer(), fromVolume->labels.labels.buffer());
  EXPECT_TRUE(sameGeometry(fromView->labels.labels.geometry(), v.geometry()));

  Geometry swapped = v.geometry();  // the same buffer described with i running backwards
  swapped.direction = {-1, 0, 0, 0, 1, 0, 0, 0, 1};
  const Volume owned = [&] {
    Volume copy = v;
    copy.geometry() = swapped;
    return copy;
  }();
  const auto ownedFlipped = segmenter.segment(owned, options);
  const auto viewFlipped = segmenter.segment(VolumeView(buffer.data(), swapped), options);
  ASSERT_TRUE(ownedFlipped.ok() && viewFlipped.ok());
  EXPECT_EQ(viewFlipped->labels.labels.buffer(), ownedFlipped->labels.labels.buffer());
  EXPECT_FALSE(segmenter.segment(VolumeView(nullptr, v.geometry()), options).ok());
}

TEST(Segmenter, SparseSkipsAirAndReportsBlocks) {
  auto model = smallModel();
  Volume v = randomVolume({64, 64, 3}, 5);
  // Air everywhere but one 16×16 block of tissue.
  for (std::int64_t i = 0; i < v.voxelCount(); ++i) v.data()[i] = -1000;
  for (std::int64_t k = 0; k < 3; ++k)
    for (int y = 16; y < 32; ++y)
      for (int x = 32; x < 48; ++x) v.at(x, y, k) = 40;
  Segmenter segmenter(model);
  SegmentOptions options;
  options.keepBlockMap = true;
  options.detector.dilation = 0;
  auto r = segmenter.segment(v, options);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->stats.meanActiveFraction, 1.0 / 16, 1e-9);
  EXPECT_LT(r->stats.flops, 0.2 * r->stats.denseFlops);
  EXPECT_EQ(r->computedBlocks.at(40, 20, 1), 1);
  EXPECT_EQ(r->computedBlocks.at(5, 5, 1), 0);
  EXPECT_EQ(r->labels.labels.at(5, 5, 1), 0);
}

// The slices handed over while segmenting land, through their placement in
// the input's voxel order, exactly where the final labels are, for a volume
// stored in a non-canonical order.
TEST(Segmenter, SlicesArriveInTheInputsVoxelOrder) {
  Volume v = randomVolume({24, 20, 3}, 7);
  Mat3 d{};
  d[3 * 0 + 1] = -1.0;  // input j runs towards patient right
  d[3 * 1 + 2] = 1.0;   // input k runs posterior
  d[3 * 2 + 0] = -1.0;  // input i runs inferior
  v.geometry().direction = d;
  Segmenter segmenter(smallModel());
  SegmentOptions options;
  options.mode = SegmentMode::kDense;
  std::vector<int> arrived(static_cast<std::size_t>(v.voxelCount()), -1);
  int slices = 0;
  options.onSlice = [&](const SlicePlacement& where, const std::uint8_t* labels) {
    ASSERT_TRUE(where.fits(v.geometry().size));
    ++slices;
    for (std::int64_t y = 0; y < where.height; ++y)
      for (std::int64_t x = 0; x < where.width; ++x)
        arrived[static_cast<std::size_t>(where.voxelIndex(x, y))] = labels[y * where.width + x];
  };
  auto r = segmenter.segment(v, options);
  ASSERT_TRUE(r.ok()) << r.error().toString();
  EXPECT_EQ(slices, 24);  // canonical k runs along input i
  for (std::int64_t i = 0; i < v.voxelCount(); ++i)
    ASSERT_EQ(arrived[static_cast<std::size_t>(i)], r->labels.labels.data()[i]) << "voxel " << i;
}

TEST(Segmenter, CancelStopsWithATypedError) {
  auto model = smallModel();
  const Volume v = randomVolume({32, 32, 5}, 6);
  Segmenter segmenter(model);
  CancelToken cancel;
  SegmentOptions options;
  options.cancel = &cancel;
  int seen = 0;
  options.onSlice = [&](const SlicePlacement&, const std::uint8_t*) {
    if (++seen == 2) cancel.cancel();
  };
  auto r = segmenter.segment(v, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, StatusCode::kCancelled);
  EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace tessera::models
