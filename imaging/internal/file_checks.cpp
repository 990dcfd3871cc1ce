#include "imaging/internal/file_checks.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>
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

std::string number(double value, const char* format = "%g") {
  char text[40];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// Bits per voxel of the NIfTI-1 datatypes; niftiType is null for codes the
// standard lacks (ITK names those).
struct NiftiType {
  int code;
  int bits;
  const char* name;
};
constexpr NiftiType kNiftiTypes[] = {
    {2, 8, "uint8"},         {4, 16, "int16"},          {8, 32, "int32"},
    {16, 32, "float32"},     {32, 64, "complex64"},     {64, 64, "float64"},
    {128, 24, "rgb24"},      {256, 8, "int8"},          {512, 16, "uint16"},
    {768, 32, "uint32"},     {1024, 64, "int64"},       {1280, 64, "uint64"},
    {1536, 128, "float128"}, {1792, 128, "complex128"}, {2048, 256, "complex256"},
    {2304, 32, "rgba32"}};

const NiftiType* niftiType(int code) {
  for (const NiftiType& t : kNiftiTypes)
    if (t.code == code) return &t;
  return nullptr;
}

// Refuses the NIfTI-1 orientation fields that ITK cannot turn into a
// geometry. A non-finite sform is refused rather than replaced by the qform:
// with sform_code > 0 the sform is the geometry the writer meant, and
// substituting another would place the image silently elsewhere. Non-finite
// qform fields are refused whatever qform_code says: the header is damaged.
Status checkNiftiOrientation(const unsigned char* h, bool swap, int rank, const std::string& path) {
  for (int a = 1; a <= std::min(rank, 3); ++a) {
    const float d = load<float>(h + 76 + 4 * a, swap);
    if (!std::isfinite(d) || d <= 0)
      return Status(StatusCode::kCorruptData,
                    "the NIfTI header's voxel size pixdim[" + std::to_string(a) + "] is " +
                        number(d) + "; voxel sizes must be positive finite numbers",
                    path);
  }
  const char* qNames[] = {"quatern_b", "quatern_c", "quatern_d",
                          "qoffset_x", "qoffset_y", "qoffset_z"};
  for (int i = 0; i < 6; ++i) {
    if (!std::isfinite(load<float>(h + 256 + 4 * i, swap)))
      return Status(
          StatusCode::kCorruptData,
          std::string("the NIfTI header's qform field ") + qNames[i] + " is not a finite number",
          path);
  }
  if (load<std::int16_t>(h + 254, swap) <= 0) return Status();
  double m[3][4];
  const char* rows[] = {"srow_x", "srow_y", "srow_z"};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) {
      m[r][c] = load<float>(h + 280 + 16 * r + 4 * c, swap);
      if (!std::isfinite(m[r][c]))
        return Status(StatusCode::kCorruptData,
                      std::string("the NIfTI header's sform (") + rows[r] +
                          ") holds a value that is not a finite number",
                      path);
    }
  }
  auto column = [&m](int c) {
    return std::sqrt(m[0][c] * m[0][c] + m[1][c] * m[1][c] + m[2][c] * m[2][c]);
  };
  // The volume (3D) or area (2D) the direction columns span, relative to the
  // product of their lengths: 1 when orthogonal, 0 when zero or collinear.
  // A 2D image's third column is free.
  double norms = column(0) * column(1);
  double det = 0;
  if (rank >= 3) {
    norms *= column(2);
    det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
          m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
          m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  } else {
    const double x = m[1][0] * m[2][1] - m[2][0] * m[1][1];
    const double y = m[2][0] * m[0][1] - m[0][0] * m[2][1];
    const double z = m[0][0] * m[1][1] - m[1][0] * m[0][1];
    det = std::sqrt(x * x + y * y + z * z);
  }
  if (norms == 0 || std::abs(det) < 1e-6 * norms)
    return Status(StatusCode::kCorruptData,
                  "the NIfTI header's sform's direction columns are degenerate (zero or "
                  "collinear): the image has no orientation",
                  path);
  return Status();
}

