// DICOM CT series writer: ITK's GDCMImageIO, one file per slice, with the
// geometry written into each file's tags.
#include <itkGDCMImageIO.h>
#include <itkImage.h>
#include <itkImageFileWriter.h>
#include <itkMetaDataObject.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/files.h"
#include "imaging/dicom/dicom.h"
#include "imaging/internal/dicom_pixels.h"
#include "imaging/internal/dicom_values.h"
#include "imaging/internal/itk_support.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;

using dicom::decimalString;
using dicom::decimalStrings;
using dicom::newUid;

}  // namespace

Status checkDicomSeriesTarget(const std::string& directory) {
  const std::string target = trimTrailingSlashes(directory);
  if (target.empty() || target == "/")
    return Status(StatusCode::kInvalidArgument, "give a directory name for the DICOM series",
                  directory);
  std::error_code error;
  fs::path parent = fs::path(target).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, error))
    return Status(StatusCode::kNotFound, "the directory that would hold the series does not exist",
                  parent.string());
  if (::access(parent.c_str(), W_OK) != 0)
    return Status(StatusCode::kIoError, "the output directory is not writable", parent.string());
  if (fs::exists(target, error)) {
    if (!fs::is_directory(target, error))
      return Status(StatusCode::kInvalidArgument, "exists and is not a directory", target);
    if (!fs::is_empty(target, error))
      return Status(StatusCode::kInvalidArgument,
                    "the output directory already holds files; give a new or empty directory",
                    target);
  }
  return Status();
}

Status writeDicomSeries(const Volume& volume, const std::string& directory,
                        const DicomWriteOptions& options) {
  TESSERA_RETURN_IF_ERROR(checkDicomSeriesTarget(directory));
  const std::string target = trimTrailingSlashes(directory);
  const Geometry& g = volume.geometry();
  TESSERA_RETURN_IF_ERROR(std::move(validateGeometry(g)).withContext(target));
  if (volume.empty()) return Status(StatusCode::kInvalidArgument, "the volume is empty", target);
  if (g.size[0] > 65535 || g.size[1] > 65535)
    return Status(StatusCode::kUnsupported, "DICOM images are limited to 65535 rows and columns",
                  target);
  TemporaryDirectory staging(target);
  if (!staging.ok())
    return Status(StatusCode::kIoError, "cannot create a temporary directory beside the output",
                  target);

  dicom::quietGdcm();
  ProgressTracker tracker(options.progress);
  tracker.report(0.0, "writing DICOM series " + target);
  const std::string studyUid = options.studyUid.empty() ? newUid() : options.studyUid;
  const std::string seriesUid = options.seriesUid.empty() ? newUid() : options.seriesUid;
  const std::string frameUid = newUid();
  const std::string date = dicom::localNow("%Y%m%d"), time = dicom::localNow("%H%M%S");
  const Vec3 normal{g.direction[2], g.direction[5], g.direction[8]};

  bool ascii = true;
  for (const std::string* text : {&options.patientName, &options.patientId,
                                  &options.studyDescription, &options.seriesDescription})
    for (char c : *text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  using Slice = itk::Image<std::int16_t, 2>;
  const std::int64_t nz = g.size[2];
  for (std::int64_t k = 0; k < nz; ++k) {
    if (options.cancel) TESSERA_RETURN_IF_ERROR(options.cancel->check());
    const Vec3 position = g.worldFromVoxel({0.0, 0.0, static_cast<double>(k)});
    auto slice = Slice::New();
    Slice::RegionType region;
    region.SetSize(
        {static_cast<itk::SizeValueType>(g.size[0]), static_cast<itk::SizeValueType>(g.size[1])});
    slice->SetRegions(region);
    Slice::SpacingType spacing;
    spacing[0] = g.spacingMm[0];
    spacing[1] = g.spacingMm[1];
    slice->SetSpacing(spacing);
    // The slice borrows the volume's buffer (no copy) and must not free it.
    slice->GetPixelContainer()->SetImportPointer(
        const_cast<std::int16_t*>(volume.slice(k)),
        static_cast<itk::SizeValueType>(g.sliceVoxelCount()), false);

    itk::MetaDataDictionary dict;
    auto put = [&dict](const char* key, const std::string& value) {
      itk::EncapsulateMetaData<std::string>(dict, key, value);
    };
    // Names and descriptions are UTF-8 (a DICOM source's were converted on
    // reading): declared as such when they are not plain ASCII.
    if (!ascii) put("0008|0005", "ISO_IR 192");
    put("0008|0016", "1.2.840.10008.5.1.4.1.1.2");  // CT Image Storage
    put("0008|0018", newUid());
    put("0008|0008", "DERIVED\\SECONDARY\\AXIAL");
    put("0008|0060", "CT");
    put("0008|0020", options.studyDate.empty() ? date : options.studyDate);
    put("0008|0030", options.studyDate.empty() ? time : options.studyTime);
    put("0008|0021", date);
    put("0008|0031", time);
    put("0008|1030", options.studyDescription);
    put("0008|103e", options.seriesDescription);
    put("0010|0010", options.patientName);
    put("0010|0020", options.patientId);
    // Type 2 attributes of the CT image IOD that a converted volume does not
    // know: present and empty, as PS3.3 allows.
    put("0008|0070", "Tessera");  // Manufacturer
    put("0018|0060", "");         // KVP
    put("0018|5100", "");         // Patient Position
    put("0020|0012", "1");        // Acquisition Number
    put("0020|0060", "");         // Laterality
    put("0020|1040", "");         // Position Reference Indicator
    put("0020|000d", studyUid);
    put("0020|000e", seriesUid);
    put("0020|0052", frameUid);
    put("0020|0010", "1");
    put("0020|0011", "1");
    put("0020|0013", std::to_string(k + 1));
    put("0020|0032", decimalStrings({position[0], position[1], position[2]}));
    put("0020|0037", decimalStrings({g.direction[0], g.direction[3], g.direction[6], g.direction[1],
                                     g.direction[4], g.direction[7]}));
    put("0020|1041",
        decimalString(position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2]));
    put("0018|0050", decimalString(g.spacingMm[2]));
    put("0018|0088", decimalString(g.spacingMm[2]));
    put("0028|1052", "0");
    put("0028|1053", "1");
    put("0028|1054", "HU");
    slice->SetMetaDataDictionary(dict);

    char name[32];
    std::snprintf(name, sizeof name, "IM%06lld.dcm", static_cast<long long>(k + 1));
    try {
      auto io = itk::GDCMImageIO::New();
      io->KeepOriginalUIDOn();
      io->SetMetaDataDictionary(dict);
      auto writer = itk::ImageFileWriter<Slice>::New();
      writer->SetInput(slice);
      writer->SetImageIO(io);
      writer->SetFileName((fs::path(staging.path()) / name).string());
      writer->Update();
    } catch (const itk::ExceptionObject& e) {
      return Status(StatusCode::kIoError,
                    "writing DICOM slice " + std::to_string(k + 1) + " failed: " + itkMessage(e),
                    target);
    } catch (const std::exception& e) {
      return Status(StatusCode::kIoError,
                    "writing DICOM slice " + std::to_string(k + 1) + " failed: " + e.what(),
                    target);
    }
    tracker.report(static_cast<double>(k + 1) / static_cast<double>(nz),
                   "slice " + std::to_string(k + 1) + "/" + std::to_string(nz));
  }

  return staging.placeAs(target, "the finished series");
}

}  // namespace tessera::imaging
