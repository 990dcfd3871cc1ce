#include "app/tessera/deidentify_options.h"

namespace tessera::cli {

void addDeidentifyOptions(ArgParser& p) {
  p.flag("--deidentify",
         "de-identify the DICOM written (PS3.15 Annex E basic profile: identifying attributes "
         "removed or emptied, patient and UIDs replaced by consistent pseudonyms)");
  p.flag("--keep-dates",
         "with --deidentify: keep dates and times (the retain longitudinal temporal "
         "information with full dates option)");
  p.option("--deidentify-key", "FILE",
           "with --deidentify: a secret (first line, 16 characters or more) mixed into the "
           "pseudonyms, so that only its holder can link them to the originals");
}

bool readDeidentifyOptions(ArgParser& p, imaging::DeidentifyOptions* o, std::string* error) {
  o->enabled = p.has("deidentify");
  o->keepDates = p.has("keep-dates");
  if (!o->enabled && (o->keepDates || p.has("deidentify-key"))) {
    *error = "--keep-dates and --deidentify-key go with --deidentify";
    return false;
  }
  if (p.has("deidentify-key")) {
    auto key = imaging::readDeidentifyKey(p.get("deidentify-key"));
    if (!key.ok()) {
      *error = key.error().toString();
      return false;
    }
    o->key = *key;
  }
  return true;
}

}  // namespace tessera::cli
