// Label vocabulary: values in a LabelMap with names and display colours.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera {

struct Label {
  std::uint8_t value = 0;
  std::string name;
  std::array<std::uint8_t, 3> rgb{0, 0, 0};
};

struct LabelTable {
  std::vector<Label> labels;  // sorted by value; value 0 is background

  const Label* find(std::uint8_t value) const;
  const Label* findByName(const std::string& name) const;
  std::string nameOf(std::uint8_t value) const;  // "label N" when unknown
  int maxValue() const;
};

// Tessera's v1 label set (docs/PHANTOMS.md): the phantoms' ground truth and the
// default model's outputs.
enum class TissueLabel : std::uint8_t {
  kBackground = 0,
  kSoftTissue = 1,
  kFat = 2,
  kBone = 3,
  kLung = 4,
  kLiver = 5,
  kSpleen = 6,
  kKidney = 7,
  kBrain = 8,
  kInternalAir = 9,
};
constexpr int kTissueLabelCount = 10;

LabelTable defaultLabelTable();

}  // namespace tessera
