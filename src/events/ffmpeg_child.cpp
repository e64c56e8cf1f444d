// The event stream of a running ffmpeg: spawning it with its readers, and the calls that pull
// events, metadata and the exit from the shared state. stderr is read by a coroutine that
// never stops until end of stream (an undrained stderr deadlocks ffmpeg); stdout is read only
// when the program asks for the next event. Every pending call holds the shared state, never
// the ffmpeg_child, so moving that object while a call is pending is safe.
#include <sidecar/ffmpeg_child.hpp>

#include "stream_state.hpp"

#include <sidecar/detail/unique_fd.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace sidecar {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

bool is_stdin_url(std::string_view v) {
  return v == "-" || v == "pipe:" || v == "pipe:0" || v == "fd:" || v == "fd:0";
}

// 0: ask to quit, 1: SIGTERM, 2: SIGKILL — what a cancellation of this type asks for.
int stop_step_for(asio::cancellation_type type) {
  if ((type & asio::cancellation_type::total) != asio::cancellation_type::none) return 0;
  if ((type & asio::cancellation_type::partial) != asio::cancellation_type::none) return 1;
  return 2;
}

// Every operation below starts by letting every cancellation type through (an Asio coroutine
// lets only terminal through by default) and taking the one that came already, which resetting
// the state forgets: a cancellation emitted before the operation started still stops it.
// Inline, not a coroutine of its own: awaiting one throws at once in a cancelled coroutine.
#define SIDECAR_LET_ALL_CANCELLATION_THROUGH(prior)                                                \
  asio::cancellation_state prior##_state = co_await asio::this_coro::cancellation_state;           \
  const asio::cancellation_type prior = prior##_state.cancelled();                                 \
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation())

// The fd of `-progress pipe:N` (3 <= N < 1024), or -1.
int progress_fd_of(const command& cmd) {
  const std::string* v = cmd.option_value({"-progress"});
  if (!v || v->rfind("pipe:", 0) != 0) return -1;
  int fd = -1;
  auto [p, ec] = std::from_chars(v->data() + 5, v->data() + v->size(), fd);
  if (ec != std::errc() || p != v->data() + v->size() || fd < 3 || fd >= 1024) return -1;
  return fd;
}

// How ffmpeg is asked to quit: end of stdin when it reads its input there, SIGTERM when it
// reads no stdin at all, else `q` on stdin.
exit_request exit_request_for(const command& cmd) {
  for (const auto& in : cmd.inputs())
    if (is_stdin_url(in.url)) return exit_request::close_stdin;
  if (cmd.has_option("-nostdin")) return exit_request::sigterm;
  return exit_request::quit_key;
}

} // namespace

expected<ffmpeg_child> ffmpeg_child::spawn(const executor_type& ex, const command& cmd,
                                           spawn_options base) {
  auto resolved = cmd.resolve();
  if (!resolved) return tl::unexpected(resolved.error());
  base.program = resolved->program;
  base.args.assign(resolved->argv.begin() + 1, resolved->argv.end());
  base.exit_how = exit_request_for(cmd);
  int progress_fd = progress_fd_of(cmd);
  if (progress_fd >= 0 && std::find(base.output_pipes.begin(), base.output_pipes.end(),
                                    progress_fd) == base.output_pipes.end())
    base.output_pipes.push_back(progress_fd);
  std::string name(tool_name(cmd.which()));

  // stderr is a pipe of our own, read through a descriptor that can wait for readiness.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) == -1) return fail_errno("creating the stderr pipe", errno);
  detail::unique_fd err_read(fds[0]), err_write(fds[1]);
  base.err = stdio::from_fd(err_write.get());
  auto c = child::spawn(ex, std::move(base));
  err_write.reset();
  if (!c) return tl::unexpected(c.error().prefix("starting " + name));
  ::fcntl(err_read.get(), F_SETFL, ::fcntl(err_read.get(), F_GETFL) | O_NONBLOCK);

  auto s = std::make_shared<detail::stream_state>(c->shared_state(), cmd, name);
  // What was changed for this binary's release comes first in the stream, as sidecar's own.
  for (auto& note : resolved->notes)
    s->queue.push(event(log_line{log_level::warning, "sidecar", std::move(note)}));
  // Below info ffmpeg prints no Input/Output/Stream lines: metadata() has nothing to wait for.
  if (auto* level = cmd.option_value({"-loglevel", "-v"})) {
    auto l = parse_loglevel_value(*level);
    if (l && *l < 32) {
      s->meta.expect_quiet();
      s->meta.settle();
    }
  }
  s->err.pipe.assign(err_read.release());
  s->out.attach(&c->stdout_pipe());
  if (progress_fd >= 0) {
    s->progress_pipe = &c->output_pipe(progress_fd);
    s->err.progress_from_pipe = true;
    s->progress_done = false;
    asio::co_spawn(ex, detail::read_progress(s), asio::detached);
  }
  asio::co_spawn(ex, s->err.run(s), asio::detached);
  return ffmpeg_child(std::move(*c), std::move(s));
}

