// DICOM pixel data to Hounsfield units, private to imaging/. Native
// (uncompressed) pixel data is decoded here; encapsulated JPEG through
// DCMTK (jpeg_decode.h), JPEG-LS, JPEG 2000 and RLE through GDCM's codecs,
// each after the codestream checks of codestream_checks.h.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "imaging/internal/dicom_parser.h"
#include "imaging/internal/dicom_series.h"

namespace tessera::imaging::dicom {

// All frames of one file as stored samples in native byte order, with the
// bit layout that applies to them (codecs may correct the header's).
struct StoredPixels {
  std::vector<char> bytes;  // frames × rows × columns samples, bitsAllocated / 8 bytes each
  int bitsAllocated = 16;
  int bitsStored = 16;
  int highBit = 15;
  int pixelRepresentation = 0;
};

// Silences GDCM's trace output (warnings on stderr); Tessera reports
// problems itself. Safe to call from any thread, any number of times.
void quietGdcm();

// `file` must be a full (not header-only) parse of `image.path`.
Result<StoredPixels> decodePixels(const DicomFile& file, const ImageFile& image);

struct ConversionStats {
  std::int64_t nonIntegerValues = 0;  // rescaled values that were rounded
};

// Writes frame `frame` of `pixels` as HU (stored × slope + intercept,
// rounded) into `out` (rows × columns voxels). Refuses values outside int16.
Status storedToHu(const StoredPixels& pixels, std::int64_t frameVoxels, int frame, double slope,
                  double intercept, std::int16_t* out, ConversionStats* stats,
                  const std::string& path);

}  // namespace tessera::imaging::dicom
