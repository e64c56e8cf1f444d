// How a child process ended: an exit code or the signal that killed it.
#pragma once

#include <sidecar/export.hpp>
#include <string>

namespace sidecar {

/// How a child process ended: its exit code, or the signal that killed it.
struct SIDECAR_API exit_status {
  int code = -1;  ///< exit code when the process exited, else -1
  int signal = 0; ///< the signal that ended it, else 0

  /// A process that exited with code `c`.
  static exit_status exited(int c) noexcept { return {c, 0}; }
  /// A process that a signal `s` ended.
  static exit_status killed_by(int s) noexcept { return {-1, s}; }
  /// Decodes a wait(2) status word.
  static exit_status from_wait_status(int status) noexcept;

  /// It exited by itself (with any code).
  bool has_exited() const noexcept { return signal == 0 && code >= 0; }
  /// A signal ended it.
  bool was_signaled() const noexcept { return signal != 0; }
  /// It exited with code 0.
  bool success() const noexcept { return signal == 0 && code == 0; }

  /// "exit code 1", "killed by SIGKILL".
  std::string to_string() const;

  /// The same code and signal.
  friend bool operator==(const exit_status&, const exit_status&) = default;
};

} // namespace sidecar
