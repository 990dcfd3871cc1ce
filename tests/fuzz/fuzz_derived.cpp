// imaging/dicom's readers of the objects Tessera writes and reads back: the
// DICOM-SEG (header, and its frames placed on the CT geometry of the seed),
// the TID 1500 measurement report and the RT Structure Set. They parse
// through DCMTK's dcmseg, dcmsr and dcmrt; the harness checks that a
// crafted file comes back as an error, never as a crash or a read out of
// bounds.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "imaging/dicom/dicom_rtstruct.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/dicom/dicom_sr.h"

namespace {

// The CT the seeds were made from: 64 x 64 x 3 axial slices, 5 mm apart.
tessera::Geometry seedGeometry() {
  tessera::Geometry g;
  g.size = {64, 64, 3};
  g.spacingMm = {6.41340732574463, 6.41340732574463, 5.0};
  g.originMm = {-202.02233886719, -202.02233886719, -303.20999145508};
  return g;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace imaging = tessera::imaging;
  static const std::string path = tessera::fuzz::scratchPath(".dcm");
  static const tessera::Geometry geometry = seedGeometry();
  tessera::fuzz::writeScratch(path, data, size);
  if (imaging::isDicomSegFile(path)) {
    (void)imaging::describeDicomSeg(path);
    (void)imaging::readDicomSeg(path, geometry);
  }
  if (imaging::isDicomSrFile(path)) (void)imaging::readDicomSrMeasurements(path);
  if (imaging::isRtStructFile(path)) (void)imaging::describeRtStruct(path);
  return 0;
}
