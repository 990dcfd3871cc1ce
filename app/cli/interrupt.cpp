#include "app/cli/interrupt.h"

#include <csignal>

namespace tessera::cli {

namespace {
CancelToken* g_token = nullptr;

extern "C" void onSignal(int) {
  // CancelToken::cancel is a relaxed atomic store: async-signal-safe.
  if (g_token) g_token->cancel();
}
}  // namespace

const CancelToken& interruptToken() {
  static CancelToken token;
  if (!g_token) {
    g_token = &token;
    struct sigaction action {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
  }
  return token;
}

}  // namespace tessera::cli
