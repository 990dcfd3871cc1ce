// DICOMweb through libcurl; the DICOM JSON model (PS3.18 F.2) read with
// core/json.h. multipart/related (RFC 2387) is split and built here: libcurl
// sends and receives bytes, and no Debian library parses a multipart body
// held in memory.
#include "imaging/pacs/dicomweb.h"

#include <curl/curl.h>
#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "imaging/dicom/dicom.h"
#include "imaging/internal/dicom_source.h"
#include "imaging/internal/itk_support.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Response {
  long status = 0;
  std::string contentType;
  std::string body;
};

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string body;  // POST
  ProgressSink* progress = nullptr;
  const CancelToken* cancel = nullptr;
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

int transferProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const CancelToken*>(user);
  return cancel && cancel->cancelled() ? 1 : 0;
}

// One HTTP exchange; kIoError when no answer came (with curl's reason),
// kCancelled when the token stopped it. Any HTTP status is a Response.
Result<Response> perform(const DicomWebServer& server, const Request& r) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (!curl) return Status(StatusCode::kInternal, "cannot start an HTTP client");
  Response response;
  curl_slist* headers = nullptr;
  for (const std::string& h : r.headers) headers = curl_slist_append(headers, h.c_str());
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(server.timeoutSeconds));
  // A stalled transfer (no byte for timeoutSeconds) is a timeout; a long one is not.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(server.timeoutSeconds));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, transferProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, r.cancel);
  if (r.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  }
  const CURLcode code = curl_easy_perform(curl);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type)
    response.contentType = type;
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code == CURLE_ABORTED_BY_CALLBACK) return Status(StatusCode::kCancelled, "cancelled", r.url);
  if (code != CURLE_OK)
    return Status(StatusCode::kIoError,
                  std::string("no answer from the DICOMweb server: ") +
                      (error[0] ? error : curl_easy_strerror(code)),
                  r.url);
  return response;
}

Status httpError(const Response& response, const Request& r) {
  std::string detail;
  for (char c : response.body.substr(0, 240)) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c != ' ' || (!detail.empty() && detail.back() != ' ')) detail += c;
  }
  return Status(StatusCode::kIoError,
                "the DICOMweb server answered HTTP " + std::to_string(response.status) + " to " +
                    r.method + (detail.empty() ? std::string() : ": " + detail),
                r.url);
}

// A request with retries of connection failures and 5xx answers (1, 2, 4
// ... s). An answer of 400 or more is an error, unless `answers` takes it
// (a STOW-RS answer that lists which instances failed).
Result<Response> exchange(const DicomWebServer& server, const Request& r, int retries,
                          bool (*answers)(const Response&) = nullptr) {
  for (int attempt = 0;; ++attempt) {
    auto response = perform(server, r);
    const bool retry = (!response.ok() && response.error().code == StatusCode::kIoError) ||
                       (response.ok() && response->status >= 500);
    if (!retry || attempt >= retries) {
      if (!response.ok()) return response.error();
      if (response->status >= 400 && !(answers && answers(*response)))
        return httpError(*response, r);
      return response;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1 << attempt));
  }
}

std::string urlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*' || c == '?') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// A value of the DICOM JSON model: the first string of "Value" (a PN's
// "Alphabetic" form), or a number as text.
std::string jsonValue(const JsonValue& dataset, const char* tag) {
  const JsonValue* element = dataset.find(tag);
  if (!element) return {};
  const JsonValue* value = element->find("Value");
  if (!value || value->items().empty()) return {};
  const JsonValue& first = value->items()[0];
  if (first.isString()) return first.asString();
  if (first.isNumber()) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.0f", first.asNumber());
    return buffer;
  }
  if (first.isObject()) return first.getString("Alphabetic");
  return {};
}

// A 4xx STOW-RS answer that still says, instance by instance, what was
// stored and what failed.
bool listsInstances(const Response& response) {
  if (response.status >= 500) return false;
  auto json = parseJson(response.body);
  return json.ok() && json->isObject() &&
         (json->find("00081198") != nullptr || json->find("00081199") != nullptr);
}

