// imaging/internal/file_checks and imaging/io: checkImageFile, readHeader,
// readVolume and readLabelMap on NIfTI (plain and gzip), MetaImage and
// NRRD files. The first byte chooses the file name's extension; the rest is
// the file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "imaging/internal/file_checks.h"
#include "imaging/io/volume_io.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace imaging = tessera::imaging;
  if (size < 1) return 0;
  static const char* const kExtensions[] = {".nii", ".nii.gz", ".mha", ".nrrd"};
  static const std::string paths[] = {
      tessera::fuzz::scratchPath(kExtensions[0]), tessera::fuzz::scratchPath(kExtensions[1]),
      tessera::fuzz::scratchPath(kExtensions[2]), tessera::fuzz::scratchPath(kExtensions[3])};
  const std::string& path = paths[data[0] % 4];
  tessera::fuzz::writeScratch(path, data + 1, size - 1);
  if (!imaging::checkImageFile(path, imaging::formatFromPath(path)).ok()) return 0;
  if (!imaging::readHeader(path).ok()) return 0;
  (void)imaging::readVolume(path);
  (void)imaging::readLabelMap(path);
  return 0;
}
