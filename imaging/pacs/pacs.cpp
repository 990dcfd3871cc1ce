// DIMSE services through DCMTK's DcmSCU. C-GET's C-STORE sub-operations are
// written by Tessera (PacsScu::handleSTORERequest) so that every instance
// lands in the staging folder under its SOP Instance UID and a cancel stops
// the retrieval between instances.
#include "imaging/pacs/pacs.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scu.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/files.h"
#include "imaging/dicom/dicom.h"
#include "imaging/internal/dicom_source.h"
#include "imaging/internal/itk_support.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string statusText(Uint16 status) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%04x", status);
  return hex;
}

using dicom::quietDcmtk;
using dicom::text;

std::string peerName(const PacsPeer& p) {
  return p.calledAe + "@" + p.host + ":" + std::to_string(p.port);
}

OFList<OFString> uncompressed() {
  OFList<OFString> ts;
  ts.push_back(UID_LittleEndianExplicitTransferSyntax);
  ts.push_back(UID_LittleEndianImplicitTransferSyntax);
  return ts;
}

// Storage classes a retrieval accepts: images Tessera reads and the objects
// it writes next to them.
const char* const kRetrievedClasses[] = {
    UID_CTImageStorage,
    UID_EnhancedCTImageStorage,
    UID_MRImageStorage,
    UID_EnhancedMRImageStorage,
    UID_PositronEmissionTomographyImageStorage,
    UID_SecondaryCaptureImageStorage,
    UID_SegmentationStorage,
    UID_RTStructureSetStorage,
    UID_ComprehensiveSRStorage,
    UID_EnhancedSRStorage,
    UID_BasicTextSRStorage,
};

// A DcmSCU whose C-GET sub-operations write into a folder of Tessera's.
class PacsScu : public DcmSCU {
 public:
  std::string storeDir;
  const CancelToken* cancel = nullptr;
  ProgressTracker* tracker = nullptr;
  std::int64_t expected = 0;  // from the C-GET responses: completed + remaining
  std::vector<std::string> files;
  std::string storeError;

