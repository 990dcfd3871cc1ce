#include "ui/model/pacs_browser.h"

#include <filesystem>

namespace tessera::ui {
namespace fs = std::filesystem;

Status PacsBrowser::connect(const std::string& spec, const std::string& aet, int timeoutSeconds) {
  connected_ = false;
  if (spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0) {
    TESSERA_ASSIGN_OR_RETURN(server_, imaging::parseDicomWebUrl(spec));
    server_.timeoutSeconds = timeoutSeconds;
    web_ = true;
  } else {
    TESSERA_ASSIGN_OR_RETURN(peer_, imaging::parsePacsPeer(spec));
    TESSERA_RETURN_IF_ERROR(imaging::validateAeTitle(aet, "The workstation's AE title"));
    peer_.callingAe = aet;
    peer_.timeoutSeconds = timeoutSeconds;
    web_ = false;
  }
  spec_ = spec;
  connected_ = true;
  return Status();
}

Result<std::vector<imaging::PacsMatch>> PacsBrowser::studies(const std::string& patient) const {
  if (!connected_) return Status(StatusCode::kInvalidArgument, "Name the PACS first.");
  imaging::PacsQuery q;
  if (patient.find('^') != std::string::npos || patient.find(' ') != std::string::npos)
    q.patientName = patient;
  else
    q.patientId = patient;
  return web_ ? imaging::dicomWebFind(server_, q) : imaging::pacsFind(peer_, q);
}

Result<std::vector<imaging::PacsMatch>> PacsBrowser::series(const std::string& studyUid) const {
  if (!connected_) return Status(StatusCode::kInvalidArgument, "Name the PACS first.");
  imaging::PacsQuery q;
  q.level = imaging::QueryLevel::kSeries;
  q.studyUid = studyUid;
  return web_ ? imaging::dicomWebFind(server_, q) : imaging::pacsFind(peer_, q);
}

Result<std::string> PacsBrowser::retrieve(const std::string& studyUid, const std::string& seriesUid,
                                          const std::string& cacheRoot, ProgressSink* progress,
                                          const CancelToken* cancel) const {
  if (!connected_) return Status(StatusCode::kInvalidArgument, "Name the PACS first.");
  std::error_code error;
  fs::create_directories(cacheRoot, error);
  if (error)
    return Status(StatusCode::kIoError, "cannot create the cache folder: " + error.message(),
                  cacheRoot);
  std::string name = seriesUid;
  for (char& c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.')) c = '_';
  const std::string folder = (fs::path(cacheRoot) / name).string();
  if (fs::is_directory(folder, error) && !fs::is_empty(folder, error)) return folder;
  auto got = web_ ? imaging::dicomWebGet(server_, studyUid, seriesUid, folder, progress, cancel)
                  : imaging::pacsGet(peer_, studyUid, seriesUid, folder, progress, cancel);
  if (!got.ok()) return got.error();
  return folder;
}

Status PacsBrowser::send(const std::vector<std::string>& paths) const {
  if (!connected_) return Status(StatusCode::kInvalidArgument, "Name the PACS first.");
  auto sent = web_ ? imaging::dicomWebSend(server_, paths) : imaging::pacsSend(peer_, paths);
  if (!sent.ok()) return sent.error();
  if (!sent->failed.empty())
    return Status(StatusCode::kIoError, "the PACS refused " + sent->failed.front(), spec_);
  return Status();
}

}  // namespace tessera::ui
