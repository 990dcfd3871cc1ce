// PNG snapshots of axial slices for documentation, reports and QA: the CT in
// a window, and next to it the same slice with the label overlay in the
// label table's colours. Voxel order is shown as stored (i to the right, j
// down): for LPS-identity volumes that is the radiological view, patient's
// right on the image's left and anterior up.
#pragma once

#include <cstdint>
#include <string>

#include "core/image.h"
#include "core/status.h"

namespace tessera::imaging {

struct SlicePngOptions {
  double window = 400;  // HU width
  double level = 40;    // HU centre
  double overlayAlpha = 0.45;
  bool legend = true;  // names and colours of the labels present in the slice
};

// Writes slice k of `ct`; with `labels` (same size) a second panel shows the
// overlay. Written through a temporary file.
Status writeSlicePng(const Volume& ct, const LabelMap* labels, std::int64_t k,
                     const std::string& path, const SlicePngOptions& options = {});

}  // namespace tessera::imaging
