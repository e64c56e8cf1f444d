// A spawned child process: argv without a shell, stdio as Asio pipes, exit awaited on a pidfd,
// stop verbs for its whole process group, and a destructor that never leaves a zombie.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/async.hpp>
#include <sidecar/detail/child_state.hpp>
#include <sidecar/error.hpp>
#include <sidecar/exit_status.hpp>

#include <asio/async_result.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/compose.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sidecar {

/// Where one of the child's standard streams goes.
class SIDECAR_API stdio {
public:
  /// What the child's stream is connected to.
  enum class kind { pipe, inherit, null, fd };

  /// A pipe whose other end the program reads or writes (child::stdout_pipe() ...).
  static stdio pipe() noexcept { return {kind::pipe, -1}; }
  /// The program's own stream, shared with the child.
  static stdio inherit() noexcept { return {kind::inherit, -1}; }
  /// /dev/null.
  static stdio null() noexcept { return {kind::null, -1}; }
  /// A descriptor of the program's; the child gets a duplicate, the program keeps its own.
  static stdio from_fd(int fd) noexcept { return {kind::fd, fd}; }

  /// Which of the above.
  kind how() const noexcept { return how_; }
  /// The program's descriptor for kind::fd, else -1.
  int fd() const noexcept { return fd_; }

private:
  stdio(kind how, int fd) noexcept : how_(how), fd_(fd) {}
  kind how_;
  int fd_;
};

/// How the exit of a child is watched. `automatic` takes a pidfd and falls back to SIGCHLD.
enum class exit_watch { automatic, pidfd, sigchld };

/// What child::spawn() runs and how: program, arguments, environment, stdio, extra pipes,
/// how to ask it to exit and how hard to insist.
struct SIDECAR_API spawn_options {
  /// A path, or a bare name searched on PATH (find_executable). This layer knows nothing of
  /// ffmpeg: for SIDECAR_FFMPEG and its kin, pass find_tool()'s path (or use ffmpeg_child).
  std::filesystem::path program;
  std::vector<std::string> args;               ///< argv[1...]; never seen by a shell
  std::optional<std::string> argv0;            ///< argv[0]; the program's file name by default
  std::optional<std::vector<std::string>> env; ///< "NAME=value" each; nullopt: ours, as it is
  /// The child's working directory; nullopt: the program's.
  std::optional<std::filesystem::path> cwd;
  /// The child's stdin: a pipe to write (child::stdin_pipe()) by default.
  stdio in = stdio::pipe();
  /// The child's stdout: a pipe to read (child::stdout_pipe()) by default.
  stdio out = stdio::pipe();
  /// The child's stderr: a pipe to read (child::stderr_pipe()) by default.
  stdio err = stdio::pipe();
  /// Descriptors above 2 that the child writes and the program reads, e.g. 3 for
  /// `-progress pipe:3`; each is a pipe reached through child::output_pipe(fd).
  std::vector<int> output_pipes;
  /// Descriptors of the program's to pass on: {number in the child, ours}.
  std::vector<std::pair<int, int>> pass_fds;
  /// F_SETPIPE_SZ on the stdout pipe (raw frames are large); 0 keeps the kernel's default.
  std::size_t stdout_pipe_size = std::size_t{1} << 20;
  /// How request_exit() and the ladder's first step ask the child to finish.
  exit_request exit_how = exit_request::quit_key;
  /// How long each step of the stop ladder waits before the next.
  stop_ladder ladder;
  /// How the child's exit is noticed.
  exit_watch watch = exit_watch::automatic;
  /// std::exit() (or a return from main with the io_context still alive) SIGKILLs the child's
  /// group, from an atexit handler, rather than leaving it running, reparented. Not covered:
  /// a program killed by a signal or by _exit() — posix_spawn has no hook for
  /// PR_SET_PDEATHSIG, which would also tie the child to the spawning thread, not the program.
  bool kill_on_exit = true;

  /// For a program run only to read what it prints (`-version`, ffprobe): stdin /dev/null,
  /// stdout a pipe of the kernel's size, stderr a pipe or /dev/null, SIGTERM to end it.
  static spawn_options to_read(std::filesystem::path program, std::vector<std::string> args,
                               bool read_stderr = false) {
    spawn_options o;
    o.program = std::move(program);
    o.args = std::move(args);
    o.in = stdio::null();
    if (!read_stderr) o.err = stdio::null();
    o.stdout_pipe_size = 0;
    o.exit_how = exit_request::sigterm;
    return o;
  }
};

namespace detail {
SIDECAR_API asio::awaitable<expected<void>> wait_reaped(asio::any_io_executor ex);

/// A failed wait or stop still says how the child ended, when it did.
template <> struct failed_value<exit_status> {
  template <class Executor> static exit_status make(const Executor&, const error* e) {
    return e && e->status() ? *e->status() : exit_status{};
  }
};
} // namespace detail

