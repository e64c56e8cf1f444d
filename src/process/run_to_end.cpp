// Running a program to its end within a deadline, reading what it prints: one helper for
// ffmpeg -version (async and at spawn time) and ffprobe.
#include <sidecar/child.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <array>

namespace sidecar {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Reads a pipe to its end (or error), keeping what `keep` says to keep.
template <class Keep> asio::awaitable<void> drain(asio::readable_pipe& pipe, Keep keep) {
  if (!pipe.is_open()) co_return;
  std::array<char, 16384> buf;
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf), use_tuple);
    keep(std::string_view(buf.data(), n));
    if (ec) co_return;
  }
}

} // namespace

asio::awaitable<expected<program_output>> run_to_end(spawn_options o, run_limits limits) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  auto program = o.program.native();
  auto c = child::spawn(ex, std::move(o));
  if (!c) co_return tl::unexpected(c.error());
  program_output r;
  auto keep_out = [&](std::string_view b) {
    auto room = limits.max_stdout - r.out.size();
    if (b.size() > room) r.out_truncated = true;
    r.out.append(b.substr(0, room));
  };
  auto keep_err = [&](std::string_view b) {
    r.err.append(b);
    // The tail only: trimmed when twice the limit, so a long stderr costs no quadratic work.
    if (r.err.size() > 2 * limits.max_stderr) r.err.erase(0, r.err.size() - limits.max_stderr);
  };
  asio::steady_timer deadline(ex, limits.timeout);
  // The readers race the deadline, bound to `stop`: a cancellation of the caller (of the types
  // its cancellation state lets through) ends the race as the deadline does. Awaitable
  // operators alone would pass only terminal cancellation to the readers, and would leave a
  // program that prints nothing (an ffprobe opening a FIFO nobody writes) running.
  detail::caller_cancellation cancel(co_await asio::this_coro::cancellation_state);
  auto race = [&]() -> asio::awaitable<std::size_t> {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto outcome =
        co_await ((drain(c->stdout_pipe(), keep_out) && drain(c->stderr_pipe(), keep_err)) ||
                  deadline.async_wait(use_tuple));
    co_return outcome.index();
  };
  std::size_t winner = 0;
  if (!cancel.cancelled()) {
    auto [e, index] =
        co_await asio::co_spawn(ex, race(), asio::bind_cancellation_slot(cancel.slot(), use_tuple));
    if (e) std::rethrow_exception(e); // only bugs throw in it
    winner = index;
  }
  const bool cancelled = cancel.cancelled();
  cancel.release(); // before the reset below, which replaces the state its slot belongs to
  if (winner == 1 || cancelled) {
    // The deadline won or the caller gave up: end the program's group and reap it.
    co_await asio::this_coro::reset_cancellation_state();
    c->kill();
    co_await c->async_wait(use_tuple);
    if (cancelled) co_return fail(asio::error::operation_aborted, program + " was cancelled");
    co_return fail(errc::timed_out, program + " did not finish within " +
                                        std::to_string(limits.timeout.count()) + " ms");
  }
  if (r.err.size() > limits.max_stderr) r.err.erase(0, r.err.size() - limits.max_stderr);
  auto [ec, st] = co_await c->async_wait(use_tuple);
  if (ec) co_return fail(ec, "waiting for " + program);
  r.status = st;
  co_return r;
}

expected<program_output> run_to_end_sync(spawn_options o, run_limits limits) {
  asio::io_context ctx;
  std::optional<expected<program_output>> r;
  asio::co_spawn(ctx, run_to_end(std::move(o), limits),
                 [&](std::exception_ptr e, expected<program_output> v) {
                   if (e) std::rethrow_exception(e); // only bugs throw in it
                   r = std::move(v);
                 });
  ctx.run();
  return std::move(*r);
}

} // namespace sidecar
