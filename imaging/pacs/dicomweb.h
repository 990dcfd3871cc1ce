// The same PACS services over DICOMweb (HTTP, through libcurl): QIDO-RS
// queries, WADO-RS retrieval and STOW-RS storage, against a server's root
// URL such as http://pacs.local:8042/dicom-web. Results and guarantees are
// those of pacs.h: a retrieval appears only when complete, a send retries
// what a server error or a dropped connection interrupted. An answer of
// 4xx/5xx is an error naming the status, the method and the URL (kIoError;
// 5xx and connection failures are retried, 4xx are not).
#pragma once

#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "imaging/pacs/pacs.h"

namespace tessera::imaging {

struct DicomWebServer {
  std::string url;          // the DICOMweb root, without a trailing '/'
  int timeoutSeconds = 30;  // connecting, and between two bytes of an answer
};

// http:// or https:// and a host; a trailing '/' is dropped.
Result<DicomWebServer> parseDicomWebUrl(const std::string& url);

// A QIDO-RS query of one study (limit=1) as a check that the server answers;
// the round trip in milliseconds.
Result<double> dicomWebEcho(const DicomWebServer& server);

// QIDO-RS: GET {url}/studies?... or {url}/studies/{uid}/series?...
Result<std::vector<PacsMatch>> dicomWebFind(const DicomWebServer& server, const PacsQuery& query);

// WADO-RS: GET {url}/studies/{uid}[/series/{uid}] as multipart/related
// application/dicom, each part written as <SOP Instance UID>.dcm into
// `directory` (new or empty), which appears only when all are written.
Result<RetrieveResult> dicomWebGet(const DicomWebServer& server, const std::string& studyUid,
                                   const std::string& seriesUid, const std::string& directory,
                                   ProgressSink* progress = nullptr,
                                   const CancelToken* cancel = nullptr);

// STOW-RS: POST {url}/studies, the files of `paths` in requests of at most
// 32 instances; instances the server lists as failed are reported. Errors
// as pacsSend's: kIoError when no answer came or an HTTP error, kUnsupported
// when the server refused every instance.
Result<SendResult> dicomWebSend(const DicomWebServer& server, const std::vector<std::string>& paths,
                                int retries = 2, ProgressSink* progress = nullptr,
                                const CancelToken* cancel = nullptr);

}  // namespace tessera::imaging
