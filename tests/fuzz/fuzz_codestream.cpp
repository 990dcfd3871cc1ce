// imaging/internal/codestream_checks: the JPEG, JPEG-LS, JPEG 2000 and RLE
// frame header readers. The first 8 bytes choose the codec and the DICOM
// layout the frame is checked against; the rest is the frame.
#include <cstddef>
#include <cstdint>

#include "imaging/internal/codestream_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace dicom = tessera::imaging::dicom;
  if (size < 8) return 0;
  static constexpr dicom::Codec kCodecs[] = {dicom::Codec::kJpeg, dicom::Codec::kJpegLs,
                                             dicom::Codec::kJpeg2000, dicom::Codec::kRle};
  const dicom::Codec codec = kCodecs[data[0] % 4];
  dicom::FrameLayout layout;
  layout.rows = data[1] | (data[2] << 8);
  layout.columns = data[3] | (data[4] << 8);
  layout.samplesPerPixel = data[5] & 3 ? 1 : 3;
  layout.bitsAllocated = (data[6] & 1) ? 8 : 16;
  layout.bitsStored = 1 + data[7] % layout.bitsAllocated;
  layout.highBit = layout.bitsStored - 1;
  (void)dicom::checkLayout(codec, layout);
  (void)dicom::checkFrame(codec, data + 8, size - 8, layout);
  if (codec == dicom::Codec::kJpeg) (void)dicom::checkJpegFrame(data + 8, size - 8, layout, true);
  return 0;
}
