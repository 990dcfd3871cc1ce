// Autosaved work of the workstation, so that a crash, kill -9 or SIGTERM
// loses no edits. Each running workstation owns one slot in the recovery
// folder, named by its process id: "<pid>.labels.nii.gz" (the label map,
// written and verified by imaging::writeLabelMap) and "<pid>.json" (the
// manifest: CT path, DICOM series UID, where the labels were last saved,
// and when). The manifest is written last, atomically, so a slot counts only
// once its labels are complete. A slot whose process no longer runs is work
// to offer on the next start. Toolkit-free.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "core/status.h"

namespace tessera::ui {

// $TESSERA_RECOVERY_DIR when set (tests), else $XDG_STATE_HOME/tessera/recovery,
// else ~/.local/state/tessera/recovery.
std::string recoveryDirectory();

// One slot's content, as read back from its manifest.
struct RecoveryEntry {
  std::string manifestPath;
  std::string labelsFile;  // the autosaved label map
  std::string ctPath;      // the image the labels belong to
  std::string seriesUid;   // DICOM series in ctPath; empty otherwise
  std::string labelsPath;  // where the labels were last loaded or saved; may be empty
  std::string savedAt;     // UTC, ISO 8601
  long pid = 0;            // the process that wrote it
};

class RecoveryStore {
 public:
  RecoveryStore() = default;
  RecoveryStore(std::string directory, long pid);

  bool enabled() const { return !directory_.empty(); }
  const std::string& directory() const { return directory_; }
  std::string labelsFile() const;
  std::string manifestFile() const;

  // Writes this process's slot (creating the folder): labels first, then
  // the manifest. An error leaves any previous complete slot in place.
  Status save(const LabelMap& labels, const std::string& ctPath, const std::string& seriesUid,
              const std::string& labelsPath) const;
  // Removes this process's slot (after a Save or a clean close).
  void remove() const;

  // Complete slots of processes that no longer run, newest first; slots
  // whose manifest cannot be read are skipped.
  std::vector<RecoveryEntry> orphans() const;
  // Removes an orphan's files (the person discarded or restored it).
  static void discard(const RecoveryEntry& entry);

 private:
  std::string directory_;
  long pid_ = 0;
};

}  // namespace tessera::ui