/// Completes once the reaper of ex's execution context holds no child: every child object
/// that was destroyed while its process ran has been stopped and reaped (at once when there
/// is none). Signature: void(std::error_code); operation_aborted when cancelled. For tests
/// and orderly shutdowns that must know nothing is left running, instead of sleeping "long
/// enough".
/// Every cancellation type ends the wait with operation_aborted (children may still be held).
/// The default token is any_io_executor's: none, pass one.
template <class CompletionToken = asio::default_completion_token_t<asio::any_io_executor>>
auto async_wait_reaped(
    const asio::any_io_executor& ex,
    CompletionToken&& token = asio::default_completion_token_t<asio::any_io_executor>()) {
  return detail::async_spawned<expected<void>>(
      ex, [ex] { return detail::wait_reaped(ex); }, std::forward<CompletionToken>(token));
}

template <class Executor> class basic_child;

/// A running child process (see the file's opening comment): its pipes, stop verbs for its
/// process group, and waiting for its exit. Move-only; destroying a running one hands it to
/// the reaper, so no zombie and no orphan is left.
class SIDECAR_API child {
public:
  /// The executor the child's operations run on.
  using executor_type = asio::any_io_executor;
  /// The same child with another executor type, whose default completion token its
  /// operations take (Asio's `as_default_on`): basic_child<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_child<Executor1>; ///< the rebound type
  };

  /// Spawns the program. Fails at once, with the reason, when it cannot be run (not found,
  /// not executable, bad working directory): the exec error comes back before this returns.
  static expected<child> spawn(const executor_type& ex, spawn_options options);

  /// Moves; operations in flight keep working (they hold the shared state).
  child(child&&) noexcept = default;
  /// A running child replaced here is handed to the reaper first.
  child& operator=(child&& other) noexcept;
  /// A child still running is handed to the reaper of its execution context, which runs the
  /// stop ladder (request_exit, SIGTERM, SIGKILL) and reaps it.
  ~child();

  /// The executor given to spawn().
  executor_type get_executor() const noexcept { return state_->ex; }
  /// The process id (also the process group id), -1 for a moved-from object.
  pid_t id() const noexcept { return state_ ? state_->pid : -1; }
  /// Reaped already? Only async_wait (or the reaper) reaps; this does not poll.
  bool running() const noexcept { return state_ && !state_->status; }
  /// How it ended, once reaped.
  const std::optional<exit_status>& status() const noexcept { return state_->status; }

  /// The write end of the child's stdin (closed unless spawn_options::in was a pipe).
  asio::writable_pipe& stdin_pipe() noexcept { return state_->in; }
  /// The read end of the child's stdout (closed unless spawn_options::out was a pipe).
  asio::readable_pipe& stdout_pipe() noexcept { return state_->out; }
  /// The read end of the child's stderr (closed unless spawn_options::err was a pipe).
  asio::readable_pipe& stderr_pipe() noexcept { return state_->err; }
  /// The read end of one of spawn_options::output_pipes. Asking for another fd is a bug.
  asio::readable_pipe& output_pipe(int child_fd);

  /// Asks the child to finish: `q` on stdin for ffmpeg (see exit_request).
  std::error_code request_exit() { return state_->request_exit(); }
  /// SIGINT to the child's whole process group (the verbs below signal the group too).
  std::error_code interrupt() { return state_->signal_group(SIGINT); }
  /// SIGTERM to the process group.
  std::error_code terminate() { return state_->signal_group(SIGTERM); }
  /// SIGKILL to the process group.
  std::error_code kill() { return state_->signal_group(SIGKILL); }
  /// Any signal to the process group.
  std::error_code signal(int sig) { return state_->signal_group(sig); }

  /// The state every asynchronous operation on this child holds (pid, pipes, the stop
  /// ladder): for the layers above, so their pending operations outlive a move of this object.
  const std::shared_ptr<detail::child_state>& shared_state() const noexcept { return state_; }

  /// The stop ladder the destructor, async_stop() and cancellations use.
  const stop_ladder& ladder() const noexcept { return state_->ladder; }
  /// Changes it (e.g. a longer grace for a child finishing a large file).
  void set_ladder(stop_ladder l) noexcept { state_->ladder = l; }

  /// Waits for the child to exit and reaps it. Signature: void(std::error_code, exit_status).
  /// Every cancellation type (terminal, partial, total) ends the wait with
  /// asio::error::operation_aborted and leaves the child running. As with Asio's own objects,
  /// the default token is the executor's (none for any_io_executor: pass one, e.g.
  /// asio::use_awaitable).
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_wait(CompletionToken&& token = asio::default_completion_token_t<executor_type>()) {
    return asio::async_compose<CompletionToken, void(std::error_code, exit_status)>(
        detail::wait_exit_op{state_, /*kill_group=*/false, /*any_cancellation=*/true}, token,
        state_->ex);
  }

  /// Runs the stop ladder now and reaps: void(std::error_code, exit_status). Terminal
  /// cancellation ends the wait (operation_aborted) and not the ladder, which climbs on to
  /// SIGKILL; a later async_wait, or the reaper once this object is gone, reaps. Partial and
  /// total cancellation are not honoured: the stop has begun and cannot be undone.
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_stop(CompletionToken&& token = asio::default_completion_token_t<executor_type>()) {
    return detail::async_spawned<expected<exit_status>>(
        state_->ex,
        [s = state_]() -> asio::awaitable<expected<exit_status>> {
          auto [ec, st] = co_await detail::run_ladder(s);
          if (ec) co_return tl::unexpected(error(ec, "stopping pid " + std::to_string(s->pid)));
          co_return st;
        },
        std::forward<CompletionToken>(token));
  }