  OFCondition handleSTORERequest(const T_ASC_PresentationContextID, DcmDataset* incoming,
                                 OFBool& continueSession, Uint16& status) override {
    std::unique_ptr<DcmDataset> dataset(incoming);
    continueSession = OFTrue;
    status = STATUS_Success;
    if (cancel && cancel->cancelled()) {
      continueSession = OFFalse;
      status = STATUS_STORE_Refused_OutOfResources;
      return EC_Normal;
    }
    OFString uid;
    dataset->findAndGetOFString(DCM_SOPInstanceUID, uid);
    std::string name = uid.c_str();
    for (char& c : name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.')) c = '_';
    if (name.empty()) name = "instance" + std::to_string(files.size() + 1);
    const std::string path = (fs::path(storeDir) / (name + ".dcm")).string();
    const E_TransferSyntax xfer = dataset->getOriginalXfer();
    DcmFileFormat file(dataset.get());
    const OFCondition saved =
        file.saveFile(path.c_str(), xfer == EXS_Unknown ? EXS_LittleEndianExplicit : xfer);
    if (saved.bad()) {
      storeError = std::string("cannot write a retrieved instance: ") + saved.text();
      continueSession = OFFalse;
      status = STATUS_STORE_Refused_OutOfResources;
      return EC_Normal;
    }
    files.push_back(path);
    if (tracker)
      tracker->report(expected > 0 ? std::min(1.0, double(files.size()) / double(expected)) : 0.0,
                      std::to_string(files.size()) +
                          (expected > 0 ? "/" + std::to_string(expected) : std::string()) +
                          " instances");
    return EC_Normal;
  }

  OFCondition handleCGETResponse(const T_ASC_PresentationContextID presID,
                                 RetrieveResponse* response, OFBool& continueSession) override {
    if (response)
      expected = std::max<std::int64_t>(
          expected, static_cast<std::int64_t>(response->m_numberOfRemainingSubops) +
                        response->m_numberOfCompletedSubops + response->m_numberOfFailedSubops +
                        response->m_numberOfWarningSubops);
    return DcmSCU::handleCGETResponse(presID, response, continueSession);
  }
};

void configure(DcmSCU& scu, const PacsPeer& p) {
  scu.setAETitle(p.callingAe.c_str());
  scu.setPeerAETitle(p.calledAe.c_str());
  scu.setPeerHostName(p.host.c_str());
  scu.setPeerPort(static_cast<Uint16>(p.port));
  scu.setConnectionTimeout(p.timeoutSeconds);
  scu.setACSETimeout(static_cast<Uint32>(p.timeoutSeconds));
  scu.setDIMSETimeout(static_cast<Uint32>(p.timeoutSeconds));
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
}

// What a failed association or message means for a person.
Status networkError(const OFCondition& c, const PacsPeer& p, const std::string& what) {
  std::string reason = c.text();
  if (c == DUL_ASSOCIATIONREJECTED)
    reason = "the peer refused the association; is Tessera's AE title " + p.callingAe +
             " known to it, and is " + p.calledAe +
             " its AE title? (A peer busy with other associations refuses for a while, too.)";
  else if (c == NET_EC_NoAcceptablePresentationContexts)
    reason = "the peer accepts none of the services asked for";
  else if (c == DUL_READTIMEOUT || c == DIMSE_NODATAAVAILABLE)
    reason = "no answer within " + std::to_string(p.timeoutSeconds) + " s";
  else if (c == DUL_PEERABORTEDASSOCIATION)
    reason =
        "the peer aborted the association (a PACS does so for a service it does not allow "
        "the AE title " +
        p.callingAe + ")";
  else if (c == DUL_PEERREQUESTEDRELEASE || c == DUL_NETWORKCLOSED || c == DIMSE_READPDVFAILED)
    reason = "the peer dropped the association (" + reason + ")";
  else if (c.code() == DULC_TCPINITERROR || c == DUL_REQUESTASSOCIATIONFAILED)
    reason = "cannot reach the peer (" + reason + ")";
  return Status(StatusCode::kIoError, what + ": " + reason, peerName(p));
}

Status connect(DcmSCU& scu, const PacsPeer& p) {
  if (OFCondition c = scu.initNetwork(); c.bad())
    return networkError(c, p, "cannot start DICOM networking");
  if (OFCondition c = scu.negotiateAssociation(); c.bad())
    return networkError(c, p, "no association with " + p.calledAe);
  return Status();
}

}  // namespace

Status validateAeTitle(const std::string& ae, const std::string& what) {
  if (ae.empty() || ae.size() > 16)
    return Status(StatusCode::kInvalidArgument, what + " must hold 1 to 16 characters", ae);
  for (char c : ae)
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
      return Status(StatusCode::kInvalidArgument,
                    what + " may hold printable ASCII characters other than backslash", ae);
  if (ae.find_first_not_of(' ') == std::string::npos)
    return Status(StatusCode::kInvalidArgument, what + " cannot be blank", ae);
  return Status();
}

Result<PacsPeer> parsePacsPeer(const std::string& spec) {
  const auto bad = [&](const std::string& why) {
    return Status(StatusCode::kInvalidArgument, "a PACS is named AET@HOST:PORT; " + why, spec);
  };
  const std::size_t at = spec.find('@');
  if (at == std::string::npos) return bad("the @ is missing");
  const std::size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon < at) return bad("the :PORT is missing");
  PacsPeer peer;
  peer.calledAe = spec.substr(0, at);
  TESSERA_RETURN_IF_ERROR(validateAeTitle(peer.calledAe, "the peer's AE title"));
  peer.host = spec.substr(at + 1, colon - at - 1);
  if (peer.host.size() > 2 && peer.host.front() == '[' && peer.host.back() == ']')
    peer.host = peer.host.substr(1, peer.host.size() - 2);
  if (peer.host.empty()) return bad("the host is missing");
  const std::string port = spec.substr(colon + 1);
  char* end = nullptr;
  const long value = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value < 1 || value > 65535)
    return bad("the port must be a number from 1 to 65535");
  peer.port = static_cast<int>(value);
  return peer;
}