ffmpeg_child::ffmpeg_child(child c, std::shared_ptr<detail::stream_state> s)
    : process_(std::move(c)), state_(std::move(s)) {}

ffmpeg_child::ffmpeg_child(ffmpeg_child&&) noexcept = default;
ffmpeg_child& ffmpeg_child::operator=(ffmpeg_child&&) noexcept = default;
ffmpeg_child::~ffmpeg_child() = default;

asio::readable_pipe& ffmpeg_child::take_stdout() {
  auto& s = *state_;
  if (s.out.started())
    throw std::logic_error("take_stdout() after the event stream started reading stdout");
  s.out.give_up();
  s.queue.wake.notify();
  return process_.stdout_pipe();
}

const std::string& ffmpeg_child::command_line() const noexcept {
  return state_->command_line;
}

std::optional<std::chrono::microseconds> ffmpeg_child::total_duration() const {
  return state_->estimator.total(state_->meta.get());
}

bool ffmpeg_child::cancelled() const noexcept {
  return state_->cancelled_call;
}

std::vector<std::string> ffmpeg_child::error_lines() const {
  return state_->record.lines();
}

namespace {

// A call that a cancellation cut short: the child is stopped the way the cancellation type asks
// (total: `q`, partial: SIGTERM, terminal: SIGKILL), the stream remembers it (cancelled()), and
// an async_ form learns it through `aborted` (the short forms pass none: they give what they
// have, never an exception).
void cut_short(detail::stream_state& s, asio::cancellation_type type, const char* what,
               bool* aborted) {
  s.begin_stop(stop_step_for(type), what);
  s.cancelled_call = true;
  if (aborted) *aborted = true;
}

// The next queued event with its stderr line; nullopt at the end, once the child is reaped, or
// when cancelled — then *cancelled says how, and the child is left alone: callers decide.
asio::awaitable<std::optional<detail::queued_event>>
pull(std::shared_ptr<detail::stream_state> keep, asio::cancellation_type* cancelled) {
  auto& s = *keep;
  for (;;) {
    if (auto q = s.queue.pop()) co_return q;
    if (s.ended) co_return std::nullopt;
    if (s.outputs_done()) {
      auto [ec, st] = co_await s.async_wait_exit(use_tuple);
      asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
      if (ec == asio::error::operation_aborted && cs.cancelled() != asio::cancellation_type::none) {
        *cancelled = cs.cancelled(); // cancelled while reaping: not the end yet
        co_return std::nullopt;
      }
      co_return s.settle(ec, st);
    }
    s.out.start_read(keep);
    if (!s.queue.empty() || s.queue.wake.take()) continue; // news since the last look
    auto [ec] = co_await s.queue.wake.async_wait(use_tuple);
    (void)ec;
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      *cancelled = cs.cancelled();
      co_return std::nullopt;
    }
  }
}

// next_event(), next_frame(), next_progress(): the next event that `pick` keeps, as ONE
// coroutine frame (no nested awaitables), so that Asio's per-thread recycling of frames serves
// every call and a frame loop allocates nothing in steady state. A cancellation cuts the call
// short: nullopt, the child stopped as its type asks.
template <class T, std::optional<T> (*pick)(event&&)>
asio::awaitable<std::optional<T>> pull_one(std::shared_ptr<detail::stream_state> keep,
                                           const char* what, bool* aborted) {
  auto& s = *keep;
  SIDECAR_LET_ALL_CANCELLATION_THROUGH(prior);
  if (prior != asio::cancellation_type::none) {
    cut_short(s, prior, what, aborted);
    co_return std::nullopt;
  }
  for (;;) {
    if (auto q = s.queue.pop()) {
      if (auto r = pick(std::move(q->e))) co_return r;
      continue;
    }
    if (s.ended) co_return std::nullopt;
    asio::cancellation_type cancelled = asio::cancellation_type::none;
    if (s.outputs_done()) {
      auto [ec, st] = co_await s.async_wait_exit(use_tuple);
      asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
      cancelled = cs.cancelled();
      if (ec != asio::error::operation_aborted || cancelled == asio::cancellation_type::none) {
        auto last = s.settle(ec, st);
        if (last)
          if (auto r = pick(std::move(last->e))) co_return r;
        co_return std::nullopt;
      }
    } else {
      s.out.start_read(keep);
      if (!s.queue.empty() || s.queue.wake.take()) continue;   // news since the last look
      auto [ec] = co_await s.queue.wake.async_wait(use_tuple); // news, or cancellation
      (void)ec;
      asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
      cancelled = cs.cancelled();
    }
    if (cancelled != asio::cancellation_type::none) {
      cut_short(s, cancelled, what, aborted);
      co_return std::nullopt;
    }
  }
}

