// A bounds-checked DICOM Part 10 parser, private to imaging/. Tessera parses
// DICOM structure itself, because GDCM's parser (as Debian builds it)
// aborts the process on some truncated or damaged files; GDCM is only
// handed pixel data whose structure was already checked, for decompression.
//
// Handles files with and without the 128-byte preamble and meta header,
// implicit and explicit VR, little and big endian, nested sequences (defined
// and undefined length, UN sequences) and encapsulated pixel data. Values
// are kept as byte ranges into the file buffer; binary values are decoded on
// access in the file's byte order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::imaging::dicom {

constexpr std::uint32_t tagOf(std::uint16_t group, std::uint16_t element) {
  return (std::uint32_t{group} << 16) | element;
}

constexpr std::uint32_t kPixelDataTag = tagOf(0x7FE0, 0x0010);

struct DataSet;

struct Element {
  std::uint32_t tag = 0;
  char vr[2] = {' ', ' '};   // "  " when implicit VR
  std::uint64_t offset = 0;  // value bytes within DicomFile::bytes
  std::uint64_t length = 0;  // for undefined-length elements: the bytes up to the delimiter
  bool undefinedLength = false;
  std::vector<DataSet> items;  // sequence items
  // Encapsulated pixel data: fragments as (offset, length); the first is
  // the basic offset table.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> fragments;
  bool encapsulated = false;
};

struct DataSet {
  std::vector<Element> elements;  // in file order
  const Element* find(std::uint32_t tag) const;
};

struct DicomFile {
  std::string path;
  std::vector<char> bytes;
  bool hasPreamble = false;       // "DICM" at offset 128
  std::string transferSyntaxUid;  // from the meta header, or inferred without one
  bool explicitVr = true;
  bool bigEndian = false;
  DataSet meta;
  DataSet dataset;
  // Set when the parse stopped at the top-level pixel data element
  // (header-only reads) or read it.
  bool pixelDataPresent = false;
  bool headerOnly = false;

  // Trimmed string value (leading/trailing spaces and NULs removed); empty
  // when absent.
  std::string text(const DataSet& ds, std::uint32_t tag) const;
  // Backslash-separated decimal values (DS/IS). nullopt when absent;
  // an empty vector when present but not numeric.
  std::optional<std::vector<double>> numbers(const DataSet& ds, std::uint32_t tag) const;
  // US/UL/SS/SL value (2 or 4 bytes, in the file's byte order).
  std::optional<std::int64_t> integer(const DataSet& ds, std::uint32_t tag,
                                      bool isSigned = false) const;
  // Items of a sequence; empty when absent.
  const std::vector<DataSet>& items(const DataSet& ds, std::uint32_t tag) const;
  const char* data(std::uint64_t offset) const { return bytes.data() + offset; }
};

// Quick check whether a file starts like DICOM (preamble + "DICM", or a
// plausible first element of a file without meta header); reads 132 bytes.
bool looksLikeDicom(const std::string& path);

// headerOnly: stops at the top-level pixel data element (recording that it
// is present) and reads only as much of the file as needed.
// Errors: kNotFound, kIoError, kCorruptData ("not a DICOM file",
// "truncated", "damaged ..."), with the path as context.
Result<DicomFile> parseDicomFile(const std::string& path, bool headerOnly);

// Human name of a transfer syntax ("JPEG 2000 Image Compression"), or the
// UID itself when unknown.
std::string transferSyntaxName(const std::string& uid);

}  // namespace tessera::imaging::dicom
