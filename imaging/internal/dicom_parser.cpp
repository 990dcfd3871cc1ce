#include "imaging/internal/dicom_parser.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace tessera::imaging::dicom {
namespace {
namespace fs = std::filesystem;

constexpr std::uint32_t kItem = tagOf(0xFFFE, 0xE000);
constexpr std::uint32_t kItemDelimiter = tagOf(0xFFFE, 0xE00D);
constexpr std::uint32_t kSequenceDelimiter = tagOf(0xFFFE, 0xE0DD);
constexpr std::uint32_t kUndefined = 0xFFFFFFFFu;
constexpr int kMaxDepth = 16;
// Enough for the header of almost every file (private tags included); a
// header-only parse reads more only when needed.
constexpr std::uint64_t kHeaderChunk = 256 * 1024;

const char* const kLongVrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                "UC", "UN", "UR", "UT", "SV", "UV"};

bool isVrChars(const char* p) {
  return p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' && p[1] <= 'Z';
}
bool hasLongLength(const char* vr) {
  for (const char* v : kLongVrs)
    if (vr[0] == v[0] && vr[1] == v[1]) return true;
  return false;
}
bool vrIs(const char* vr, const char* name) {
  return vr[0] == name[0] && vr[1] == name[1];
}

enum class Failure { kNone, kTruncated, kMalformed };

struct Syntax {
  bool explicitVr;
  bool bigEndian;
};

class Parser {
 public:
  Parser(const std::vector<char>& bytes, std::uint64_t size) : b_(bytes), size_(size) {}

  Failure failure() const { return failure_; }
  const std::string& reason() const { return reason_; }

  std::uint16_t u16(std::uint64_t pos, bool bigEndian) const {
    const auto* p = reinterpret_cast<const unsigned char*>(b_.data() + pos);
    return bigEndian ? static_cast<std::uint16_t>(p[0] << 8 | p[1])
                     : static_cast<std::uint16_t>(p[1] << 8 | p[0]);
  }
  std::uint32_t u32(std::uint64_t pos, bool bigEndian) const {
    const auto* p = reinterpret_cast<const unsigned char*>(b_.data() + pos);
    return bigEndian ? (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 |
                        std::uint32_t{p[2]} << 8 | p[3])
                     : (std::uint32_t{p[3]} << 24 | std::uint32_t{p[2]} << 16 |
                        std::uint32_t{p[1]} << 8 | p[0]);
  }
  std::uint32_t readTag(std::uint64_t pos, bool bigEndian) const {
    return (std::uint32_t{u16(pos, bigEndian)} << 16) | u16(pos + 2, bigEndian);
  }

  bool need(std::uint64_t pos, std::uint64_t n, std::uint64_t end) {
    if (pos + n <= end && pos + n >= pos) return true;
    if (end < size_) return fail(Failure::kMalformed, "an element runs past its enclosing item");
    return fail(Failure::kTruncated, "the file ends in the middle of an element");
  }
  bool fail(Failure failure, std::string reason) {
    if (failure_ == Failure::kNone) {
      failure_ = failure;
      reason_ = std::move(reason);
    }
    return false;
  }

