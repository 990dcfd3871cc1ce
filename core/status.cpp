#include "core/status.h"

namespace tessera {

const char* statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kIoError:
      return "I/O error";
    case StatusCode::kCorruptData:
      return "corrupt data";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kResourceExhausted:
      return "resource exhausted";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Error::toString() const {
  if (context.empty()) return message;
  return message + " (" + context + ")";
}

Status Status::withContext(const std::string& context) && {
  if (error_ && error_->context.empty()) error_->context = context;
  return std::move(*this);
}

}  // namespace tessera
