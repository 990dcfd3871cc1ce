// A PACS as the workstation reaches it: query its studies and series,
// retrieve one series into a local cache folder, send files back. DIMSE
// ("AET@HOST:PORT") or DICOMweb ("http://..."), by how the PACS is named.
// Toolkit-free; the calls block and are run off the GUI thread by the
// widgets.
#pragma once

#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "imaging/pacs/dicomweb.h"
#include "imaging/pacs/pacs.h"

namespace tessera::ui {

class PacsBrowser {
 public:
  // `spec`: "AET@HOST:PORT" or a DICOMweb root URL; `aet`: the
  // workstation's AE title (DIMSE). kInvalidArgument with the reason.
  Status connect(const std::string& spec, const std::string& aet = "TESSERA",
                 int timeoutSeconds = 30);
  bool connected() const { return connected_; }
  const std::string& name() const { return spec_; }

  // Studies whose patient ID or name matches `patient` (a name when it holds
  // '^' or a space, else an ID; '*' wildcards as the PACS allows; empty: all).
  Result<std::vector<imaging::PacsMatch>> studies(const std::string& patient) const;
  Result<std::vector<imaging::PacsMatch>> series(const std::string& studyUid) const;

  // The series in `cacheRoot`/<series UID>: retrieved when not there yet
  // (a retrieval that completed; an interrupted one leaves nothing).
  Result<std::string> retrieve(const std::string& studyUid, const std::string& seriesUid,
                               const std::string& cacheRoot, ProgressSink* progress,
                               const CancelToken* cancel) const;

  // C-STORE or STOW-RS of files; fails when any was refused.
  Status send(const std::vector<std::string>& paths) const;

 private:
  bool connected_ = false;
  bool web_ = false;
  std::string spec_;
  imaging::PacsPeer peer_;
  imaging::DicomWebServer server_;
};

}  // namespace tessera::ui