  // Parses elements from pos up to end, or up to an item delimiter when
  // untilDelimiter. stopAtPixelData (top level only) stops before reading
  // the pixel data value and sets *stopped.
  bool parseDataSet(std::uint64_t& pos, std::uint64_t end, bool untilDelimiter, Syntax syntax,
                    DataSet& ds, int depth, bool stopAtPixelData, bool* stopped) {
    if (depth > kMaxDepth) return fail(Failure::kMalformed, "sequences nested too deeply");
    while (pos < end) {
      if (!need(pos, 8, end)) return false;
      const std::uint32_t tag = readTag(pos, syntax.bigEndian);
      if (tag == kItemDelimiter) {
        pos += 8;
        if (untilDelimiter) return true;
        return fail(Failure::kMalformed, "unexpected item delimiter");
      }
      if ((tag >> 16) == 0xFFFE) return fail(Failure::kMalformed, "unexpected sequence item");
      Element e;
      e.tag = tag;
      std::uint64_t header = 8;
      std::uint32_t length;
      if (syntax.explicitVr) {
        if (!isVrChars(b_.data() + pos + 4))
          return fail(Failure::kMalformed, "an element has no valid value representation");
        e.vr[0] = b_[pos + 4];
        e.vr[1] = b_[pos + 5];
        if (hasLongLength(e.vr)) {
          if (!need(pos, 12, end)) return false;
          length = u32(pos + 8, syntax.bigEndian);
          header = 12;
        } else {
          length = u16(pos + 6, syntax.bigEndian);
        }
      } else {
        length = u32(pos + 4, syntax.bigEndian);
      }
      if (stopAtPixelData && tag == kPixelDataTag) {
        *stopped = true;
        ds.elements.push_back(std::move(e));
        return true;
      }
      const std::uint64_t valueStart = pos + header;
      e.offset = valueStart;
      if (length == kUndefined) {
        e.undefinedLength = true;
        std::uint64_t p = valueStart;
        if (tag == kPixelDataTag) {
          e.encapsulated = true;
          if (!parseFragments(p, end, syntax, e)) return false;
        } else if (!syntax.explicitVr || vrIs(e.vr, "SQ") || vrIs(e.vr, "UN")) {
          // UN sequences of undefined length are encoded implicit VR little endian.
          const Syntax inner = vrIs(e.vr, "UN") ? Syntax{false, false} : syntax;
          if (!parseItems(p, end, true, inner, e, depth)) return false;
        } else {
          return fail(Failure::kMalformed, "an element of undefined length is not a sequence");
        }
        e.length = p - valueStart;
        pos = p;
      } else {
        if (!need(valueStart, length, end)) return false;
        e.length = length;
        const std::uint64_t valueEnd = valueStart + length;
        if (vrIs(e.vr, "SQ")) {
          std::uint64_t p = valueStart;
          if (!parseItems(p, valueEnd, false, syntax, e, depth)) return false;
        } else if (tag != kPixelDataTag && length >= 8 &&
                   (!syntax.explicitVr || vrIs(e.vr, "UN")) &&
                   readTag(valueStart, vrIs(e.vr, "UN") ? false : syntax.bigEndian) == kItem) {
          // Implicit VR (or UN) values that start with an item tag are
          // sequences; parse them on trial and keep the bytes opaque if that fails.
          Parser trial(b_, size_);
          Element copy = e;
          std::uint64_t p = valueStart;
          const Syntax inner = vrIs(e.vr, "UN") ? Syntax{false, false} : syntax;
          if (trial.parseItems(p, valueEnd, false, inner, copy, depth)) e = std::move(copy);
        }
        pos = valueEnd;
      }
      ds.elements.push_back(std::move(e));
    }
    if (untilDelimiter) {
      if (end < size_) return fail(Failure::kMalformed, "an item has no delimiter");
      return fail(Failure::kTruncated, "the file ends inside a sequence item");
    }
    return true;
  }

  bool parseItems(std::uint64_t& pos, std::uint64_t end, bool undefinedLength, Syntax syntax,
                  Element& e, int depth) {
    while (true) {
      if (!undefinedLength && pos == end) return true;
      if (!need(pos, 8, end)) return false;
      const std::uint32_t tag = readTag(pos, syntax.bigEndian);
      const std::uint32_t length = u32(pos + 4, syntax.bigEndian);
      pos += 8;
      if (tag == kSequenceDelimiter) {
        if (undefinedLength) return true;
        return fail(Failure::kMalformed, "unexpected sequence delimiter");
      }
      if (tag != kItem)
        return fail(Failure::kMalformed, "a sequence holds something other than items");
      DataSet item;
      if (length == kUndefined) {
        if (!parseDataSet(pos, end, true, syntax, item, depth + 1, false, nullptr)) return false;
      } else {
        if (!need(pos, length, end)) return false;
        const std::uint64_t itemEnd = pos + length;
        if (!parseDataSet(pos, itemEnd, false, syntax, item, depth + 1, false, nullptr))
          return false;
        pos = itemEnd;
      }
      e.items.push_back(std::move(item));
    }
  }

