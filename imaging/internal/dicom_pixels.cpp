#include "imaging/internal/dicom_pixels.h"

#include <gdcmDataElement.h>
#include <gdcmFragment.h>
#include <gdcmImage.h>
#include <gdcmPhotometricInterpretation.h>
#include <gdcmPixelFormat.h>
#include <gdcmSequenceOfFragments.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "imaging/internal/codestream_checks.h"
#include "imaging/internal/jpeg_decode.h"

namespace tessera::imaging::dicom {

void quietGdcm() {
  static std::once_flag once;
  std::call_once(once, [] {
    gdcm::Trace::SetDebug(false);
    gdcm::Trace::SetWarning(false);
    gdcm::Trace::SetError(false);
  });
}

namespace {

// The fragments (indices into Element::fragments, the offset table being
// 0) that hold each frame: [starts[f], starts[f + 1]), the last entry
// being fragments.size(). One frame takes every fragment; otherwise one
// fragment per frame, or the basic offset table says where frames start.
// With neither, only the first frame's start is known (two entries).
Result<std::vector<std::size_t>> frameStarts(const DicomFile& file, const Element& pixels,
                                             std::size_t frames, const std::string& path) {
  const std::size_t fragments = pixels.fragments.size() - 1;
  std::vector<std::size_t> starts;
  if (frames <= 1) {
    starts.push_back(1);
  } else if (fragments == frames) {
    for (std::size_t f = 0; f < frames; ++f) starts.push_back(1 + f);
  } else if (const auto& [tableOffset, tableLength] = pixels.fragments.front(); tableLength > 0) {
    if (tableLength != 4 * frames)
      return Error{StatusCode::kCorruptData,
                   "the basic offset table lists " + std::to_string(tableLength / 4) +
                       " frames but the header says " + std::to_string(frames),
                   path};
    // Offsets count from the first fragment's item tag; each item has an
    // 8-byte tag and length before its value.
    std::size_t fragment = 1;
    std::uint64_t position = 0;
    for (std::size_t f = 0; f < frames; ++f) {
      const auto* p = reinterpret_cast<const unsigned char*>(file.data(tableOffset + 4 * f));
      const std::uint64_t offset = std::uint64_t{p[0]} | (std::uint64_t{p[1]} << 8) |
                                   (std::uint64_t{p[2]} << 16) | (std::uint64_t{p[3]} << 24);
      while (fragment <= fragments && position < offset)
        position += 8 + pixels.fragments[fragment++].second;
      if (fragment > fragments || position != offset)
        return Error{StatusCode::kCorruptData,
                     "the basic offset table puts frame " + std::to_string(f + 1) + " at byte " +
                         std::to_string(offset) + ", where no fragment starts",
                     path};
      starts.push_back(fragment);
    }
  } else {
    starts.push_back(1);
  }
  starts.push_back(pixels.fragments.size());
  return starts;
}

// The compressed bytes of frame `f`: its one fragment in place, or its
// fragments joined into `joined` (whose storage the result then points to).
std::pair<const unsigned char*, std::size_t> frameBytes(const DicomFile& file,
                                                        const Element& pixels,
                                                        const std::vector<std::size_t>& starts,
                                                        std::size_t f,
                                                        std::vector<unsigned char>& joined) {
  if (starts[f + 1] - starts[f] == 1) {
    const auto& [offset, length] = pixels.fragments[starts[f]];
    return {reinterpret_cast<const unsigned char*>(file.data(offset)), length};
  }
  joined.clear();
  for (std::size_t i = starts[f]; i < starts[f + 1]; ++i) {
    const char* part = file.data(pixels.fragments[i].first);
    joined.insert(joined.end(), part, part + pixels.fragments[i].second);
  }
  return {joined.data(), joined.size()};
}

FrameLayout layoutOf(const ImageFile& image) {
  FrameLayout layout;
  layout.rows = image.rows;
  layout.columns = image.columns;
  layout.samplesPerPixel = image.samplesPerPixel;
  layout.bitsAllocated = image.bitsAllocated;
  layout.bitsStored = image.bitsStored;
  layout.highBit = image.highBit;
  return layout;
}

// "the <transfer syntax> pixel data could not be decoded: [frame N: ]<why>"
Error undecodable(const ImageFile& image, const std::string& tsName, const Status& status,
                  std::size_t frame, std::size_t frames) {
  return Error{status.code(),
               "the " + tsName + " pixel data could not be decoded: " +
                   (frames > 1 ? "frame " + std::to_string(frame + 1) + ": " : "") +
                   status.error().message,
               image.path};
}

// Checks each frame's codestream header against the DICOM header before
// any decoder sees it (see codestream_checks.h for why). Returns the
// frame starts (frameStarts); none for the codecs not checked here.
Result<std::vector<std::size_t>> checkCodestreams(const DicomFile& file, const ImageFile& image,
                                                  const Element& pixels,
                                                  const std::string& tsName) {
  const Codec codec = codecOf(image.transferSyntaxUid);
  const FrameLayout layout = layoutOf(image);
  if (Status s = checkLayout(codec, layout); !s.ok()) return undecodable(image, tsName, s, 0, 1);
  if (codec == Codec::kOther) return std::vector<std::size_t>{};  // GDCM finds the frames
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::size_t> starts,
                           frameStarts(file, pixels, image.frames.size(), image.path));
  const std::size_t known = starts.size() - 1;
  std::vector<unsigned char> joined;
  for (std::size_t f = 0; f < known; ++f) {
    const auto [data, size] = frameBytes(file, pixels, starts, f, joined);
    if (Status s = checkFrame(codec, data, size, layout); !s.ok())
      return undecodable(image, tsName, s, f, known);
  }
  return starts;
}

// JPEG through DCMTK (jpeg_decode.h), frame by frame.
Result<StoredPixels> decodeJpeg(const DicomFile& file, const ImageFile& image,
                                const Element& pixels, const std::vector<std::size_t>& starts,
                                const std::string& tsName) {
  const std::size_t frames = image.frames.size();
  if (starts.size() - 1 != frames)
    return Error{StatusCode::kUnsupported,
                 "the " + tsName + " pixel data hold " + std::to_string(frames) + " frames in " +
                     std::to_string(pixels.fragments.size() - 1) +
                     " fragments with no offset table, so where each frame starts is unknown",
                 image.path};
  const FrameLayout layout = layoutOf(image);
  StoredPixels out;
  std::vector<unsigned char> joined;
  for (std::size_t f = 0; f < frames; ++f) {
    const auto [data, size] = frameBytes(file, pixels, starts, f, joined);
    int precision = 0;
    if (Status s = checkJpegFrame(data, size, layout, false, &precision); !s.ok())
      return undecodable(image, tsName, s, f, frames);
    Result<DecodedJpegFrame> frame =
        decodeJpegFrame(data, size, layout, precision, image.pixelRepresentation == 1);
    if (!frame.ok()) return undecodable(image, tsName, Status(frame.error()), f, frames);
    if (f == 0) {
      out.bitsAllocated = 8 * frame.value().bytesPerSample;
      out.bitsStored = precision;
      out.highBit = precision - 1;
      out.pixelRepresentation = image.pixelRepresentation;
      out.bytes.reserve(frames * frame.value().samples.size());
    } else if (precision != out.bitsStored) {
      return undecodable(
          image, tsName,
          Status(StatusCode::kCorruptData, "it has " + std::to_string(precision) +
                                               "-bit samples where the first frame has " +
                                               std::to_string(out.bitsStored)),
          f, frames);
    }
    out.bytes.insert(out.bytes.end(), frame.value().samples.begin(), frame.value().samples.end());
  }
  return out;
}

// JPEG-LS, JPEG 2000 and RLE through GDCM's codecs, all frames at once.
Result<StoredPixels> decodeWithGdcm(const DicomFile& file, const ImageFile& image,
                                    const Element& pixels, gdcm::TransferSyntax::TSType ts,
                                    const std::string& tsName) {
  StoredPixels out;
  gdcm::SmartPointer<gdcm::SequenceOfFragments> sequence = new gdcm::SequenceOfFragments;
  const auto& [tableOffset, tableLength] = pixels.fragments.front();
  if (tableLength > 0)
    sequence->GetTable().SetByteValue(file.data(tableOffset),
                                      static_cast<std::uint32_t>(tableLength));
  for (std::size_t i = 1; i < pixels.fragments.size(); ++i) {
    gdcm::Fragment fragment;
    fragment.SetByteValue(file.data(pixels.fragments[i].first),
                          static_cast<std::uint32_t>(pixels.fragments[i].second));
    sequence->AddFragment(fragment);
  }
  gdcm::DataElement element(gdcm::Tag(0x7FE0, 0x0010));
  element.SetValue(*sequence);
  element.SetVLToUndefined();  // GDCM asserts unless this precedes the VR
  element.SetVR(gdcm::VR::OB);

  gdcm::Image decoder;
  const auto frames = static_cast<unsigned>(image.frames.size());
  decoder.SetNumberOfDimensions(frames > 1 ? 3 : 2);
  decoder.SetDimension(0, static_cast<unsigned>(image.columns));
  decoder.SetDimension(1, static_cast<unsigned>(image.rows));
  if (frames > 1) decoder.SetDimension(2, frames);
  decoder.SetPixelFormat(gdcm::PixelFormat(1, static_cast<unsigned short>(image.bitsAllocated),
                                           static_cast<unsigned short>(image.bitsStored),
                                           static_cast<unsigned short>(image.highBit),
                                           static_cast<unsigned short>(image.pixelRepresentation)));
  decoder.SetPhotometricInterpretation(
      gdcm::PhotometricInterpretation::GetPIType(image.photometric.c_str()));
  decoder.SetTransferSyntax(gdcm::TransferSyntax(ts));
  decoder.SetDataElement(element);
  out.bytes.resize(decoder.GetBufferLength());
  if (!decoder.GetBuffer(out.bytes.data())) {
    return Error{StatusCode::kUnsupported,
                 "the " + tsName +
                     " pixel data could not be decoded (damaged, or a variant of the codec "
                     "that is not supported)",
                 image.path};
  }
  if (decoder.GetDimension(0) != static_cast<unsigned>(image.columns) ||
      decoder.GetDimension(1) != static_cast<unsigned>(image.rows))
    return Error{StatusCode::kCorruptData,
                 "the decoded " + tsName + " image is not the size the header gives", image.path};
  // Codecs correct header fields that disagree with the compressed stream.
  const gdcm::PixelFormat& pf = decoder.GetPixelFormat();
  out.bitsAllocated = pf.GetBitsAllocated();
  out.bitsStored = pf.GetBitsStored();
  out.highBit = pf.GetHighBit();
  out.pixelRepresentation = pf.GetPixelRepresentation();
  return out;
}

Result<StoredPixels> decodeEncapsulated(const DicomFile& file, const ImageFile& image,
                                        const Element& pixels, std::uint64_t expectedBytes) {
  quietGdcm();
  const std::string tsName = transferSyntaxName(image.transferSyntaxUid);
  if (pixels.fragments.size() < 2)
    return Error{StatusCode::kCorruptData, "the compressed pixel data holds no fragments",
                 image.path};
  const bool jpeg = codecOf(image.transferSyntaxUid) == Codec::kJpeg;
  const gdcm::TransferSyntax::TSType ts =
      gdcm::TransferSyntax::GetTSType(image.transferSyntaxUid.c_str());
  if (!jpeg && ts == gdcm::TransferSyntax::TS_END)
    return Error{StatusCode::kUnsupported, "transfer syntax " + tsName + " cannot be decoded",
                 image.path};
  Result<StoredPixels> decoded = [&]() -> Result<StoredPixels> {
    try {
      TESSERA_ASSIGN_OR_RETURN(std::vector<std::size_t> starts,
                               checkCodestreams(file, image, pixels, tsName));
      return jpeg ? decodeJpeg(file, image, pixels, starts, tsName)
                  : decodeWithGdcm(file, image, pixels, ts, tsName);
    } catch (const std::bad_alloc&) {
      return Error{StatusCode::kResourceExhausted, "not enough memory to decode the pixel data",
                   image.path};
    } catch (const std::exception& e) {
      return Error{StatusCode::kUnsupported,
                   "the " + tsName + " pixel data could not be decoded: " + e.what(), image.path};
    }
  }();
  if (!decoded.ok()) return decoded;
  const StoredPixels& out = decoded.value();
  // Rows × Columns × frames × SamplesPerPixel samples, of the width the
  // codec reports.
  const std::uint64_t samples = expectedBytes /
                                static_cast<std::uint64_t>(image.bitsAllocated / 8) *
                                static_cast<std::uint64_t>(image.samplesPerPixel);
  if (out.bitsAllocated % 8 != 0 || out.bitsAllocated == 0 ||
      out.bytes.size() != samples * static_cast<std::uint64_t>(out.bitsAllocated / 8)) {
    return Error{StatusCode::kCorruptData,
                 "the decoded " + tsName + " pixel data does not match the image size", image.path};
  }
  return decoded;
}

template <class Raw>
Status convert(const char* bytes, std::int64_t count, const StoredPixels& p, double slope,
               double intercept, std::int16_t* out, ConversionStats* stats,
               const std::string& path) {
  const int shift = p.highBit + 1 - p.bitsStored;
  const std::uint64_t mask =
      p.bitsStored >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << p.bitsStored) - 1;
  const bool isSigned = p.pixelRepresentation == 1;
  const std::int64_t signBit = std::int64_t{1} << (p.bitsStored - 1);
  const bool exact = slope == 1.0 && intercept == std::floor(intercept);
  const auto offset = static_cast<std::int64_t>(intercept);
  std::int64_t rounded = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    Raw raw;
    std::memcpy(&raw, bytes + i * static_cast<std::int64_t>(sizeof(Raw)), sizeof(Raw));
    auto bits = (static_cast<std::uint64_t>(raw) >> shift) & mask;
    auto stored = static_cast<std::int64_t>(bits);
    if (isSigned && (stored & signBit)) stored -= signBit << 1;
    std::int64_t hu;
    if (exact) {
      hu = stored + offset;
    } else {
      const double value = static_cast<double>(stored) * slope + intercept;
      const double r = std::nearbyint(value);
      if (std::abs(value - r) > 1e-6) ++rounded;
      hu = static_cast<std::int64_t>(r);
    }
    if (hu < -32768 || hu > 32767) {
      return Status(StatusCode::kUnsupported,
                    "stored value " + std::to_string(stored) + " with rescale slope " +
                        std::to_string(slope) + " and intercept " + std::to_string(intercept) +
                        " gives " + std::to_string(hu) +
                        ", outside the Hounsfield range -32768..32767",
                    path);
    }
    out[i] = static_cast<std::int16_t>(hu);
  }
  stats->nonIntegerValues += rounded;
  return Status();
}

}  // namespace

