#include "imaging/dicom/deidentify.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <xxhash.h>

#include <algorithm>
#include <filesystem>

#include "core/files.h"
#include "imaging/dicom/dicom.h"
#include "imaging/internal/dicom_deid.h"
#include "imaging/internal/dicom_source.h"
#include "imaging/internal/itk_support.h"

namespace tessera::imaging {
namespace fs = std::filesystem;

std::string pseudonymUid(const std::string& uid, const std::string& key) {
  const std::string salted = key + '\x1f' + uid;
  const XXH128_hash_t h = XXH3_128bits(salted.data(), salted.size());
  unsigned __int128 value = (static_cast<unsigned __int128>(h.high64) << 64) | h.low64;
  std::string digits;
  do {
    digits += static_cast<char>('0' + static_cast<int>(value % 10));
    value /= 10;
  } while (value != 0);
  std::reverse(digits.begin(), digits.end());
  return "2.25." + digits;
}

Result<std::string> readDeidentifyKey(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, readTextFile(path));
  const std::size_t end = text.find_first_of("\r\n");
  if (end != std::string::npos) text.resize(end);
  if (text.size() < 16)
    return Status(StatusCode::kInvalidArgument,
                  "the de-identification key must hold at least 16 characters on its first line",
                  path);
  return text;
}

Status deidentifyDicomSeries(const std::string& input, const std::string& seriesUid,
                             const std::string& directory, const DeidentifyOptions& options,
                             ProgressSink* progress, const CancelToken* cancel) {
  TESSERA_RETURN_IF_ERROR(checkDicomSeriesTarget(directory));
  dicom::quietDcmtk();
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::string> files,
                           dicom::seriesFiles(input, seriesUid));

  const std::string target = trimTrailingSlashes(directory);
  TemporaryDirectory staging(target);
  if (!staging.ok())
    return Status(StatusCode::kIoError, "cannot create a temporary folder beside the output",
                  target);
  ProgressTracker tracker(progress);
  for (std::size_t n = 0; n < files.size(); ++n) {
    if (cancel) TESSERA_RETURN_IF_ERROR(cancel->check());
    DcmFileFormat file;
    if (OFCondition c = file.loadFile(files[n].c_str()); c.bad())
      return Status(StatusCode::kCorruptData, std::string("cannot read: ") + c.text(), files[n]);
    TESSERA_RETURN_IF_ERROR(dicom::deidentifyDataset(*file.getDataset(), options));
    // The meta header names the instance too.
    DcmMetaInfo& meta = *file.getMetaInfo();
    OFString sop;
    file.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sop);
    meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, sop.c_str());
    char name[32];
    std::snprintf(name, sizeof name, "IM%06zu.dcm", n + 1);
    const std::string path = (fs::path(staging.path()) / name).string();
    if (OFCondition c = file.saveFile(path.c_str(), EXS_Unknown); c.bad())
      return incompleteWriteError(path, std::string("cannot write: ") + c.text(), target);
    TESSERA_RETURN_IF_ERROR(syncPath(path));
    tracker.report(double(n + 1) / double(files.size()),
                   std::to_string(n + 1) + "/" + std::to_string(files.size()) + " files");
  }
  return staging.placeAs(target, "the de-identified series");
}

}  // namespace tessera::imaging
