// The service node's configuration (`tessera serve --config FILE`, JSON;
// docs/HOSPITAL.md lists every member). Unknown members are refused: a
// misspelt "quiet_second" would otherwise silently keep the default.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "imaging/pacs/dicomweb.h"
#include "imaging/pacs/pacs.h"

namespace tessera::serve {

struct ServeConfig {
  std::string aeTitle = "TESSERA";  // Tessera's AE title, called by senders, calling for results
  int dicomPort = 11112;
  std::string httpHost = "127.0.0.1";  // /metrics and /healthz
  int httpPort = 9108;
  // The spool: received, queued, outgoing, done and failed studies live in
  // folders below it, so that a restart resumes where the service stopped.
  std::string spoolDir;
  std::string modelPath;  // empty: the bundled model
  bool dense = false;     // "mode": "sparse" (default) or "dense"
  int threads = 0;        // 0: all cores, split between the series segmented at once
  // Series segmented side by side, each by its own Segmenter over the one
  // model with threads / concurrentSeries threads: one series' DICOM reading
  // and SEG/SR writing overlap the other's network. Two took 0.91-1.00x the
  // time of one at a time (tests/bench/concurrent_series.sh, 2 cores;
  // docs/PERFORMANCE.md), and keep a short series from waiting behind a
  // long one; each costs one more volume in memory.
  int concurrentSeries = 2;
  int maxAssociations = 8;  // DICOM associations received at the same time
  // A series is complete when no instance of it arrived for this long.
  double quietSeconds = 10.0;
  // Where SEG and SR (and RTSTRUCT) go: a DICOM peer or a DICOMweb server.
  bool toDicomWeb = false;
  imaging::PacsPeer peer;
  imaging::DicomWebServer dicomWeb;
  bool sr = true, rtstruct = false;
  // Back-off while the destination is down: first wait, doubled after each
  // failure up to the longest.
  double retryFirstSeconds = 5.0, retryMaxSeconds = 300.0;
  int timeoutSeconds = 30;
  // Calling AE titles allowed to send ("allowed_callers"); empty: any.
  std::vector<std::string> allowedCallers;
};

// Reads and checks the file; errors name the member and what is wrong.
Result<ServeConfig> loadServeConfig(const std::string& path);

}  // namespace tessera::serve