// Inflates the zlib or gzip stream (concatenated gzip members included, as
// bgzip writes them) in `limit` bytes of `file` from `offset`, without
// keeping the output. Returns its length; counting stops once it exceeds
// `cap`. Refuses streams that are damaged or end early; errors carry
// `context` (the header's path).
Result<std::uint64_t> inflatedLength(const std::string& file, std::uint64_t offset,
                                     std::uint64_t limit, std::uint64_t cap,
                                     const std::string& what, const std::string& context) {
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in) return Error{StatusCode::kIoError, "cannot read the " + what, context};
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK)
    return Error{StatusCode::kResourceExhausted, "cannot start decompression", context};
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  std::vector<unsigned char> input(std::size_t{1} << 16), output(std::size_t{1} << 17);
  std::uint64_t left = limit, total = 0;
  auto refill = [&] {
    if (z.avail_in > 0 || left == 0) return;
    in.read(reinterpret_cast<char*>(input.data()),
            static_cast<std::streamsize>(std::min<std::uint64_t>(input.size(), left)));
    const auto got = static_cast<std::uint64_t>(in.gcount());
    left = got == 0 ? 0 : left - got;
    z.next_in = input.data();
    z.avail_in = static_cast<uInt>(got);
  };
  for (;;) {
    refill();
    if (z.avail_in == 0)
      return Error{StatusCode::kCorruptData,
                   "the " + what + " is truncated: it ends before its stream does (after " +
                       std::to_string(total) + " bytes)",
                   context};
    z.next_out = output.data();
    z.avail_out = static_cast<uInt>(output.size());
    const int rc = inflate(&z, Z_NO_FLUSH);
    total += output.size() - z.avail_out;
    if (total > cap) return total;
    if (rc == Z_STREAM_END) {
      refill();
      if (z.avail_in == 0 || z.next_in[0] != 0x1F) return total;
      if (inflateReset(&z) != Z_OK)
        return Error{StatusCode::kCorruptData, "the " + what + " is damaged", context};
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) continue;
    if (rc != Z_OK)
      return Error{StatusCode::kCorruptData,
                   "the " + what + " is damaged (zlib: " + (z.msg ? z.msg : "invalid data") + ")",
                   context};
  }
}

struct NiftiSummary {
  std::int64_t voxels = 0;
  std::int64_t bytesPerVoxel = 0;
  std::int64_t dataOffset = 0;  // vox_offset, at least the header size
  double voxOffset = 0;         // vox_offset as stored (finite, >= 0)
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
  const std::int16_t datatype = load<std::int16_t>(h + 70, swap);
  if (const NiftiType* type = niftiType(datatype); type && type->bits != bitpix)
    return Error{StatusCode::kCorruptData,
                 "the NIfTI header's bitpix of " + std::to_string(bitpix) +
                     " contradicts its datatype " + std::to_string(datatype) + " (" + type->name +
                     ", " + std::to_string(type->bits) + " bits)",
                 path};
  TESSERA_RETURN_IF_ERROR(sizeAllowed(dims, rank, bitpix, path));
  TESSERA_RETURN_IF_ERROR(checkNiftiOrientation(h, swap, rank, path));
  const float voxOffset = load<float>(h + 108, swap);
  if (!std::isfinite(voxOffset) || voxOffset < 0 || voxOffset > 9.0e18f)
    return Error{StatusCode::kCorruptData,
                 "the NIfTI header's voxel data offset (vox_offset " + number(voxOffset, "%.10g") +
                     ") lies outside the file",
                 path};
  NiftiSummary summary;
  summary.voxels = 1;
  for (int d = 0; d < rank; ++d) summary.voxels *= dims[d];
  summary.bytesPerVoxel = bitpix / 8;
  summary.voxOffset = voxOffset;
  summary.dataOffset = std::max<std::int64_t>(static_cast<std::int64_t>(voxOffset), 348);
  summary.datatype = datatype;
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
  const std::int64_t expected = summary->dataOffset + dataBytes;
  std::uint64_t length = fileSize;  // of the uncompressed stream
  if (gzipped) {
    // The gzip trailer's last 4 bytes hold the uncompressed size mod 2^32,
    // of the last member only: multi-member files (bgzip writes an empty
    // last member) and damaged ones are measured by inflating them.
    std::uint32_t isize = 0;
    if (fileSize >= 18) {
      unsigned char trailer[4];
      std::ifstream in(path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(fileSize - 4));
      in.read(reinterpret_cast<char*>(trailer), 4);
      if (in) isize = load<std::uint32_t>(trailer, false);
    }
    if (expected < (std::int64_t{1} << 32) && isize >= expected) return Status();
    TESSERA_ASSIGN_OR_RETURN(
        length,
        inflatedLength(path, 0, fileSize, static_cast<std::uint64_t>(expected), "gzip data", path));
  }
  if (summary->voxOffset > static_cast<double>(length))
    return Status(StatusCode::kCorruptData,
                  "the NIfTI header's voxel data offset (vox_offset " +
                      number(summary->voxOffset, "%.10g") + ") lies outside the file (" +
                      std::to_string(length) + " bytes" + (gzipped ? " uncompressed)" : ")"),
                  path);
  if (static_cast<std::uint64_t>(expected) > length) {
    if (!gzipped)
      return Status(StatusCode::kCorruptData,
                    "the file is truncated: the header describes " + std::to_string(expected) +
                        " bytes, the file has " + std::to_string(fileSize),
                    path);
    return Status(StatusCode::kCorruptData,
                  "the file is truncated or damaged: the header describes " +
                      std::to_string(expected) + " bytes of image, the gzip data ends at " +
                      std::to_string(length),
                  path);
  }
  return Status();
}

