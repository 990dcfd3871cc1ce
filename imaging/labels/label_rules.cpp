#include "imaging/labels/label_rules.h"

#include <itkBinaryFillholeImageFilter.h>
#include <itkConnectedComponentImageFilter.h>
#include <itkImage.h>
#include <itkRelabelComponentImageFilter.h>

#include <algorithm>
#include <array>
#include <new>
#include <string>

#include "imaging/internal/itk_support.h"

namespace tessera::imaging {
namespace {

using MaskImage = itk::Image<std::uint8_t, 3>;
using ComponentImage = itk::Image<std::uint32_t, 3>;

// A 0/1 mask of `label`, with the label map's geometry (spacing does not
// matter to connectivity, but keeps the image honest).
MaskImage::Pointer maskOf(const Image<std::uint8_t>& labels, std::uint8_t label) {
  MaskImage::Pointer mask = MaskImage::New();
  toItkGeometry(labels.geometry(), mask.GetPointer());
  mask->Allocate();
  std::uint8_t* out = mask->GetBufferPointer();
  const std::uint8_t* in = labels.data();
  for (std::int64_t v = 0; v < labels.voxelCount(); ++v) out[v] = in[v] == label ? 1 : 0;
  return mask;
}

std::int64_t removeOnSlices(Image<std::uint8_t>& labels, const LabelRule& rule) {
  std::array<bool, 256> excluding{};
  for (std::uint8_t v : rule.notOnSlicesWith) excluding[v] = true;
  std::int64_t removed = 0;
  const std::int64_t plane = labels.nx() * labels.ny();
  for (std::int64_t k = 0; k < labels.nz(); ++k) {
    std::uint8_t* s = labels.slice(k);
    std::int64_t own = 0, others = 0;
    for (std::int64_t p = 0; p < plane; ++p) {
      own += s[p] == rule.label;
      others += excluding[s[p]];
    }
    if (own == 0 || others <= own) continue;
    std::replace(s, s + plane, rule.label, std::uint8_t{0});
    removed += own;
  }
  return removed;
}

void removeComponents(Image<std::uint8_t>& labels, const LabelRule& rule,
                      LabelRuleOutcome* outcome) {
  using Components = itk::ConnectedComponentImageFilter<MaskImage, ComponentImage>;
  using Relabel = itk::RelabelComponentImageFilter<ComponentImage, ComponentImage>;
  auto components = Components::New();
  components->SetInput(maskOf(labels, rule.label));
  components->SetFullyConnected(true);  // 26-connected
  components->SetBackgroundValue(0);
  auto relabel = Relabel::New();  // 1 = largest, 2 = next, ...
  relabel->SetInput(components->GetOutput());
  relabel->Update();
  // Components come ranked by size: ranks 1..kept stay.
  const std::vector<Relabel::ObjectSizeType>& sizes = relabel->GetSizeOfObjectsInPixels();
  const Geometry& g = labels.geometry();
  const double voxelMl = g.voxelVolumeMm3() / 1000.0;
  std::size_t kept = rule.keepLargest > 0
                         ? std::min(sizes.size(), static_cast<std::size_t>(rule.keepLargest))
                         : sizes.size();
  while (kept > 0 && static_cast<double>(sizes[kept - 1]) * voxelMl < rule.minComponentMl) --kept;
  if (kept == sizes.size()) return;
  outcome->componentsRemoved = static_cast<std::int64_t>(sizes.size() - kept);
  const std::uint32_t* rank = relabel->GetOutput()->GetBufferPointer();
  std::uint8_t* l = labels.data();
  for (std::int64_t v = 0; v < labels.voxelCount(); ++v)
    if (rank[v] > kept) {
      l[v] = 0;
      ++outcome->removedComponentVoxels;
    }
}

std::int64_t fillHoles(Image<std::uint8_t>& labels, const LabelRule& rule) {
  using Fill = itk::BinaryFillholeImageFilter<MaskImage>;
  auto fill = Fill::New();
  fill->SetInput(maskOf(labels, rule.label));
  fill->SetForegroundValue(1);
  fill->SetFullyConnected(false);  // background connects through faces only
  fill->Update();
  const std::uint8_t* filled = fill->GetOutput()->GetBufferPointer();
  std::uint8_t* l = labels.data();
  std::int64_t count = 0;
  for (std::int64_t v = 0; v < labels.voxelCount(); ++v)
    if (filled[v] && l[v] == 0) {
      l[v] = rule.label;
      ++count;
    }
  return count;
}

}  // namespace

Result<std::vector<LabelRuleOutcome>> applyLabelRules(Image<std::uint8_t>& labels,
                                                      const std::vector<LabelRule>& rules,
                                                      const CancelToken* cancel) {
  for (const LabelRule& rule : rules) {
    if (rule.label == 0)
      return Error{StatusCode::kInvalidArgument, "a post-processing rule names the background"};
    if (rule.keepLargest < 0 || !(rule.minComponentMl >= 0))
      return Error{StatusCode::kInvalidArgument, "keep_largest or min_component_ml of label " +
                                                     std::to_string(rule.label) + " is negative"};
  }
  std::vector<LabelRuleOutcome> outcomes;
  try {
    for (const LabelRule& rule : rules) {
      if (cancel) TESSERA_RETURN_IF_ERROR(cancel->check());
      LabelRuleOutcome outcome;
      outcome.label = rule.label;
      if (!rule.notOnSlicesWith.empty()) outcome.removedOnSlices = removeOnSlices(labels, rule);
      if (rule.keepLargest > 0 || rule.minComponentMl > 0) removeComponents(labels, rule, &outcome);
      if (rule.fillHoles) outcome.filledVoxels = fillHoles(labels, rule);
      outcomes.push_back(outcome);
    }
  } catch (const itk::ExceptionObject& e) {
    return Error{StatusCode::kInternal, "post-processing failed: " + itkMessage(e)};
  } catch (const std::bad_alloc&) {
    return Error{StatusCode::kResourceExhausted, "not enough memory for the post-processing masks"};
  }
  return outcomes;
}

}  // namespace tessera::imaging
