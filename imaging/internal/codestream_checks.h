// Checks of compressed pixel data against the DICOM header, private to
// imaging/, done before any decoder sees the data. GDCM 3.0.21 as Debian
// builds it trusts the DICOM header for the output buffer and the
// codestream for what it writes: a JPEG 2000 image larger than Rows ×
// Columns overflows the heap, a smaller one leaves a scrambled volume, and
// JPEG-LS and RLE mismatches trip its asserts (abort). Each codestream's
// own header is therefore read here and compared with the DICOM header.
//
// The header readers are small and written by hand: no Debian library
// reads just the frame header of a JPEG, JPEG-LS or JPEG 2000 stream
// without decoding it (libjpeg, CharLS and OpenJPEG all start decoding once
// the header is read, and would have to be given the whole stream).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace tessera::imaging::dicom {

// What the DICOM header says one frame holds.
struct FrameLayout {
  int rows = 0, columns = 0;
  int samplesPerPixel = 1;
  int bitsAllocated = 16, bitsStored = 16, highBit = 15;
};

enum class Codec { kOther, kJpeg, kJpegLs, kJpeg2000, kRle };

// The codec family of an encapsulated transfer syntax; kOther for those
// not checked here (their decoding fails in GDCM with an error).
Codec codecOf(const std::string& transferSyntaxUid);

// Header fields that every frame must satisfy whatever its content:
// HighBit = BitsStored − 1 (GDCM's pixel format cannot hold stored bits
// that do not start at bit 0, and aborts on it). kUnsupported otherwise.
Status checkLayout(Codec codec, const FrameLayout& layout);

// Each checks one frame's compressed bytes (`data`, `size` bytes; all
// fragments of the frame, in order) against `layout`. kCorruptData with
// what disagrees, e.g. "the JPEG 2000 image inside is 64×64 but the header
// says 512×512 (columns × rows)"; no context (the caller adds the path).
//
// JPEG (T.81) and JPEG-LS (T.87): markers up to the frame header (SOFn, or
// SOF55 = FFF7 for JPEG-LS): height, width, components, precision.
// JPEG 2000: the SIZ segment of a J2K codestream, or of the contiguous
// codestream box of a JP2 file: Xsiz − XOsiz, Ysiz − YOsiz, Csiz, each
// component's precision and subsampling.
// RLE (PS3.5 annex G): the 64-byte header: segment count =
// SamplesPerPixel × BitsAllocated / 8 (1..15), the first offset 64, the
// offsets increasing and inside the fragment.
//
// A codestream precision other than BitsStored, and a sign other than
// PixelRepresentation, are accepted as long as the samples fit in
// BitsAllocated: such files exist (pydicom's J2K_pixelrep_mismatch.dcm)
// and the decoder follows the codestream, as pydicom does.
// checkJpegFrame also gives the frame header's precision (P) when
// `precision` is not null.
Status checkJpegFrame(const unsigned char* data, std::size_t size, const FrameLayout& layout,
                      bool jpegLs, int* precision = nullptr);
Status checkJpeg2000Frame(const unsigned char* data, std::size_t size, const FrameLayout& layout);
Status checkRleFrame(const unsigned char* data, std::size_t size, const FrameLayout& layout);

// Dispatches on `codec`; kOther passes.
Status checkFrame(Codec codec, const unsigned char* data, std::size_t size,
                  const FrameLayout& layout);

}  // namespace tessera::imaging::dicom
