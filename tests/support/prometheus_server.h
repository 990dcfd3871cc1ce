// A real Prometheus (Debian package `prometheus`) started by a test on
// localhost: a free port, a temporary configuration scraping `target`
// (HOST:PORT) every second, a temporary database; stopped when the test
// ends. Its HTTP API is read with Python's urllib, as Orthanc's is.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/json.h"
#include "tests/support/cli_run.h"
#include "tests/support/orthanc_server.h"
#include "tests/support/temp_dir.h"

namespace tessera::testing {

inline const std::string kPrometheus = "/usr/bin/prometheus";
inline const std::string kPromtool = "/usr/bin/promtool";

class PrometheusServer {
 public:
  explicit PrometheusServer(const std::string& target) {
    port_ = freePort();
    const std::string config = dir_ / "prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\n"
                          << "scrape_configs:\n  - job_name: tessera\n    static_configs:\n"
                          << "      - targets: [\"" << target << "\"]\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string log = dir_ / "prometheus.log";
      std::freopen(log.c_str(), "w", stdout);
      std::freopen(log.c_str(), "a", stderr);
      const std::string configArg = "--config.file=" + config;
      const std::string storageArg = "--storage.tsdb.path=" + (dir_ / "data");
      const std::string listenArg = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      ::execl(kPrometheus.c_str(), kPrometheus.c_str(), configArg.c_str(), storageArg.c_str(),
              listenArg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 300 && pid_ > 0; ++i) {
      if (get("/-/ready").code == 0) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~PrometheusServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  static bool installed() {
    return std::filesystem::exists(kPrometheus) && std::filesystem::exists(kPromtool);
  }
  bool ready() const { return ready_; }
  std::string log() const { return slurp(dir_ / "prometheus.log"); }

  // The value of an instant query that yields one sample; NaN when it
  // yields none (yet).
  double query(const std::string& promql) const {
    const CommandRun run = get("/api/v1/query?query=" + urlEncode(promql));
    auto answer = parseJson(run.out);
    if (run.code != 0 || !answer.ok()) return NAN;
    const JsonValue* data = answer->find("data");
    const JsonValue* result = data ? data->find("result") : nullptr;
    if (!result || result->items().size() != 1) return NAN;
    const JsonValue* value = result->items()[0].find("value");
    if (!value || value->items().size() != 2) return NAN;
    return std::stod(value->items()[1].asString());
  }

  CommandRun get(const std::string& path) const {
    const std::string script =
        "import sys, urllib.request\n"
        "with urllib.request.urlopen(sys.argv[1], timeout=10) as r:\n"
        "    sys.stdout.write(r.read().decode())\n";
    return runCommand(capture_, "/usr/bin/python3 -c " + quote(script) + " " +
                                    quote("http://127.0.0.1:" + std::to_string(port_) + path));
  }

 private:
  static std::string urlEncode(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '_' || c == '.' || c == '-') {
        out += static_cast<char>(c);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        out += hex;
      }
    }
    return out;
  }

  TempDir dir_;
  TempDir capture_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace tessera::testing
