// Stored voxel types other than int16, NIfTI rescale and NIfTI spatial
// transforms. Typed fixture files are written by ITK directly (the product
// writes int16 only) or byte by byte from the NIfTI specification.
#include <gtest/gtest.h>
#include <itkImage.h>
#include <itkImageFileWriter.h>
#include <itkMetaImageIO.h>
#include <itkNiftiImageIO.h>
#include <itkNrrdImageIO.h>

#include <cmath>
#include <limits>

#include "core/files.h"
#include "imaging/io/volume_io.h"
#include "tests/support/nifti_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
using tessera::testing::Nifti1Spec;
using tessera::testing::rawBytes;
using tessera::testing::TempDir;
using tessera::testing::writeNifti1;

template <class T>
void writeWithItk(const std::string& path, const std::vector<T>& values) {
  using ItkImage = itk::Image<T, 3>;
  auto image = ItkImage::New();
  typename ItkImage::RegionType region;
  region.SetSize({static_cast<itk::SizeValueType>(values.size()), 1, 1});
  image->SetRegions(region);
  typename ItkImage::SpacingType spacing;
  spacing[0] = 0.5;
  spacing[1] = 0.75;
  spacing[2] = 2.0;
  image->SetSpacing(spacing);
  image->Allocate();
  for (std::size_t i = 0; i < values.size(); ++i)
    image->SetPixel({static_cast<itk::IndexValueType>(i), 0, 0}, values[i]);
  auto writer = itk::ImageFileWriter<ItkImage>::New();
  const std::string ext = fullExtension(path);
  if (ext == ".nrrd")
    writer->SetImageIO(itk::NrrdImageIO::New());
  else if (ext == ".mha")
    writer->SetImageIO(itk::MetaImageIO::New());
  else
    writer->SetImageIO(itk::NiftiImageIO::New());
  writer->SetInput(image);
  writer->SetFileName(path);
  writer->Update();
}

template <class T>
void expectReadsAs(const std::string& path, const std::vector<T>& stored,
                   const std::vector<int>& hu, ComponentType type) {
  SCOPED_TRACE(path);
  writeWithItk<T>(path, stored);
  auto header = readHeader(path);
  ASSERT_TRUE(header.ok()) << header.error().toString();
  EXPECT_EQ(header->componentType, type) << componentTypeName(header->componentType);
  ReadReport report;
  ReadOptions options;
  options.report = &report;
  auto volume = readVolume(path, options);
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_EQ(report.header.componentType, type);
  ASSERT_EQ(volume->voxelCount(), static_cast<std::int64_t>(hu.size()));
  for (std::size_t i = 0; i < hu.size(); ++i) EXPECT_EQ(volume->data()[i], hu[i]) << "voxel " << i;
  EXPECT_NEAR(volume->geometry().spacingMm[1], 0.75, 1e-9);
}

TEST(PixelTypes, EveryStoredTypeKeepsItsHounsfieldValues) {
  TempDir dir;
  for (const char* ext : {".nii.gz", ".nrrd", ".mha"}) {
    const std::string e = ext;
    expectReadsAs<std::int16_t>(dir / ("i16" + e), {-1024, 0, 3071, -32768, 32767},
                                {-1024, 0, 3071, -32768, 32767}, ComponentType::kInt16);
    expectReadsAs<std::uint16_t>(dir / ("u16" + e), {0, 1000, 32767}, {0, 1000, 32767},
                                 ComponentType::kUInt16);
    expectReadsAs<std::int32_t>(dir / ("i32" + e), {-1024, 0, 3071, -32768},
                                {-1024, 0, 3071, -32768}, ComponentType::kInt32);
    expectReadsAs<float>(dir / ("f32" + e), {-1024.0f, 0.0f, 3071.0f}, {-1024, 0, 3071},
                         ComponentType::kFloat32);
    expectReadsAs<double>(dir / ("f64" + e), {-1024.0, 40.0, 3071.0}, {-1024, 40, 3071},
                          ComponentType::kFloat64);
  }
}

TEST(PixelTypes, ValuesOutsideInt16AreRefusedNotClipped) {
  TempDir dir;
  writeWithItk<std::uint16_t>(dir / "u16.nii.gz", {0, 40000});
  auto volume = readVolume(dir / "u16.nii.gz");
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kUnsupported);
  EXPECT_NE(volume.error().message.find("40000"), std::string::npos) << volume.error().message;
  EXPECT_NE(volume.error().message.find("Hounsfield range"), std::string::npos);

  writeWithItk<std::int32_t>(dir / "i32.nrrd", {-40000});
  volume = readVolume(dir / "i32.nrrd");
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kUnsupported);
}

