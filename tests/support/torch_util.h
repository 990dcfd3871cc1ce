// Helpers of the tests that run PyTorch (Debian's /usr/bin/python3 with
// python3-torch): a shell command with its output, and float32 .npy files.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "models/backend/tensor.h"

namespace tessera::models::testing {

inline constexpr const char* kPython = "/usr/bin/python3";

// Runs a shell command; returns its exit status and fills `output` with
// stdout and stderr.
inline int run(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  std::string text;
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, n);
  const int status = ::pclose(pipe);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string quote(const std::string& s) {
  return "'" + s + "'";
}

// .npy version 1.0, little-endian float32, C order.
inline void writeNpy(const std::string& path, const Tensor& t) {
  std::ostringstream shape;
  shape << "(" << t.n() << ", " << t.c() << ", " << t.h() << ", " << t.w() << ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape.str() + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t length = static_cast<std::uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&length), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(t.data()), t.shape().count() * 4);
}

// Reads a float32 (N, C, H, W) .npy as written by numpy.save.
inline Tensor readNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    ADD_FAILURE() << path << " is not a .npy file";
    return Tensor();
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t length = 0, start = 0;
  if (major == 1) {
    length = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    start = 10;
  } else {
    std::uint32_t l = 0;
    std::memcpy(&l, bytes.data() + 8, 4);
    length = l;
    start = 12;
  }
  const std::string header = bytes.substr(start, length);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  const std::size_t open = header.find("'shape': (");
  std::vector<std::int64_t> dims;
  std::istringstream shape(header.substr(open + 10, header.find(')', open) - open - 10));
  for (std::string item; std::getline(shape, item, ',');)
    if (item.find_first_not_of(' ') != std::string::npos) dims.push_back(std::stoll(item));
  if (dims.size() != 4) {
    ADD_FAILURE() << "expected a 4-D array: " << header;
    return Tensor();
  }
  Tensor t = Tensor::zeros({dims[0], dims[1], dims[2], dims[3]});
  const std::size_t data = start + length;
  EXPECT_EQ(bytes.size() - data, static_cast<std::size_t>(t.shape().count() * 4));
  std::memcpy(t.data(), bytes.data() + data,
              std::min<std::size_t>(bytes.size() - data, t.shape().count() * 4));
  return t;
}

}  // namespace tessera::models::testing
