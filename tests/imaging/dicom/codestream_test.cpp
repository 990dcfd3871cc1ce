// The codestream header checks that run before GDCM decodes compressed
// pixel data, on minimal hand-built headers: valid ones pass, each field
// that disagrees with the DICOM header, each truncated or mis-sized marker
// segment, box or offset is refused with the reason. Every stream is
// checked from a buffer of exactly its size, so that an over-read shows
// under AddressSanitizer.
#include "imaging/internal/codestream_checks.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace tessera::imaging::dicom {
namespace {

using Bytes = std::vector<unsigned char>;

void be16(Bytes& b, unsigned v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v));
}
void be32(Bytes& b, std::uint32_t v) {
  be16(b, v >> 16);
  be16(b, v & 0xFFFF);
}
void le32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The DICOM header of the frames below: 48 columns, 64 rows (not square,
// so that a swap shows), one 12-bit sample in 16 bits.
FrameLayout layout(int rows = 64, int columns = 48, int bitsAllocated = 16) {
  FrameLayout l;
  l.rows = rows;
  l.columns = columns;
  l.samplesPerPixel = 1;
  l.bitsAllocated = bitsAllocated;
  l.bitsStored = 12;
  l.highBit = 11;
  return l;
}

// A marker segment FFmm with its 2-byte length (payload + 2) and payload.
Bytes segment(unsigned marker, const Bytes& payload) {
  Bytes b{0xFF, static_cast<unsigned char>(marker)};
  be16(b, static_cast<unsigned>(payload.size() + 2));
  return b + payload;
}

// A frame header payload: P, Y, X, Nf and 3 bytes per component.
Bytes sofPayload(int precision, int height, int width, int components) {
  Bytes p{static_cast<unsigned char>(precision)};
  be16(p, static_cast<unsigned>(height));
  be16(p, static_cast<unsigned>(width));
  p.push_back(static_cast<unsigned char>(components));
  for (int c = 0; c < components; ++c)
    p.insert(p.end(), {static_cast<unsigned char>(c + 1), 0x11, 0});
  return p;
}

const Bytes kSoi{0xFF, 0xD8};
const Bytes kSos{0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00};
const Bytes kApp0 = segment(0xE0, {'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0});
const Bytes kDqt = segment(0xDB, Bytes(65, 1));

// SOI, APP0, DQT, a fill byte, SOFn, SOS: what an encoder writes before
// the entropy-coded data.
Bytes jpeg(unsigned sof, int precision = 12, int height = 64, int width = 48, int components = 1) {
  return kSoi + kApp0 + kDqt + Bytes{0xFF} +
         segment(sof, sofPayload(precision, height, width, components)) + kSos;
}

// SOC and SIZ of a J2K codestream; `ssiz` per component (0x0B: unsigned
// 12 bits), subsampling `xr` × `yr`.
Bytes j2k(std::uint32_t xsiz = 48, std::uint32_t ysiz = 64, std::uint32_t xosiz = 0,
          std::uint32_t yosiz = 0, const Bytes& ssiz = {0x0B}, unsigned char xr = 1,
          unsigned char yr = 1) {
  Bytes b{0xFF, 0x4F, 0xFF, 0x51};
  be16(b, static_cast<unsigned>(38 + 3 * ssiz.size()));
  be16(b, 0);  // Rsiz
  for (std::uint32_t v : {xsiz, ysiz, xosiz, yosiz, xsiz, ysiz, 0u, 0u}) be32(b, v);
  be16(b, static_cast<unsigned>(ssiz.size()));
  for (unsigned char s : ssiz) b.insert(b.end(), {s, xr, yr});
  return b + Bytes{0xFF, 0x52};  // COD follows
}

Bytes box(const std::string& type, const Bytes& content) {
  Bytes b;
  be32(b, static_cast<std::uint32_t>(content.size() + 8));
  b.insert(b.end(), type.begin(), type.end());
  return b + content;
}

const Bytes kJp2Signature{0, 0, 0, 12, 'j', 'P', ' ', ' ', 13, 10, 0x87, 10};

// A JP2 file: signature, file type, header, codestream boxes.
Bytes jp2(const Bytes& codestream) {
  return kJp2Signature + box("ftyp", {'j', 'p', '2', ' ', 0, 0, 0, 0, 'j', 'p', '2', ' '}) +
         box("jp2h", box("ihdr", Bytes(14, 0))) + box("jp2c", codestream);
}

// The RLE header (segment count, 15 offsets) followed by `dataBytes`.
Bytes rle(std::uint32_t count, const std::vector<std::uint32_t>& offsets, std::size_t dataBytes) {
  Bytes b;
  le32(b, count);
  for (std::size_t i = 0; i < 15; ++i) le32(b, i < offsets.size() ? offsets[i] : 0);
  return b + Bytes(dataBytes, 0x7F);
}

// Checks `bytes` from a heap buffer of exactly their size.
Status check(Codec codec, const Bytes& bytes, const FrameLayout& l = layout()) {
  const Bytes exact(bytes);
  return checkFrame(codec, exact.empty() ? nullptr : exact.data(), exact.size(), l);
}

TEST(CodestreamChecks, TransferSyntaxesMapToTheirCodec) {
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.50"), Codec::kJpeg);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.51"), Codec::kJpeg);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.57"), Codec::kJpeg);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.66"), Codec::kJpeg);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.67"), Codec::kOther);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.5"), Codec::kOther);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.70"), Codec::kJpeg);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.80"), Codec::kJpegLs);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.81"), Codec::kJpegLs);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.90"), Codec::kJpeg2000);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.91"), Codec::kJpeg2000);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.5"), Codec::kRle);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.1"), Codec::kOther);
  EXPECT_EQ(codecOf("1.2.840.10008.1.2.4.500"), Codec::kOther);
}

