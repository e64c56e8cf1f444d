// The shared state of one spawned child: what async waits and the reaper hold on to.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/exit_status.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/readable_pipe.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/writable_pipe.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace sidecar {

// How a child that is no longer wanted is brought down: first asked, then told, then killed.
struct SIDECAR_API stop_ladder {
  // After asking it to exit (request_exit: `q` on stdin, then stdin closed).
  std::chrono::milliseconds quit_grace{3000};
  // After SIGTERM to the process group, before SIGKILL.
  std::chrono::milliseconds term_grace{2000};
};

// What request_exit() does. ffmpeg quits cleanly on `q`; most other programs on end of input.
enum class exit_request {
  quit_key,    // write `q` to stdin, then close it (ffmpeg, ffplay)
  close_stdin, // close stdin only (ffmpeg reading its input from stdin, `cat`)
  sigterm,     // SIGTERM to the process group (programs with no stdin of ours)
};

namespace detail {

class SIDECAR_API child_state : public std::enable_shared_from_this<child_state> {
public:
  child_state(const asio::any_io_executor& executor)
      : ex(executor), in(executor), out(executor), err(executor), pidfd(executor),
        stop_timer(executor) {}
  child_state(const child_state&) = delete;
  child_state& operator=(const child_state&) = delete;
  ~child_state();

  asio::any_io_executor ex;
  pid_t pid = -1;
  asio::writable_pipe in;
  asio::readable_pipe out;
  asio::readable_pipe err;
  std::vector<std::pair<int, asio::readable_pipe>> extra; // child fd -> our read end
  asio::posix::stream_descriptor pidfd;                   // closed when pidfd_open is missing
  std::optional<asio::signal_set> sigchld;                // the fallback, made on first wait
  std::optional<exit_status> status;                      // set once reaped
  stop_ladder ladder;
  exit_request exit_how = exit_request::quit_key;
  // The one stop ladder of this child, whoever started it (a cancelled wait or event, the
  // reaper, async_stop): the step reached (0 asked to quit, 1 SIGTERM, 2 SIGKILL) and the
  // timer of its grace period. Reaping ends it.
  std::optional<int> stop_step;
  asio::steady_timer stop_timer;
  bool escalating = false;

  // Reaps without blocking. True once the child is reaped (now or before). When
  // kill_group is set, whatever is left of the process group is killed first, while the
  // zombie leader still holds the group id so it cannot have been reused.
  bool try_reap(std::error_code& ec, bool kill_group = false);
  // Sends sig to the whole process group unless the child is already reaped.
  std::error_code signal_group(int sig);
  std::error_code request_exit();
  // Blocking: SIGKILL to the group and reap. For a context that is shutting down.
  void kill_and_reap() noexcept;
  // Starts the SIGCHLD fallback's signal_set (throws what Asio throws, e.g. at EMFILE).
  void ensure_sigchld();
  // The same, with the error as a value.
  std::error_code try_ensure_sigchld() noexcept;
  // Has it exited (reaped or not)? Looks without reaping (waitid WNOWAIT).
  bool exited() const;
  // Starts the stop ladder at `step` (0 request_exit, 1 SIGTERM, 2 SIGKILL), or climbs to it
  // when it is higher than the step reached: acts at once, then climbs a step each time a
  // grace period passes with the child still running. Never reaps: whoever waits does, and
  // reaping ends the ladder. Acts on the process group until the child is reaped (a zombie
  // leader still holds the group id); a no-op after.
  void begin_stop(int step);
  void cancel_stop_timer() noexcept;
};

// Waits for the child's exit: pidfd readiness, else SIGCHLD, and reaps.
struct SIDECAR_API wait_exit_op {
  std::shared_ptr<child_state> s;
  bool kill_group = false;
  // child::async_wait: every cancellation type ends the wait (the child runs on); inside the
  // layers above, only terminal, as a coroutine's own filter says.
  bool any_cancellation = false;
  bool started = false;

  bool status_known() const noexcept { return s->status.has_value(); }

  template <class Self> void operator()(Self& self, std::error_code ec = {}, int = 0) {
    if (!started) {
      started = true;
      if (any_cancellation) self.reset_cancellation_state(asio::enable_total_cancellation());
      // Never complete inside the initiating call: the first check is posted to the child's
      // executor, then dispatched to the handler's associated executor (a strand it is bound
      // to) with its allocator. Not posted to the associated executor alone: use_future's
      // posts to the system thread pool, where this step would race the context's thread.
      return asio::post(s->ex, std::move(self));
    }
    // Reaped meanwhile by another waiter (which closed the pidfd under this one): that is
    // the exit, not an error.
    if (status_known()) return self.complete({}, *s->status);
    if (ec) return self.complete(ec, exit_status{});
    std::error_code reap_ec;
    if (s->try_reap(reap_ec, kill_group)) return self.complete({}, *s->status);
    if (reap_ec) return self.complete(reap_ec, exit_status{});
    if (s->pidfd.is_open())
      return s->pidfd.async_wait(asio::posix::descriptor_base::wait_read, std::move(self));
    if (auto e = s->try_ensure_sigchld()) return self.complete(e, exit_status{});
    s->sigchld->async_wait(std::move(self));
  }
};

using ladder_result = std::pair<std::error_code, exit_status>;
// Request exit, wait quit_grace; SIGTERM, wait term_grace; SIGKILL; reap. Stdout and stderr
// are drained meanwhile so a child blocked on a full pipe can still finish.
SIDECAR_API asio::awaitable<ladder_result> run_ladder(std::shared_ptr<child_state> s);

} // namespace detail
} // namespace sidecar