std::optional<event> pick_any(event&& e) {
  return std::move(e);
}
std::optional<frame> pick_frame(event&& e) {
  if (auto* f = std::get_if<frame>(&e)) return std::move(*f);
  return std::nullopt;
}
std::optional<chunk> pick_chunk(event&& e) {
  if (auto* c = std::get_if<chunk>(&e)) return std::move(*c);
  return std::nullopt;
}
std::optional<progress> pick_progress(event&& e) {
  if (auto* p = std::get_if<progress>(&e)) return std::move(*p);
  return std::nullopt;
}

} // namespace

namespace detail::ops {

asio::awaitable<std::optional<event>> next_event(stream_ref s, bool* aborted) {
  return pull_one<event, pick_any>(std::move(s), "next_event cancelled", aborted);
}

asio::awaitable<std::optional<frame>> next_frame(stream_ref s, bool* aborted) {
  return pull_one<frame, pick_frame>(std::move(s), "next_frame cancelled", aborted);
}

asio::awaitable<std::optional<chunk>> next_chunk(stream_ref s, bool* aborted) {
  return pull_one<chunk, pick_chunk>(std::move(s), "next_chunk cancelled", aborted);
}

asio::awaitable<std::optional<progress>> next_progress(stream_ref s, bool* aborted) {
  return pull_one<progress, pick_progress>(std::move(s), "next_progress cancelled", aborted);
}

// What is known when it is settled, or when cancelled (then cut short: what is known so far).
asio::awaitable<sidecar::metadata> metadata(stream_ref keep, bool* aborted) {
  auto& s = *keep;
  SIDECAR_LET_ALL_CANCELLATION_THROUGH(prior);
  asio::cancellation_type cancelled = prior;
  while (cancelled == asio::cancellation_type::none && !s.meta.settled()) {
    // The first stdout bytes settle it: ffmpeg has described its outputs by then. They are
    // staged, not lost.
    if (s.out.undecided()) s.out.start_read(keep);
    if (s.out.done() && s.err.done()) break;
    if (s.queue.wake.take()) continue; // news since the last look
    auto [ec] = co_await s.queue.wake.async_wait(use_tuple);
    (void)ec;
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    cancelled = cs.cancelled();
  }
  if (cancelled != asio::cancellation_type::none)
    cut_short(s, cancelled, "metadata cancelled", aborted);
  co_return s.meta.get();
}

// A coroutine of its own on the shared state (not a loop over ffmpeg_child::next_event()): the
// ffmpeg_child may move while it runs. Cancelled: the lines so far.
asio::awaitable<std::vector<log_line>> errors(stream_ref s, bool* aborted) {
  std::vector<log_line> out;
  for (;;) {
    auto e = co_await pull_one<event, pick_any>(s, "errors cancelled", aborted);
    if (!e) break;
    if (auto* l = std::get_if<log_line>(&*e))
      if (l->level == log_level::error || l->level == log_level::fatal ||
          l->level == log_level::panic)
        out.push_back(std::move(*l));
  }
  co_return out;
}

asio::awaitable<std::vector<std::string>> stderr_lines(stream_ref s, bool* aborted) {
  std::vector<std::string> out;
  SIDECAR_LET_ALL_CANCELLATION_THROUGH(prior);
  asio::cancellation_type cancelled = prior;
  while (cancelled == asio::cancellation_type::none) {
    auto q = co_await pull(s, &cancelled);
    if (!q) break;
    if (!q->starts_line) continue;
    if (!q->line.empty()) {
      out.push_back(std::move(q->line));
    } else if (auto* l = std::get_if<log_line>(&q->e)) { // past the text budget
      out.push_back(l->component.empty() ? std::move(l->text)
                                         : "[" + l->component + "] " + l->text);
    }
  }
  if (cancelled != asio::cancellation_type::none)
    cut_short(*s, cancelled, "stderr_lines cancelled", aborted);
  co_return out;
}

} // namespace detail::ops