TEST(CodestreamChecks, MatchingHeadersPass) {
  EXPECT_TRUE(check(Codec::kJpeg, jpeg(0xC0)).ok()) << check(Codec::kJpeg, jpeg(0xC0)).toString();
  EXPECT_TRUE(check(Codec::kJpeg, jpeg(0xC1)).ok());
  EXPECT_TRUE(check(Codec::kJpeg, jpeg(0xC3, 16)).ok());  // lossless, 16 bits fit 16
  EXPECT_TRUE(check(Codec::kJpegLs, kSoi + segment(0xF7, sofPayload(12, 64, 48, 1))).ok());
  EXPECT_TRUE(check(Codec::kJpeg2000, j2k()).ok()) << check(Codec::kJpeg2000, j2k()).toString();
  EXPECT_TRUE(check(Codec::kJpeg2000, j2k(58, 70, 10, 6)).ok());  // image offset in the grid
  EXPECT_TRUE(check(Codec::kJpeg2000, jp2(j2k())).ok())
      << check(Codec::kJpeg2000, jp2(j2k())).toString();
  EXPECT_TRUE(check(Codec::kRle, rle(2, {64, 100}, 80)).ok());
  FrameLayout eightBit = layout();
  eightBit.bitsAllocated = 8;
  eightBit.bitsStored = 8;
  eightBit.highBit = 7;
  EXPECT_TRUE(check(Codec::kRle, rle(1, {64}, 10), eightBit).ok());
  EXPECT_TRUE(check(Codec::kOther, Bytes{1, 2, 3}).ok());
}

// Precision and sign other than BitsStored / PixelRepresentation are
// followed by the decoder (files like this exist); they pass while the
// samples fit in BitsAllocated.
TEST(CodestreamChecks, PrecisionAndSignWithinBitsAllocatedPass) {
  EXPECT_TRUE(check(Codec::kJpeg2000, j2k(48, 64, 0, 0, {0x8F})).ok());  // signed 16 bits
  EXPECT_TRUE(check(Codec::kJpeg2000, j2k(48, 64, 0, 0, {0x07})).ok());  // 8 bits
  EXPECT_TRUE(check(Codec::kJpeg, jpeg(0xC0, 8)).ok());
}

TEST(CodestreamChecks, HighBitMustBeBitsStoredMinusOne) {
  FrameLayout l = layout();
  EXPECT_TRUE(checkLayout(Codec::kRle, l).ok());
  l.highBit = 15;  // 12 stored bits at 4..15
  for (Codec codec : {Codec::kJpeg, Codec::kJpegLs, Codec::kJpeg2000, Codec::kRle}) {
    const Status s = checkLayout(codec, l);
    ASSERT_FALSE(s.ok()) << static_cast<int>(codec);
    EXPECT_EQ(s.code(), StatusCode::kUnsupported);
    EXPECT_NE(s.error().message.find("BitsStored 12 with HighBit 15"), std::string::npos)
        << s.toString();
  }
  EXPECT_TRUE(checkLayout(Codec::kOther, l).ok());  // native data: Tessera shifts itself
}

