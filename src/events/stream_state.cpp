// How a run ends: stopping it (one ladder, the child's), settling its result, the progress pipe.
#include "stream_state.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>

#include <sys/ioctl.h>

namespace sidecar::detail {

namespace {

// Bytes waiting in a pipe (FIONREAD); 0 when it cannot tell.
int unread_bytes(int fd) {
  int n = 0;
  if (fd < 0 || ::ioctl(fd, FIONREAD, &n) == -1) return 0;
  return n;
}

asio::awaitable<void> watch_stop(std::shared_ptr<stream_state> s) {
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  auto [ec, st] = co_await s->async_wait_exit(use_tuple, /*kill_group=*/true);
  if (ec) co_return;
  asio::steady_timer grace(s->ex);
  while (!s->ended && !s->outputs_done()) {
    grace.expires_after(stream_state::stop_grace);
    co_await grace.async_wait(use_tuple);
    if (s->ended || s->outputs_done()) break;
    // stdout is read only as the program asks: bytes still in it are the program's to read,
    // not a sign that someone else holds it. Empty and still open after the grace period:
    // held outside the group.
    auto* out = s->out.pipe();
    if (!s->out.done() && out && out->is_open() && unread_bytes(out->native_handle()) > 0) continue;
    s->abandon_outputs();
    break;
  }
}

} // namespace

void stream_state::begin_stop(int step, std::string_view why) {
  if (ended || process->status) return;
  // A child that has exited by itself was not stopped: its run says how it ended. Its group
  // is still signalled (a wrapper's children may hold the pipes).
  if (!stop_reason && !process->exited()) stop_reason = std::string(why);
  process->begin_stop(step);
  if (!watching_stop) {
    watching_stop = true;
    asio::co_spawn(ex, watch_stop(shared_from_this()), asio::detached);
  }
}

void stream_state::abandon_outputs() {
  std::error_code ignored;
  if (!err.done()) err.pipe.close(ignored); // its reader ends, as at end of stream
  out.abandon();
  if (!progress_done && progress_pipe) progress_pipe->close(ignored);
  queue.wake.notify();
}

std::optional<queued_event> stream_state::settle(std::error_code ec, const exit_status& st) {
  ended = true;
  if (ec) {
    result = fail(ec, "waiting for " + name);
  } else if (!st.success()) {
    result = tl::unexpected(error::process_failed(name + " failed", st, record.lines()));
  } else if (record.fatal_line() && !stop_reason) {
    auto lines = record.lines();
    const auto& fatal = *record.fatal_line();
    if (std::find(lines.begin(), lines.end(), fatal) == lines.end())
      lines.insert(lines.begin(), fatal); // scrolled out of the ring: it says why
    result = tl::unexpected(error::process_failed(
        name + " failed: it printed a fatal error, though it exited 0", st, std::move(lines)));
  } else {
    result = st;
  }
  if (!*result) return queued_event(event(error_event{result->error()}));
  return std::nullopt;
}

expected<exit_status> stream_state::stopped_result(int step, std::string_view why) const {
  auto status = result && *result ? **result
                : result          ? result->error().status().value_or(exit_status{})
                                  : exit_status{};
  const char* how = step == 0 ? "asked to quit" : step == 1 ? "sent SIGTERM" : "sent SIGKILL";
  return tl::unexpected(error::stopped(
      errc::cancelled, name + " " + how + " (" + std::string(why) + ")", status, record.lines()));
}

asio::awaitable<void> read_progress(std::shared_ptr<stream_state> s) {
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  std::array<char, 4096> buf;
  for (;;) {
    auto [ec, n] = co_await s->progress_pipe->async_read_some(asio::buffer(buf), use_tuple);
    s->progress_parser.feed(std::string_view(buf.data(), n), [&](progress&& p) {
      s->estimator.fill(p, s->meta.get());
      s->queue.push(event(std::in_place_type<progress>, std::move(p)));
    });
    if (ec) break;
  }
  s->progress_done = true;
  s->queue.wake.notify();
}

} // namespace sidecar::detail
