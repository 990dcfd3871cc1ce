// The storage SCP: DcmSCP with Tessera's C-STORE handler. Each instance is
// received in memory, written to a temporary file beside its final name and
// renamed when complete, so a peer that drops mid-transfer or a full disk
// leaves nothing half-written; the peer is answered only after the file is
// on disk, so an instance acknowledged is an instance kept.
#include "imaging/pacs/store_scp.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcobject.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scp.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "core/files.h"
#include "core/log.h"
#include "imaging/internal/dicom_source.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;

// UIDs become file and folder names: anything but digits and dots is
// replaced, so a crafted UID cannot climb out of the store folder.
std::string safeName(const std::string& uid, const std::string& fallback) {
  std::string name = uid.empty() ? fallback : uid;
  for (char& c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.')) c = '_';
  if (name.find_first_not_of('.') == std::string::npos) name = fallback;
  return name;
}

class StorageScp : public DcmSCP {
 public:
  StorageScp(const StoreScpConfig& config,
             const std::function<void(const StoredInstance&)>& onStored, const CancelToken& stop,
             std::mutex* storeLock)
      : config_(config), onStored_(onStored), stop_(stop), storeLock_(storeLock) {}

 protected:
  OFBool stopAfterConnectionTimeout() override { return stop_.cancelled(); }
  OFBool checkCallingAETitleAccepted(const OFString& callingAe) override {
    const auto& allowed = config_.allowedCallingAes;
    if (allowed.empty() ||
        std::find(allowed.begin(), allowed.end(), callingAe.c_str()) != allowed.end())
      return OFTrue;
    logWarning("storage SCP: refused an association from calling AE title ", callingAe.c_str(),
               " (not in allowed_callers)");
    return OFFalse;
  }
  OFBool stopAfterCurrentAssociation() override { return stop_.cancelled(); }

  OFCondition handleIncomingCommand(T_DIMSE_Message* message,
                                    const DcmPresentationContextInfo& info) override {
    if (message->CommandField == DIMSE_C_ECHO_RQ)
      return DcmSCP::handleIncomingCommand(message, info);
    if (message->CommandField != DIMSE_C_STORE_RQ) return DIMSE_BADCOMMANDTYPE;
    T_DIMSE_C_StoreRQ& request = message->msg.CStoreRQ;
    DcmDataset* received = nullptr;
    const OFCondition c = receiveSTORERequest(request, info.presentationContextID, received);
    std::unique_ptr<DcmDataset> dataset(received);
    if (c.bad()) {
      // The peer dropped or timed out mid-transfer: nothing was written.
      logWarning("storage SCP: receiving an instance from ", callingAe(), " failed: ", c.text());
      return c;
    }
    const Uint16 status = store(request, std::move(dataset));
    return sendSTOREResponse(info.presentationContextID, request, status);
  }

 private:
  std::string callingAe() { return getPeerAETitle().c_str(); }

  Uint16 store(const T_DIMSE_C_StoreRQ& request, std::unique_ptr<DcmDataset> dataset) {
    std::unique_lock<std::mutex> lock;
    if (storeLock_) lock = std::unique_lock<std::mutex>(*storeLock_);
    StoredInstance instance;
    instance.callingAe = callingAe();
    instance.studyUid = dicom::text(*dataset, DCM_StudyInstanceUID);
    instance.seriesUid = dicom::text(*dataset, DCM_SeriesInstanceUID);
    instance.sopInstanceUid = dicom::text(*dataset, DCM_SOPInstanceUID);
    instance.modality = dicom::text(*dataset, DCM_Modality);
    if (instance.sopInstanceUid.empty()) instance.sopInstanceUid = request.AffectedSOPInstanceUID;
    const fs::path folder = fs::path(config_.storeDir) / safeName(instance.seriesUid, "no-series");
    std::error_code ec;
    fs::create_directories(folder, ec);
    instance.path = (folder / (safeName(instance.sopInstanceUid, "no-instance") + ".dcm")).string();
    E_TransferSyntax xfer = dataset->getOriginalXfer();
    if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
    DcmFileFormat file(dataset.get());
    Status written;
    {
      AtomicFile out(instance.path);
      const OFCondition saved = file.saveFile(out.tempPath().c_str(), xfer);
      written = saved.bad() ? incompleteWriteError(out.tempPath(),
                                                   std::string("a received instance could not be "
                                                               "written: ") +
                                                       saved.text(),
                                                   instance.path)
                            : out.commit();
    }
    if (!written.ok()) {
      logError("storage SCP: ", written.toString());
      return STATUS_STORE_Refused_OutOfResources;
    }
    onStored_(instance);
    return STATUS_Success;
  }

  const StoreScpConfig& config_;
  const std::function<void(const StoredInstance&)>& onStored_;
  const CancelToken& stop_;
  std::mutex* storeLock_;
};

}  // namespace

