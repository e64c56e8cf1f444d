// A running ffmpeg, ffplay or ffprobe: its child process and the ordered, pull-based stream of
// what it says (parsed stderr) and produces (frames or chunks on stdout), then its exit.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/async.hpp>
#include <sidecar/binary.hpp>
#include <sidecar/child.hpp>
#include <sidecar/command.hpp>
#include <sidecar/error.hpp>
#include <sidecar/events.hpp>

#include <asio/awaitable.hpp>
#include <asio/write.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sidecar {

namespace detail {
class stream_state;
/// The operations, on the shared state (never on the ffmpeg_child, which may move meanwhile).
using stream_ref = std::shared_ptr<stream_state>;
namespace ops {
// `aborted`, when given, learns that a cancellation cut the call short (the async_ forms);
// the short forms pass none.
SIDECAR_API asio::awaitable<std::optional<event>> next_event(stream_ref s, bool* aborted);
SIDECAR_API asio::awaitable<std::optional<frame>> next_frame(stream_ref s, bool* aborted);
SIDECAR_API asio::awaitable<std::optional<chunk>> next_chunk(stream_ref s, bool* aborted);
SIDECAR_API asio::awaitable<std::optional<progress>> next_progress(stream_ref s, bool* aborted);
SIDECAR_API asio::awaitable<sidecar::metadata> metadata(stream_ref s, bool* aborted);
SIDECAR_API asio::awaitable<std::vector<log_line>> errors(stream_ref s, bool* aborted);
SIDECAR_API asio::awaitable<std::vector<std::string>> stderr_lines(stream_ref s, bool* aborted);
SIDECAR_API asio::awaitable<expected<exit_status>> wait(stream_ref s);

/// An operation's value and whether a cancellation cut it short (for the async_ forms).
template <class R>
asio::awaitable<or_aborted<R>> run_or_aborted(asio::awaitable<R> (*op)(stream_ref, bool*),
                                              stream_ref s) {
  bool aborted = false;
  R value = co_await op(std::move(s), &aborted);
  co_return or_aborted<R>{std::move(value), aborted};
}
} // namespace ops
} // namespace detail

template <class Executor> class basic_ffmpeg_child;