Result<double> pacsEcho(const PacsPeer& peer) {
  quietDcmtk();
  DcmSCU scu;
  configure(scu, peer);
  scu.addPresentationContext(UID_VerificationSOPClass, uncompressed());
  const auto start = Clock::now();
  TESSERA_RETURN_IF_ERROR(connect(scu, peer));
  const OFCondition c = scu.sendECHORequest(0);
  if (c.bad()) {
    scu.abortAssociation();
    return networkError(c, peer, "C-ECHO failed");
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  scu.releaseAssociation();
  return ms;
}

Result<std::vector<PacsMatch>> pacsFind(const PacsPeer& peer, const PacsQuery& q) {
  quietDcmtk();
  if (q.level == QueryLevel::kSeries && q.studyUid.empty())
    return Status(StatusCode::kInvalidArgument, "a series query needs the study's UID");
  DcmDataset keys;
  const bool series = q.level == QueryLevel::kSeries;
  keys.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, series ? "SERIES" : "STUDY");
  keys.putAndInsertOFStringArray(DCM_StudyInstanceUID, q.studyUid.c_str());
  if (series) {
    keys.putAndInsertOFStringArray(DCM_SeriesInstanceUID, "");
    keys.putAndInsertOFStringArray(DCM_Modality, q.modality.c_str());
    keys.putAndInsertOFStringArray(DCM_SeriesNumber, "");
    keys.putAndInsertOFStringArray(DCM_SeriesDescription, "");
    keys.putAndInsertOFStringArray(DCM_NumberOfSeriesRelatedInstances, "");
  } else {
    keys.putAndInsertOFStringArray(DCM_PatientName, q.patientName.c_str());
    keys.putAndInsertOFStringArray(DCM_PatientID, q.patientId.c_str());
    keys.putAndInsertOFStringArray(DCM_StudyDate, q.studyDate.c_str());
    keys.putAndInsertOFStringArray(DCM_AccessionNumber, q.accessionNumber.c_str());
    keys.putAndInsertOFStringArray(DCM_StudyDescription, "");
    keys.putAndInsertOFStringArray(DCM_ModalitiesInStudy, q.modality.c_str());
    keys.putAndInsertOFStringArray(DCM_NumberOfStudyRelatedInstances, "");
  }
  DcmSCU scu;
  configure(scu, peer);
  scu.addPresentationContext(UID_FINDStudyRootQueryRetrieveInformationModel, uncompressed());
  TESSERA_RETURN_IF_ERROR(connect(scu, peer));
  OFList<QRResponse*> responses;
  const OFCondition c = scu.sendFINDRequest(
      scu.findPresentationContextID(UID_FINDStudyRootQueryRetrieveInformationModel, ""), &keys,
      &responses);
  std::vector<PacsMatch> matches;
  Uint16 finalStatus = STATUS_Success;
  for (QRResponse* r : responses) {
    if (r->m_dataset) {
      DcmDataset& d = *r->m_dataset;
      PacsMatch m;
      m.patientName = text(d, DCM_PatientName);
      m.patientId = text(d, DCM_PatientID);
      m.studyDate = text(d, DCM_StudyDate);
      m.studyDescription = text(d, DCM_StudyDescription);
      m.accessionNumber = text(d, DCM_AccessionNumber);
      m.studyUid = text(d, DCM_StudyInstanceUID);
      m.modalitiesInStudy = text(d, DCM_ModalitiesInStudy);
      m.seriesUid = text(d, DCM_SeriesInstanceUID);
      m.seriesNumber = text(d, DCM_SeriesNumber);
      m.modality = text(d, DCM_Modality);
      m.seriesDescription = text(d, DCM_SeriesDescription);
      const std::string count =
          text(d, series ? DCM_NumberOfSeriesRelatedInstances : DCM_NumberOfStudyRelatedInstances);
      if (!count.empty()) m.instances = std::atoi(count.c_str());
      matches.push_back(std::move(m));
    } else {
      finalStatus = r->m_status;
    }
    delete r;
  }
  if (c.bad()) {
    scu.abortAssociation();
    return networkError(c, peer, "C-FIND failed");
  }
  scu.releaseAssociation();
  if (finalStatus != STATUS_Success && !DICOM_PENDING_STATUS(finalStatus))
    return Status(StatusCode::kIoError,
                  "the peer ended the query with status " + statusText(finalStatus),
                  peerName(peer));
  return matches;
}

