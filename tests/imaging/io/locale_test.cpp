// Readers do not follow the process locale: under de_DE.UTF-8 (decimal
// comma) a DICOM series with decimal positions and spacing and a NIfTI read
// exactly as under the C locale.
#include <gtest/gtest.h>

#include <clocale>
#include <string>

#include "imaging/io/volume_io.h"
#include "tests/support/dicom_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
using tessera::testing::SliceSpec;
using tessera::testing::TempDir;

// Switches LC_ALL for the scope; skips when the locale is not installed.
struct GermanLocale {
  bool active = false;
  GermanLocale() { active = std::setlocale(LC_ALL, "de_DE.UTF-8") != nullptr; }
  ~GermanLocale() { std::setlocale(LC_ALL, "C"); }
};

void expectSameGeometry(const Geometry& c, const Geometry& de) {
  EXPECT_EQ(c.size, de.size);
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(c.spacingMm[a], de.spacingMm[a]) << "axis " << a;
    EXPECT_EQ(c.originMm[a], de.originMm[a]) << "axis " << a;
  }
}

TEST(Locale, DicomSeriesWithDecimalPositionsReadsTheSameUnderAGermanLocale) {
  TempDir dir;
  SliceSpec spec;
  spec.rowSpacing = 0.625;
  spec.columnSpacing = 0.7;
  spec.thickness = 1.25;
  tessera::testing::writeSeries(dir.path(), spec,
                                {{-12.5, 3.75, 0.5}, {-12.5, 3.75, 1.75}, {-12.5, 3.75, 3.0}});
  auto c = readVolume(dir.path());
  ASSERT_TRUE(c.ok()) << c.error().toString();
  EXPECT_NEAR(c->geometry().spacingMm[1], 0.625, 1e-12);
  EXPECT_NEAR(c->geometry().spacingMm[2], 1.25, 1e-12);
  GermanLocale german;
  if (!german.active) GTEST_SKIP() << "de_DE.UTF-8 is not installed (scripts/setup)";
  auto de = readVolume(dir.path());
  ASSERT_TRUE(de.ok()) << de.error().toString();
  expectSameGeometry(c->geometry(), de->geometry());
  EXPECT_EQ(c->buffer(), de->buffer());
}

TEST(Locale, NiftiRoundTripIsTheSameUnderAGermanLocale) {
  TempDir dir;
  Geometry g;
  g.size = {4, 3, 2};
  g.spacingMm = {0.75, 0.8, 2.5};
  g.originMm = {-10.25, 4.5, 0.125};
  auto volume = Volume::create(g, 7);
  ASSERT_TRUE(volume.ok());
  ASSERT_TRUE(writeVolume(*volume, dir / "c.nii.gz").ok());
  auto c = readVolume(dir / "c.nii.gz");
  ASSERT_TRUE(c.ok()) << c.error().toString();
  GermanLocale german;
  if (!german.active) GTEST_SKIP() << "de_DE.UTF-8 is not installed (scripts/setup)";
  ASSERT_TRUE(writeVolume(*volume, dir / "de.nii.gz").ok());
  auto de = readVolume(dir / "de.nii.gz");
  ASSERT_TRUE(de.ok()) << de.error().toString();
  expectSameGeometry(c->geometry(), de->geometry());
  auto cInDe = readVolume(dir / "c.nii.gz");
  ASSERT_TRUE(cInDe.ok());
  expectSameGeometry(c->geometry(), cInDe->geometry());
}

}  // namespace
}  // namespace tessera::imaging