// A MetaImage or NRRD text header: its fields (names lower-cased, in file
// order) and where the attached voxel data start.
struct TextHeader {
  std::vector<std::pair<std::string, std::string>> fields;
  std::uint64_t dataOffset = 0;
  // MetaImage: the longest field name and value as MetaIO reads them (a
  // name from the first non-space character to '=', ':' or the end of the
  // line; a value after the separators and blanks that follow, to the end of
  // the line; trailing blanks trimmed), over every line before
  // ElementDataFile, with or without '='.
  std::size_t longestName = 0, longestValue = 0;
  bool nulByte = false;         // MetaImage: a NUL byte in a header line
  int bareLine = 0;             // MetaImage: the first line (from 1) with text but no '=' or ':'
  bool endsAtDataFile = false;  // MetaImage: the header ends with "ElementDataFile"

  const std::string* find(const std::string& key) const {
    for (const auto& [name, value] : fields)
      if (name == key) return &value;
    return nullptr;
  }
  std::string get(const std::string& key) const {
    const std::string* value = find(key);
    return value ? *value : std::string();
  }
};

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r' || text.back() == '\t'))
    text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && (text[start] == ' ' || text[start] == '\t')) ++start;
  return text.substr(start);
}

// MetaImage: "Key = value" lines; ElementDataFile is the last one.
// NRRD: the magic line, then "key: value" lines (comments '#', key/value
// pairs ":="), ended by a blank line or the end of a detached header.
TextHeader readTextHeader(const std::string& path, FileFormat format) {
  TextHeader header;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::uint64_t offset = 0;
  const bool nrrd = format == FileFormat::kNrrd;
  // Bounded: a damaged file's binary data are not read as header lines.
  for (int count = 0; count < 4000 && offset < (1u << 20) && std::getline(in, line); ++count) {
    offset += line.size() + 1;
    if (nrrd && count == 0) continue;
    if (nrrd && (line.empty() || line == "\r")) break;
    if (nrrd && !line.empty() && line[0] == '#') continue;
    if (nrrd && line.find(":=") != std::string::npos) continue;
    // MetaIO ends a name at '=' or ':', whichever comes first, and stops at
    // ElementDataFile spelled exactly so (names match case-sensitively).
    const bool dataFileLine =
        !nrrd && trim(line.substr(0, line.find_first_of("=:"))) == "ElementDataFile";
    if (!nrrd && !dataFileLine) {
      const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
      std::size_t begin = 0;
      while (begin < line.size() && std::isspace(static_cast<unsigned char>(line[begin]))) ++begin;
      const std::size_t sep = std::min(line.find_first_of("=:", begin), line.size());
      std::size_t end = std::min(line.find('\r', begin), sep);
      while (end > begin && blank(line[end - 1])) --end;
      header.longestName = std::max(header.longestName, end - begin);
      if (sep == line.size() && begin < line.size() && !header.bareLine)
        header.bareLine = count + 1;
      std::size_t value = sep;
      while (value < line.size() &&
             (line[value] == '=' || line[value] == ':' || blank(line[value])))
        ++value;
      end = line.size();
      while (end > value && blank(line[end - 1])) --end;
      header.longestValue = std::max(header.longestValue, end - value);
    }
    if (!nrrd) header.nulByte = header.nulByte || line.find('\0') != std::string::npos;
    const std::size_t sep = nrrd ? line.find(": ") : line.find_first_of("=:");
    if (sep == std::string::npos) continue;
    const std::string name = lower(trim(line.substr(0, sep)));
    header.fields.emplace_back(name, trim(line.substr(sep + (nrrd ? 2 : 1))));
    if (dataFileLine) {
      header.endsAtDataFile = true;
      break;
    }
  }
  header.dataOffset = offset;
  return header;
}