Result<RetrieveResult> pacsGet(const PacsPeer& peer, const std::string& studyUid,
                               const std::string& seriesUid, const std::string& directory,
                               ProgressSink* progress, const CancelToken* cancel) {
  quietDcmtk();
  if (studyUid.empty())
    return Status(StatusCode::kInvalidArgument, "give the UID of the study to retrieve");
  TESSERA_RETURN_IF_ERROR(checkDicomSeriesTarget(directory));
  const std::string target = trimTrailingSlashes(directory);
  TemporaryDirectory staging(target);
  if (!staging.ok())
    return Status(StatusCode::kIoError, "cannot create a temporary folder beside the output",
                  target);

  PacsScu scu;
  configure(scu, peer);
  ProgressTracker tracker(progress);
  scu.storeDir = staging.path();
  scu.cancel = cancel;
  scu.tracker = &tracker;
  scu.addPresentationContext(UID_GETStudyRootQueryRetrieveInformationModel, uncompressed());
  OFList<OFString> accepted = uncompressed();
  accepted.push_back(UID_JPEGProcess14SV1TransferSyntax);
  accepted.push_back(UID_JPEGProcess1TransferSyntax);
  for (const char* sopClass : kRetrievedClasses)
    scu.addPresentationContext(sopClass, accepted, ASC_SC_ROLE_SCP);
  TESSERA_RETURN_IF_ERROR(connect(scu, peer));

  DcmDataset keys;
  keys.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, seriesUid.empty() ? "STUDY" : "SERIES");
  keys.putAndInsertOFStringArray(DCM_StudyInstanceUID, studyUid.c_str());
  if (!seriesUid.empty()) keys.putAndInsertOFStringArray(DCM_SeriesInstanceUID, seriesUid.c_str());
  tracker.report(0.0, "retrieving from " + peer.calledAe);
  OFList<RetrieveResponse*> responses;
  const OFCondition c = scu.sendCGETRequest(
      scu.findPresentationContextID(UID_GETStudyRootQueryRetrieveInformationModel, ""), &keys,
      &responses);
  RetrieveResult result;
  Uint16 finalStatus = STATUS_Success;
  for (RetrieveResponse* r : responses) {
    finalStatus = r->m_status;
    result.failed = std::max<std::int64_t>(result.failed, r->m_numberOfFailedSubops);
    delete r;
  }
  if (c.bad() && !(cancel && cancel->cancelled())) {
    scu.abortAssociation();
    if (!scu.storeError.empty()) return Status(StatusCode::kIoError, scu.storeError, target);
    return networkError(c, peer, "C-GET failed");
  }
  if (cancel && cancel->cancelled()) {
    scu.abortAssociation();
    return Status(StatusCode::kCancelled, "retrieval cancelled; nothing was kept", target);
  }
  scu.releaseAssociation();
  if (!scu.storeError.empty()) return Status(StatusCode::kIoError, scu.storeError, target);
  if (scu.files.empty())
    return Status(StatusCode::kNotFound,
                  "the peer sent no instance of " +
                      (seriesUid.empty() ? "study " + studyUid : "series " + seriesUid) +
                      (finalStatus != STATUS_Success ? " (status " + statusText(finalStatus) + ")"
                                                     : std::string()),
                  peerName(peer));
  if (finalStatus != STATUS_Success && result.failed == 0) result.failed = 1;
  if (result.failed > 0)
    return Status(StatusCode::kIoError,
                  std::to_string(result.failed) +
                      " instances could not be retrieved; nothing was kept (status " +
                      statusText(finalStatus) + ")",
                  peerName(peer));
  for (const std::string& file : scu.files) TESSERA_RETURN_IF_ERROR(syncPath(file));
  TESSERA_RETURN_IF_ERROR(staging.placeAs(target, "the retrieved instances"));
  result.received = static_cast<std::int64_t>(scu.files.size());
  for (const std::string& file : scu.files)
    result.files.push_back((fs::path(target) / fs::path(file).filename()).string());
  return result;
}