std::string boundaryOf(const std::string& contentType) {
  const std::size_t at = contentType.find("boundary=");
  if (at == std::string::npos) return {};
  std::string b = contentType.substr(at + 9);
  const std::size_t end = b.find(';');
  if (end != std::string::npos) b.resize(end);
  if (b.size() >= 2 && b.front() == '"' && b.back() == '"') b = b.substr(1, b.size() - 2);
  return b;
}

// The bodies of a multipart/related answer.
Result<std::vector<std::string_view>> splitMultipart(const std::string& body,
                                                     const std::string& boundary,
                                                     const std::string& url) {
  std::vector<std::string_view> parts;
  const std::string delimiter = "--" + boundary;
  std::size_t at = body.find(delimiter);
  if (boundary.empty() || at == std::string::npos)
    return Status(StatusCode::kCorruptData, "the answer is not a multipart/related body", url);
  while (true) {
    at += delimiter.size();
    if (body.compare(at, 2, "--") == 0) break;  // the closing delimiter
    const std::size_t headersEnd = body.find("\r\n\r\n", at);
    if (headersEnd == std::string::npos)
      return Status(StatusCode::kCorruptData, "a part of the answer has no body", url);
    const std::size_t start = headersEnd + 4;
    const std::size_t next = body.find("\r\n" + delimiter, start);
    if (next == std::string::npos)
      return Status(StatusCode::kCorruptData, "the answer ends in the middle of a part", url);
    parts.emplace_back(body.data() + start, next - start);
    at = next + 2;
  }
  return parts;
}

}  // namespace

Result<DicomWebServer> parseDicomWebUrl(const std::string& url) {
  DicomWebServer server;
  server.url = url;
  while (!server.url.empty() && server.url.back() == '/') server.url.pop_back();
  const bool scheme = server.url.rfind("http://", 0) == 0 || server.url.rfind("https://", 0) == 0;
  if (!scheme || server.url.find("://") + 3 >= server.url.size())
    return Status(StatusCode::kInvalidArgument,
                  "--dicomweb is the server's DICOMweb root, http://HOST[:PORT]/PATH", url);
  return server;
}

