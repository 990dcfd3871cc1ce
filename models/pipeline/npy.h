// NumPy .npy files (format version 1.0) of little-endian float32 in C order,
// the exchange format with the PyTorch peer of `tessera bench`: the network
// input is written for it, its logits are read back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::models {

struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<float> data;  // product of shape values, C order (last index fastest)
};

// Writes `data` (product of `shape` values) atomically, with the header
// numpy.save writes: {'descr': '<f4', 'fortran_order': False, 'shape': (...), },
// padded with spaces so that the data starts at a multiple of 64 bytes.
Status writeNpy(const std::string& path, const std::vector<std::int64_t>& shape, const float* data);

// Reads a file writeNpy or numpy.save wrote from a float32 array: version 1.0
// to 3.0, '<f4', C order. kCorruptData (naming the file) for a damaged or
// truncated file, kUnsupported for another dtype or Fortran order.
Result<NpyArray> readNpy(const std::string& path);

}  // namespace tessera::models
