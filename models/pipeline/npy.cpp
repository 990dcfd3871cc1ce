#include "models/pipeline/npy.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/files.h"

namespace tessera::models {

// The data is written and read as the host's floats.
static_assert(std::endian::native == std::endian::little, "npy: little-endian hosts only");

namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

std::string shapeText(const std::vector<std::int64_t>& shape) {
  // Python's tuple syntax: "(5,)" for one dimension, "()" for none.
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

std::size_t skipSpaces(std::string_view s, std::size_t at) {
  while (at < s.size() && (s[at] == ' ' || s[at] == '\t')) ++at;
  return at;
}

// Position just after "'key':" (or "\"key\":") and its spaces; npos if absent.
std::size_t afterKey(std::string_view header, std::string_view key) {
  for (const char quote : {'\'', '"'}) {
    const std::string pattern = std::string(1, quote) + std::string(key) + quote;
    std::size_t at = header.find(pattern);
    if (at == std::string_view::npos) continue;
    at = skipSpaces(header, at + pattern.size());
    if (at < header.size() && header[at] == ':') return skipSpaces(header, at + 1);
  }
  return std::string_view::npos;
}

Error corrupt(const std::string& path, const std::string& what) {
  return Error{StatusCode::kCorruptData, "not a readable .npy file: " + what, path};
}

}  // namespace

Status writeNpy(const std::string& path, const std::vector<std::int64_t>& shape,
                const float* data) {
  std::int64_t count = 1;
  for (std::int64_t d : shape) {
    if (d < 0) return Status(StatusCode::kInvalidArgument, "a negative array dimension", path);
    count *= d;
  }
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeText(shape) + ", }";
  const std::size_t unpadded = sizeof kMagic + 2 + 2 + header.size() + 1;  // + '\n'
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 65535)
    return Status(StatusCode::kInvalidArgument, "too many dimensions", path);

  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  AtomicFile file(path);
  {
    std::ofstream out(file.tempPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(kMagic), sizeof kMagic);
    const char version[2] = {1, 0};
    out.write(version, 2);
    const char length[2] = {static_cast<char>(header.size() & 0xff),
                            static_cast<char>(header.size() >> 8)};
    out.write(length, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data),
              static_cast<std::streamsize>(count * static_cast<std::int64_t>(sizeof(float))));
    out.flush();
    if (!out) return Status(StatusCode::kIoError, "cannot write the array", path);
  }
  return file.commit();
}

Result<NpyArray> readNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{StatusCode::kNotFound, "cannot open the array file", path};
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return corrupt(path, "no NUMPY magic");
  const int major = static_cast<unsigned char>(bytes[6]);
  const auto byte = [&](std::size_t i) {
    return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i]));
  };
  std::size_t headerStart = 10, headerLength = byte(8) | byte(9) << 8;
  if (major == 2 || major == 3) {
    if (bytes.size() < 12) return corrupt(path, "truncated header");
    headerStart = 12;
    headerLength = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
  } else if (major != 1) {
    return corrupt(path, "unknown format version " + std::to_string(major));
  }
  if (bytes.size() < headerStart + headerLength) return corrupt(path, "truncated header");
  const std::string_view header(bytes.data() + headerStart, headerLength);

  std::size_t at = afterKey(header, "descr");
  if (at == std::string_view::npos || at >= header.size()) return corrupt(path, "no 'descr'");
  const char quote = header[at];
  const std::size_t end = header.find(quote, at + 1);
  if ((quote != '\'' && quote != '"') || end == std::string_view::npos)
    return corrupt(path, "a malformed 'descr'");
  const std::string_view descr = header.substr(at + 1, end - at - 1);
  if (descr != "<f4")
    return Error{StatusCode::kUnsupported,
                 "the array holds '" + std::string(descr) + "', not little-endian float32 ('<f4')",
                 path};
  at = afterKey(header, "fortran_order");
  if (at == std::string_view::npos) return corrupt(path, "no 'fortran_order'");
  if (header.substr(at, 4) == "True")
    return Error{StatusCode::kUnsupported, "the array is in Fortran order, not C order", path};
  if (header.substr(at, 5) != "False") return corrupt(path, "a malformed 'fortran_order'");

  at = afterKey(header, "shape");
  if (at == std::string_view::npos || at >= header.size() || header[at] != '(')
    return corrupt(path, "no 'shape'");
  const std::size_t close = header.find(')', at);
  if (close == std::string_view::npos) return corrupt(path, "a malformed 'shape'");
  NpyArray array;
  std::int64_t count = 1;
  for (std::size_t p = at + 1; p < close;) {
    p = skipSpaces(header, p);
    if (p >= close) break;
    std::int64_t d = -1;
    const auto r = std::from_chars(header.data() + p, header.data() + close, d);
    if (r.ec != std::errc() || d < 0) return corrupt(path, "a malformed 'shape'");
    array.shape.push_back(d);
    count *= d;
    p = skipSpaces(header, static_cast<std::size_t>(r.ptr - header.data()));
    if (p < close && header[p] != ',') return corrupt(path, "a malformed 'shape'");
    ++p;
  }
  const std::size_t dataStart = headerStart + headerLength;
  const std::size_t dataBytes = static_cast<std::size_t>(count) * sizeof(float);
  if (bytes.size() - dataStart != dataBytes)
    return corrupt(path, "the header describes " + std::to_string(dataBytes) +
                             " bytes of data, the file holds " +
                             std::to_string(bytes.size() - dataStart));
  array.data.resize(static_cast<std::size_t>(count));
  std::memcpy(array.data.data(), bytes.data() + dataStart, dataBytes);
  return array;
}

}  // namespace tessera::models
