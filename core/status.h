// Typed errors returned at module boundaries. Anything a file, a user or a
// device can cause becomes an Error (code + message + context) and travels
// back as a Status or Result<T>; exceptions never cross a module boundary.
#pragma once

#include <cassert>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace tessera {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller (or user) asked for something malformed
  kNotFound,           // a path, series, label or model that does not exist
  kIoError,            // the operating system refused a read or write
  kCorruptData,        // a file exists but its content is damaged or inconsistent
  kUnsupported,        // valid but not something Tessera handles (with the reason)
  kResourceExhausted,  // refusing an allocation that would not fit
  kCancelled,          // a cancel token was triggered
  kInternal,           // a bug: an invariant did not hold
};

const char* statusCodeName(StatusCode code);

struct Error {
  StatusCode code = StatusCode::kInternal;
  std::string message;  // what went wrong, in words a person understands
  std::string context;  // where: a path, a series UID, a case name (may be empty)

  // "message (context)" — the form printed to users.
  std::string toString() const;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}
  Status(StatusCode code, std::string message, std::string context = {})
      : error_(Error{code, std::move(message), std::move(context)}) {}

  static Status success() { return Status(); }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  StatusCode code() const { return error_ ? error_->code : StatusCode::kOk; }
  const Error& error() const {
    assert(error_);
    return *error_;
  }
  std::string toString() const { return ok() ? "ok" : error_->toString(); }
  // Adds where the error happened when no context was recorded yet.
  Status withContext(const std::string& context) &&;

 private:
  std::optional<Error> error_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}
  Result(Status status) : data_(std::in_place_index<1>, status.error()) { assert(!status.ok()); }

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(data_);
  }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> data_;
};

// Runs f (returning a Status or a Result<T>) and turns an exception that
// escapes it into an error, so that none crosses a module boundary: the
// entry points of the engine and the pipeline call their bodies through it.
// An allocation failure is kResourceExhausted, anything else kInternal.
template <class F>
auto guardExceptions(F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return Error{StatusCode::kResourceExhausted, "out of memory"};
  } catch (const std::exception& e) {
    return Error{StatusCode::kInternal, std::string("unexpected error: ") + e.what()};
  } catch (...) {
    return Error{StatusCode::kInternal, "unexpected error"};
  }
}

}  // namespace tessera

// Returns early from the enclosing function with the error of a Status.
#define TESSERA_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::tessera::Status tessera_status_ = (expr);        \
    if (!tessera_status_.ok()) return tessera_status_; \
  } while (0)

#define TESSERA_CONCAT_INNER_(a, b) a##b
#define TESSERA_CONCAT_(a, b) TESSERA_CONCAT_INNER_(a, b)
// TESSERA_ASSIGN_OR_RETURN(auto v, makeV()); — unwraps a Result or returns its error.
#define TESSERA_ASSIGN_OR_RETURN(decl, expr)                   \
  auto TESSERA_CONCAT_(tessera_result_, __LINE__) = (expr);    \
  if (!TESSERA_CONCAT_(tessera_result_, __LINE__).ok())        \
    return TESSERA_CONCAT_(tessera_result_, __LINE__).error(); \
  decl = std::move(TESSERA_CONCAT_(tessera_result_, __LINE__)).value()
