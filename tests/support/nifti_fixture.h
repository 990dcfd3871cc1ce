// Hand-written NIfTI-1/NIfTI-2 files for tests, built byte by byte from the
// NIfTI specification (independent of ITK's writer).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

namespace tessera::testing {

struct Nifti1Spec {
  std::array<std::int16_t, 3> dims{2, 2, 1};
  std::int16_t datatype = 4;  // NIFTI_TYPE_INT16
  std::int16_t bitpix = 16;
  std::array<float, 3> pixdim{1, 1, 1};
  float qfac = 1;
  float sclSlope = 0;
  float sclInter = 0;
  std::int16_t qformCode = 0;
  std::array<float, 3> quaternion{0, 0, 0};  // b, c, d
  std::array<float, 3> qoffset{0, 0, 0};
  std::int16_t sformCode = 0;
  std::array<std::array<float, 4>, 3> srow{};  // RAS rows
  float voxOffset = 352;                       // bytes from the file start to the voxels
};

// Header + 4 extension bytes + `data` (raw voxel bytes, little endian).
inline void writeNifti1(const std::string& path, const Nifti1Spec& s, const std::string& data) {
  char h[352] = {};
  auto put = [&h](std::size_t offset, const void* value, std::size_t n) {
    std::memcpy(h + offset, value, n);
  };
  const std::int32_t size = 348;
  put(0, &size, 4);
  const std::int16_t dim[8] = {3, s.dims[0], s.dims[1], s.dims[2], 1, 1, 1, 1};
  put(40, dim, sizeof dim);
  put(70, &s.datatype, 2);
  put(72, &s.bitpix, 2);
  const float pixdim[8] = {s.qfac, s.pixdim[0], s.pixdim[1], s.pixdim[2], 0, 0, 0, 0};
  put(76, pixdim, sizeof pixdim);
  put(108, &s.voxOffset, 4);
  put(112, &s.sclSlope, 4);
  put(116, &s.sclInter, 4);
  const char units = 2;  // millimetres
  put(123, &units, 1);
  put(252, &s.qformCode, 2);
  put(254, &s.sformCode, 2);
  put(256, s.quaternion.data(), 12);
  put(268, s.qoffset.data(), 12);
  for (int r = 0; r < 3; ++r) put(280 + 16 * static_cast<std::size_t>(r), s.srow[r].data(), 16);
  put(344, "n+1", 4);
  std::ofstream out(path, std::ios::binary);
  out.write(h, sizeof h);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A NIfTI-2 header (no data) claiming the given size.
inline void writeNifti2Header(const std::string& path, std::int64_t nx, std::int64_t ny,
                              std::int64_t nz) {
  char h[544] = {};
  const std::int32_t size = 540;
  std::memcpy(h, &size, 4);
  std::memcpy(h + 4, "n+2\0\r\n\032\n", 8);
  const std::int16_t datatype = 4, bitpix = 16;
  std::memcpy(h + 12, &datatype, 2);
  std::memcpy(h + 14, &bitpix, 2);
  const std::int64_t dim[8] = {3, nx, ny, nz, 1, 1, 1, 1};
  std::memcpy(h + 16, dim, sizeof dim);
  const double pixdim[8] = {1, 1, 1, 1, 0, 0, 0, 0};
  std::memcpy(h + 104, pixdim, sizeof pixdim);
  const std::int64_t voxOffset = 544;
  std::memcpy(h + 168, &voxOffset, 8);
  std::ofstream out(path, std::ios::binary);
  out.write(h, sizeof h);
}

template <class T>
std::string rawBytes(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}

}  // namespace tessera::testing
