// A running ffmpeg, ffplay or ffprobe: its child process, its stderr always drained into a
// tail of recent lines, and a wait() that turns a failure into an error carrying them.
#pragma once

#include <sidecar/child.hpp>
#include <sidecar/command.hpp>
#include <sidecar/error.hpp>

#include <asio/awaitable.hpp>

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

namespace sidecar {

class ffmpeg_child {
public:
  using executor_type = asio::any_io_executor;

  // Spawns cmd. `base` may set stdio, environment, working directory, extra output pipes and
  // the stop ladder; program and arguments come from cmd. stderr is always a pipe of ours.
  static expected<ffmpeg_child> spawn(const executor_type& ex, const command& cmd,
                                      spawn_options base = {});

  ffmpeg_child(ffmpeg_child&&) noexcept = default;
  ffmpeg_child& operator=(ffmpeg_child&&) noexcept = default;
  ~ffmpeg_child() = default; // the child's own destructor runs the stop ladder

  executor_type get_executor() const noexcept { return process_.get_executor(); }
  child& process() noexcept { return process_; }
  pid_t id() const noexcept { return process_.id(); }
  // The command as a shell line with secrets masked: for logs and messages, never executed.
  const std::string& command_line() const noexcept { return command_line_; }

  asio::writable_pipe& stdin_pipe() noexcept { return process_.stdin_pipe(); }
  asio::readable_pipe& stdout_pipe() noexcept { return process_.stdout_pipe(); }

  // `q` on stdin (or closing stdin when ffmpeg reads its input from there), then SIGINT,
  // SIGTERM, SIGKILL to its process group.
  std::error_code quit() { return process_.request_exit(); }
  std::error_code interrupt() { return process_.interrupt(); }
  std::error_code terminate() { return process_.terminate(); }
  std::error_code kill() { return process_.kill(); }

  // Waits for the end: reads and discards what is left of stdout, reads stderr to its end,
  // and reaps. A non-zero exit or a signal gives errc::process_failed with the exit status
  // and the error lines ffmpeg printed last.
  asio::awaitable<expected<exit_status>> wait();

  // The last lines of stderr (at most max_tail_lines), as printed, secrets masked.
  const std::deque<std::string>& last_lines() const noexcept { return tail_; }
  // The lines that explain a failure: error-level lines from the tail, else its last few.
  std::vector<std::string> error_lines() const;

  static constexpr std::size_t max_tail_lines = 32;
  static constexpr std::size_t max_line_bytes = 64 * 1024;

private:
  ffmpeg_child(child c, std::string line, std::string name)
      : process_(std::move(c)), command_line_(std::move(line)), name_(std::move(name)) {}
  void take_stderr(std::string_view bytes);
  void end_line();
  asio::awaitable<void> drain_stderr();
  asio::awaitable<void> drain_stdout();

  child process_;
  std::string command_line_;
  std::string name_;
  std::string partial_;
  bool cut_ = false;
  std::deque<std::string> tail_;
};

template <class Executor> auto command::spawn(const Executor& ex) const {
  return ffmpeg_child::spawn(ex, *this);
}

} // namespace sidecar