std::vector<std::int64_t> numbers(const std::string& text) {
  std::vector<std::int64_t> out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t used = 0;
    try {
      out.push_back(std::stoll(text.substr(at), &used));
    } catch (const std::exception&) {
      return {};
    }
    at += used;
    while (at < text.size() && text[at] == ' ') ++at;
  }
  return out;
}

// Bytes per element of MetaIO's ElementType and NRRD's type; 0 when unknown.
int elementBytes(const std::string& type, FileFormat format) {
  static const std::pair<const char*, int> kMeta[] = {
      {"met_char", 1},      {"met_uchar", 1},      {"met_short", 2}, {"met_ushort", 2},
      {"met_int", 4},       {"met_uint", 4},       {"met_long", 4},  {"met_ulong", 4},
      {"met_long_long", 8}, {"met_ulong_long", 8}, {"met_float", 4}, {"met_double", 8}};
  // NRRD's names by size, each between '|'.
  static const std::pair<int, const char*> kNrrd[] = {
      {1, "|signed char|int8|int8_t|uchar|unsigned char|uint8|uint8_t|"},
      {2,
       "|short|short int|signed short|signed short int|int16|int16_t|ushort|unsigned short|"
       "unsigned short int|uint16|uint16_t|"},
      {4, "|int|signed int|int32|int32_t|uint|unsigned int|uint32|uint32_t|float|"},
      {8,
       "|longlong|long long|long long int|signed long long|signed long long int|int64|"
       "int64_t|ulonglong|unsigned long long|unsigned long long int|uint64|uint64_t|double|"}};
  const std::string key = lower(type);
  if (format == FileFormat::kMetaImage) {
    for (const auto& [name, bytes] : kMeta)
      if (key == name) return bytes;
  } else if (key.find('|') == std::string::npos) {
    for (const auto& [bytes, names] : kNrrd)
      if (std::strstr(names, ("|" + key + "|").c_str())) return bytes;
  }
  return 0;
}

// Voxel data bytes the header describes; 0 when it cannot tell.
std::uint64_t describedBytes(const std::vector<std::int64_t>& sizes, std::int64_t dims,
                             std::int64_t components, int bytes) {
  if (bytes <= 0 || dims < 1 || static_cast<std::int64_t>(sizes.size()) < dims || components < 1)
    return 0;
  std::uint64_t total = static_cast<std::uint64_t>(bytes) * static_cast<std::uint64_t>(components);
  for (std::int64_t d = 0; d < dims; ++d) {
    if (sizes[d] < 1 || total > (std::uint64_t{1} << 50) / static_cast<std::uint64_t>(sizes[d]))
      return 0;  // sizeAllowed and ITK judge these
    total *= static_cast<std::uint64_t>(sizes[d]);
  }
  return total;
}

// Confines a detached data file named by `header`: relative, no "..", no
// file-name patterns or lists, inside the header's folder after resolving
// symbolic links, a regular file. Returns its path.
Result<fs::path> confineDataFile(const std::string& header, const std::string& dataFile) {
  if (dataFile.rfind("LIST", 0) == 0)
    return Error{StatusCode::kUnsupported,
                 "the header names lists of data files ('" + dataFile +
                     "'); Tessera reads one data file per image, beside its header",
                 header};
  if (dataFile.find('%') != std::string::npos)
    return Error{StatusCode::kUnsupported,
                 "the header's data file '" + dataFile +
                     "' is a file-name pattern (one file per slice); Tessera reads one data file "
                     "per image, beside its header",
                 header};
  const fs::path named(dataFile);
  bool parent = false;
  for (const fs::path& part : named) parent = parent || part == "..";
  const std::string outside = "the header's data file '" + dataFile +
                              "' is outside the header's folder; detached data files must lie "
                              "in the folder of their header";
  if (named.is_absolute() || named.has_root_name() || parent)
    return Error{StatusCode::kInvalidArgument, outside, header};
  fs::path folder = fs::path(header).parent_path();
  if (folder.empty()) folder = ".";
  const fs::path data = folder / named;
  std::error_code error;
  if (!fs::exists(data, error))
    return Error{StatusCode::kNotFound,
                 "the voxel data file '" + dataFile + "' named by the header is missing", header};
  const fs::path real = fs::canonical(data, error);
  const fs::path realFolder = fs::canonical(folder, error);
  if (error)
    return Error{StatusCode::kIoError, "cannot resolve the data file '" + dataFile + "'", header};
  const fs::path relative = real.lexically_relative(realFolder);
  if (relative.empty() || *relative.begin() == "..")
    return Error{StatusCode::kInvalidArgument, outside, header};
  if (!fs::is_regular_file(real, error))
    return Error{StatusCode::kInvalidArgument,
                 "the header's data file '" + dataFile +
                     "' is not a regular file (a directory, device or pipe)",
                 header};
  return real;
}