Result<StoredPixels> decodePixels(const DicomFile& file, const ImageFile& image) {
  const Element* pixels = file.dataset.find(kPixelDataTag);
  if (!pixels)
    return Error{StatusCode::kCorruptData, "the file has no pixel data (element 7FE0,0010)",
                 image.path};
  const std::uint64_t bytesPerSample = static_cast<std::uint64_t>(image.bitsAllocated / 8);
  const std::uint64_t expected = static_cast<std::uint64_t>(image.rows) *
                                 static_cast<std::uint64_t>(image.columns) * image.frames.size() *
                                 bytesPerSample;
  if (pixels->encapsulated) return decodeEncapsulated(file, image, *pixels, expected);
  if (pixels->length < expected) {
    return Error{StatusCode::kCorruptData,
                 "the pixel data is incomplete: " + std::to_string(pixels->length) + " of " +
                     std::to_string(expected) + " bytes present",
                 image.path};
  }
  StoredPixels out;
  out.bitsAllocated = image.bitsAllocated;
  out.bitsStored = image.bitsStored;
  out.highBit = image.highBit;
  out.pixelRepresentation = image.pixelRepresentation;
  try {
    out.bytes.assign(file.data(pixels->offset), file.data(pixels->offset) + expected);
  } catch (const std::bad_alloc&) {
    return Error{StatusCode::kResourceExhausted, "not enough memory for the pixel data",
                 image.path};
  }
  if (file.bigEndian && bytesPerSample > 1) {
    for (std::uint64_t i = 0; i < expected; i += bytesPerSample)
      std::reverse(out.bytes.begin() + static_cast<long>(i),
                   out.bytes.begin() + static_cast<long>(i + bytesPerSample));
  }
  return out;
}

Status storedToHu(const StoredPixels& pixels, std::int64_t frameVoxels, int frame, double slope,
                  double intercept, std::int16_t* out, ConversionStats* stats,
                  const std::string& path) {
  const std::int64_t bytesPerSample = pixels.bitsAllocated / 8;
  const std::int64_t begin = frameVoxels * frame * bytesPerSample;
  if (begin + frameVoxels * bytesPerSample > static_cast<std::int64_t>(pixels.bytes.size()))
    return Status(StatusCode::kCorruptData, "frame " + std::to_string(frame) + " is missing", path);
  const char* bytes = pixels.bytes.data() + begin;
  switch (pixels.bitsAllocated) {
    case 8:
      return convert<std::uint8_t>(bytes, frameVoxels, pixels, slope, intercept, out, stats, path);
    case 16:
      return convert<std::uint16_t>(bytes, frameVoxels, pixels, slope, intercept, out, stats, path);
    case 32:
      return convert<std::uint32_t>(bytes, frameVoxels, pixels, slope, intercept, out, stats, path);
    default:
      return Status(StatusCode::kUnsupported,
                    std::to_string(pixels.bitsAllocated) + "-bit samples are not supported", path);
  }
}

}  // namespace tessera::imaging::dicom
