#include "imaging/internal/codestream_checks.h"

#include <algorithm>

namespace tessera::imaging::dicom {

namespace {

std::uint32_t be16(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 8) | p[1];
}
std::uint32_t be32(const unsigned char* p) {
  return (be16(p) << 16) | be16(p + 2);
}
std::uint64_t be64(const unsigned char* p) {
  return (std::uint64_t{be32(p)} << 32) | be32(p + 4);
}
std::uint32_t le32(const unsigned char* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

std::string hex2(unsigned value) {
  static const char* digits = "0123456789ABCDEF";
  return std::string{digits[(value >> 4) & 15], digits[value & 15]};
}

Status corrupt(const std::string& message) {
  return Status(StatusCode::kCorruptData, message);
}

Status compare(const std::string& what, std::uint64_t width, std::uint64_t height,
               std::uint64_t components, int precision, const FrameLayout& layout) {
  if (width != static_cast<std::uint64_t>(layout.columns) ||
      height != static_cast<std::uint64_t>(layout.rows)) {
    return corrupt("the " + what + " image inside is " + std::to_string(width) + "×" +
                   std::to_string(height) + " but the header says " +
                   std::to_string(layout.columns) + "×" + std::to_string(layout.rows) +
                   " (columns × rows)");
  }
  if (components != static_cast<std::uint64_t>(layout.samplesPerPixel)) {
    return corrupt("the " + what + " image inside has " + std::to_string(components) +
                   " components but the header says " + std::to_string(layout.samplesPerPixel) +
                   " samples per pixel");
  }
  if (precision < 1 || precision > layout.bitsAllocated) {
    return corrupt("the " + what + " image inside has " + std::to_string(precision) +
                   "-bit samples but the header allocates " + std::to_string(layout.bitsAllocated) +
                   " bits per sample");
  }
  return Status();
}

bool isJpegSof(unsigned marker) {
  return (marker >= 0xC0 && marker <= 0xCF) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// The codestream of a JP2 file: the first top-level contiguous codestream
// box ('jp2c'). ISO/IEC 15444-1 annex I: each box is LBox (4, big endian),
// TBox (4), XLBox (8, when LBox = 1); LBox = 0 means "to the end".
Status findJp2Codestream(const unsigned char* data, std::size_t size, std::size_t* begin,
                         std::size_t* length) {
  std::size_t pos = 0;
  while (pos < size) {
    if (size - pos < 8)
      return corrupt("the JP2 box at byte " + std::to_string(pos) + " is truncated");
    std::uint64_t boxLength = be32(data + pos);
    std::size_t header = 8;
    if (boxLength == 1) {
      if (size - pos < 16)
        return corrupt("the JP2 box at byte " + std::to_string(pos) + " is truncated");
      boxLength = be64(data + pos + 8);
      header = 16;
    } else if (boxLength == 0) {
      boxLength = size - pos;
    }
    if (boxLength < header || boxLength > size - pos) {
      return corrupt("the JP2 box at byte " + std::to_string(pos) + " has length " +
                     std::to_string(boxLength) + ", which does not fit the " +
                     std::to_string(size - pos) + " bytes left");
    }
    if (std::string(reinterpret_cast<const char*>(data + pos + 4), 4) == "jp2c") {
      *begin = pos + header;
      *length = static_cast<std::size_t>(boxLength) - header;
      return Status();
    }
    pos += static_cast<std::size_t>(boxLength);
  }
  return corrupt("the JP2 data holds no codestream box (jp2c)");
}

}  // namespace

Codec codecOf(const std::string& uid) {
  const std::string jpeg = "1.2.840.10008.1.2.4.";
  if (uid == "1.2.840.10008.1.2.5") return Codec::kRle;
  if (uid.rfind(jpeg, 0) != 0) return Codec::kOther;
  const std::string tail = uid.substr(jpeg.size());
  // 50..66: the JPEG processes of PS3.5 (most retired, all with T.81
  // frame headers); 70: lossless, first-order prediction.
  if (tail.size() == 2 && tail >= "50" && tail <= "66") return Codec::kJpeg;
  if (tail == "70") return Codec::kJpeg;
  if (tail == "80" || tail == "81") return Codec::kJpegLs;
  if (tail == "90" || tail == "91" || tail == "92" || tail == "93") return Codec::kJpeg2000;
  return Codec::kOther;
}

Status checkLayout(Codec codec, const FrameLayout& layout) {
  if (codec == Codec::kOther || layout.highBit + 1 == layout.bitsStored) return Status();
  return Status(StatusCode::kUnsupported,
                "the header says BitsStored " + std::to_string(layout.bitsStored) +
                    " with HighBit " + std::to_string(layout.highBit) +
                    "; compressed pixel data is decoded only with HighBit = BitsStored − 1");
}

Status checkJpegFrame(const unsigned char* data, std::size_t size, const FrameLayout& layout,
                      bool jpegLs, int* precision) {
  const std::string what = jpegLs ? "JPEG-LS" : "JPEG";
  if (size < 2 || data[0] != 0xFF || data[1] != 0xD8)
    return corrupt("the " + what + " data does not start with a start-of-image marker (FFD8)");
  std::size_t pos = 2;
  for (;;) {
    if (pos >= size) return corrupt("the " + what + " data ends before its frame header");
    if (data[pos] != 0xFF) {
      return corrupt("the " + what + " data has no marker at byte " + std::to_string(pos) +
                     " before its frame header");
    }
    while (pos < size && data[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= size) return corrupt("the " + what + " data ends before its frame header");
    const unsigned marker = data[pos++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9 || marker == 0xDA) {
      return corrupt("the " + what + " data has no frame header before marker FF" + hex2(marker));
    }
    if (size - pos < 2)
      return corrupt("the " + what + " marker segment FF" + hex2(marker) + " is truncated");
    const std::size_t length = be16(data + pos);
    if (length < 2 || length > size - pos) {
      return corrupt("the " + what + " marker segment FF" + hex2(marker) + " at byte " +
                     std::to_string(pos - 2) + " has length " + std::to_string(length) +
                     ", which does not fit the " + std::to_string(size - pos) + " bytes left");
    }
    const bool isLs = marker == 0xF7;
    if (isLs || isJpegSof(marker)) {
      if (isLs != jpegLs) {
        return corrupt("the " + what + " data holds a " + (isLs ? "JPEG-LS" : "JPEG") +
                       " frame (FF" + hex2(marker) + ")");
      }
      // Lf (2), P (1), Y (2), X (2), Nf (1), then 3 bytes per component.
      if (length < 8 || length != 8 + 3 * std::size_t{data[pos + 7]}) {
        return corrupt("the " + what + " frame header (FF" + hex2(marker) + ") has length " +
                       std::to_string(length) + ", which does not match its component count");
      }
      const unsigned char* sof = data + pos;
      if (precision) *precision = sof[2];
      return compare(what, be16(sof + 5), be16(sof + 3), sof[7], sof[2], layout);
    }
    pos += length;
  }
}

Status checkJpeg2000Frame(const unsigned char* data, std::size_t size, const FrameLayout& layout) {
  std::size_t begin = 0, length = size;
  static const unsigned char jp2Signature[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 13, 10, 0x87, 10};
  if (size >= 12 && std::equal(jp2Signature, jp2Signature + 12, data)) {
    TESSERA_RETURN_IF_ERROR(findJp2Codestream(data, size, &begin, &length));
  }
  const unsigned char* c = data + begin;
  // SOC (FF4F), then SIZ (FF51) first: Lsiz (2), Rsiz (2), Xsiz, Ysiz,
  // XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz (4 each), Csiz (2), and per
  // component Ssiz, XRsiz, YRsiz (1 each). ISO/IEC 15444-1 A.5.1.
  if (length < 4 || c[0] != 0xFF || c[1] != 0x4F || c[2] != 0xFF || c[3] != 0x51)
    return corrupt("the JPEG 2000 data does not start with SOC and SIZ markers (FF4F FF51)");
  if (length < 6) return corrupt("the JPEG 2000 SIZ marker segment is truncated");
  const std::size_t lsiz = be16(c + 4);
  if (lsiz < 41 || (lsiz - 38) % 3 != 0 || lsiz > length - 4) {
    return corrupt("the JPEG 2000 SIZ marker segment has length " + std::to_string(lsiz) +
                   ", which does not fit the " + std::to_string(length - 4) + " bytes left");
  }
  const std::uint32_t xsiz = be32(c + 8), ysiz = be32(c + 12);
  const std::uint32_t xosiz = be32(c + 16), yosiz = be32(c + 20);
  const std::uint32_t csiz = be16(c + 40);
  if (csiz == 0 || lsiz != 38 + 3 * std::size_t{csiz}) {
    return corrupt("the JPEG 2000 SIZ marker segment has length " + std::to_string(lsiz) + " for " +
                   std::to_string(csiz) + " components");
  }
  if (xosiz >= xsiz || yosiz >= ysiz) {
    return corrupt("the JPEG 2000 image inside has no pixels (Xsiz " + std::to_string(xsiz) +
                   ", XOsiz " + std::to_string(xosiz) + ", Ysiz " + std::to_string(ysiz) +
                   ", YOsiz " + std::to_string(yosiz) + ")");
  }
  int precision = 0;
  for (std::uint32_t k = 0; k < csiz; ++k) {
    const unsigned char* component = c + 42 + 3 * k;
    const int bits = (component[0] & 0x7F) + 1;
    if (k > 0 && bits != precision) {
      return corrupt("the JPEG 2000 image inside has components of " + std::to_string(precision) +
                     " and " + std::to_string(bits) + " bits");
    }
    precision = bits;
    if (component[1] != 1 || component[2] != 1) {
      return corrupt("component " + std::to_string(k) +
                     " of the JPEG 2000 image inside is subsampled (" +
                     std::to_string(component[1]) + "×" + std::to_string(component[2]) + ")");
    }
  }
  return compare("JPEG 2000", xsiz - xosiz, ysiz - yosiz, csiz, precision, layout);
}

Status checkRleFrame(const unsigned char* data, std::size_t size, const FrameLayout& layout) {
  if (size < 64) {
    return corrupt("the RLE data holds " + std::to_string(size) +
                   " bytes, fewer than its 64-byte header");
  }
  const std::uint32_t segments = le32(data);
  const int expected = layout.samplesPerPixel * (layout.bitsAllocated / 8);
  if (segments < 1 || segments > 15) {
    return corrupt("the RLE header gives " + std::to_string(segments) +
                   " segments; 1 to 15 are possible");
  }
  if (segments != static_cast<std::uint32_t>(expected)) {
    return corrupt("the RLE data holds " + std::to_string(segments) +
                   " segments but the header's " + std::to_string(layout.samplesPerPixel) +
                   " samples per pixel of " + std::to_string(layout.bitsAllocated) + " bits need " +
                   std::to_string(expected));
  }
  std::uint32_t previous = 0;
  for (std::uint32_t k = 0; k < segments; ++k) {
    const std::uint32_t offset = le32(data + 4 + 4 * k);
    if ((k == 0 && offset != 64) || (k > 0 && offset <= previous) || offset >= size) {
      return corrupt("RLE segment " + std::to_string(k + 1) + " starts at byte " +
                     std::to_string(offset) + (k == 0 ? "" : " after " + std::to_string(previous)) +
                     " of a " + std::to_string(size) + "-byte fragment");
    }
    previous = offset;
  }
  return Status();
}

Status checkFrame(Codec codec, const unsigned char* data, std::size_t size,
                  const FrameLayout& layout) {
  switch (codec) {
    case Codec::kJpeg:
      return checkJpegFrame(data, size, layout, false);
    case Codec::kJpegLs:
      return checkJpegFrame(data, size, layout, true);
    case Codec::kJpeg2000:
      return checkJpeg2000Frame(data, size, layout);
    case Codec::kRle:
      return checkRleFrame(data, size, layout);
    case Codec::kOther:
      break;
  }
  return Status();
}

}  // namespace tessera::imaging::dicom
