#include "app/serve/serve_config.h"

#include <cmath>
#include <set>

#include "core/files.h"
#include "core/json.h"

namespace tessera::serve {
namespace {

Status bad(const std::string& path, const std::string& what) {
  return Status(StatusCode::kInvalidArgument, "configuration: " + what, path);
}

Status checkMembers(const JsonValue& object, const std::set<std::string>& known,
                    const std::string& where, const std::string& path) {
  for (const auto& [name, value] : object.members())
    if (!known.count(name)) return bad(path, "unknown member \"" + name + "\"" + where);
  return Status::success();
}

// A whole number in [lo, hi] or absent (keeps `*out`).
Status readInt(const JsonValue& object, const char* name, int lo, int hi, int* out,
               const std::string& path) {
  const JsonValue* v = object.find(name);
  if (!v) return Status::success();
  const double d = v->asNumber(NAN);
  if (!v->isNumber() || d != std::floor(d) || d < lo || d > hi)
    return bad(path, std::string("\"") + name + "\" must be a whole number from " +
                         std::to_string(lo) + " to " + std::to_string(hi));
  *out = static_cast<int>(d);
  return Status::success();
}

Status readSeconds(const JsonValue& object, const char* name, double* out,
                   const std::string& path) {
  const JsonValue* v = object.find(name);
  if (!v) return Status::success();
  if (!v->isNumber() || !(v->asNumber() >= 0.0) || v->asNumber() > 86400.0)
    return bad(path, std::string("\"") + name + "\" must be a number of seconds from 0 to 86400");
  *out = v->asNumber();
  return Status::success();
}

Status readString(const JsonValue& object, const char* name, std::string* out,
                  const std::string& path) {
  const JsonValue* v = object.find(name);
  if (!v) return Status::success();
  if (!v->isString()) return bad(path, std::string("\"") + name + "\" must be a string");
  *out = v->asString();
  return Status::success();
}

Status readBool(const JsonValue& object, const char* name, bool* out, const std::string& path) {
  const JsonValue* v = object.find(name);
  if (!v) return Status::success();
  if (!v->isBool()) return bad(path, std::string("\"") + name + "\" must be true or false");
  *out = v->asBool();
  return Status::success();
}

}  // namespace

Result<ServeConfig> loadServeConfig(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, readTextFile(path));
  auto parsed = parseJson(text);
  if (!parsed.ok()) return Status(parsed.error()).withContext(path);
  const JsonValue& root = *parsed;
  if (!root.isObject()) return bad(path, "the file must hold a JSON object");
  TESSERA_RETURN_IF_ERROR(
      checkMembers(root,
                   {"ae_title", "dicom_port", "http", "spool", "model", "mode", "threads",
                    "quiet_seconds", "destination", "outputs", "retry", "timeout_seconds",
                    "allowed_callers", "concurrent_series", "max_associations"},
                   "", path));
  ServeConfig c;
  TESSERA_RETURN_IF_ERROR(readString(root, "ae_title", &c.aeTitle, path));
  if (Status s = imaging::validateAeTitle(c.aeTitle, "\"ae_title\""); !s.ok())
    return bad(path, s.error().message + " (" + c.aeTitle + ")");
  TESSERA_RETURN_IF_ERROR(readInt(root, "dicom_port", 1, 65535, &c.dicomPort, path));
  std::string http = c.httpHost + ":" + std::to_string(c.httpPort);
  TESSERA_RETURN_IF_ERROR(readString(root, "http", &http, path));
  const std::size_t colon = http.rfind(':');
  try {
    if (colon == std::string::npos || colon == 0) throw std::invalid_argument(http);
    std::size_t used = 0;
    c.httpPort = std::stoi(http.substr(colon + 1), &used);
    if (used != http.size() - colon - 1 || c.httpPort < 1 || c.httpPort > 65535)
      throw std::invalid_argument(http);
    c.httpHost = http.substr(0, colon);
  } catch (const std::exception&) {
    return bad(path, "\"http\" must be HOST:PORT, e.g. \"127.0.0.1:9108\", not \"" + http + "\"");
  }
  TESSERA_RETURN_IF_ERROR(readString(root, "spool", &c.spoolDir, path));
  if (c.spoolDir.empty())
    return bad(path, "\"spool\" must name the folder that keeps received and queued studies");
  TESSERA_RETURN_IF_ERROR(readString(root, "model", &c.modelPath, path));
  std::string mode = "sparse";
  TESSERA_RETURN_IF_ERROR(readString(root, "mode", &mode, path));
  if (mode != "sparse" && mode != "dense")
    return bad(path, "\"mode\" must be \"sparse\" or \"dense\", not \"" + mode + "\"");
  c.dense = mode == "dense";
  TESSERA_RETURN_IF_ERROR(readInt(root, "threads", 0, 4096, &c.threads, path));
  TESSERA_RETURN_IF_ERROR(readInt(root, "concurrent_series", 1, 64, &c.concurrentSeries, path));
  TESSERA_RETURN_IF_ERROR(readInt(root, "max_associations", 1, 64, &c.maxAssociations, path));
  TESSERA_RETURN_IF_ERROR(readSeconds(root, "quiet_seconds", &c.quietSeconds, path));
  TESSERA_RETURN_IF_ERROR(readInt(root, "timeout_seconds", 1, 3600, &c.timeoutSeconds, path));