// Every proper prefix of a valid JPEG or JPEG 2000 header is refused (the
// frame header is incomplete); an RLE fragment is refused once it no
// longer holds the start of its last segment.
TEST(CodestreamChecks, EveryTruncationIsRefused) {
  // The stream, and how many of its bytes the check needs: up to the end
  // of the frame header / SIZ (the SOS / COD after it may go), all of a
  // JP2 file (its codestream box must be whole).
  const std::tuple<Codec, Bytes, std::size_t> streams[] = {
      {Codec::kJpeg, jpeg(0xC0), jpeg(0xC0).size() - kSos.size()},
      {Codec::kJpegLs, kSoi + segment(0xF7, sofPayload(12, 64, 48, 1)), 2 + 2 + 2 + 9},
      {Codec::kJpeg2000, j2k(), j2k().size() - 2},
      {Codec::kJpeg2000, jp2(j2k()), jp2(j2k()).size()},
  };
  for (const auto& [codec, full, needed] : streams) {
    for (std::size_t size = 0; size < needed; ++size) {
      const Status s = check(codec, Bytes(full.begin(), full.begin() + static_cast<long>(size)));
      EXPECT_EQ(s.code(), StatusCode::kCorruptData) << "codec " << static_cast<int>(codec) << ", "
                                                    << size << " of " << full.size() << " bytes";
    }
    EXPECT_TRUE(check(codec, Bytes(full.begin(), full.begin() + static_cast<long>(needed))).ok());
  }
  const Bytes full = rle(2, {64, 100}, 80);
  for (std::size_t size = 0; size < full.size(); ++size) {
    const Status s =
        check(Codec::kRle, Bytes(full.begin(), full.begin() + static_cast<long>(size)));
    EXPECT_EQ(s.ok(), size > 100) << size << " of " << full.size() << " bytes: " << s.toString();
  }
}

struct BadStream {
  std::string name;
  Codec codec;
  Bytes bytes;
  FrameLayout layout;
  std::string reason;
};

std::ostream& operator<<(std::ostream& out, const BadStream& s) {
  return out << s.name;
}

class BadCodestream : public ::testing::TestWithParam<BadStream> {};

TEST_P(BadCodestream, IsRefusedWithTheReason) {
  const BadStream& c = GetParam();
  const Status s = check(c.codec, c.bytes, c.layout);
  ASSERT_FALSE(s.ok()) << c.name;
  EXPECT_EQ(s.code(), StatusCode::kCorruptData) << s.toString();
  EXPECT_NE(s.error().message.find(c.reason), std::string::npos) << s.toString();
}

Bytes withByte(Bytes b, std::size_t at, unsigned char value) {
  b.at(at) = value;
  return b;
}

// Offset of the SIZ length within j2k(): SOC (2) + marker (2).
constexpr std::size_t kLsiz = 4;

