#include <cstdio>

#include "app/cli/interrupt.h"
#include "app/serve/service.h"
#include "app/tessera/commands.h"
#include "models/pipeline/model_store.h"

namespace tessera::cli {

int runServe(const Args& args) {
  ArgParser p("serve",
              "A DICOM node: receives CT series (C-STORE), segments each once it is complete and "
              "sends the DICOM-SEG and SR back; /metrics and /healthz over HTTP.");
  p.option("--config", "FILE", "the service's configuration (JSON; see docs/HOSPITAL.md)");
  p.flag("--check", "check the configuration and the model, then exit");
  p.epilog(
      "Everything received is kept in the spool until its results are delivered: a restart\n"
      "(even after a crash or SIGKILL) resumes. SIGTERM or Ctrl-C drains: no new association,\n"
      "the study being segmented is finished, results are sent once more; a second signal\n"
      "stops at once, leaving that study queued.");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  if (!p.has("config")) {
    std::fprintf(stderr, "tessera: error: serve needs --config FILE (see --help)\n");
    return kExitUsage;
  }
  auto config = serve::loadServeConfig(p.get("config"));
  if (!config.ok()) {
    std::fprintf(stderr, "tessera: error: %s\n", config.error().toString().c_str());
    return kExitUsage;
  }
  if (p.has("check")) {
    auto model = models::loadModel(config->modelPath);
    if (!model.ok()) return fail(model.error());
    std::printf("configuration ok: %s on DICOM port %d, results to %s\n", config->aeTitle.c_str(),
                config->dicomPort,
                config->toDicomWeb ? config->dicomWeb.url.c_str()
                                   : (config->peer.calledAe + "@" + config->peer.host + ":" +
                                      std::to_string(config->peer.port))
                                         .c_str());
    return kExitOk;
  }
  if (Status s = serve::runService(*config, interruptToken(), secondInterruptToken()); !s.ok())
    return fail(s);
  return kExitOk;
}

}  // namespace tessera::cli