private:
  explicit child(std::shared_ptr<detail::child_state> s) noexcept : state_(std::move(s)) {}

  std::shared_ptr<detail::child_state> state_;
};

/// A child whose executor type is Executor (constructible from the child's executor): its
/// operations take Executor's default completion token, so that
/// `auto c = asio::use_awaitable.as_default_on(std::move(*spawned));` gives a child whose
/// `co_await c.async_wait()` needs no token, as with Asio's own I/O objects. Everything else
/// is the child's.
template <class Executor> class basic_child : public child {
public:
  /// The executor type whose default token the operations take.
  using executor_type = Executor;
  /// basic_child<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_child<Executor1>; ///< the rebound type
  };
  /// Takes over a child (any basic_child converts to one); `c` must hold one (not a
  /// moved-from object).
  explicit basic_child(child&& c) : child(std::move(c)), ex_(child::get_executor()) {}

  /// The child's executor, as Executor.
  executor_type get_executor() const noexcept { return ex_; }
  /// child::async_wait, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_wait(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return child::async_wait(std::forward<Token>(token));
  }
  /// child::async_stop, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stop(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return child::async_stop(std::forward<Token>(token));
  }

private:
  Executor ex_;
};

/// What run_to_end() gathered from a program it ran to its end.
struct SIDECAR_API program_output {
  /// How the program ended (the caller judges it).
  exit_status status;
  std::string out;            ///< stdout, its first run_limits::max_stdout bytes
  bool out_truncated = false; ///< stdout had more
  std::string err;            ///< stderr's last run_limits::max_stderr bytes, when it is a pipe
};

/// The limits of run_to_end().
struct SIDECAR_API run_limits {
  /// The whole run's deadline; past it the process group is killed.
  std::chrono::milliseconds timeout{10000};
  /// stdout kept; past it, program_output::out_truncated.
  std::size_t max_stdout = 64 * 1024;
  /// stderr kept: the last bytes.
  std::size_t max_stderr = 16 * 1024;
};

/// Runs a program to its end: spawns it, reads its stdout and stderr (those that are pipes) to
/// their end and reaps it, all within limits.timeout. Past the deadline its process group is
/// killed and reaped, and the error is errc::timed_out ("<program> did not finish within N ms").
/// The exit status is the caller's to judge. Cancelled (whichever types the calling coroutine
/// lets through), it kills and reaps the group too: asio::error::operation_aborted, as a value.
/// One helper for every "run a tool, read what it
/// printed" (ffmpeg -version, ffprobe).
SIDECAR_API asio::awaitable<expected<program_output>> run_to_end(spawn_options options,
                                                                 run_limits limits = {});
/// The same on the calling thread, on a private io_context: for callers outside a coroutine.
/// It blocks up to limits.timeout.
SIDECAR_API expected<program_output> run_to_end_sync(spawn_options options, run_limits limits = {});

/// run_to_end through any completion token, on `ex`: void(std::error_code, program_output)
/// (see <sidecar/async.hpp>); errc::timed_out past limits.timeout; cancelled (any type): the
/// program's group killed and reaped, operation_aborted.
template <detail::executor_like Executor, class Token = asio::default_completion_token_t<Executor>>
auto async_run_to_end(const Executor& ex, spawn_options options, run_limits limits,
                      Token&& token = asio::default_completion_token_t<Executor>()) {
  return detail::async_spawned<expected<program_output>>(
      ex,
      [options = std::move(options), limits]() mutable {
        return run_to_end(std::move(options), limits);
      },
      std::forward<Token>(token));
}

} // namespace sidecar
