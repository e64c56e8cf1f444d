// sidecar::error and exit_status: formatting and the error category.
#include <sidecar/error.hpp>

#include <csignal>
#include <cstring>
#include <ostream>
#include <sys/wait.h>

namespace sidecar {

namespace {
class category final : public std::error_category {
public:
  const char* name() const noexcept override { return "sidecar"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
    case errc::binary_not_found:
      return "program not found";
    case errc::process_failed:
      return "process failed";
    case errc::bad_argument:
      return "bad argument";
    case errc::timed_out:
      return "timed out";
    case errc::cancelled:
      return "cancelled";
    case errc::protocol:
      return "protocol error";
    case errc::already_exists:
      return "already exists";
    }
    return "unknown sidecar error";
  }
};
} // namespace

const std::error_category& sidecar_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), sidecar_category()};
}

exit_status exit_status::from_wait_status(int status) noexcept {
  if (WIFEXITED(status)) return exited(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return killed_by(WTERMSIG(status));
  return {};
}

std::string exit_status::to_string() const {
  if (signal != 0) {
    const char* abbrev = sigabbrev_np(signal);
    return "killed by " +
           (abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(signal));
  }
  if (code >= 0) return "exit code " + std::to_string(code);
  return "still running";
}

error::error(std::error_code code, std::string message)
    : code_(code), context_(std::move(message)) {}

error::error(errc code, std::string message) : error(make_error_code(code), std::move(message)) {}

error error::process_failed(std::string what, exit_status status,
                            std::vector<std::string> last_lines) {
  return stopped(errc::process_failed, std::move(what), status, std::move(last_lines));
}

error error::stopped(errc why, std::string what, exit_status status,
                     std::vector<std::string> last_lines) {
  error e(why, std::move(what));
  e.status_ = status;
  e.lines_ = std::move(last_lines);
  return e;
}

std::string error::message() const {
  std::string out = context_;
  // The category's text adds nothing when the context already says it.
  if (code_ && code_ != make_error_code(errc::process_failed)) {
    std::string reason = code_.message();
    if (out.empty())
      out = reason;
    else if (out.find(reason) == std::string::npos)
      out += ": " + reason;
  }
  if (status_) out += (out.empty() ? "" : " (") + status_->to_string() + (out.empty() ? "" : ")");
  for (const auto& line : lines_)
    out += "\n  " + line;
  return out;
}

error& error::prefix(std::string_view what) {
  context_ = std::string(what) + (context_.empty() ? "" : ": ") + context_;
  return *this;
}

tl::unexpected<error> fail_errno(std::string message, int err) {
  return tl::unexpected<error>(
      error(std::error_code(err, std::system_category()), std::move(message)));
}

std::ostream& operator<<(std::ostream& out, const error& e) {
  return out << e.message();
}

} // namespace sidecar