Result<SendResult> pacsSend(const PacsPeer& peer, const std::vector<std::string>& paths,
                            int retries, ProgressSink* progress, const CancelToken* cancel) {
  quietDcmtk();
  std::vector<dicom::DicomInstance> instances;
  SendResult result;
  TESSERA_RETURN_IF_ERROR(dicom::collectInstances(paths, &instances, &result.skipped));
  if (instances.empty())
    return Status(StatusCode::kNotFound, "no DICOM file to send",
                  paths.empty() ? std::string() : paths.front());
  // One presentation context per SOP class and transfer syntax: the file's
  // own, with uncompressed fallbacks only where that is what it holds.
  std::vector<std::pair<std::string, std::string>> contexts;
  for (const dicom::DicomInstance& i : instances) {
    const std::pair<std::string, std::string> key{i.sopClass, i.transferSyntax};
    if (std::find(contexts.begin(), contexts.end(), key) == contexts.end()) contexts.push_back(key);
  }
  if (contexts.size() > 128)
    return Status(StatusCode::kUnsupported,
                  "more than 128 kinds of object (SOP class and transfer syntax) in one send");

  ProgressTracker tracker(progress);
  std::size_t next = 0;
  int attempt = 0;
  while (next < instances.size()) {
    DcmSCU scu;
    configure(scu, peer);
    for (const auto& [sopClass, ts] : contexts) {
      OFList<OFString> syntaxes;
      syntaxes.push_back(ts.c_str());
      if (ts == UID_LittleEndianExplicitTransferSyntax)
        syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
      scu.addPresentationContext(sopClass.c_str(), syntaxes);
    }
    Status connected = connect(scu, peer);
    if (!connected.ok()) {
      if (attempt++ >= retries) return connected;
      std::this_thread::sleep_for(std::chrono::seconds(1 << (attempt - 1)));
      continue;
    }
    bool dropped = false;
    for (; next < instances.size(); ++next) {
      if (cancel && cancel->cancelled()) {
        scu.releaseAssociation();
        return Status(StatusCode::kCancelled,
                      "sending cancelled after " + std::to_string(result.sent) + " of " +
                          std::to_string(instances.size()) + " instances",
                      peerName(peer));
      }
      const dicom::DicomInstance& i = instances[next];
      const T_ASC_PresentationContextID id =
          scu.findPresentationContextID(i.sopClass.c_str(), i.transferSyntax.c_str());
      if (id == 0) {
        result.failed.push_back(i.path + ": the peer does not accept this kind of object");
        continue;
      }
      Uint16 status = 0;
      const OFCondition c = scu.sendSTORERequest(id, i.path.c_str(), nullptr, status);
      if (c.bad()) {
        if (attempt++ >= retries) {
          scu.abortAssociation();
          return networkError(
              c, peer,
              "sending " + i.path + " failed after " + std::to_string(retries) + " retries");
        }
        dropped = true;
        break;
      }
      if (status == STATUS_Success || (status & 0xf000) == 0xb000) {
        ++result.sent;
      } else {
        result.failed.push_back(i.path + ": the peer refused it (status " + statusText(status) +
                                ")");
      }
      tracker.report(
          double(next + 1) / double(instances.size()),
          std::to_string(next + 1) + "/" + std::to_string(instances.size()) + " instances");
    }
    if (dropped) {
      scu.abortAssociation();
      std::this_thread::sleep_for(std::chrono::seconds(1 << (attempt - 1)));
      continue;
    }
    scu.releaseAssociation();
  }
  if (result.sent == 0)  // every instance refused: sending again would not help
    return Status(StatusCode::kUnsupported,
                  "the peer accepted none of the " + std::to_string(instances.size()) +
                      " instances" + (result.failed.empty() ? "" : ": " + result.failed.front()),
                  peerName(peer));
  return result;
}

}  // namespace tessera::imaging
