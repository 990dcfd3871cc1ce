#include "app/cli/interrupt.h"

#include <csignal>

namespace tessera::cli {

namespace {
CancelToken* g_token = nullptr;
CancelToken g_second;

extern "C" void onSignal(int) {
  // CancelToken::cancel and cancelled are relaxed atomics: async-signal-safe.
  if (!g_token) return;
  if (g_token->cancelled()) g_second.cancel();
  g_token->cancel();
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

const CancelToken& secondInterruptToken() {
  interruptToken();
  return g_second;
}

}  // namespace tessera::cli
