// The error every fallible sidecar operation returns, and the expected<T> alias around it.
#pragma once

#include <sidecar/exit_status.hpp>
#include <sidecar/export.hpp>

#include <iosfwd>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <tl/expected.hpp>

namespace sidecar {

/// Conditions of sidecar's own; OS and Asio failures keep their own error_code.
enum class errc {
  binary_not_found = 1, ///< ffmpeg / ffplay / ffprobe is not installed or not where we were told
  process_failed,       ///< the child exited non-zero or was killed
  bad_argument,         ///< the program asked for something that cannot work
  timed_out,            ///< an operation ran past its limit
  cancelled,            ///< the awaiting coroutine was cancelled
  protocol,             ///< a peer or child said something we cannot understand
  already_exists,       ///< a path is taken by something we cannot use
};

} // namespace sidecar

template <> struct std::is_error_code_enum<sidecar::errc> : std::true_type {};

namespace sidecar {

/// The category of sidecar::errc codes ("sidecar").
SIDECAR_API const std::error_category& sidecar_category() noexcept;
/// An errc as a std::error_code (so `ec == errc::timed_out` works).
SIDECAR_API std::error_code make_error_code(errc e) noexcept;

/// What failed and why: an error code, a context line, and for a child that failed its
/// exit status and the last error lines it printed. Every fallible call returns
/// `expected<T>` with this as the error; message() reads well as it is.
class SIDECAR_API error {
public:
  /// No error (a default-constructed value; code() is 0).
  error() = default;
  /// An error with a code and its context ("opening /tmp/x").
  explicit error(std::error_code code, std::string message = {});
  /// An error of sidecar's own (errc::timed_out, ...) with its context.
  error(errc code, std::string message);

  /// A child that failed: its exit status and the last error lines it printed.
  static error process_failed(std::string what, exit_status status,
                              std::vector<std::string> last_lines);
  /// A child stopped because the program cancelled the wait: errc::cancelled (or
  /// errc::timed_out), with how it exited and what it printed last.
  static error stopped(errc why, std::string what, exit_status status,
                       std::vector<std::string> last_lines);

  /// The code: an errc, or the system's (errno), or Asio's.
  const std::error_code& code() const noexcept { return code_; }
  /// The whole story in one string: context, reason, exit status, ffmpeg's last error lines.
  std::string message() const;
  /// Just the context line given when the error was made.
  const std::string& context() const noexcept { return context_; }
  /// The child's exit status, when the error is about a child that ended.
  const std::optional<exit_status>& status() const noexcept { return status_; }
  /// The last error lines the child printed (secrets masked), oldest first.
  const std::vector<std::string>& lines() const noexcept { return lines_; }

  /// Prefixes more context: "opening input: " + the rest.
  error& prefix(std::string_view what);

  /// `err == errc::process_failed`: the code is that errc.
  bool operator==(errc e) const noexcept { return code_ == make_error_code(e); }

private:
  std::error_code code_;
  std::string context_;
  std::optional<exit_status> status_;
  std::vector<std::string> lines_;
};

/// What every fallible call returns: a T, or the error.
template <class T> using expected = tl::expected<T, error>;
/// For `return unexpected(err);`.
using tl::unexpected;

/// `return fail(ec, "what we were doing");` from a function returning expected<T>.
inline tl::unexpected<error> fail(std::error_code ec, std::string message = {}) {
  return tl::unexpected<error>(error(ec, std::move(message)));
}
/// `return fail(errc::timed_out, "what we were doing");`.
inline tl::unexpected<error> fail(errc ec, std::string message) {
  return tl::unexpected<error>(error(ec, std::move(message)));
}
/// Writes e.message(): `std::cerr << r.error() << '\n';`.
SIDECAR_API std::ostream& operator<<(std::ostream& out, const error& e);

/// errno as an error, with what we were doing.
SIDECAR_API tl::unexpected<error> fail_errno(std::string message, int err);

} // namespace sidecar