TEST(PixelTypes, FractionalValuesAreRoundedWithAWarning) {
  TempDir dir;
  writeWithItk<float>(dir / "f.mha", {1.4f, -2.6f, 3.0f});
  ReadReport report;
  ReadOptions options;
  options.report = &report;
  auto volume = readVolume(dir / "f.mha", options);
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_EQ(volume->data()[0], 1);
  EXPECT_EQ(volume->data()[1], -3);
  EXPECT_EQ(volume->data()[2], 3);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("2 of 3 voxel values"), std::string::npos)
      << report.warnings[0];
}

TEST(PixelTypes, NonFiniteValuesAreRefused) {
  TempDir dir;
  // NIfTI's reference library would turn NaN into 0 unnoticed; Tessera refuses.
  for (const char* name : {"nan.nii", "nan.nii.gz", "nan.nrrd", "nan.mha"}) {
    SCOPED_TRACE(name);
    writeWithItk<float>(dir / name, {0.0f, std::numeric_limits<float>::quiet_NaN(), 5.0f});
    auto volume = readVolume(dir / name);
    ASSERT_FALSE(volume.ok());
    EXPECT_EQ(volume.error().code, StatusCode::kCorruptData);
    EXPECT_NE(volume.error().message.find("not finite"), std::string::npos)
        << volume.error().message;
  }
}

TEST(Nifti, SclSlopeAndInterceptAreAppliedToStoredValues) {
  TempDir dir;
  Nifti1Spec spec;
  spec.dims = {3, 1, 1};
  spec.datatype = 512;  // NIFTI_TYPE_UINT16
  spec.bitpix = 16;
  spec.sclSlope = 2.0f;
  spec.sclInter = -1024.0f;
  writeNifti1(dir / "scaled.nii", spec, rawBytes<std::uint16_t>({0, 100, 2000}));
  auto header = readHeader(dir / "scaled.nii");
  ASSERT_TRUE(header.ok()) << header.error().toString();
  EXPECT_EQ(header->componentType, ComponentType::kUInt16);
  EXPECT_EQ(header->rescaleSlope, 2.0);
  EXPECT_EQ(header->rescaleIntercept, -1024.0);
  auto volume = readVolume(dir / "scaled.nii");
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_EQ(volume->data()[0], -1024);
  EXPECT_EQ(volume->data()[1], -824);
  EXPECT_EQ(volume->data()[2], 2976);
}

// NIfTI stores RAS; Tessera's geometry is LPS: x and y change sign.
TEST(Nifti, SformIsConvertedFromRasToLps) {
  TempDir dir;
  Nifti1Spec spec;
  spec.pixdim = {0.5f, 0.75f, 2.0f};
  spec.sformCode = 1;
  spec.srow = {{{-0.5f, 0, 0, 10}, {0, 0.75f, 0, 20}, {0, 0, 2.0f, 30}}};
  writeNifti1(dir / "sform.nii", spec, rawBytes<std::int16_t>({1, 2, 3, 4}));
  auto header = readHeader(dir / "sform.nii");
  ASSERT_TRUE(header.ok()) << header.error().toString();
  const Geometry& g = header->geometry;
  EXPECT_NEAR(g.originMm[0], -10, 1e-5);
  EXPECT_NEAR(g.originMm[1], -20, 1e-5);
  EXPECT_NEAR(g.originMm[2], 30, 1e-5);
  EXPECT_NEAR(g.spacingMm[0], 0.5, 1e-6);
  EXPECT_NEAR(g.spacingMm[1], 0.75, 1e-6);
  EXPECT_NEAR(g.spacingMm[2], 2.0, 1e-6);
  const Mat3 expected{1, 0, 0, 0, -1, 0, 0, 0, 1};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(g.direction[i], expected[i], 1e-6) << i;
  EXPECT_EQ(orientationCode(g.direction), "LAS");
}

TEST(Nifti, QformIsConvertedFromRasToLps) {
  TempDir dir;
  Nifti1Spec spec;
  spec.pixdim = {0.5f, 0.75f, 2.0f};
  spec.qformCode = 1;
  spec.qfac = -1;  // third axis flipped: inferior
  spec.quaternion = {0, 0, 0};
  spec.qoffset = {10, 20, 30};
  writeNifti1(dir / "qform.nii", spec, rawBytes<std::int16_t>({1, 2, 3, 4}));
  auto header = readHeader(dir / "qform.nii");
  ASSERT_TRUE(header.ok()) << header.error().toString();
  const Geometry& g = header->geometry;
  EXPECT_NEAR(g.originMm[0], -10, 1e-5);
  EXPECT_NEAR(g.originMm[1], -20, 1e-5);
  EXPECT_NEAR(g.originMm[2], 30, 1e-5);
  const Mat3 expected{-1, 0, 0, 0, -1, 0, 0, 0, -1};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(g.direction[i], expected[i], 1e-6) << i;
  EXPECT_EQ(orientationCode(g.direction), "RAI");
}

}  // namespace
}  // namespace tessera::imaging
