// tessera convert IN OUT [--series UID]
#include <cstdio>

#include "app/cli/console_progress.h"
#include "app/tessera/commands.h"
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
  parser.epilog(
      "Voxels are written as int16 Hounsfield units. The output appears only when complete: "
      "a failed conversion leaves no partial file.\nExit codes: 0 success, 1 failure, 2 "
      "usage error.");
  int exitCode = kExitOk;
  if (!parseOrExit(parser, args, &exitCode)) return exitCode;
  const std::string in = parser.get("IN");
  const std::string out = parser.get("OUT");

  // Refuse an unusable output before reading a possibly large input.
  if (Status status = checkVolumeOutput(out); !status.ok()) return fail(status);

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
  {
    ConsoleProgress progress("writing");
    if (Status status = writeVolume(*volume, out, &progress); !status.ok()) return fail(status);
  }
  std::printf("wrote %s (%s%s)\n", out.c_str(), describeGeometry(volume->geometry()).c_str(),
              report.seriesUid.empty() ? "" : (", DICOM series " + report.seriesUid).c_str());
  return kExitOk;
}

}  // namespace tessera::cli