  bool parseFragments(std::uint64_t& pos, std::uint64_t end, Syntax syntax, Element& e) {
    while (true) {
      if (!need(pos, 8, end)) return false;
      const std::uint32_t tag = readTag(pos, syntax.bigEndian);
      const std::uint32_t length = u32(pos + 4, syntax.bigEndian);
      pos += 8;
      if (tag == kSequenceDelimiter) return true;
      if (tag != kItem || length == kUndefined)
        return fail(Failure::kMalformed, "damaged encapsulated pixel data");
      if (!need(pos, length, end)) return false;
      e.fragments.emplace_back(pos, length);
      pos += length;
    }
  }

 private:
  const std::vector<char>& b_;
  std::uint64_t size_;
  Failure failure_ = Failure::kNone;
  std::string reason_;
};

std::string trim(std::string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && (text[begin] == ' ' || text[begin] == '\0')) ++begin;
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\0')) --end;
  return std::string(text.substr(begin, end - begin));
}

Status readBytes(const std::string& path, std::uint64_t limit, std::vector<char>* out,
                 std::uint64_t* fileSize) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error) return Status(StatusCode::kIoError, "cannot read the file: " + error.message(), path);
  *fileSize = size;
  const std::uint64_t n = std::min<std::uint64_t>(size, limit);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kIoError, "cannot open the file", path);
  try {
    out->resize(n);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kResourceExhausted, "not enough memory to read the file", path);
  }
  in.read(out->data(), static_cast<std::streamsize>(n));
  if (static_cast<std::uint64_t>(in.gcount()) != n)
    return Status(StatusCode::kIoError, "reading the file failed", path);
  return Status();
}

// Infers implicit/explicit VR and byte order from the first element at pos.
Syntax inferSyntax(const std::vector<char>& b, std::uint64_t pos) {
  Syntax s{true, false};
  if (pos + 8 > b.size()) return s;
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + pos);
  const unsigned groupLe = p[1] << 8 | p[0];
  const unsigned groupBe = p[0] << 8 | p[1];
  s.bigEndian = groupLe > 0xFF && groupBe <= 0xFF;
  s.explicitVr = isVrChars(b.data() + pos + 4);
  return s;
}

bool plausibleFirstElement(const unsigned char* p) {
  const unsigned groupLe = p[1] << 8 | p[0];
  const unsigned groupBe = p[0] << 8 | p[1];
  return groupLe == 0x0002 || groupLe == 0x0008 || groupBe == 0x0008;
}

}  // namespace

const Element* DataSet::find(std::uint32_t tag) const {
  for (const Element& e : elements)
    if (e.tag == tag) return &e;
  return nullptr;
}

std::string DicomFile::text(const DataSet& ds, std::uint32_t tag) const {
  const Element* e = ds.find(tag);
  if (!e || e->undefinedLength || !e->items.empty()) return {};
  if (e->offset + e->length > bytes.size()) return {};
  return trim(std::string_view(data(e->offset), e->length));
}

std::optional<std::vector<double>> DicomFile::numbers(const DataSet& ds, std::uint32_t tag) const {
  if (!ds.find(tag)) return std::nullopt;
  const std::string value = text(ds, tag);
  std::vector<double> out;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t stop = value.find('\\', start);
    if (stop == std::string::npos) stop = value.size();
    const std::string item = trim(std::string_view(value).substr(start, stop - start));
    // from_chars ignores the locale (a German one would stop strtod at
    // "0.5"); DS allows a leading '+', which from_chars does not take.
    const char* first = item.c_str() + (item.size() > 1 && item[0] == '+' ? 1 : 0);
    double v = 0;
    const auto [parsedEnd, ec] = std::from_chars(first, item.c_str() + item.size(), v);
    if (item.empty() || ec != std::errc() || parsedEnd != item.c_str() + item.size())
      return std::vector<double>{};
    out.push_back(v);
    start = stop + 1;
  }
  return out;
}