/// A running ffmpeg, ffplay or ffprobe: its child process and the ordered, pull-based stream
/// of what it says (parsed stderr) and produces (frames or chunks on stdout), then its exit.
/// Made by command::spawn() or ffmpeg_child::spawn(). Move-only; destroying it stops the child
/// along the ladder and hands it to the reaper. One strand per object (README, "Threads").
class SIDECAR_API ffmpeg_child {
public:
  /// The executor every operation runs on.
  using executor_type = asio::any_io_executor;
  /// The same ffmpeg_child with another executor type, whose default completion token its
  /// operations take (Asio's `as_default_on`): basic_ffmpeg_child<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_ffmpeg_child<Executor1>; ///< the rebound type
  };

  /// Spawns cmd. `base` may set stdin/stdout, environment, working directory, extra output
  /// pipes and the stop ladder; program and arguments come from cmd. stderr is always ours.
  /// `-progress pipe:N` (N >= 3) among the arguments gets a pipe of its own, read as the
  /// source of progress events (stderr's stats lines are then left out of the stream).
  static expected<ffmpeg_child> spawn(const executor_type& ex, const command& cmd,
                                      spawn_options base = {});

  /// Moving is safe at any time, also while a call is pending: pending calls and the readers
  /// hold the shared state, never this object.
  ffmpeg_child(ffmpeg_child&&) noexcept;
  /// A running child replaced here is stopped and handed to the reaper first.
  ffmpeg_child& operator=(ffmpeg_child&&) noexcept;
  /// The child's own destructor runs the stop ladder; stderr stays drained meanwhile.
  ~ffmpeg_child();

  /// The executor given to spawn().
  executor_type get_executor() const noexcept { return process_.get_executor(); }
  /// The child process underneath: pid, signals, the stop ladder.
  child& process() noexcept { return process_; }
  /// The child's pid (also its process group id).
  pid_t id() const noexcept { return process_.id(); }
  /// The command as a shell line with secrets masked: for logs and messages, never executed.
  const std::string& command_line() const noexcept;

  // --- the event stream -------------------------------------------------------------------
  /// The next event, in the order ffmpeg produced them; nullopt once stdout and stderr have
  /// ended and the child is reaped (a failed run yields an error_event just before). Nothing
  /// is read from stdout faster than this is called. Not for concurrent callers. While 1,024
  /// events wait unread, further events from stderr are dropped (frames, chunks and error
  /// events never are); metadata() keeps what they said, up to 1,024 entries per kind.
  /// Cancelling it (`next_event() || timer`, a cancellation slot, with_timeout) cuts the call
  /// short — it returns nullopt, never throws — and ends the child the way cancelling wait()
  /// does — total: `q`, partial: SIGTERM, terminal: SIGKILL, escalating along the ladder;
  /// cancelled() is then true, and a later wait() drains, reaps and returns errc::cancelled
  /// with the exit status. The same holds for every call below that awaits events: cut short,
  /// metadata() gives what is known so far, errors()/stderr_lines() the lines so far. (In a
  /// coroutine that was itself cancelled, Asio throws operation_aborted at its next co_await
  /// unless it asked `co_await asio::this_coro::throw_if_cancelled(false)`: Asio's rule, not
  /// sidecar's.)
  asio::awaitable<std::optional<event>> next_event();
  /// Convenience: the next frame, skipping (and discarding) other events.
  asio::awaitable<std::optional<frame>> next_frame();
  /// Convenience: the next chunk of an encoded stdout (`-f matroska -`, `-f mpegts -`),
  /// skipping (and discarding) other events; nullopt at the end.
  asio::awaitable<std::optional<chunk>> next_chunk();
  /// Convenience: the next progress, skipping (and discarding) other events.
  asio::awaitable<std::optional<progress>> next_progress();
  /// What ffmpeg said about its inputs, outputs and streams. Completes once it has printed
  /// them (every output stream the stream mapping names is described), or once it is clear it
  /// will print no more (first progress, first output byte, end of stderr), and at once when
  /// `-loglevel`/`-v` is below info (then empty, `complete` false) — never waits forever.
  /// Events stay in the stream for next_event() too.
  asio::awaitable<sidecar::metadata> metadata();
  /// @{
  /// Run to the end, returning the error-level lines / all of stderr's lines not yet read as
  /// events (banner, inputs, streams, mapping, stats, log lines; without the `[level]` tag the
  /// builder asks for; stats lines are left out when `-progress pipe:N` is the source, and
  /// lines past the event queue's bound are dropped with their events). Secrets in URLs are
  /// masked in both, as in every event.
  asio::awaitable<std::vector<log_line>> errors();
  asio::awaitable<std::vector<std::string>> stderr_lines();
  /// @}
  /// Waits for the end, discarding events not yet read, and reaps. A non-zero exit or a
  /// signal gives errc::process_failed with the exit status and ffmpeg's last error lines.
  asio::awaitable<expected<exit_status>> wait();

  // --- the same, for any completion token (sidecar/async.hpp) ------------------------------
  /// @{
  /// The operations above for any completion token (sidecar/async.hpp). Each completes with
  /// void(std::error_code, T) on the handler's associated executor:
  /// async_next_event/_frame/_chunk/_progress give asio::error::eof once the stream has ended
  /// (where the short forms give nullopt) and asio::error::operation_aborted when cancelled (where
  /// the short forms return what they have); the cancellation types stop the child as above.
  /// async_wait gives the exit status also when it fails (errc::process_failed, errc::cancelled:
  /// error_lines() has ffmpeg's reason). As with Asio's own objects, the default token is the
  /// executor's (none for any_io_executor: pass one).
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_next_event(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return spawned<std::optional<event>>(&detail::ops::next_event, std::forward<Token>(token));
  }
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_next_frame(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return spawned<std::optional<frame>>(&detail::ops::next_frame, std::forward<Token>(token));
  }
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_next_chunk(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return spawned<std::optional<chunk>>(&detail::ops::next_chunk, std::forward<Token>(token));
  }
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_next_progress(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return spawned<std::optional<progress>>(&detail::ops::next_progress,
                                            std::forward<Token>(token));
  }
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_metadata(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return spawned<sidecar::metadata>(&detail::ops::metadata, std::forward<Token>(token));
  }
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_errors(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return spawned<std::vector<log_line>>(&detail::ops::errors, std::forward<Token>(token));
  }
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stderr_lines(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return spawned<std::vector<std::string>>(&detail::ops::stderr_lines,
                                             std::forward<Token>(token));
  }
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_wait(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return spawned<expected<exit_status>>(&detail::ops::wait, std::forward<Token>(token));
  }
  /// @}

  // --- raw stdio, for pipelines -------------------------------------------------------------
  /// ffmpeg's stdout as a plain byte stream for relay()/tee(). The event stream then reads no
  /// stdout (no frames or chunks); it still drains stderr and ends at exit. Take it before
  /// the first next_event()/metadata() call. wait() returns once ffmpeg has ended, and ffmpeg
  /// ends only when what it writes is read or the pipe is closed: relay() and tee() close it
  /// when they stop before its end (cancelled, a sink failed); if you stop reading it any other
  /// way, close it (`take_stdout().close()`). A dropped ffmpeg_child drains it.
  asio::readable_pipe& take_stdout();
  /// ffmpeg's stdin as a byte stream (a relay() sink); closed unless stdin is a pipe.
  asio::writable_pipe& stdin_pipe() noexcept { return process_.stdin_pipe(); }

  // --- stdin -------------------------------------------------------------------------------
  /// Writes to stdin with backpressure: completes when ffmpeg has taken the bytes into its
  /// pipe: void(std::error_code, std::size_t), any completion token (the default is the
  /// executor's, as with Asio's own objects: none for any_io_executor, pass one).
  template <class ConstBufferSequence,
            class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_write(const ConstBufferSequence& buffers,
                   CompletionToken&& token = asio::default_completion_token_t<executor_type>()) {
    return asio::async_write(process_.stdin_pipe(), buffers, std::forward<CompletionToken>(token));
  }
  /// Writes bytes to stdin, all of them, with backpressure; an error names the pipe.
  asio::awaitable<expected<void>> write(std::span<const std::byte> bytes);
  /// Writes text to stdin, as write(bytes) does.
  asio::awaitable<expected<void>> write(std::string_view text);
  /// Writes one raw frame to stdin (`-f rawvideo -i -` of the same size and pixel format).
  asio::awaitable<expected<void>> write_frame(const frame& f) { return write(f.data()); }
  /// End of input: ffmpeg sees EOF on stdin (`-i -`) and finishes.
  void close_stdin();
  /// An interactive command, as typed at ffmpeg's console (e.g. "c" for filter commands).
  asio::awaitable<expected<void>> send_command(std::string_view keys) { return write(keys); }

  // --- stopping -----------------------------------------------------------------------------
  /// Asks ffmpeg to finish: `q` (or end of stdin when ffmpeg reads its input there); it
  /// writes the trailers of its files. The gentlest step of the ladder.
  std::error_code quit() { return process_.request_exit(); }
  /// SIGINT to the process group (ffmpeg also finishes its files, less tidily).
  std::error_code interrupt() { return process_.interrupt(); }
  /// SIGTERM to the process group.
  std::error_code terminate() { return process_.terminate(); }
  /// SIGKILL to the process group: it stops now, its files as they are.
  std::error_code kill() { return process_.kill(); }

  /// Whether a call on the event stream was cancelled: the child is being stopped as that
  /// cancellation asked, and what the call returned (nullopt, metadata or lines so far) was cut
  /// short, not the end. wait() says how the child ended (errc::cancelled).
  bool cancelled() const noexcept;
  /// The lines that explain a failure: error-level lines seen last, else the last few lines.
  std::vector<std::string> error_lines() const;
  /// The total the percent of progress events is measured against, once known: per input,
  /// its `-t`, else `-to` less its `-ss`, and its duration less its `-ss`; less the output's
  /// `-ss`; at most the output's `-t`, else `-to` less its `-ss`.
  std::optional<std::chrono::microseconds> total_duration() const;

