#include "imaging/internal/file_checks.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "core/files.h"
#include "core/image.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// " (it starts with text: "...")" when the bytes are printable, else "".
std::string textHint(const unsigned char* bytes, std::size_t n) {
  std::string text;
  for (std::size_t i = 0; i < n && text.size() < 40; ++i) {
    const unsigned char c = bytes[i];
    if (c == '\n' || c == '\r') break;
    if (c < 0x20 || c > 0x7E) return {};
    text += static_cast<char>(c);
  }
  return text.empty() ? std::string() : " (it starts with text: \"" + text + "\")";
}

template <class T>
T load(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (swap) std::reverse(b, b + sizeof(T));
  T value;
  std::memcpy(&value, b, sizeof(T));
  return value;
}

struct NiftiSummary {
  std::int64_t voxels = 0;
  std::int64_t bytesPerVoxel = 0;
  std::int64_t dataOffset = 0;
  int datatype = 0;
  bool swapped = false;
};

Status sizeAllowed(const std::int64_t* dims, int count, int bitpix, const std::string& path) {
  Geometry g;
  g.size = {dims[0], count > 1 ? dims[1] : 1, count > 2 ? dims[2] : 1};
  for (int d = 3; d < count; ++d) {
    if (dims[d] > 0 && g.size[2] > std::numeric_limits<std::int64_t>::max() / dims[d])
      return Status(StatusCode::kResourceExhausted, "the header claims an absurdly large image",
                    path);
    g.size[2] *= dims[d];
  }
  return std::move(checkAllocatable(g, std::max(1, bitpix / 8))).withContext(path);
}

// Validates a NIfTI-1 or NIfTI-2 header (the first n bytes of the
// uncompressed stream).
Result<NiftiSummary> parseNiftiHeader(const unsigned char* h, std::size_t n,
                                      const std::string& path) {
  if (n < 348)
    return Error{StatusCode::kCorruptData, "the file is too short to hold a NIfTI header", path};
  const std::int32_t sizeLe = load<std::int32_t>(h, false);
  const std::int32_t sizeBe = load<std::int32_t>(h, true);
  if (sizeLe == 540 || sizeBe == 540) {
    const bool swap = sizeBe == 540;
    if (n < 540 || std::memcmp(h + 4, "n+2", 3) != 0)
      return Error{StatusCode::kCorruptData, "damaged NIfTI-2 header", path};
    const auto rank = load<std::int64_t>(h + 16, swap);
    std::int64_t dims[7] = {1, 1, 1, 1, 1, 1, 1};
    if (rank < 1 || rank > 7)
      return Error{StatusCode::kCorruptData, "damaged NIfTI-2 header", path};
    for (int d = 0; d < rank; ++d) {
      dims[d] = load<std::int64_t>(h + 24 + 8 * d, swap);
      if (dims[d] < 1)
        return Error{StatusCode::kCorruptData,
                     "the NIfTI-2 header has a dimension of " + std::to_string(dims[d]), path};
    }
    TESSERA_RETURN_IF_ERROR(
        sizeAllowed(dims, static_cast<int>(rank), load<std::int16_t>(h + 14, swap), path));
    return Error{StatusCode::kUnsupported,
                 "NIfTI-2 files are not supported by this build (its ITK reads NIfTI-1); save the "
                 "image as NIfTI-1",
                 path};
  }
  if (sizeLe != 348 && sizeBe != 348)
    return Error{StatusCode::kCorruptData, "not a NIfTI file (no NIfTI header)", path};
  const bool swap = sizeBe == 348;
  if (std::memcmp(h + 344, "n+1", 4) != 0 && std::memcmp(h + 344, "ni1", 4) != 0)
    return Error{StatusCode::kCorruptData, "not a NIfTI-1 file (the header magic is missing)",
                 path};
  const auto rank = load<std::int16_t>(h + 40, swap);
  if (rank < 1 || rank > 7)
    return Error{StatusCode::kCorruptData,
                 "the NIfTI header claims " + std::to_string(rank) + " dimensions", path};
  std::int64_t dims[7] = {1, 1, 1, 1, 1, 1, 1};
  for (int d = 0; d < rank; ++d) {
    dims[d] = load<std::int16_t>(h + 42 + 2 * d, swap);
    if (dims[d] < 1)
      return Error{StatusCode::kCorruptData,
                   "the NIfTI header has a dimension of " + std::to_string(dims[d]), path};
  }
  const auto bitpix = load<std::int16_t>(h + 72, swap);
  if (bitpix <= 0 || bitpix % 8 != 0)
    return Error{StatusCode::kCorruptData,
                 "the NIfTI header has an invalid bitpix of " + std::to_string(bitpix), path};
  TESSERA_RETURN_IF_ERROR(sizeAllowed(dims, rank, bitpix, path));
  NiftiSummary summary;
  summary.voxels = 1;
  for (int d = 0; d < rank; ++d) summary.voxels *= dims[d];
  summary.bytesPerVoxel = bitpix / 8;
  summary.dataOffset = static_cast<std::int64_t>(load<float>(h + 108, swap));
  summary.datatype = load<std::int16_t>(h + 70, swap);
  summary.swapped = swap;
  return summary;
}

