// --deidentify, --keep-dates and --deidentify-key: declared once for every
// command that writes DICOM (segment, batch, convert).
#pragma once

#include <string>

#include "app/cli/args.h"
#include "imaging/dicom/deidentify.h"

namespace tessera::cli {

void addDeidentifyOptions(ArgParser& parser);

// False with a message for the user (the command then exits with
// kExitUsage) when --keep-dates or --deidentify-key come without
// --deidentify or the key file cannot be used.
bool readDeidentifyOptions(ArgParser& parser, imaging::DeidentifyOptions* options,
                           std::string* error);

}  // namespace tessera::cli