  if (const JsonValue* callers = root.find("allowed_callers")) {
    if (!callers->isArray())
      return bad(path, "\"allowed_callers\" must be a list of AE titles, e.g. [\"ORTHANC\"]");
    for (const JsonValue& ae : callers->items()) {
      if (Status s = imaging::validateAeTitle(ae.asString(), "\"allowed_callers\""); !s.ok())
        return bad(path, s.error().message + " (" + ae.asString() + ")");
      c.allowedCallers.push_back(ae.asString());
    }
  }

  const JsonValue* destination = root.find("destination");
  if (!destination || !destination->isObject())
    return bad(path,
               "\"destination\" must say where results go: {\"peer\": \"AET@HOST:PORT\"} or "
               "{\"dicomweb\": \"URL\"}");
  TESSERA_RETURN_IF_ERROR(
      checkMembers(*destination, {"peer", "dicomweb"}, " in \"destination\"", path));
  const JsonValue* peer = destination->find("peer");
  const JsonValue* web = destination->find("dicomweb");
  if ((peer != nullptr) == (web != nullptr))
    return bad(path, "\"destination\" needs exactly one of \"peer\" and \"dicomweb\"");
  if (peer) {
    auto parsedPeer = imaging::parsePacsPeer(peer->asString());
    if (!parsedPeer.ok()) return bad(path, "\"destination\": " + parsedPeer.error().toString());
    c.peer = *parsedPeer;
  } else {
    auto server = imaging::parseDicomWebUrl(web->asString());
    if (!server.ok()) return bad(path, "\"destination\": " + server.error().toString());
    c.toDicomWeb = true;
    c.dicomWeb = *server;
  }
  c.peer.callingAe = c.aeTitle;
  c.peer.timeoutSeconds = c.timeoutSeconds;
  c.dicomWeb.timeoutSeconds = c.timeoutSeconds;

  if (const JsonValue* outputs = root.find("outputs")) {
    if (!outputs->isObject()) return bad(path, "\"outputs\" must be an object");
    TESSERA_RETURN_IF_ERROR(checkMembers(*outputs, {"sr", "rtstruct"}, " in \"outputs\"", path));
    TESSERA_RETURN_IF_ERROR(readBool(*outputs, "sr", &c.sr, path));
    TESSERA_RETURN_IF_ERROR(readBool(*outputs, "rtstruct", &c.rtstruct, path));
  }
  if (const JsonValue* retry = root.find("retry")) {
    if (!retry->isObject()) return bad(path, "\"retry\" must be an object");
    TESSERA_RETURN_IF_ERROR(
        checkMembers(*retry, {"first_seconds", "max_seconds"}, " in \"retry\"", path));
    TESSERA_RETURN_IF_ERROR(readSeconds(*retry, "first_seconds", &c.retryFirstSeconds, path));
    TESSERA_RETURN_IF_ERROR(readSeconds(*retry, "max_seconds", &c.retryMaxSeconds, path));
    if (c.retryMaxSeconds < c.retryFirstSeconds)
      return bad(path, "\"retry\": \"max_seconds\" is shorter than \"first_seconds\"");
  }
  return c;
}

}  // namespace tessera::serve
