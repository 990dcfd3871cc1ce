// A crafted NumberOfFrames is refused before memory is spent on it.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <string>

#include "core/memory.h"
#include "core/memory_budget.h"
#include "imaging/dicom/dicom.h"
#include "tests/support/dicom_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
using tessera::testing::SliceSpec;
using tessera::testing::TempDir;

std::int64_t peakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

void writeFramesFile(const std::string& path, const std::string& frames, int rows, int columns) {
  SliceSpec spec;
  spec.rows = rows;
  spec.columns = columns;
  spec.pixelData = false;
  tessera::testing::DicomBuilder file = tessera::testing::ctSlice(spec);
  file.text(0x0028, 0x0008, "IS", frames);
  file.raw(0x7FE0, 0x0010, "OW", std::string(static_cast<std::size_t>(rows) * columns * 2, '\0'));
  ASSERT_TRUE(file.write(path));
}

TEST(DicomFramesLimit, HugeNumberOfFramesIsRefusedQuicklyAndCheaply) {
  TempDir dir;
  writeFramesFile(dir / "frames.dcm", "1000000", 512, 512);
  const std::int64_t before = peakRssKb();
  const auto start = std::chrono::steady_clock::now();
  auto volume = readDicomVolume(dir / "frames.dcm", {});
  auto listing = listDicomSeries(dir.path());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kCorruptData);
  EXPECT_NE(volume.error().message.find("NumberOfFrames says 1000000 frames"), std::string::npos)
      << volume.error().toString();
  EXPECT_NE(volume.error().toString().find("frames.dcm"), std::string::npos);
  // The per-frame table of a million frames alone would take over 100 MiB.
  EXPECT_LT(peakRssKb() - before, 32 * 1024)
      << "peak RSS grew by " << peakRssKb() - before << " KiB";
  EXPECT_LT(seconds, 2.0);
}

TEST(DicomFramesLimit, FramesBeyondTheJobBudgetAreRefused) {
  TempDir dir;
  // 64 frames of 64 x 64 int16 = 512 KiB, all present in the file.
  {
    SliceSpec spec;
    spec.rows = 64;
    spec.columns = 64;
    spec.pixelData = false;
    tessera::testing::DicomBuilder file = tessera::testing::ctSlice(spec);
    file.text(0x0028, 0x0008, "IS", "64");
    file.raw(0x7FE0, 0x0010, "OW", std::string(64 * 64 * 64 * 2, '\0'));
    ASSERT_TRUE(file.write(dir / "frames.dcm"));
  }
  setJobMemoryLimit(memoryStats().currentBytes + 256 * 1024);
  auto volume = readDicomVolume(dir / "frames.dcm", {});
  setJobMemoryLimit(0);
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kResourceExhausted) << volume.error().toString();
  EXPECT_NE(volume.error().message.find("more than the memory limit allows"), std::string::npos)
      << volume.error().toString();
  EXPECT_NE(volume.error().toString().find("frames.dcm"), std::string::npos);
}

}  // namespace
}  // namespace tessera::imaging
