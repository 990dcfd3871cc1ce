// Ctrl-C (SIGINT) and SIGTERM cancel long work cleanly: the handler only
// sets the token; work stops at the next slice or case, removes its
// temporary files and the command exits with a message.
#pragma once

#include "core/progress.h"

namespace tessera::cli {

// Installs the handlers (once) and returns the token they trigger.
const CancelToken& interruptToken();
// Triggered by a second signal, for work that drains on the first (the
// service node): stop now.
const CancelToken& secondInterruptToken();

}  // namespace tessera::cli
