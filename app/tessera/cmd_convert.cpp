// tessera convert IN OUT [--series UID]
#include <cstdio>

#include "app/cli/console_progress.h"
#include "app/cli/interrupt.h"
#include "app/tessera/commands.h"
#include "app/tessera/deidentify_options.h"
#include "imaging/dicom/deidentify.h"
#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"

namespace tessera::cli {

int runConvert(const Args& args) {
  using namespace tessera::imaging;
  ArgParser parser("convert",
                   "Converts a CT volume from any supported input (NIfTI, NRRD, MetaImage, a "
                   "DICOM file or series) to NIfTI, NRRD, MetaImage or a DICOM CT series, "
                   "keeping its geometry (spacing, origin, direction) exactly.");
  parser.positional("IN", "image file or a directory of DICOM files");
  parser.positional("OUT",
                    "output file, by extension: .nii.gz, .nii, .nrrd, .nhdr, .mha, .mhd; or a "
                    "directory path ending in '/' for a DICOM CT series (one file per slice; the "
                    "directory must not exist yet or be empty)");
  parser.option("--series", "UID",
                "DICOM directories: convert this series instead of the largest CT series "
                "(`tessera info DIR` lists them)");
  parser.option("--patient-name", "NAME",
                "DICOM output from a file without patient identity: the Patient's Name "
                "(\"Family^Given\")");
  parser.option("--patient-id", "ID", "DICOM output from such a file: the Patient ID");
  addDeidentifyOptions(parser);
  parser.epilog(
      "Voxels are written as int16 Hounsfield units. A DICOM series converted to a DICOM\n"
      "series keeps its patient and study; with --deidentify its files are de-identified\n"
      "instead, pixel data unchanged. The output appears only when complete: a failed\n"
      "conversion leaves no partial file.\nExit codes: 0 success, 1 failure, 2 usage error.");
  int exitCode = kExitOk;
  if (!parseOrExit(parser, args, &exitCode)) return exitCode;
  const std::string in = parser.get("IN");
  const std::string out = parser.get("OUT");
  DeidentifyOptions deidentify;
  std::string error;
  if (!readDeidentifyOptions(parser, &deidentify, &error)) {
    std::fprintf(stderr, "tessera: error: %s\n", error.c_str());
    return kExitUsage;
  }
  const bool dicomOut = outputFormatFromPath(out) == FileFormat::kDicomDirectory;
  const FileFormat inFormat = formatFromPath(in);
  const bool dicomIn =
      inFormat == FileFormat::kDicomDirectory || inFormat == FileFormat::kDicomFile;
  if (deidentify.enabled && !(dicomIn && dicomOut)) {
    std::fprintf(stderr,
                 "tessera: error: --deidentify converts a DICOM series into a DICOM series (OUT "
                 "ending in '/'); %s\n",
                 dicomIn ? "give a DICOM output" : "the input holds no DICOM identity");
    return kExitUsage;
  }
  if ((parser.has("patient-name") || parser.has("patient-id")) && (dicomIn || !dicomOut)) {
    std::fprintf(stderr,
                 "tessera: error: --patient-name and --patient-id name the patient of a DICOM "
                 "series written from a file without identity\n");
    return kExitUsage;
  }

  // Refuse an unusable output before reading a possibly large input.
  if (Status status = checkVolumeOutput(out); !status.ok()) return fail(status);

  if (deidentify.enabled) {
    ConsoleProgress progress("de-identifying");
    if (Status s = deidentifyDicomSeries(in, parser.get("series"), out, deidentify, &progress,
                                         &interruptToken());
        !s.ok())
      return fail(s);
    progress.finish();
    std::printf("wrote %s (de-identified, PS3.15 basic profile%s)\n", out.c_str(),
                deidentify.keepDates ? ", dates kept" : "");
    return kExitOk;
  }

  ReadReport report;
  ReadOptions options;
  options.seriesUid = parser.get("series");
  options.report = &report;
  Result<Volume> volume = [&] {
    ConsoleProgress progress("reading");
    options.progress = &progress;
    return readVolume(in, options);
  }();
  if (!volume.ok()) return fail(volume.error());
  if (dicomOut) {
    // The patient and study of a DICOM input go with it; a file without
    // identity gets the one given, or none (said so).
    DicomWriteOptions write;
    if (dicomIn) {
      auto listing = listDicomSeries(in);
      if (!listing.ok()) return fail(listing.error());
      for (const DicomSeriesInfo& s : listing->series)
        if (s.seriesUid == report.seriesUid) {
          write.patientName = s.patientName;
          write.patientId = s.patientId;
          write.studyUid = s.studyUid;
          write.studyDate = s.studyDate;
          write.studyDescription = s.studyDescription;
        }
    } else {
      write.patientName = parser.get("patient-name");
      write.patientId = parser.get("patient-id");
      if (write.patientName.empty() && write.patientId.empty())
        std::fprintf(stderr,
                     "tessera: note: %s carries no patient identity; the series is written "
                     "with an empty Patient's Name and ID (give --patient-name and "
                     "--patient-id)\n",
                     in.c_str());
    }
    ConsoleProgress progress("writing");
    write.progress = &progress;
    write.cancel = &interruptToken();
    if (Status status = writeDicomSeries(*volume, out, write); !status.ok()) return fail(status);
  } else {
    ConsoleProgress progress("writing");
    if (Status status = writeVolume(*volume, out, &progress); !status.ok()) return fail(status);
  }
  std::printf("wrote %s (%s%s)\n", out.c_str(), describeGeometry(volume->geometry()).c_str(),
              report.seriesUid.empty() ? "" : (", DICOM series " + report.seriesUid).c_str());
  return kExitOk;
}

}  // namespace tessera::cli