std::optional<std::int64_t> DicomFile::integer(const DataSet& ds, std::uint32_t tag,
                                               bool isSigned) const {
  const Element* e = ds.find(tag);
  if (!e || e->undefinedLength) return std::nullopt;
  std::uint64_t width = 0;
  if (vrIs(e->vr, "US") || vrIs(e->vr, "SS"))
    width = 2;
  else if (vrIs(e->vr, "UL") || vrIs(e->vr, "SL"))
    width = 4;
  else if (vrIs(e->vr, "  ") || vrIs(e->vr, "UN") || vrIs(e->vr, "OB") || vrIs(e->vr, "OW"))
    width = (e->length == 2 || e->length == 4) ? e->length : 0;
  if (width == 0 || e->length < width || e->offset + width > bytes.size()) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(data(e->offset));
  // Elements of UN sequences are little endian whatever the file's order.
  const bool be = bigEndian && !vrIs(e->vr, "UN");
  if (width == 2) {
    const std::uint16_t v = be ? static_cast<std::uint16_t>(p[0] << 8 | p[1])
                               : static_cast<std::uint16_t>(p[1] << 8 | p[0]);
    return isSigned ? std::int64_t{static_cast<std::int16_t>(v)} : std::int64_t{v};
  }
  const std::uint32_t v =
      be ? (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3])
         : (std::uint32_t{p[3]} << 24 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[1]} << 8 |
            p[0]);
  return isSigned ? std::int64_t{static_cast<std::int32_t>(v)} : std::int64_t{v};
}

const std::vector<DataSet>& DicomFile::items(const DataSet& ds, std::uint32_t tag) const {
  static const std::vector<DataSet> kNone;
  const Element* e = ds.find(tag);
  return e ? e->items : kNone;
}

bool looksLikeDicom(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  unsigned char head[132] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const std::streamsize n = in.gcount();
  if (n == 132 && std::memcmp(head + 128, "DICM", 4) == 0) return true;
  return n >= 8 && plausibleFirstElement(head);
}

Result<DicomFile> parseDicomFile(const std::string& path, bool headerOnly) {
  std::error_code error;
  if (!fs::exists(path, error)) return Error{StatusCode::kNotFound, "no such file", path};
  DicomFile file;
  file.path = path;
  file.headerOnly = headerOnly;
  std::uint64_t fileSize = 0;
  TESSERA_RETURN_IF_ERROR(
      readBytes(path, headerOnly ? kHeaderChunk : ~std::uint64_t{0}, &file.bytes, &fileSize));
  if (fileSize == 0) return Error{StatusCode::kCorruptData, "the file is empty (0 bytes)", path};

  while (true) {
    const std::vector<char>& b = file.bytes;
    const bool partial = b.size() < fileSize;
    Parser parser(b, b.size());
    std::uint64_t pos = 0;
    file.meta = {};
    file.dataset = {};
    file.pixelDataPresent = false;
    file.transferSyntaxUid.clear();
    file.hasPreamble = b.size() >= 132 && std::memcmp(b.data() + 128, "DICM", 4) == 0;
    if (file.hasPreamble) {
      pos = 132;
      // The meta header is always explicit VR little endian, group 0002.
      DataSet meta;
      const Parser& metaParser = parser;
      while (pos + 8 <= b.size() && metaParser.u16(pos, false) == 0x0002) {
        const char* vr = b.data() + pos + 4;
        if (!isVrChars(vr)) break;
        std::uint64_t header = 8, length;
        if (hasLongLength(vr)) {
          if (pos + 12 > b.size()) break;
          header = 12;
          length = metaParser.u32(pos + 8, false);
        } else {
          length = metaParser.u16(pos + 6, false);
        }
        if (length == kUndefined || pos + header + length > b.size()) break;
        Element e;
        e.tag = metaParser.readTag(pos, false);
        e.vr[0] = vr[0];
        e.vr[1] = vr[1];
        e.offset = pos + header;
        e.length = length;
        meta.elements.push_back(e);
        pos += header + length;
      }
      file.meta = std::move(meta);
      file.transferSyntaxUid = file.text(file.meta, tagOf(0x0002, 0x0010));
    } else if (b.size() < 8 ||
               !plausibleFirstElement(reinterpret_cast<const unsigned char*>(b.data()))) {
      return Error{StatusCode::kCorruptData, "not a DICOM file (no DICM marker)", path};
    }

    Syntax syntax{true, false};
    const std::string& ts = file.transferSyntaxUid;
    if (ts.empty()) {
      syntax = inferSyntax(b, pos);
      file.transferSyntaxUid = syntax.bigEndian    ? "1.2.840.10008.1.2.2"
                               : syntax.explicitVr ? "1.2.840.10008.1.2.1"
                                                   : "1.2.840.10008.1.2";
    } else if (ts == "1.2.840.10008.1.2") {
      syntax = {false, false};
    } else if (ts == "1.2.840.10008.1.2.2") {
      syntax = {true, true};
    } else if (ts == "1.2.840.10008.1.2.1.99" || ts == "1.2.840.10008.1.2.4.95") {
      return Error{StatusCode::kUnsupported,
                   "the data set is compressed with transfer syntax " + transferSyntaxName(ts) +
                       ", which Tessera does not read",
                   path};
    }
    file.explicitVr = syntax.explicitVr;
    file.bigEndian = syntax.bigEndian;

    bool stopped = false;
    const bool ok =
        parser.parseDataSet(pos, b.size(), false, syntax, file.dataset, 0, headerOnly, &stopped);
    if (headerOnly && stopped) file.pixelDataPresent = true;
    if (!headerOnly && file.dataset.find(kPixelDataTag)) file.pixelDataPresent = true;
    if (ok) return file;
    if (parser.failure() == Failure::kTruncated && partial) {
      TESSERA_RETURN_IF_ERROR(readBytes(path, ~std::uint64_t{0}, &file.bytes, &fileSize));
      continue;
    }
    // Damage after the pixel data (trailing garbage) does not matter.
    if (file.pixelDataPresent && !headerOnly) {
      const Element* pixels = file.dataset.find(kPixelDataTag);
      if (pixels && pixels->offset + pixels->length <= b.size()) return file;
    }
    if (file.dataset.elements.empty() && !file.hasPreamble)
      return Error{StatusCode::kCorruptData, "not a DICOM file", path};
    if (parser.failure() == Failure::kTruncated)
      return Error{StatusCode::kCorruptData,
                   "the DICOM file is truncated (" + parser.reason() + ")", path};
    return Error{StatusCode::kCorruptData, "the DICOM file is damaged (" + parser.reason() + ")",
                 path};
  }
}