Status checkNifti(const std::string& path, std::uint64_t fileSize) {
  unsigned char head[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(head), 4);
  }
  const bool gzipped = head[0] == 0x1F && head[1] == 0x8B;
  const bool gzName = lower(fullExtension(path)) == ".nii.gz";
  unsigned char header[540] = {};
  std::size_t n = 0;
  if (gzipped) {
    gzFile gz = gzopen(path.c_str(), "rb");
    if (!gz) return Status(StatusCode::kIoError, "cannot open the file", path);
    const int got = gzread(gz, header, sizeof header);
    gzclose(gz);
    if (got < 348) {
      return Status(StatusCode::kCorruptData,
                    got < 0 ? "the gzip data is damaged"
                            : "the gzip data ends before a complete NIfTI header (truncated?)",
                    path);
    }
    n = static_cast<std::size_t>(got);
  } else {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(header), sizeof header);
    n = static_cast<std::size_t>(in.gcount());
  }
  auto summary = parseNiftiHeader(header, n, path);
  if (!summary.ok()) {
    if (gzName && !gzipped && summary.error().code == StatusCode::kCorruptData) {
      return Status(StatusCode::kCorruptData,
                    "not a NIfTI file: the name ends in .nii.gz but the content is not "
                    "gzip-compressed" +
                        textHint(header, n),
                    path);
    }
    if (gzipped && summary.error().code == StatusCode::kCorruptData)
      return Status(StatusCode::kCorruptData,
                    "the gzip data does not hold a NIfTI image (" + summary.error().message + ")",
                    path);
    return summary.status();
  }
  const std::int64_t dataBytes = summary->voxels * summary->bytesPerVoxel;
  const std::int64_t expected = std::max<std::int64_t>(summary->dataOffset, 348) + dataBytes;
  if (!gzipped && lower(fullExtension(path)) == ".nii" &&
      static_cast<std::uint64_t>(expected) > fileSize) {
    return Status(StatusCode::kCorruptData,
                  "the file is truncated: the header describes " + std::to_string(expected) +
                      " bytes, the file has " + std::to_string(fileSize),
                  path);
  }
  if (gzipped && expected < (std::int64_t{1} << 32) && fileSize >= 18) {
    // The gzip trailer's last 4 bytes hold the uncompressed size mod 2^32.
    unsigned char trailer[4];
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(fileSize - 4));
    in.read(reinterpret_cast<char*>(trailer), 4);
    const std::uint32_t isize = load<std::uint32_t>(trailer, false);
    if (in && isize < expected) {
      return Status(StatusCode::kCorruptData,
                    "the file is truncated or damaged: the header describes " +
                        std::to_string(expected) + " bytes of image, the gzip data ends at " +
                        std::to_string(isize) + " or is cut off",
                    path);
    }
  }
  return Status();
}

// The value of a "key = value" (MetaImage) or "key: value" (NRRD) header line.
std::string headerField(const std::string& path, const std::string& key, char separator) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  for (int count = 0; count < 200 && std::getline(in, line); ++count) {
    if (line.empty() || line == "\r") break;  // NRRD: blank line ends the header
    const std::size_t sep = line.find(separator);
    if (sep == std::string::npos) continue;
    std::string name = line.substr(0, sep);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (lower(name) != lower(key)) continue;
    std::string value = line.substr(sep + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '=')) value.erase(0, 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.pop_back();
    return value;
  }
  return {};
}