Result<double> dicomWebEcho(const DicomWebServer& server) {
  Request r;
  r.url = server.url + "/studies?limit=1";
  r.headers = {"Accept: application/dicom+json"};
  const auto start = Clock::now();
  TESSERA_ASSIGN_OR_RETURN(Response response, exchange(server, r, 0));
  (void)response;
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Result<std::vector<PacsMatch>> dicomWebFind(const DicomWebServer& server, const PacsQuery& q) {
  const bool series = q.level == QueryLevel::kSeries;
  if (series && q.studyUid.empty())
    return Status(StatusCode::kInvalidArgument, "a series query needs the study's UID");
  Request r;
  std::string query;
  const auto add = [&](const char* key, const std::string& value) {
    if (!value.empty())
      query += std::string(query.empty() ? "?" : "&") + key + "=" + urlEncode(value);
  };
  if (series) {
    r.url = server.url + "/studies/" + urlEncode(q.studyUid) + "/series";
    add("Modality", q.modality);
    query += std::string(query.empty() ? "?" : "&") +
             "includefield=00201209&includefield=0008103E&includefield=00200011";
  } else {
    r.url = server.url + "/studies";
    add("PatientID", q.patientId);
    add("PatientName", q.patientName);
    add("StudyDate", q.studyDate);
    add("AccessionNumber", q.accessionNumber);
    add("StudyInstanceUID", q.studyUid);
    add("ModalitiesInStudy", q.modality);
    query += std::string(query.empty() ? "?" : "&") +
             "includefield=00201208&includefield=00081030&includefield=00080061";
  }
  r.url += query;
  r.headers = {"Accept: application/dicom+json"};
  TESSERA_ASSIGN_OR_RETURN(Response response, exchange(server, r, 2));
  std::vector<PacsMatch> matches;
  if (response.status == 204 || response.body.empty()) return matches;
  auto json = parseJson(response.body);
  if (!json.ok() || !json->isArray())
    return Status(StatusCode::kCorruptData, "the QIDO-RS answer is not a JSON array", r.url);
  for (const JsonValue& d : json->items()) {
    PacsMatch m;
    m.patientName = jsonValue(d, "00100010");
    m.patientId = jsonValue(d, "00100020");
    m.studyDate = jsonValue(d, "00080020");
    m.studyDescription = jsonValue(d, "00081030");
    m.accessionNumber = jsonValue(d, "00080050");
    m.studyUid = series ? q.studyUid : jsonValue(d, "0020000D");
    if (const JsonValue* mods = d.find("00080061"); mods && mods->find("Value"))
      for (const JsonValue& v : mods->find("Value")->items())
        m.modalitiesInStudy += (m.modalitiesInStudy.empty() ? "" : "\\") + v.asString();
    m.seriesUid = jsonValue(d, "0020000E");
    m.seriesNumber = jsonValue(d, "00200011");
    m.modality = jsonValue(d, "00080060");
    m.seriesDescription = jsonValue(d, "0008103E");
    const std::string count = jsonValue(d, series ? "00201209" : "00201208");
    if (!count.empty()) m.instances = std::atoi(count.c_str());
    matches.push_back(std::move(m));
  }
  return matches;
}

Result<RetrieveResult> dicomWebGet(const DicomWebServer& server, const std::string& studyUid,
                                   const std::string& seriesUid, const std::string& directory,
                                   ProgressSink* progress, const CancelToken* cancel) {
  dicom::quietDcmtk();
  if (studyUid.empty())
    return Status(StatusCode::kInvalidArgument, "give the UID of the study to retrieve");
  TESSERA_RETURN_IF_ERROR(checkDicomSeriesTarget(directory));
  const std::string target = trimTrailingSlashes(directory);
  Request r;
  r.url = server.url + "/studies/" + urlEncode(studyUid) +
          (seriesUid.empty() ? std::string() : "/series/" + urlEncode(seriesUid));
  r.headers = {"Accept: multipart/related; type=\"application/dicom\""};
  r.cancel = cancel;
  ProgressTracker tracker(progress);
  tracker.report(0.0, "retrieving " + r.url);
  // The whole answer is held in memory before it is split: a series of a
  // few hundred CT slices is some hundred MB.
  TESSERA_ASSIGN_OR_RETURN(Response response, exchange(server, r, 2));
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string_view> parts,
                           splitMultipart(response.body, boundaryOf(response.contentType), r.url));
  if (parts.empty()) return Status(StatusCode::kNotFound, "the server sent no instance", r.url);

  TemporaryDirectory staging(target);
  if (!staging.ok())
    return Status(StatusCode::kIoError, "cannot create a temporary folder beside the output",
                  target);
  RetrieveResult result;
  std::vector<std::string> names;
  for (std::size_t n = 0; n < parts.size(); ++n) {
    if (cancel) TESSERA_RETURN_IF_ERROR(cancel->check());
    // The part is a Part 10 file as sent: written as is, then named by its
    // SOP Instance UID.
    const std::string part =
        (fs::path(staging.path()) / ("part" + std::to_string(n + 1) + ".dcm")).string();
    {
      std::ofstream out(part, std::ios::binary);
      out.write(parts[n].data(), static_cast<std::streamsize>(parts[n].size()));
      out.close();
      if (!out) return incompleteWriteError(part, "cannot write a retrieved instance", target);
    }
    DcmFileFormat file;
    // ERM_fileOnly: a part must be a Part 10 file (with its meta header).
    if (OFCondition c = file.loadFileUntilTag(part.c_str(), EXS_Unknown, EGL_noChange,
                                              DCM_MaxReadLength, ERM_fileOnly, DCM_PixelData);
        c.bad())
      return Status(
          StatusCode::kCorruptData,
          "part " + std::to_string(n + 1) + " of the answer is not a DICOM file (" + c.text() + ")",
          r.url);
    OFString uid;
    file.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
    std::string name = uid.c_str();
    for (char& c : name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.')) c = '_';
    if (name.empty()) name = "instance" + std::to_string(n + 1);
    const std::string path = (fs::path(staging.path()) / (name + ".dcm")).string();
    std::error_code moved;
    fs::rename(part, path, moved);
    if (moved)
      return Status(StatusCode::kIoError, "cannot name a retrieved instance: " + moved.message(),
                    target);
    TESSERA_RETURN_IF_ERROR(syncPath(path));
    names.push_back(name + ".dcm");
    tracker.report(double(n + 1) / double(parts.size()),
                   std::to_string(n + 1) + "/" + std::to_string(parts.size()) + " instances");
  }
  TESSERA_RETURN_IF_ERROR(staging.placeAs(target, "the retrieved instances"));
  result.received = static_cast<std::int64_t>(names.size());
  for (const std::string& name : names) result.files.push_back((fs::path(target) / name).string());
  return result;
}

Result<SendResult> dicomWebSend(const DicomWebServer& server, const std::vector<std::string>& paths,
                                int retries, ProgressSink* progress, const CancelToken* cancel) {
  dicom::quietDcmtk();
  std::vector<dicom::DicomInstance> instances;
  SendResult result;
  TESSERA_RETURN_IF_ERROR(dicom::collectInstances(paths, &instances, &result.skipped));
  if (instances.empty())
    return Status(StatusCode::kNotFound, "no DICOM file to send",
                  paths.empty() ? std::string() : paths.front());
  ProgressTracker tracker(progress);
  constexpr std::size_t kPerRequest = 32;
  const std::string boundary = "tessera-stow-boundary-7d1f3a";
  for (std::size_t first = 0; first < instances.size(); first += kPerRequest) {
    const std::size_t end = std::min(instances.size(), first + kPerRequest);
    Request r;
    r.method = "POST";
    r.url = server.url + "/studies";
    r.cancel = cancel;
    r.headers = {
        "Content-Type: multipart/related; type=\"application/dicom\"; boundary=" + boundary,
        "Accept: application/dicom+json"};
    for (std::size_t i = first; i < end; ++i) {
      TESSERA_ASSIGN_OR_RETURN(std::string bytes, readTextFile(instances[i].path));
      r.body += "--" + boundary + "\r\nContent-Type: application/dicom\r\n\r\n";
      r.body += bytes;
      r.body += "\r\n";
    }
    r.body += "--" + boundary + "--\r\n";
    auto response = exchange(server, r, retries, listsInstances);
    if (!response.ok()) {
      if (response.error().code == StatusCode::kCancelled)
        return Status(StatusCode::kCancelled,
                      "sending cancelled after " + std::to_string(result.sent) + " of " +
                          std::to_string(instances.size()) + " instances",
                      server.url);
      return response.error();
    }
    // 200: all stored; 202, or 409 (400 from Orthanc): some failed, listed
    // in the Failed SOP Sequence (00081198) with their Failure Reason
    // (00081197).
    std::map<std::string, std::string> failed;
    if (auto json = parseJson(response->body); json.ok())
      if (const JsonValue* f = json->find("00081198"); f && f->find("Value"))
        for (const JsonValue& item : f->find("Value")->items()) {
          const std::string reason = jsonValue(item, "00081197");
          char hex[48] = "";
          if (!reason.empty())
            std::snprintf(hex, sizeof hex, " (failure reason 0x%04lX)",
                          std::strtoul(reason.c_str(), nullptr, 10));
          failed[jsonValue(item, "00081155")] = hex;
        }
    for (std::size_t i = first; i < end; ++i) {
      if (auto f = failed.find(instances[i].sopInstance); f != failed.end())
        result.failed.push_back(instances[i].path + ": the server refused it" + f->second);
      else
        ++result.sent;
    }
    tracker.report(double(end) / double(instances.size()),
                   std::to_string(end) + "/" + std::to_string(instances.size()) + " instances");
  }
  if (result.sent == 0)  // every instance refused: sending again would not help
    return Status(StatusCode::kUnsupported,
                  "the server accepted none of the " + std::to_string(instances.size()) +
                      " instances" + (result.failed.empty() ? "" : ": " + result.failed.front()),
                  server.url);
  return result;
}

}  // namespace tessera::imaging