std::string transferSyntaxName(const std::string& uid) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"1.2.840.10008.1.2", "Implicit VR Little Endian"},
      {"1.2.840.10008.1.2.1", "Explicit VR Little Endian"},
      {"1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian"},
      {"1.2.840.10008.1.2.2", "Explicit VR Big Endian"},
      {"1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)"},
      {"1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)"},
      {"1.2.840.10008.1.2.4.57", "JPEG Lossless (Process 14)"},
      {"1.2.840.10008.1.2.4.70", "JPEG Lossless (Process 14, Selection Value 1)"},
      {"1.2.840.10008.1.2.4.80", "JPEG-LS Lossless"},
      {"1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless"},
      {"1.2.840.10008.1.2.4.90", "JPEG 2000 (Lossless Only)"},
      {"1.2.840.10008.1.2.4.91", "JPEG 2000"},
      {"1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2 Multi-component (Lossless Only)"},
      {"1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component"},
      {"1.2.840.10008.1.2.4.94", "JPIP Referenced"},
      {"1.2.840.10008.1.2.4.95", "JPIP Referenced Deflate"},
      {"1.2.840.10008.1.2.4.100", "MPEG2 Main Profile"},
      {"1.2.840.10008.1.2.4.101", "MPEG2 High Profile"},
      {"1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264"},
      {"1.2.840.10008.1.2.4.103", "MPEG-4 AVC/H.264 BD-compatible"},
      {"1.2.840.10008.1.2.4.104", "MPEG-4 AVC/H.264 2D"},
      {"1.2.840.10008.1.2.4.105", "MPEG-4 AVC/H.264 3D"},
      {"1.2.840.10008.1.2.4.106", "MPEG-4 AVC/H.264 Stereo"},
      {"1.2.840.10008.1.2.4.107", "HEVC/H.265 Main Profile"},
      {"1.2.840.10008.1.2.4.108", "HEVC/H.265 Main 10 Profile"},
      {"1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 (Lossless Only)"},
      {"1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL (Lossless Only)"},
      {"1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000"},
      {"1.2.840.10008.1.2.5", "RLE Lossless"},
  };
  for (const auto& [id, name] : kNames)
    if (uid == id) return name;
  return uid.empty() ? std::string("unknown") : uid;
}

}  // namespace tessera::imaging::dicom