Status serveStorage(const StoreScpConfig& config,
                    const std::function<void(const StoredInstance&)>& onStored,
                    const CancelToken& stop, std::mutex* storeLock) {
  dicom::quietDcmtk();
  if (config.port <= 0 || config.port > 65535)
    return Status(StatusCode::kInvalidArgument,
                  "the DICOM port must be between 1 and 65535, not " + std::to_string(config.port));
  if (!isDirectory(config.storeDir))
    return Status(StatusCode::kNotFound, "the folder for received instances does not exist",
                  config.storeDir);
  StorageScp scp(config, onStored, stop, storeLock);
  scp.setAETitle(config.aeTitle.c_str());
  scp.setPort(static_cast<Uint16>(config.port));
  scp.setACSETimeout(static_cast<Uint32>(config.timeoutSeconds));
  scp.setDIMSETimeout(static_cast<Uint32>(config.timeoutSeconds));
  scp.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scp.setConnectionBlockingMode(DUL_NOBLOCK);
  scp.setConnectionTimeout(1);
  scp.setHostLookupEnabled(OFFalse);
  // Uncompressed first (preferred), then the compressions Tessera's readers
  // decode, for peers that offer nothing else.
  OFList<OFString> syntaxes;
  for (const char* uid :
       {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
        UID_JPEGProcess14SV1TransferSyntax, UID_JPEG2000LosslessOnlyTransferSyntax,
        UID_RLELosslessTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax})
    syntaxes.push_back(uid);
  OFList<OFString> verification;
  verification.push_back(UID_LittleEndianExplicitTransferSyntax);
  verification.push_back(UID_LittleEndianImplicitTransferSyntax);
  scp.addPresentationContext(UID_VerificationSOPClass, verification);
  // Every storage class: instances that are not CT are kept too, and the
  // service tells the operator why it did not segment them.
  for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
    scp.addPresentationContext(dcmAllStorageSOPClassUIDs[i], syntaxes);
  // DcmSCP::openListenPort turns off DCMTK's automatic input data
  // correction for the whole process, so that every later read keeps the
  // padding of odd-length values: a source's Frame of Reference UID of 63
  // characters then fails the DICOM-SEG writer's VR check. Received
  // instances need no such exactness (only a workaround for SCUs that pad
  // UIDs with spaces would); the rest of Tessera needs the default back.
  OFCondition c = scp.openListenPort();
  dcmEnableAutomaticInputDataCorrection.set(OFTrue);
  if (c.good()) c = scp.acceptAssociations();
  if (c == NET_EC_StopAfterConnectionTimeout || c == NET_EC_StopAfterAssociation || c.good())
    return Status::success();
  if (c == NET_EC_InsufficientPortPrivileges)
    return Status(StatusCode::kIoError,
                  "port " + std::to_string(config.port) + " needs root (ports below 1024)");
  return Status(StatusCode::kIoError, "cannot listen on DICOM port " + std::to_string(config.port) +
                                          " (" + c.text() + "; is another program using it?)");
}

}  // namespace tessera::imaging
