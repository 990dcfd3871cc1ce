// A PACS over DICOM's classic network protocol (DIMSE, through DCMTK's
// dcmnet): verification (C-ECHO), query (C-FIND, Study Root, study and
// series level), retrieval into a local folder (C-GET: the instances come
// back on the same association, so no port of Tessera's needs to be
// reachable from the PACS) and storage (C-STORE). No toolkit type crosses
// this header.
//
// Errors say which peer and what happened: the peer cannot be reached, the
// association was refused (and the reason the peer gave), the peer timed out
// or dropped the association; kIoError for those, so that callers can
// tell them from bad input. Sending retries a dropped association.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

struct PacsPeer {
  std::string calledAe;  // the PACS's AE title
  std::string host;
  int port = 104;
  std::string callingAe = "TESSERA";  // Tessera's AE title
  int timeoutSeconds = 30;            // connection, association and each message
};

// "AET@HOST:PORT" (an IPv6 host in brackets: "AET@[::1]:4242"). AE titles
// hold 1 to 16 characters, no backslash or control characters.
Result<PacsPeer> parsePacsPeer(const std::string& spec);
Status validateAeTitle(const std::string& ae, const std::string& what);

// C-ECHO; the round trip in milliseconds.
Result<double> pacsEcho(const PacsPeer& peer);

enum class QueryLevel { kStudy, kSeries };

struct PacsQuery {
  QueryLevel level = QueryLevel::kStudy;
  // Matching keys; empty ones match everything. Wildcards (* and ?) as the
  // PACS supports them in names and IDs; StudyDate as YYYYMMDD or a range
  // YYYYMMDD-YYYYMMDD.
  std::string patientId, patientName, studyDate, accessionNumber, studyUid, modality;
};

struct PacsMatch {
  std::string patientName, patientId, studyDate, studyDescription, accessionNumber;
  std::string studyUid, modalitiesInStudy;
  std::string seriesUid, seriesNumber, modality, seriesDescription;  // series level
  int instances = -1;  // NumberOf{Study,Series}RelatedInstances when the PACS gives it
};

// C-FIND; matches in the order the PACS sends them. Series level needs the
// study UID.
Result<std::vector<PacsMatch>> pacsFind(const PacsPeer& peer, const PacsQuery& query);

struct RetrieveResult {
  std::int64_t received = 0;  // instances written
  std::int64_t failed = 0;    // sub-operations the PACS reports as failed
  std::vector<std::string> files;
};

// C-GET of a study (seriesUid empty) or one series into `directory`, which
// must not exist or be empty; the instances are written as <SOP Instance
// UID>.dcm into a temporary folder beside it that becomes `directory` only
// when the retrieval completed. Nothing is left behind on failure or cancel.
Result<RetrieveResult> pacsGet(const PacsPeer& peer, const std::string& studyUid,
                               const std::string& seriesUid, const std::string& directory,
                               ProgressSink* progress = nullptr,
                               const CancelToken* cancel = nullptr);

struct SendResult {
  std::int64_t sent = 0;
  std::vector<std::string> failed;   // "path: reason" for instances the peer refused
  std::vector<std::string> skipped;  // files that are not DICOM objects
};

// C-STORE of `paths` (DICOM files, or folders searched recursively). A
// dropped association is negotiated again and the instance resent, up to
// `retries` times with 1, 2, 4 ... s between attempts. Fails when the peer
// cannot be reached (kIoError: worth trying later) or refused every
// instance (kUnsupported, the first refusal named); instances the peer
// refused among others are listed in the result.
Result<SendResult> pacsSend(const PacsPeer& peer, const std::vector<std::string>& paths,
                            int retries = 2, ProgressSink* progress = nullptr,
                            const CancelToken* cancel = nullptr);

}  // namespace tessera::imaging