INSTANTIATE_TEST_SUITE_P(
    , BadCodestream,
    ::testing::Values(
        // JPEG and JPEG-LS frame headers
        BadStream{"JpegWithoutSoi", Codec::kJpeg, Bytes{0xFF, 0xD9}, layout(), "(FFD8)"},
        BadStream{"JpegEmpty", Codec::kJpeg, Bytes{}, layout(), "(FFD8)"},
        BadStream{"JpegWidth", Codec::kJpeg, jpeg(0xC0, 12, 64, 64), layout(),
                  "the JPEG image inside is 64×64 but the header says 48×64"},
        BadStream{"JpegHeight", Codec::kJpeg, jpeg(0xC1, 12, 65), layout(),
                  "the JPEG image inside is 48×65"},
        BadStream{"JpegHeightLeftToDnl", Codec::kJpeg, jpeg(0xC0, 12, 0), layout(),
                  "inside is 48×0"},
        BadStream{"JpegRowsAndColumnsSwapped", Codec::kJpeg, jpeg(0xC0, 12, 48, 64), layout(),
                  "inside is 64×48"},
        BadStream{"JpegComponents", Codec::kJpeg, jpeg(0xC0, 8, 64, 48, 3), layout(),
                  "has 3 components but the header says 1 samples per pixel"},
        BadStream{"JpegPrecisionBeyondBitsAllocated", Codec::kJpeg, jpeg(0xC3, 12),
                  layout(64, 48, 8), "has 12-bit samples but the header allocates 8 bits"},
        BadStream{"JpegPrecisionZero", Codec::kJpeg, jpeg(0xC3, 0), layout(), "has 0-bit samples"},
        BadStream{"JpegScanBeforeFrame", Codec::kJpeg, kSoi + kDqt + kSos, layout(),
                  "no frame header before marker FFDA"},
        BadStream{"JpegEndBeforeFrame", Codec::kJpeg, kSoi + kApp0 + Bytes{0xFF, 0xD9}, layout(),
                  "no frame header before marker FFD9"},
        BadStream{"JpegEndsAfterSegments", Codec::kJpeg, kSoi + kApp0 + kDqt, layout(),
                  "ends before its frame header"},
        BadStream{"JpegOnlyFillBytes", Codec::kJpeg, kSoi + Bytes{0xFF, 0xFF, 0xFF}, layout(),
                  "ends before its frame header"},
        BadStream{"JpegSegmentLengthZero", Codec::kJpeg, withByte(jpeg(0xC0), 5, 0), layout(),
                  "FFE0 at byte 2 has length 0"},
        BadStream{"JpegSegmentLengthOne", Codec::kJpeg, withByte(jpeg(0xC0), 5, 1), layout(),
                  "FFE0 at byte 2 has length 1"},
        BadStream{"JpegSegmentPastTheEnd", Codec::kJpeg, withByte(jpeg(0xC0), 4, 0x40), layout(),
                  "FFE0 at byte 2 has length 16400, which does not fit"},
        BadStream{"JpegSegmentLengthMissing", Codec::kJpeg, kSoi + Bytes{0xFF, 0xE0, 0x00},
                  layout(), "marker segment FFE0 is truncated"},
        BadStream{"JpegGarbageBetweenSegments", Codec::kJpeg,
                  kSoi + kApp0 + Bytes{0x00} + jpeg(0xC0), layout(), "no marker at byte 20"},
        BadStream{"JpegFrameLengthForOtherComponentCount", Codec::kJpeg,
                  withByte(kSoi + segment(0xC0, sofPayload(12, 64, 48, 1)), 11, 3), layout(),
                  "has length 11, which does not match its component count"},
        BadStream{"JpegFrameLengthShort", Codec::kJpeg,
                  kSoi + segment(0xC0, Bytes{12, 0, 64, 0, 48}), layout(),
                  "frame header (FFC0) has length 7"},
        BadStream{"JpegLsFrameInJpeg", Codec::kJpeg,
                  kSoi + segment(0xF7, sofPayload(12, 64, 48, 1)), layout(),
                  "the JPEG data holds a JPEG-LS frame (FFF7)"},
        BadStream{"JpegFrameInJpegLs", Codec::kJpegLs, jpeg(0xC3), layout(),
                  "the JPEG-LS data holds a JPEG frame (FFC3)"},
        BadStream{"JpegLsMoreRowsInTheHeader", Codec::kJpegLs,
                  kSoi + segment(0xF7, sofPayload(16, 64, 64, 1)), layout(128, 64),
                  "the JPEG-LS image inside is 64×64 but the header says 64×128"},
        BadStream{"JpegLsWidth", Codec::kJpegLs, kSoi + segment(0xF7, sofPayload(12, 64, 47, 1)),
                  layout(), "inside is 47×64"},
        // JPEG 2000 SIZ and JP2 boxes
        BadStream{"J2kWithoutSoc", Codec::kJpeg2000, Bytes{0xFF, 0x51, 0xFF, 0x4F, 0, 0}, layout(),
                  "(FF4F FF51)"},
        BadStream{"J2kSizNotFirst", Codec::kJpeg2000, withByte(j2k(), 3, 0x52), layout(),
                  "(FF4F FF51)"},
        BadStream{"J2kSmallerThanTheHeader", Codec::kJpeg2000, j2k(24, 32), layout(),
                  "the JPEG 2000 image inside is 24×32 but the header says 48×64"},
        BadStream{"J2kLargerThanTheHeader", Codec::kJpeg2000, j2k(512, 512), layout(),
                  "the JPEG 2000 image inside is 512×512 but the header says 48×64"},
        BadStream{"J2kImageOffsetNarrowsIt", Codec::kJpeg2000, j2k(48, 64, 10, 0), layout(),
                  "inside is 38×64"},
        BadStream{"J2kOffsetPastTheImage", Codec::kJpeg2000, j2k(48, 64, 48, 0), layout(),
                  "has no pixels (Xsiz 48, XOsiz 48"},
        BadStream{"J2kNoRows", Codec::kJpeg2000, j2k(48, 0), layout(), "has no pixels"},
        BadStream{"J2kComponents", Codec::kJpeg2000, j2k(48, 64, 0, 0, {0x0B, 0x0B, 0x0B}),
                  layout(), "has 3 components but the header says 1"},
        BadStream{"J2kComponentsOfDifferentPrecision", Codec::kJpeg2000,
                  j2k(48, 64, 0, 0, {0x0B, 0x07}), layout(), "components of 12 and 8 bits"},
        BadStream{"J2kPrecisionBeyondBitsAllocated", Codec::kJpeg2000, j2k(48, 64, 0, 0, {0x8F}),
                  layout(64, 48, 8), "has 16-bit samples but the header allocates 8 bits"},
        BadStream{"J2kSubsampled", Codec::kJpeg2000, j2k(48, 64, 0, 0, {0x0B}, 2, 1), layout(),
                  "is subsampled (2×1)"},
        BadStream{"J2kNoComponents", Codec::kJpeg2000, withByte(j2k(), 41, 0), layout(),
                  "for 0 components"},
        BadStream{"J2kLsizForOtherComponentCount", Codec::kJpeg2000,
                  withByte(j2k(48, 64, 0, 0, {0x0B, 0x0B}), 41, 1), layout(),
                  "length 44 for 1 components"},
        BadStream{"J2kLsizZero", Codec::kJpeg2000,
                  withByte(withByte(j2k(), kLsiz, 0), kLsiz + 1, 0), layout(),
                  "SIZ marker segment has length 0"},
        BadStream{"J2kLsizPastTheEnd", Codec::kJpeg2000, withByte(j2k(), kLsiz, 0x10), layout(),
                  "has length 4137, which does not fit"},
        BadStream{"Jp2WithoutCodestreamBox", Codec::kJpeg2000,
                  kJp2Signature + box("jp2h", box("ihdr", Bytes(14, 0))), layout(),
                  "no codestream box (jp2c)"},
        BadStream{"Jp2BoxPastTheEnd", Codec::kJpeg2000, withByte(jp2(j2k()), 12 + 2, 0x7F),
                  layout(), "which does not fit"},
        BadStream{"Jp2BoxShorterThanItsHeader", Codec::kJpeg2000, withByte(jp2(j2k()), 12 + 3, 4),
                  layout(), "has length 4"},
        BadStream{"Jp2ExtendedLengthTruncated", Codec::kJpeg2000,
                  kJp2Signature + Bytes{0, 0, 0, 1, 'j', 'p', '2', 'c', 0, 0}, layout(),
                  "at byte 12 is truncated"},
        BadStream{"Jp2CodestreamDisagrees", Codec::kJpeg2000, jp2(j2k(64, 64)), layout(),
                  "the JPEG 2000 image inside is 64×64 but the header says 48×64"},
        // RLE header
        BadStream{"RleShorterThanItsHeader", Codec::kRle, Bytes(63, 0), layout(),
                  "holds 63 bytes, fewer than its 64-byte header"},
        BadStream{"RleNoSegments", Codec::kRle, rle(0, {}, 10), layout(),
                  "gives 0 segments; 1 to 15"},
        BadStream{"RleSixteenSegments", Codec::kRle, rle(16, {64}, 10), layout(),
                  "gives 16 segments"},
        BadStream{"RleSegmentsForOtherBitsAllocated", Codec::kRle, rle(1, {64}, 10), layout(),
                  "holds 1 segments but the header's 1 samples per pixel of 16 bits need 2"},
        BadStream{"RleSegmentsForOtherSamples", Codec::kRle, rle(6, {64, 70, 80, 90, 100, 110}, 60),
                  layout(), "holds 6 segments"},
        BadStream{"RleFirstOffsetNot64", Codec::kRle, rle(2, {68, 100}, 80), layout(),
                  "segment 1 starts at byte 68"},
        BadStream{"RleOffsetsDecreasing", Codec::kRle, rle(2, {64, 63}, 80), layout(),
                  "segment 2 starts at byte 63 after 64"},
        BadStream{"RleOffsetsEqual", Codec::kRle, rle(2, {64, 64}, 80), layout(),
                  "segment 2 starts at byte 64 after 64"},
        BadStream{"RleOffsetPastTheFragment", Codec::kRle, rle(2, {64, 4000}, 80), layout(),
                  "starts at byte 4000 after 64 of a 144-byte fragment"},
        BadStream{"RleOffsetAtTheEnd", Codec::kRle, rle(2, {64, 144}, 80), layout(),
                  "starts at byte 144 after 64 of a 144-byte fragment"}),
    [](const ::testing::TestParamInfo<BadStream>& info) { return info.param.name; });

}  // namespace
}  // namespace tessera::imaging::dicom
