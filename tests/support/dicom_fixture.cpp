#include "tests/support/dicom_fixture.h"

#include <cstdio>
#include <fstream>

namespace tessera::testing {
namespace {

std::uint32_t tagOf(std::uint16_t g, std::uint16_t e) {
  return (std::uint32_t{g} << 16) | e;
}

void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>(v >> 8);
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v & 0xFFFF));
  put16(out, static_cast<std::uint16_t>(v >> 16));
}

bool longLength(const std::string& vr) {
  return vr == "OB" || vr == "OW" || vr == "OF" || vr == "SQ" || vr == "UT" || vr == "UN";
}

void encodeElement(std::string& out, std::uint32_t tag, const std::string& vr,
                   const std::string& bytes) {
  put16(out, static_cast<std::uint16_t>(tag >> 16));
  put16(out, static_cast<std::uint16_t>(tag & 0xFFFF));
  out += vr;
  if (longLength(vr)) {
    put16(out, 0);
    put32(out, static_cast<std::uint32_t>(bytes.size()));
  } else {
    put16(out, static_cast<std::uint16_t>(bytes.size()));
  }
  out += bytes;
}

std::string ds(const std::vector<double>& values) {
  std::string out;
  char buffer[32];
  for (double v : values) {
    std::snprintf(buffer, sizeof buffer, "%.10g", v);
    out += (out.empty() ? "" : "\\") + std::string(buffer);
  }
  return out;
}

}  // namespace

DicomBuilder& DicomBuilder::text(std::uint16_t group, std::uint16_t element, const char* vr,
                                 const std::string& value) {
  std::string bytes = value;
  if (bytes.size() % 2) bytes += std::string(vr) == "UI" ? '\0' : ' ';
  elements_[tagOf(group, element)] = {vr, bytes};
  return *this;
}

DicomBuilder& DicomBuilder::us(std::uint16_t group, std::uint16_t element, std::uint16_t value) {
  std::string bytes;
  put16(bytes, value);
  elements_[tagOf(group, element)] = {"US", bytes};
  return *this;
}

DicomBuilder& DicomBuilder::raw(std::uint16_t group, std::uint16_t element, const char* vr,
                                const std::string& bytes) {
  elements_[tagOf(group, element)] = {vr, bytes};
  return *this;
}

DicomBuilder& DicomBuilder::sequence(std::uint16_t group, std::uint16_t element,
                                     const std::vector<DicomBuilder>& items) {
  std::string bytes;
  for (const DicomBuilder& item : items) {
    const std::string encoded = item.encode();
    put16(bytes, 0xFFFE);
    put16(bytes, 0xE000);
    put32(bytes, static_cast<std::uint32_t>(encoded.size()));
    bytes += encoded;
  }
  elements_[tagOf(group, element)] = {"SQ", bytes};
  return *this;
}

DicomBuilder& DicomBuilder::remove(std::uint16_t group, std::uint16_t element) {
  elements_.erase(tagOf(group, element));
  return *this;
}

std::string DicomBuilder::encode() const {
  std::string out;
  for (const auto& [tag, value] : elements_) encodeElement(out, tag, value.vr, value.bytes);
  return out;
}

bool DicomBuilder::write(const std::string& path) const {
  auto uid = [&](std::uint32_t tag, const char* fallback) {
    auto it = elements_.find(tag);
    return it == elements_.end() ? std::string(fallback) : it->second.bytes;
  };
  DicomBuilder meta;
  meta.raw(0x0002, 0x0001, "OB", std::string("\0\1", 2));
  meta.text(0x0002, 0x0002, "UI", uid(tagOf(0x0008, 0x0016), "1.2.840.10008.5.1.4.1.1.2"));
  meta.text(0x0002, 0x0003, "UI", uid(tagOf(0x0008, 0x0018), "1.2.826.0.1.3680043.9.7.99"));
  meta.text(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
  meta.text(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.9.7.100");
  const std::string metaBody = meta.encode();
  std::string groupLength;
  put32(groupLength, static_cast<std::uint32_t>(metaBody.size()));
  std::string file(128, '\0');
  file += "DICM";
  encodeElement(file, tagOf(0x0002, 0x0000), "UL", groupLength);
  file += metaBody;
  file += encode();
  std::ofstream out(path, std::ios::binary);
  out.write(file.data(), static_cast<std::streamsize>(file.size()));
  return static_cast<bool>(out);
}

DicomBuilder ctSlice(const SliceSpec& s) {
  DicomBuilder b;
  b.text(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2");
  b.text(0x0008, 0x0018, "UI", s.seriesUid + "." + std::to_string(s.instance));
  b.text(0x0008, 0x0060, "CS", s.modality);
  b.text(0x0008, 0x103E, "LO", s.seriesDescription);
  b.text(0x0010, 0x0010, "PN", "Fixture^Patient");
  b.text(0x0010, 0x0020, "LO", "FX1");
  b.text(0x0018, 0x0050, "DS", ds({s.thickness}));
  b.text(0x0020, 0x000D, "UI", s.studyUid);
  b.text(0x0020, 0x000E, "UI", s.seriesUid);
  b.text(0x0020, 0x0013, "IS", std::to_string(s.instance));
  b.text(0x0020, 0x0032, "DS", ds({s.position[0], s.position[1], s.position[2]}));
  b.text(0x0020, 0x0037, "DS",
         ds({s.orientation[0], s.orientation[1], s.orientation[2], s.orientation[3],
             s.orientation[4], s.orientation[5]}));
  b.us(0x0028, 0x0002, 1);
  b.text(0x0028, 0x0004, "CS", "MONOCHROME2");
  b.us(0x0028, 0x0010, static_cast<std::uint16_t>(s.rows));
  b.us(0x0028, 0x0011, static_cast<std::uint16_t>(s.columns));
  b.text(0x0028, 0x0030, "DS", ds({s.rowSpacing, s.columnSpacing}));
  b.us(0x0028, 0x0100, 16);
  b.us(0x0028, 0x0101, 16);
  b.us(0x0028, 0x0102, 15);
  b.us(0x0028, 0x0103, s.unsignedPixels ? 0 : 1);
  b.text(0x0028, 0x1052, "DS", ds({s.intercept}));
  b.text(0x0028, 0x1053, "DS", ds({s.slope}));
  if (s.pixelData) {
    std::string pixels;
    for (int v = 0; v < s.rows * s.columns; ++v) {
      const std::int32_t value = v < static_cast<int>(s.stored.size()) ? s.stored[v] : 0;
      put16(pixels, static_cast<std::uint16_t>(value));
    }
    b.raw(0x7FE0, 0x0010, "OW", pixels);
  }
  return b;
}

std::int32_t fixtureValue(int i, int j, int k) {
  return 100 * k + 10 * j + i;
}

void writeSeries(const std::string& dir, const SliceSpec& base,
                 const std::vector<std::array<double, 3>>& positions) {
  const int n = static_cast<int>(positions.size());
  for (int k = 0; k < n; ++k) {
    SliceSpec spec = base;
    spec.position = positions[static_cast<std::size_t>(k)];
    spec.instance = (k * 5 + 2) % n + 1;
    spec.stored.resize(static_cast<std::size_t>(spec.rows * spec.columns));
    for (int j = 0; j < spec.rows; ++j)
      for (int i = 0; i < spec.columns; ++i)
        spec.stored[static_cast<std::size_t>(j * spec.columns + i)] = fixtureValue(i, j, k);
    char name[64];
    std::snprintf(name, sizeof name, "/slice_%03d.dcm", n - 1 - k);
    ctSlice(spec).write(dir + name);
  }
}

}  // namespace tessera::testing