// Where a header's voxel data lie: a detached file (offset 0) or the
// header's own file after its text.
struct DataSource {
  std::string file;
  std::string name;  // for messages: "the data file 'x'" or "the file"
  std::uint64_t offset = 0;
  std::uint64_t size = 0;  // bytes from offset to the end
};

Status checkDataLength(const std::string& header, const DataSource& source, std::uint64_t expected,
                       bool compressed, std::uint64_t compressedSize, bool exact) {
  if (expected == 0) return Status();
  if (compressed) {
    std::uint64_t limit = source.size;
    if (compressedSize > 0) {
      if (compressedSize > source.size)
        return Status(StatusCode::kCorruptData,
                      "the compressed voxel data is truncated: the header describes " +
                          std::to_string(compressedSize) + " bytes, " + source.name + " holds " +
                          std::to_string(source.size),
                      header);
      limit = compressedSize;
    }
    TESSERA_ASSIGN_OR_RETURN(const std::uint64_t length,
                             inflatedLength(source.file, source.offset, limit, expected,
                                            "compressed voxel data", header));
    if (length != expected)
      return Status(StatusCode::kCorruptData,
                    "the compressed voxel data hold " +
                        (length > expected ? "more than " + std::to_string(expected)
                                           : std::to_string(length)) +
                        " bytes, the header describes " + std::to_string(expected),
                    header);
    return Status();
  }
  if (source.size < expected || (exact && source.size != expected))
    return Status(StatusCode::kCorruptData,
                  source.name + " holds " + std::to_string(source.size) +
                      " bytes, the header describes " + std::to_string(expected) +
                      (source.size < expected ? " (truncated?)" : ""),
                  header);
  return Status();
}

Result<DataSource> dataSource(const std::string& header, const std::string& dataFile,
                              std::uint64_t headerBytes, std::uint64_t fileSize) {
  DataSource source;
  if (dataFile.empty() || lower(dataFile) == "local") {
    source.file = header;
    source.name = "the file after its header";
    source.offset = std::min(headerBytes, fileSize);
    source.size = fileSize - source.offset;
    return source;
  }
  TESSERA_ASSIGN_OR_RETURN(const fs::path data, confineDataFile(header, dataFile));
  std::error_code error;
  source.file = data.string();
  source.name = "the data file '" + dataFile + "'";
  source.size = fs::file_size(data, error);
  if (error)
    return Error{StatusCode::kIoError, "cannot read the data file '" + dataFile + "'", header};
  return source;
}

