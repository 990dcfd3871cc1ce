// A storage SCP (DICOM C-STORE receiver, through DCMTK's DcmSCP) for the
// service node: PACS and modalities send instances to Tessera's AE title,
// each lands on disk complete or not at all. Verification (C-ECHO) is
// answered too. No toolkit type crosses this header.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

struct StoreScpConfig {
  std::string aeTitle = "TESSERA";  // the called AE title peers must use
  int port = 11112;                 // listens on every interface
  // Received instances go to <storeDir>/<Series Instance UID>/<SOP Instance
  // UID>.dcm; storeDir must exist.
  std::string storeDir;
  int timeoutSeconds = 30;  // association negotiation and each message
  // Calling AE titles accepted (a PACS administrator's allow list); empty:
  // any. Others are refused at association ("calling AE title not
  // recognized").
  std::vector<std::string> allowedCallingAes;
  // Associations served at the same time (a PACS forwarding one study while
  // a modality sends another); a peer beyond them is rejected as transient
  // ("local limit exceeded") and may try again.
  int maxAssociations = 8;
};

// One instance received and written.
struct StoredInstance {
  std::string path;
  std::string callingAe, studyUid, seriesUid, sopInstanceUid, modality;
};

// Serves associations, each on its own thread, until `stop` is cancelled
// (checked at least once a second); then accepts no more and returns when the
// associations in progress have ended. `onStored` runs on an association's
// thread after each instance is on disk, and must not throw; `storeLock`,
// when given, is held while an instance is written and `onStored` runs (so
// calls never overlap, and another thread may move folders of storeDir while
// holding it). An instance that cannot be written (full disk) is refused with
// status 0xA700 (out of resources), so the sender keeps it and may retry.
// Returns an error when the port cannot be opened ("port 104 is in use or
// needs root").
Status serveStorage(const StoreScpConfig& config,
                    const std::function<void(const StoredInstance&)>& onStored,
                    const CancelToken& stop, std::mutex* storeLock = nullptr);

}  // namespace tessera::imaging
