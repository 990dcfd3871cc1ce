#include "core/labels.h"

#include <algorithm>

namespace tessera {

const Label* LabelTable::find(std::uint8_t value) const {
  for (const Label& label : labels)
    if (label.value == value) return &label;
  return nullptr;
}

const Label* LabelTable::findByName(const std::string& name) const {
  for (const Label& label : labels)
    if (label.name == name) return &label;
  return nullptr;
}

std::string LabelTable::nameOf(std::uint8_t value) const {
  if (const Label* label = find(value)) return label->name;
  return "label " + std::to_string(value);
}

int LabelTable::maxValue() const {
  int best = 0;
  for (const Label& label : labels) best = std::max<int>(best, label.value);
  return best;
}

LabelTable defaultLabelTable() {
  return LabelTable{{
      {0, "background", {0, 0, 0}},
      {1, "soft_tissue", {230, 160, 130}},
      {2, "fat", {250, 220, 90}},
      {3, "bone", {240, 240, 225}},
      {4, "lung", {90, 170, 240}},
      {5, "liver", {170, 60, 50}},
      {6, "spleen", {140, 70, 170}},
      {7, "kidney", {60, 190, 90}},
      {8, "brain", {240, 130, 200}},
      {9, "internal_air", {40, 220, 220}},
  }};
}

}  // namespace tessera
