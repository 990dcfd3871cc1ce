// imaging/dicom: the Part 10 parser (header-only and full parses, every
// value accessor) and readDicomVolume on one file, which runs the series
// checks, the codestream checks and the pixel decoders (native, and GDCM's
// codecs for encapsulated data).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "imaging/dicom/dicom.h"
#include "imaging/internal/dicom_parser.h"

namespace {

void visit(const tessera::imaging::dicom::DicomFile& file,
           const tessera::imaging::dicom::DataSet& ds, int depth) {
  for (const auto& e : ds.elements) {
    (void)file.text(ds, e.tag);
    (void)file.numbers(ds, e.tag);
    (void)file.integer(ds, e.tag, (e.tag & 1) != 0);
    if (depth < 8)
      for (const auto& item : e.items) visit(file, item, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace dicom = tessera::imaging::dicom;
  static const std::string path = tessera::fuzz::scratchPath(".dcm");
  tessera::fuzz::writeScratch(path, data, size);
  (void)dicom::looksLikeDicom(path);
  if (auto header = dicom::parseDicomFile(path, true); header.ok())
    visit(header.value(), header.value().dataset, 0);
  if (auto full = dicom::parseDicomFile(path, false); full.ok()) {
    visit(full.value(), full.value().meta, 0);
    visit(full.value(), full.value().dataset, 0);
    (void)dicom::transferSyntaxName(full.value().transferSyntaxUid);
    (void)tessera::imaging::readDicomHeader(path);
    (void)tessera::imaging::readDicomVolume(path, {});
  }
  return 0;
}
