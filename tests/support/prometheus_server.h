// A real Prometheus (Debian package `prometheus`) started by a test on
// localhost: a free port, a temporary configuration scraping `target`
// (HOST:PORT) every second, a temporary database; stopped when the test
// ends. Its HTTP API is read with Python's urllib, as Orthanc's is.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/json.h"
#include "tests/support/child_process.h"
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
    process_.start(
        {kPrometheus, "--config.file=" + config, "--storage.tsdb.path=" + (dir_ / "data"),
         "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
        dir_ / "prometheus.log");
    for (int i = 0; i < 300 && process_.running(); ++i) {
      if (get("/-/ready").code == 0) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~PrometheusServer() {
    if (process_.running()) process_.stop(SIGTERM, 5);
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
    const CommandRun run = get("/api/v1/query", promql);
    auto answer = parseJson(run.out);
    if (run.code != 0 || !answer.ok()) return NAN;
    const JsonValue* data = answer->find("data");
    const JsonValue* result = data ? data->find("result") : nullptr;
    if (!result || result->items().size() != 1) return NAN;
    const JsonValue* value = result->items()[0].find("value");
    if (!value || value->items().size() != 2) return NAN;
    return std::stod(value->items()[1].asString());
  }

  // GET of the HTTP API; `query`, when given, goes URL-encoded as ?query=.
  CommandRun get(const std::string& path, const std::string& query = "") const {
    const std::string script =
        "import sys, urllib.parse, urllib.request\n"
        "url = sys.argv[1]\n"
        "if len(sys.argv) > 2: url += '?query=' + urllib.parse.quote(sys.argv[2])\n"
        "with urllib.request.urlopen(url, timeout=10) as r:\n"
        "    sys.stdout.write(r.read().decode())\n";
    std::string command = "/usr/bin/python3 -c " + quote(script) + " " +
                          quote("http://127.0.0.1:" + std::to_string(port_) + path);
    if (!query.empty()) command += " " + quote(query);
    return runCommand(capture_, command);
  }

 private:
  TempDir dir_;
  TempDir capture_;
  int port_ = 0;
  ChildProcess process_;
  bool ready_ = false;
};

}  // namespace tessera::testing
