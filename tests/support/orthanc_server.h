// A real Orthanc (Debian package `orthanc`) started by a test on localhost:
// free ports, a temporary configuration and storage, Tessera's AE title
// registered as a modality, stopped (SIGTERM, then SIGKILL) when the test
// ends. Its REST API is read with Python's urllib (python3 is part of
// scripts/setup), so the tests need no HTTP library of their own.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "tests/support/child_process.h"
#include "tests/support/cli_run.h"
#include "tests/support/temp_dir.h"

namespace tessera::testing {

inline const std::string kOrthanc = "/usr/sbin/Orthanc";
inline const std::string kDicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

// A TCP port nobody listens on right now (bound to 0, then released).
inline int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

class OrthancServer {
 public:
  // `extraConfig`: further members of the JSON configuration, e.g.
  // "\"DicomModalities\": {...}," (each followed by a comma).
  // `dicomWeb`: with Debian's DICOMweb plugin (orthanc-dicomweb) at
  // url() = http://127.0.0.1:PORT/dicom-web.
  explicit OrthancServer(bool dicomWeb = false, const std::string& tesseraAe = "TESSERA",
                         int tesseraPort = 0, const std::string& extraConfig = "") {
    httpPort_ = freePort();
    dicomPort_ = freePort();
    const std::string config = dir_ / "orthanc.json";
    std::ofstream(config) << "{\n"
                          << "  \"Name\": \"TesseraTest\",\n"
                          << "  \"StorageDirectory\": \"" << dir_ / "db"
                          << "\",\n"
                          << "  \"IndexDirectory\": \"" << dir_ / "db"
                          << "\",\n"
                          << "  \"HttpPort\": " << httpPort_ << ",\n"
                          << "  \"DicomPort\": " << dicomPort_ << ",\n"
                          << "  \"DicomAet\": \"ORTHANC\",\n"
                          << "  \"RemoteAccessAllowed\": false,\n"
                          << "  \"AuthenticationEnabled\": false,\n"
                          << "  \"DicomCheckCalledAet\": true,\n"
                          << "  \"DicomCheckModalityHost\": false,\n"
                          << "  \"DicomAlwaysAllowEcho\": true,\n"
                          << "  \"DicomAlwaysAllowStore\": true,\n"
                          << "  \"DicomScpTimeout\": 10,\n"
                          << extraConfig << "  \"DicomModalities\": { \"tessera\": { \"AET\": \""
                          << tesseraAe << "\", \"Host\": \"127.0.0.1\", \"Port\": "
                          << (tesseraPort ? tesseraPort : 11112) << " } },\n"
                          << (dicomWeb ? "  \"DicomWeb\": { \"Enable\": true, \"Root\": "
                                         "\"/dicom-web/\" },\n"
                                       : "")
                          << "  \"Plugins\": ["
                          << (dicomWeb ? "\"" + kDicomWebPlugin + "\"" : std::string()) << "]\n}\n";
    process_.start({kOrthanc, config}, dir_ / "orthanc.log");
    // Up when its REST API answers.
    for (int i = 0; i < 200 && process_.running(); ++i) {
      if (rest("/system").code == 0) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~OrthancServer() {
    if (process_.running()) process_.stop(SIGTERM, 5);
  }
  OrthancServer(const OrthancServer&) = delete;
  OrthancServer& operator=(const OrthancServer&) = delete;

  static bool installed() { return std::filesystem::exists(kOrthanc); }
  static bool dicomWebInstalled() { return std::filesystem::exists(kDicomWebPlugin); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(httpPort_) + "/dicom-web"; }
  bool ready() const { return ready_; }
  std::string peer() const { return "ORTHANC@127.0.0.1:" + std::to_string(dicomPort_); }
  int dicomPort() const { return dicomPort_; }
  int httpPort() const { return httpPort_; }
  std::string log() const { return slurp(dir_ / "orthanc.log"); }

  // The modalities of the series Orthanc holds in a study, sorted, read
  // from its REST API; empty when it does not know the study.
  std::vector<std::string> studyModalities(const std::string& studyUid) const {
    std::vector<std::string> modalities;
    auto found = parseJson(rest("/tools/lookup", studyUid).out);
    if (!found.ok() || found->items().size() != 1) return modalities;
    auto series =
        parseJson(rest("/studies/" + found->items()[0].getString("ID") + "/series?expand").out);
    if (!series.ok()) return modalities;
    for (const JsonValue& s : series->items())
      if (const JsonValue* tags = s.find("MainDicomTags"))
        modalities.push_back(tags->getString("Modality"));
    std::sort(modalities.begin(), modalities.end());
    return modalities;
  }

  // GET (or POST with `body`) of the REST API; code 0 and the answer, or
  // the failure in err.
  CommandRun rest(const std::string& path, const std::string& body = "") const {
    const std::string url = "http://127.0.0.1:" + std::to_string(httpPort_) + path;
    const std::string script =
        "import sys, urllib.request\n"
        "data = sys.argv[2].encode() if len(sys.argv) > 2 else None\n"
        "with urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=data), "
        "timeout=10) as r:\n"
        "    sys.stdout.write(r.read().decode())\n";
    std::string command = "/usr/bin/python3 -c " + quote(script) + " " + quote(url);
    if (!body.empty()) command += " " + quote(body);
    return runCommand(capture_, command);
  }

 private:
  TempDir dir_;
  TempDir capture_;
  int httpPort_ = 0, dicomPort_ = 0;
  ChildProcess process_;
  bool ready_ = false;
};

}  // namespace tessera::testing