private:
  ffmpeg_child(child c, std::shared_ptr<detail::stream_state> s);

  template <class R, class Token>
  auto spawned(asio::awaitable<R> (*op)(detail::stream_ref), Token&& token) {
    return detail::async_spawned<R>(
        get_executor(), [op, s = state_] { return op(s); }, std::forward<Token>(token));
  }
  template <class R, class Token>
  auto spawned(asio::awaitable<R> (*op)(detail::stream_ref, bool*), Token&& token) {
    return detail::async_spawned<detail::or_aborted<R>>(
        get_executor(), [op, s = state_] { return detail::ops::run_or_aborted<R>(op, s); },
        std::forward<Token>(token));
  }

  child process_;
  std::shared_ptr<detail::stream_state> state_;
};

/// An ffmpeg_child whose executor type is Executor (constructible from the child's executor):
/// its async_xxx operations take Executor's default completion token, as Asio's own I/O
/// objects do. From Asio's `as_default_on`:
///
///   auto ff = asio::experimental::as_tuple(asio::use_awaitable).as_default_on(std::move(*c));
///   auto [ec, st] = co_await ff.async_wait();
///
/// Everything else is the ffmpeg_child's.
template <class Executor> class basic_ffmpeg_child : public ffmpeg_child {
public:
  /// The executor type whose default token the operations take.
  using executor_type = Executor;
  /// basic_ffmpeg_child<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_ffmpeg_child<Executor1>; ///< the rebound type
  };
  /// Takes over an ffmpeg_child (any basic_ffmpeg_child converts to one); `c` must hold one
  /// (not a moved-from object).
  explicit basic_ffmpeg_child(ffmpeg_child&& c)
      : ffmpeg_child(std::move(c)), ex_(ffmpeg_child::get_executor()) {}

  /// The child's executor, as Executor.
  executor_type get_executor() const noexcept { return ex_; }
  /// ffmpeg_child::async_write, Executor's default token.
  template <class ConstBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_write(const ConstBufferSequence& buffers,
                   Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_write(buffers, std::forward<Token>(token));
  }
  /// ffmpeg_child::async_next_event, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_next_event(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_next_event(std::forward<Token>(token));
  }
  /// ffmpeg_child::async_next_frame, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_next_frame(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_next_frame(std::forward<Token>(token));
  }
  /// ffmpeg_child::async_next_chunk, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_next_chunk(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_next_chunk(std::forward<Token>(token));
  }
  /// ffmpeg_child::async_next_progress, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_next_progress(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_next_progress(std::forward<Token>(token));
  }
  /// ffmpeg_child::async_metadata, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_metadata(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_metadata(std::forward<Token>(token));
  }
  /// ffmpeg_child::async_errors, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_errors(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_errors(std::forward<Token>(token));
  }
  /// ffmpeg_child::async_stderr_lines, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_stderr_lines(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_stderr_lines(std::forward<Token>(token));
  }
  /// ffmpeg_child::async_wait, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_wait(Token&& token = asio::default_completion_token_t<executor_type>()) {
    return ffmpeg_child::async_wait(std::forward<Token>(token));
  }

private:
  Executor ex_;
};

/// Runs `<tool> -version` and parses it: `co_await sidecar::ffmpeg_version()`. A release
/// prints its number ("5.1.8-0+deb12u1", origin banner); a git or static build
/// ("N-47683-g0e8eb07980-static") gets the release its libavutil belongs to (origin
/// libraries), so major/minor are usable either way.
/// errc::binary_not_found when the tool is missing; errc::protocol when the output is not a
/// version banner; errc::timed_out when it does not finish within 10 s (it is killed then).
SIDECAR_API asio::awaitable<expected<version_info>> ffmpeg_version(tool which = tool::ffmpeg);

/// The same through any completion token, on `ex`: void(std::error_code, version_info) (see
/// <sidecar/async.hpp>). Cancellation, of any type, kills the tool and completes with
/// asio::error::operation_aborted.
template <detail::executor_like Executor, class Token = asio::default_completion_token_t<Executor>>
auto async_ffmpeg_version(const Executor& ex, tool which,
                          Token&& token = asio::default_completion_token_t<Executor>()) {
  return detail::async_spawned<expected<version_info>>(
      ex, [which] { return ffmpeg_version(which); }, std::forward<Token>(token));
}

} // namespace sidecar
