#include <gtest/gtest.h>

#include <QApplication>
#include <QImage>

#include "tests/support/synthetic_study.h"
#include "ui/render/label_surfaces.h"
#include "ui/widgets/view3d_widget.h"
#include "widget_test_support.h"

namespace tessera::ui {
namespace {

struct ColourBlob {
  int count = 0;
  double meanX = 0, meanY = 0;
};

// Pixels whose hue is close to `rgb` (a shaded surface keeps the ratios of
// its colour's channels, not their values).
ColourBlob findColour(const QImage& image, std::array<std::uint8_t, 3> rgb) {
  ColourBlob blob;
  const double norm =
      std::sqrt(double(rgb[0]) * rgb[0] + double(rgb[1]) * rgb[1] + double(rgb[2]) * rgb[2]);
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) {
      const QColor c = image.pixelColor(x, y);
      const double n = std::sqrt(double(c.red()) * c.red() + double(c.green()) * c.green() +
                                 double(c.blue()) * c.blue());
      if (n < 40) continue;
      const double cosine =
          (c.red() * rgb[0] + c.green() * rgb[1] + c.blue() * rgb[2]) / (n * norm);
      if (cosine > 0.995) {
        ++blob.count;
        blob.meanX += x;
        blob.meanY += y;
      }
    }
  if (blob.count > 0) {
    blob.meanX /= blob.count;
    blob.meanY /= blob.count;
  }
  return blob;
}

LabelSurfaces surfacesOf(const testing::SyntheticStudy& study, std::vector<std::uint8_t> values) {
  auto all = buildLabelSurfaces(study.labels);
  EXPECT_TRUE(all.ok());
  LabelSurfaces chosen;
  for (std::uint8_t v : values) chosen[v] = (*all)[v];
  return chosen;
}

class View3DTest : public ::testing::Test {
 protected:
  void SetUp() override { TESSERA_REQUIRE_DISPLAY(); }
};

TEST_F(View3DTest, RendersLabelSurfacesWithPatientLeftOnScreenRight) {
  const auto study = testing::makeStudy();
  View3DWidget view;
  view.resize(360, 280);
  view.show();
  ASSERT_TRUE(testing::waitUntil([&] { return view.glReady(); }));
  view.scene().setCt(std::make_shared<const Volume>(study.ct));
  view.scene().setSurfaces(surfacesOf(study, {5, 7}), study.labels.table);
  view.scene().resetCamera();
  const QImage image = view.grabFramebuffer();
  ASSERT_EQ(image.size(), QSize(360, 280));

  // Seen from the front, the liver sphere (patient's left, high x in LPS)
  // lies on the screen's right and the kidney sphere (patient's right) on
  // its left; the kidney is also lower (inferior) and both are opaque.
  const ColourBlob liver = findColour(image, study.labels.table.find(5)->rgb);
  const ColourBlob kidney = findColour(image, study.labels.table.find(7)->rgb);
  EXPECT_GT(liver.count, 300);
  EXPECT_GT(kidney.count, 100);
  EXPECT_GT(liver.meanX, image.width() / 2.0);
  EXPECT_LT(kidney.meanX, image.width() / 2.0);
  EXPECT_GT(kidney.meanY, liver.meanY);
}

TEST_F(View3DTest, EmptySceneShowsOnlyTheBackgroundAndVolumeRenderingIsNotBlank) {
  const auto study = testing::makeStudy();
  View3DWidget view;
  view.resize(300, 240);
  view.show();
  ASSERT_TRUE(testing::waitUntil([&] { return view.glReady(); }));
  const QImage empty = view.grabFramebuffer();
  // The gradient background is the same in every column of a row (left of
  // the orientation cube in the lower-left corner excluded).
  const int left = empty.width() / 5;
  for (int y = 0; y < empty.height(); y += 7)
    EXPECT_EQ(testing::countNonBackground(empty.copy(left, y, empty.width() - left, 1),
                                          empty.pixelColor(empty.width() / 2, y), 3),
              0)
        << "row " << y;
  // The orientation cube shows in that corner.
  EXPECT_GT(
      testing::countNonBackground(empty.copy(0, empty.height() * 4 / 5, left, empty.height() / 5),
                                  empty.pixelColor(empty.width() / 2, empty.height() * 9 / 10), 10),
      100);
  view.scene().setCt(std::make_shared<const Volume>(study.ct));
  view.scene().setVolumePreset(VolumePreset::kSoftTissue);
  const QImage rendered = view.grabFramebuffer();
  int changed = 0;
  for (int y = 0; y < rendered.height(); ++y)
    for (int x = 0; x < rendered.width(); ++x) changed += rendered.pixel(x, y) != empty.pixel(x, y);
  EXPECT_GT(changed, rendered.width() * rendered.height() / 20);
}

TEST_F(View3DTest, CameraMovesChangeTheImageAndResetRestoresIt) {
  const auto study = testing::makeStudy();
  View3DWidget view;
  view.resize(300, 240);
  view.show();
  ASSERT_TRUE(testing::waitUntil([&] { return view.glReady(); }));
  view.scene().setCt(std::make_shared<const Volume>(study.ct));
  view.scene().setSurfaces(surfacesOf(study, {5, 7}), study.labels.table);
  view.scene().resetCamera();
  const QImage front = view.grabFramebuffer();
  view.scene().rotate(150, 0, {300, 240});
  const QImage turned = view.grabFramebuffer();
  EXPECT_NE(front, turned);
  view.scene().zoom(1.5);
  EXPECT_NE(view.grabFramebuffer(), turned);
  view.scene().resetCamera();
  EXPECT_EQ(view.grabFramebuffer(), front);
}

}  // namespace
}  // namespace tessera::ui
