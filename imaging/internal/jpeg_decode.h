// JPEG (ITU-T T.81) frame decoding for DICOM, private to imaging/, through
// DCMTK's dcmjpeg: the IJG libjpeg that DCMTK builds three times, for 8,
// 12 and 16 bits per sample (baseline, extended and lossless processes).
// GDCM 3.0.21's JPEG codecs assert (abort the process) on damaged
// entropy-coded data; libjpeg reports errors through DCMTK's error manager
// and corrupt data as warnings, both of which are refused here. This module
// owns the dcmtk.dcmjpeg logger: its output goes to the decoders' callers,
// not to the console.
#pragma once

#include <cstddef>
#include <vector>

#include "core/status.h"
#include "imaging/internal/codestream_checks.h"

namespace tessera::imaging::dicom {

// One decoded frame: layout.rows × layout.columns samples (one component),
// `bytesPerSample` bytes each (1 for precision ≤ 8, else 2), native order.
struct DecodedJpegFrame {
  std::vector<char> samples;
  int bytesPerSample = 2;
};

// Decodes the `size` bytes at `data` (one whole frame: every fragment of
// it, in order), whose frame header gives `precision` bits per sample
// (checkJpegFrame). kCorruptData with the decoder's reason when libjpeg
// fails, reports corrupt data, or stops before the last row; no context
// (the caller adds the path). Thread-safe: nothing is shared between calls.
Result<DecodedJpegFrame> decodeJpegFrame(const unsigned char* data, std::size_t size,
                                         const FrameLayout& layout, int precision, bool isSigned);

}  // namespace tessera::imaging::dicom