asio::awaitable<std::optional<event>> ffmpeg_child::next_event() {
  return detail::ops::next_event(state_, nullptr);
}

asio::awaitable<std::optional<frame>> ffmpeg_child::next_frame() {
  return detail::ops::next_frame(state_, nullptr);
}

asio::awaitable<std::optional<chunk>> ffmpeg_child::next_chunk() {
  return detail::ops::next_chunk(state_, nullptr);
}

asio::awaitable<std::optional<progress>> ffmpeg_child::next_progress() {
  return detail::ops::next_progress(state_, nullptr);
}

asio::awaitable<metadata> ffmpeg_child::metadata() {
  return detail::ops::metadata(state_, nullptr);
}

asio::awaitable<std::vector<log_line>> ffmpeg_child::errors() {
  return detail::ops::errors(state_, nullptr);
}

asio::awaitable<std::vector<std::string>> ffmpeg_child::stderr_lines() {
  return detail::ops::stderr_lines(state_, nullptr);
}

namespace {

// Drains the stream to its end; the cancellation type when a cancellation came first.
asio::awaitable<std::optional<asio::cancellation_type>>
drain_events(std::shared_ptr<detail::stream_state> s) {
  for (;;) {
    // Not `while (co_await pull()) {}`: g++ 12 miscompiles a co_await condition with an
    // empty loop body (the frame is resumed uninitialised).
    asio::cancellation_type cancelled = asio::cancellation_type::none;
    auto e = co_await pull(s, &cancelled);
    if (cancelled != asio::cancellation_type::none) co_return cancelled;
    if (!e) co_return std::nullopt;
  }
}

asio::awaitable<expected<exit_status>> wait_for(std::shared_ptr<detail::stream_state> keep) {
  // Let every kind of cancellation through, to tell them apart below.
  std::optional<asio::cancellation_type> cancelled;
  SIDECAR_LET_ALL_CANCELLATION_THROUGH(prior);
  if (prior != asio::cancellation_type::none)
    cancelled = prior;
  else
    cancelled = co_await drain_events(keep);
  auto& s = *keep;
  if (cancelled) {
    // End the child the way the cancellation asks — total: ffmpeg's own quit (`q`, end of
    // stdin or SIGINT), so it finishes its files; partial: SIGTERM; terminal: SIGKILL — and
    // keep draining its output (it cannot finish while a pipe is full) while the ladder
    // escalates when a grace period passes; then reap it.
    co_await asio::this_coro::reset_cancellation_state();
    int step = stop_step_for(*cancelled);
    s.begin_stop(step, "wait cancelled");
    for (;;) { // a terminal cancellation now ends the drain: the reaper reaps, or a later wait()
      asio::cancellation_type again = asio::cancellation_type::none;
      auto e = co_await pull(keep, &again);
      if (!e) break;
    }
    co_return s.stopped_result(std::max(step, s.process->stop_step.value_or(step)),
                               s.stop_reason.value_or("wait cancelled"));
  }
  if (!s.result) co_return fail(errc::protocol, "the event stream ended without an exit");
  // A cancelled next_event() (or metadata(), ...) stopped it: say so, as a cancelled wait().
  if (s.stop_reason) co_return s.stopped_result(s.process->stop_step.value_or(0), *s.stop_reason);
  co_return *s.result;
}

} // namespace

asio::awaitable<expected<exit_status>> detail::ops::wait(detail::stream_ref s) {
  return wait_for(std::move(s));
}

asio::awaitable<expected<exit_status>> ffmpeg_child::wait() {
  return detail::ops::wait(state_);
}

asio::awaitable<expected<void>> ffmpeg_child::write(std::span<const std::byte> bytes) {
  auto& in = process_.stdin_pipe();
  if (!in.is_open())
    co_return fail(std::make_error_code(std::errc::bad_file_descriptor),
                   state_->name + "'s stdin is closed");
  auto [ec, n] =
      co_await asio::async_write(in, asio::buffer(bytes.data(), bytes.size()), use_tuple);
  if (ec) {
    if (ec == asio::error::broken_pipe)
      co_return fail(ec, state_->name + " stopped reading its stdin (it has exited?)");
    co_return fail(ec, "writing to " + state_->name + "'s stdin");
  }
  co_return expected<void>{};
}

asio::awaitable<expected<void>> ffmpeg_child::write(std::string_view text) {
  return write(std::as_bytes(std::span(text.data(), text.size())));
}

void ffmpeg_child::close_stdin() {
  std::error_code ignored;
  process_.stdin_pipe().close(ignored);
}

} // namespace sidecar
#undef SIDECAR_LET_ALL_CANCELLATION_THROUGH
