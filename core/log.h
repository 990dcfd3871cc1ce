// Leveled logging to stderr (or a sink the application installs, e.g. the
// workstation's log panel). Thread-safe; messages are whole lines.
#pragma once

#include <functional>
#include <sstream>
#include <string>
#include <string_view>

namespace tessera {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

void setLogLevel(LogLevel level);
LogLevel logLevel();
// Parses "debug", "info", "warning", "error", "off"; false when unknown.
bool parseLogLevel(std::string_view text, LogLevel* level);

using LogSink = std::function<void(LogLevel, std::string_view)>;
// Replaces the stderr sink; pass nullptr to restore it.
void setLogSink(LogSink sink);

void logMessage(LogLevel level, std::string_view message);

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

template <class... Args>
void logDebug(const Args&... args) {
  if (logLevel() <= LogLevel::kDebug) logMessage(LogLevel::kDebug, detail::concat(args...));
}
template <class... Args>
void logInfo(const Args&... args) {
  if (logLevel() <= LogLevel::kInfo) logMessage(LogLevel::kInfo, detail::concat(args...));
}
template <class... Args>
void logWarning(const Args&... args) {
  if (logLevel() <= LogLevel::kWarning) logMessage(LogLevel::kWarning, detail::concat(args...));
}
template <class... Args>
void logError(const Args&... args) {
  if (logLevel() <= LogLevel::kError) logMessage(LogLevel::kError, detail::concat(args...));
}

}  // namespace tessera