Status checkMetaImage(const std::string& path, std::uint64_t fileSize) {
  const TextHeader h = readTextHeader(path, FileFormat::kMetaImage);
  if (!h.endsAtDataFile)
    return Status(StatusCode::kCorruptData,
                  "the MetaImage header has no ElementDataFile line (the last line of a "
                  "MetaImage header, spelled so) within its first 4000 lines",
                  path);
  // MetaIO copies each field name it does not know, and the values of
  // Comment, Name, ObjectType, ObjectSubType, into 255-byte buffers with
  // strcpy (the image_file fuzzer's finding 11: a buffer overflow).
  if (h.longestName >= 255)
    return Status(StatusCode::kCorruptData,
                  "the MetaImage header has a field name of " + std::to_string(h.longestName) +
                      " characters; MetaImage field names are shorter than 255",
                  path);
  if (h.longestValue >= 255)
    return Status(StatusCode::kCorruptData,
                  "the MetaImage header has a field value of " + std::to_string(h.longestValue) +
                      " characters; MetaImage field values are shorter than 255",
                  path);
  // MetaIO reads NDims with atoi and then loops over that many values of
  // every array field: a number beyond int made it read for ever. Every
  // NDims line counts (MetaIO reads each; the last one wins).
  const std::string* sizes = h.find("dimsize");
  for (const auto& [name, value] : h.fields) {
    if (name != "ndims") continue;
    const std::vector<std::int64_t> n = numbers(value);
    if (n.size() != 1 || n[0] < 1 || n[0] > 4)
      return Status(StatusCode::kCorruptData,
                    "the header's NDims '" + value.substr(0, 40) +
                        "' is not a number of dimensions from 1 to 4",
                    path);
    if (sizes && numbers(*sizes).size() != static_cast<std::size_t>(n[0]))
      return Status(StatusCode::kCorruptData,
                    "the header's DimSize '" + sizes->substr(0, 80) +
                        "' does not hold NDims = " + std::to_string(n[0]) + " sizes",
                    path);
  }
  // The checks below read the header as MetaIO does only when it holds no
  // NUL byte (MetaIO ends names there) and no line without a separator,
  // and each field that sizes the voxel data appears once (MetaIO takes the
  // last of several, and matches names case-sensitively): the image_file
  // fuzzer's findings 12 and 13, fields MetaIO did not use or read past the
  // header's end, then MetaIO inflating or reading for ever.
  if (h.nulByte)
    return Status(StatusCode::kCorruptData,
                  "the MetaImage header holds a NUL byte: it is not a text header", path);
  // After a name without a separator MetaIO skips to the next '=' on any
  // later line, past ElementDataFile.
  if (h.bareLine)
    return Status(StatusCode::kCorruptData,
                  "line " + std::to_string(h.bareLine) +
                      " of the MetaImage header is not of the form 'Key = value'",
                  path);
  static const char* const kSizing[] = {
      "NDims",          "DimSize",        "ElementType",        "ElementNumberOfChannels",
      "BinaryData",     "CompressedData", "CompressedDataSize", "HeaderSize",
      "ElementDataFile"};
  for (const char* field : kSizing) {
    const auto count = std::count_if(h.fields.begin(), h.fields.end(),
                                     [&](const auto& f) { return f.first == lower(field); });
    if (count > 1)
      return Status(StatusCode::kCorruptData,
                    std::string("the MetaImage header sets ") + field + " " +
                        std::to_string(count) + " times",
                    path);
  }
  const std::string* dataFile = h.find("elementdatafile");
  TESSERA_ASSIGN_OR_RETURN(const DataSource source,
                           dataSource(path, *dataFile, h.dataOffset, fileSize));
  if (lower(h.get("binarydata")) == "false") return Status();
  const std::vector<std::int64_t> ndims = numbers(h.get("ndims"));
  const std::vector<std::int64_t> channels = numbers(h.get("elementnumberofchannels"));
  const std::uint64_t expected =
      describedBytes(numbers(h.get("dimsize")), ndims.size() == 1 ? ndims[0] : 0,
                     channels.size() == 1 ? channels[0] : 1,
                     elementBytes(h.get("elementtype"), FileFormat::kMetaImage));
  const bool compressed = lower(h.get("compresseddata")) == "true";
  // MetaIO inflates into a buffer of the size the header gives: with an
  // element type it does not know that size is 0 and it loops for ever
  // (the image_file fuzzer's finding 10). A compressed stream is read only
  // when its inflated size can be checked.
  if (compressed && expected == 0)
    return Status(StatusCode::kCorruptData,
                  "the MetaImage header does not say how many bytes the compressed voxel data "
                  "hold (NDims, DimSize, ElementType '" +
                      h.get("elementtype").substr(0, 40) +
                      "' and ElementNumberOfChannels must describe the image)",
                  path);
  const std::vector<std::int64_t> headerSize = numbers(h.get("headersize"));
  const std::int64_t skip = headerSize.size() == 1 ? headerSize[0] : 0;
  if (skip != 0) {
    if (compressed || source.file == path) return Status();
    return checkDataLength(path, source,
                           expected + static_cast<std::uint64_t>(std::max<std::int64_t>(skip, 0)),
                           false, 0, false);
  }
  const std::vector<std::int64_t> compressedSize = numbers(h.get("compresseddatasize"));
  return checkDataLength(path, source, expected, compressed,
                         compressedSize.size() == 1 && compressedSize[0] > 0
                             ? static_cast<std::uint64_t>(compressedSize[0])
                             : 0,
                         source.file != path);
}

