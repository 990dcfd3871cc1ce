#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace tessera {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_mutex;
LogSink g_sink;

const char* levelTag(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "";
  }
  return "";
}
}  // namespace

void setLogLevel(LogLevel level) {
  g_level = level;
}
LogLevel logLevel() {
  return g_level;
}

bool parseLogLevel(std::string_view text, LogLevel* level) {
  static const std::pair<std::string_view, LogLevel> kNames[] = {{"debug", LogLevel::kDebug},
                                                                 {"info", LogLevel::kInfo},
                                                                 {"warning", LogLevel::kWarning},
                                                                 {"error", LogLevel::kError},
                                                                 {"off", LogLevel::kOff}};
  for (const auto& [name, value] : kNames) {
    if (text == name) {
      *level = value;
      return true;
    }
  }
  return false;
}

void setLogSink(LogSink sink) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

void logMessage(LogLevel level, std::string_view message) {
  if (level < g_level || level == LogLevel::kOff) return;
  std::lock_guard lock(g_mutex);
  if (g_sink) {
    g_sink(level, message);
    return;
  }
  std::fprintf(stderr, "tessera %s: %.*s\n", levelTag(level), static_cast<int>(message.size()),
               message.data());
}

}  // namespace tessera
