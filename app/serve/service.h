// The service node (`tessera serve`): a storage SCP receives CT series, a
// series no instance of which arrived for the quiet period is queued, the
// model (loaded once) segments the queue oldest first, and the SEG and SR
// (and RTSTRUCT) go to the destination, retried with back-off while it is
// down. Everything lives in the spool, so that a restart, even after
// SIGKILL, resumes where the service stopped:
//
//   spool/incoming/<series UID>/   instances as they arrive
//   spool/queue/<id>/              complete series waiting for the model
//   spool/outbox/<id>/             results waiting for the destination
//   spool/done/<id>/               results delivered (labels, report, SEG, SR,
//                                  instances.txt: the instances segmented)
//   spool/failed/<id>/             what could not be segmented or was refused,
//                                  and instances that came after their series
//                                  was segmented, with reason.txt
//
// <id> is the time the series was queued and its UID, so that names sort
// oldest first. /metrics (Prometheus text format) and /healthz are served
// over HTTP.
#pragma once

#include "app/serve/serve_config.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::serve {

// Runs until `stop` is cancelled (SIGTERM, Ctrl-C), then drains: no new
// association is accepted, the series being segmented are finished, results
// are sent once more, and what is left stays in the spool for the next
// start. `abort` (a second signal) also cancels the study being segmented;
// it stays queued. Errors at start (a port in use, a model that does not
// load, a spool that cannot be written) return at once.
Status runService(const ServeConfig& config, const CancelToken& stop, const CancelToken& abort);

}  // namespace tessera::serve