Status checkNrrd(const std::string& path, std::uint64_t fileSize) {
  char magic[64] = {};
  {
    std::ifstream in(path, std::ios::binary);
    in.read(magic, sizeof magic);
    if (std::memcmp(magic, "NRRD000", 7) != 0) {
      return Status(StatusCode::kCorruptData,
                    "not a NRRD file: it does not start with the NRRD magic line" +
                        textHint(reinterpret_cast<unsigned char*>(magic),
                                 static_cast<std::size_t>(in.gcount())),
                    path);
    }
  }
  const TextHeader h = readTextHeader(path, FileFormat::kNrrd);
  // NrrdIO reads sizes with its own parser, which took
  // "4 388888888888888%8888888888 2" for a 17 GB volume in a 189-byte file;
  // the data are measured below only when the sizes are plain numbers, so
  // sizes that are not, or that do not match the dimension, are refused.
  if (const std::string* sizes = h.find("sizes")) {
    const std::vector<std::int64_t> dimension = numbers(h.get("dimension"));
    const std::vector<std::int64_t> n = numbers(*sizes);
    const bool positive = std::all_of(n.begin(), n.end(), [](std::int64_t s) { return s >= 1; });
    if (dimension.size() != 1 || n.size() != static_cast<std::size_t>(dimension[0]) || !positive)
      return Status(StatusCode::kCorruptData,
                    "the NRRD header's sizes '" + sizes->substr(0, 80) + "' are not " +
                        (dimension.size() == 1 ? std::to_string(dimension[0]) + " " : "") +
                        "whole numbers of at least 1, one per dimension",
                    path);
  }
  const std::string* dataFile = h.find("data file");
  if (!dataFile) dataFile = h.find("datafile");
  TESSERA_ASSIGN_OR_RETURN(
      const DataSource source,
      dataSource(path, dataFile ? *dataFile : std::string(), h.dataOffset, fileSize));
  const std::string encoding = lower(h.get("encoding"));
  const bool gzip = encoding == "gzip" || encoding == "gz";
  if (!gzip && encoding != "raw") return Status();
  const std::vector<std::int64_t> dims = numbers(h.get("dimension"));
  const std::uint64_t expected =
      describedBytes(numbers(h.get("sizes")), dims.size() == 1 ? dims[0] : 0, 1,
                     elementBytes(h.get("type"), FileFormat::kNrrd));
  if (gzip && expected == 0)
    return Status(StatusCode::kCorruptData,
                  "the NRRD header does not say how many bytes the gzip-compressed voxel data "
                  "hold (dimension, sizes and type '" +
                      h.get("type").substr(0, 40) + "' must describe the image)",
                  path);
  for (const char* skip : {"line skip", "lineskip", "byte skip", "byteskip"}) {
    const std::vector<std::int64_t> value = numbers(h.get(skip));
    if (value.size() != 1 || value[0] == 0) continue;
    if (gzip || value[0] > 0) return Status();  // skips inside the data: left to ITK
    return checkDataLength(path, source, expected, false, 0, false);  // byte skip -1
  }
  return checkDataLength(path, source, expected, gzip, 0, source.file != path);
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
    case FileFormat::kNrrd:
      return checkNrrd(path, size);
    case FileFormat::kMetaImage:
      return checkMetaImage(path, size);
    default:
      return Status();
  }
}

Result<std::string> detachedDataFile(const std::string& path, FileFormat format) {
  if (format != FileFormat::kMetaImage && format != FileFormat::kNrrd) return std::string();
  const TextHeader h = readTextHeader(path, format);
  const std::string* dataFile =
      format == FileFormat::kMetaImage ? h.find("elementdatafile") : h.find("data file");
  if (!dataFile && format == FileFormat::kNrrd) dataFile = h.find("datafile");
  if (!dataFile || dataFile->empty() || lower(*dataFile) == "local") return std::string();
  TESSERA_ASSIGN_OR_RETURN(const fs::path confined, confineDataFile(path, *dataFile));
  (void)confined;
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  return (folder / *dataFile).lexically_normal().string();
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
  const std::int64_t start = summary->dataOffset;
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
