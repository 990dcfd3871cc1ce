// Test fixtures: a minimal DICOM Part 10 writer (explicit VR little endian,
// written from the standard's encoding rules) to craft files the product
// writer would never produce: missing pixel data, gaps, gantry tilt,
// duplicate positions, enhanced multi-frame files, several series.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera::testing {

class DicomBuilder {
 public:
  // String values are padded to even length (UI with NUL, others with space).
  DicomBuilder& text(std::uint16_t group, std::uint16_t element, const char* vr,
                     const std::string& value);
  DicomBuilder& us(std::uint16_t group, std::uint16_t element, std::uint16_t value);
  DicomBuilder& raw(std::uint16_t group, std::uint16_t element, const char* vr,
                    const std::string& bytes);
  DicomBuilder& sequence(std::uint16_t group, std::uint16_t element,
                         const std::vector<DicomBuilder>& items);
  DicomBuilder& remove(std::uint16_t group, std::uint16_t element);

  // The data set (elements in ascending tag order).
  std::string encode() const;
  // Preamble, meta header (explicit VR little endian) and data set.
  bool write(const std::string& path) const;

 private:
  struct Value {
    std::string vr;
    std::string bytes;  // encoded value; for SQ the encoded items
  };
  std::map<std::uint32_t, Value> elements_;
};

struct SliceSpec {
  std::string seriesUid = "1.2.826.0.1.3680043.9.7.1";
  std::string studyUid = "1.2.826.0.1.3680043.9.7.2";
  std::string modality = "CT";
  std::string seriesDescription = "fixture";
  int instance = 1;
  int rows = 4;
  int columns = 5;
  std::array<double, 3> position{0, 0, 0};
  std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
  double rowSpacing = 0.8;     // between rows
  double columnSpacing = 0.7;  // between columns
  double thickness = 2.0;
  double slope = 1.0;
  double intercept = 0.0;
  bool unsignedPixels = false;       // uint16 storage instead of int16
  std::vector<std::int32_t> stored;  // rows × columns stored values, row-major
  bool pixelData = true;
};

DicomBuilder ctSlice(const SliceSpec& spec);

// Stored value of voxel (i, j) of slice k in the fixture series below.
std::int32_t fixtureValue(int i, int j, int k);

// Writes `positions.size()` slices of one series into `dir`, slice k at
// positions[k], with stored values fixtureValue(i, j, k). Files are named
// in reverse slice order and instance numbers are scrambled, so only
// positions can order them.
void writeSeries(const std::string& dir, const SliceSpec& base,
                 const std::vector<std::array<double, 3>>& positions);

}  // namespace tessera::testing
