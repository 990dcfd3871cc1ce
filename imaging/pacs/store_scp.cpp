// The storage SCP: an accept loop hands each association to its own
// DcmThreadSCP with Tessera's C-STORE handler, on its own thread. (DCMTK's
// DcmSCPPool does the same, but 3.6.7's pool never leaves its destructor
// when the port cannot be opened and may touch a destroyed pool from a
// finishing worker, both fixed only after 3.6.7.) Each instance is received
// in memory, written to a temporary file beside its final name and renamed
// when complete, so a peer that drops mid-transfer or a full disk leaves
// nothing half-written; the peer is answered only after the file is on disk,
// so an instance acknowledged is an instance kept.
#include "imaging/pacs/store_scp.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcobject.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/scpthrd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <filesystem>
#include <list>
#include <memory>
#include <thread>

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

// One association: negotiated and served by DcmSCP's machinery, C-STORE
// handled here.
class StorageScp : public DcmThreadSCP {
 public:
  StorageScp(const StoreScpConfig& config,
             const std::function<void(const StoredInstance&)>& onStored, std::mutex* storeLock)
      : config_(config), onStored_(onStored), storeLock_(storeLock) {
    configure();
  }

 protected:
  OFBool checkCallingAETitleAccepted(const OFString& callingAe) override {
    const auto& allowed = config_.allowedCallingAes;
    if (allowed.empty() ||
        std::find(allowed.begin(), allowed.end(), callingAe.c_str()) != allowed.end())
      return OFTrue;
    logWarning("storage SCP: refused an association from calling AE title ", callingAe.c_str(),
               " (not in allowed_callers)");
    return OFFalse;
  }

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

  void configure() {
    setAETitle(config_.aeTitle.c_str());
    setACSETimeout(static_cast<Uint32>(config_.timeoutSeconds));
    setDIMSETimeout(static_cast<Uint32>(config_.timeoutSeconds));
    setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    setHostLookupEnabled(OFFalse);
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
    addPresentationContext(UID_VerificationSOPClass, verification);
    // Every storage class: instances that are not CT are kept too, and the
    // service tells the operator why it did not segment them.
    for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
      addPresentationContext(dcmAllStorageSOPClassUIDs[i], syntaxes);
  }

  const StoreScpConfig& config_;
  const std::function<void(const StoredInstance&)>& onStored_;
  std::mutex* storeLock_;
};

// Turns a peer away before negotiation: too many associations at once.
void rejectBusy(T_ASC_Association* assoc) {
  T_ASC_RejectParameters reject = {ASC_RESULT_REJECTEDTRANSIENT,
                                   ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
                                   ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED};
  ASC_rejectAssociation(assoc, &reject);
}

// The association threads of the accept loop; joined when they end and all
// at the end.
class Connections {
 public:
  ~Connections() {
    for (Connection& c : list_) c.thread.join();
  }
  std::size_t active() {
    for (auto it = list_.begin(); it != list_.end();) {
      if (!it->finished->load()) {
        ++it;
        continue;
      }
      it->thread.join();
      it = list_.erase(it);
    }
    return list_.size();
  }
  template <class Body>
  void start(Body&& body) {
    auto finished = std::make_shared<std::atomic<bool>>(false);
    list_.push_back({std::thread([finished, body = std::forward<Body>(body)]() mutable {
                       body();
                       finished->store(true);
                     }),
                     finished});
  }

 private:
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::list<Connection> list_;
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
  if (config.port < 1024 && geteuid() != 0)
    return Status(StatusCode::kIoError,
                  "port " + std::to_string(config.port) + " needs root (ports below 1024)");
  T_ASC_Network* network = nullptr;
  OFCondition c = ASC_initializeNetwork(NET_ACCEPTOR, config.port, config.timeoutSeconds, &network);
  if (c.bad())
    return Status(StatusCode::kIoError, "cannot listen on DICOM port " +
                                            std::to_string(config.port) + " (" + c.text() +
                                            "; is another program using it?)");
  {
    Connections connections;
    const std::size_t limit = static_cast<std::size_t>(std::max(1, config.maxAssociations));
    while (!stop.cancelled()) {
      T_ASC_Association* assoc = nullptr;
      c = ASC_receiveAssociation(network, &assoc, ASC_DEFAULTMAXPDU, nullptr, nullptr, OFFalse,
                                 DUL_NOBLOCK, 1);
      if (c == DUL_NOASSOCIATIONREQUEST) {
        ASC_destroyAssociation(&assoc);
        connections.active();  // joins the threads of ended associations while idle
        continue;
      }
      auto refuse = [&assoc] {
        if (!assoc) return;
        ASC_dropAssociation(assoc);
        ASC_destroyAssociation(&assoc);
      };
      if (c.bad()) {
        logWarning("storage SCP: an association request could not be received: ", c.text());
        refuse();
        continue;
      }
      if (connections.active() >= limit) {
        logWarning("storage SCP: refused an association from ",
                   assoc->params->DULparams.callingAPTitle, ": the limit of ", limit,
                   " at once is reached (max_associations)");
        rejectBusy(assoc);
        refuse();
        continue;
      }
      try {
        connections.start([&config, &onStored, storeLock, assoc] {
          // The SCP owns the association from here and destroys it. Nothing
          // thrown (an allocation failure) may leave the thread.
          try {
            StorageScp scp(config, onStored, storeLock);
            scp.run(assoc);
          } catch (const std::exception& e) {
            logError("storage SCP: an association ended on an error: ", e.what());
          }
        });
      } catch (const std::exception& e) {  // no thread for it: turned away
        logError("storage SCP: cannot serve an association: ", e.what());
        rejectBusy(assoc);
        refuse();
      }
    }
  }
  ASC_dropNetwork(&network);
  return Status::success();
}

}  // namespace tessera::imaging