Status checkDataFile(const std::string& header, const std::string& dataFile) {
  if (dataFile.empty() || dataFile == "LOCAL" || dataFile.rfind("LIST", 0) == 0 ||
      dataFile.find('%') != std::string::npos || dataFile.find(' ') != std::string::npos)
    return Status();
  fs::path data(dataFile);
  if (data.is_relative()) data = fs::path(header).parent_path() / data;
  std::error_code error;
  if (!fs::exists(data, error))
    return Status(StatusCode::kNotFound,
                  "the voxel data file '" + dataFile + "' named by the header is missing", header);
  return Status();
}

}  // namespace

Status checkImageFile(const std::string& path, FileFormat format) {
  std::error_code error;
  const std::uint64_t size = fs::file_size(path, error);
  if (error) return Status(StatusCode::kIoError, "cannot read the file: " + error.message(), path);
  if (size == 0) return Status(StatusCode::kCorruptData, "the file is empty (0 bytes)", path);
  switch (format) {
    case FileFormat::kNifti:
      return checkNifti(path, size);
    case FileFormat::kNrrd: {
      char magic[64] = {};
      std::ifstream in(path, std::ios::binary);
      in.read(magic, sizeof magic);
      if (std::memcmp(magic, "NRRD000", 7) != 0) {
        return Status(StatusCode::kCorruptData,
                      "not a NRRD file: it does not start with the NRRD magic line" +
                          textHint(reinterpret_cast<unsigned char*>(magic),
                                   static_cast<std::size_t>(in.gcount())),
                      path);
      }
      std::string dataFile = headerField(path, "data file", ':');
      if (dataFile.empty()) dataFile = headerField(path, "datafile", ':');
      return checkDataFile(path, dataFile);
    }
    case FileFormat::kMetaImage:
      return checkDataFile(path, headerField(path, "ElementDataFile", '='));
    default:
      return Status();
  }
}

Status verifyNiftiVoxels(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) return Status(StatusCode::kIoError, "cannot open the file", path);
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{gz};
  gzbuffer(gz, 1 << 18);
  unsigned char header[540] = {};
  const int got = gzread(gz, header, sizeof header);
  auto summary = parseNiftiHeader(header, got > 0 ? static_cast<std::size_t>(got) : 0, path);
  if (!summary.ok()) return summary.status();
  const std::int64_t start = std::max<std::int64_t>(summary->dataOffset, 348);
  const std::int64_t expected = summary->voxels * summary->bytesPerVoxel;
  if (gzseek(gz, start, SEEK_SET) != start)
    return Status(StatusCode::kCorruptData, "the file is truncated before its voxel data", path);
  const bool isFloat = summary->datatype == 16 || summary->datatype == 64;
  const std::int64_t width = summary->bytesPerVoxel;
  std::vector<unsigned char> chunk(std::size_t{1} << 20);
  std::int64_t done = 0, nonFinite = 0;
  while (done < expected) {
    const auto want = static_cast<unsigned>(
        std::min<std::int64_t>(static_cast<std::int64_t>(chunk.size()), expected - done));
    const int n = gzread(gz, chunk.data(), want);
    if (n <= 0) break;
    if (isFloat) {
      for (std::int64_t i = 0; i + width <= n; i += width) {
        const double v = width == 4
                             ? load<float>(&chunk[static_cast<std::size_t>(i)], summary->swapped)
                             : load<double>(&chunk[static_cast<std::size_t>(i)], summary->swapped);
        nonFinite += !std::isfinite(v);
      }
    }
    done += n;
  }
  int error = Z_OK;
  gzerror(gz, &error);
  if (done < expected || (error != Z_OK && error != Z_STREAM_END)) {
    return Status(StatusCode::kCorruptData,
                  "the file is truncated or damaged: the header describes " +
                      std::to_string(expected) + " bytes of voxel data, only " +
                      std::to_string(done) + " could be read",
                  path);
  }
  if (nonFinite > 0)
    return Status(StatusCode::kCorruptData,
                  std::to_string(nonFinite) + " voxel values are not finite (NaN or infinity)",
                  path);
  return Status();
}

}  // namespace tessera::imaging
