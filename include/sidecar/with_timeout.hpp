// with_timeout(op, limit): Asio 1.22 has no cancel_after. Runs an awaitable that returns
// expected<T>; past the limit it is cancelled, and a cancelled result becomes errc::timed_out.
// Cancelling the caller cancels op as well, with the caller's cancellation type (its result,
// or its operation_aborted, is then the caller's).
//
//   auto st = co_await sidecar::with_timeout(ff->wait(), 10s);
//   // timed out: ffmpeg was asked to quit (`q`), so its files are finished and playable
#pragma once

#include <sidecar/detail/asio_config.hpp>

#include <sidecar/error.hpp>

#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace sidecar {

/// `how` is the cancellation the operation sees: total (the default) makes ffmpeg_child::wait()
/// ask ffmpeg to quit, partial sends SIGTERM, terminal SIGKILL. Terminal is always added, so
/// operations that only honour terminal cancellation (Asio's default) stop too.
template <class T>
asio::awaitable<expected<T>>
with_timeout(asio::awaitable<expected<T>> op, std::chrono::steady_clock::duration limit,
             asio::cancellation_type how = asio::cancellation_type::total) {
  auto ex = co_await asio::this_coro::executor;
  auto signal = std::make_shared<asio::cancellation_signal>();
  auto fired = std::make_shared<bool>(false);
  // The caller's cancellation, every type of it, reaches op too: the op is bound to `signal`,
  // so this coroutine's own slot is free to pass it on.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  asio::cancellation_slot caller = state.slot();
  if (caller.is_connected()) // else nothing can cancel the caller
    caller.assign([signal](asio::cancellation_type type) { signal->emit(type); });
  asio::steady_timer timer(ex, limit);
  timer.async_wait([signal, fired, how](std::error_code ec) {
    if (ec) return;
    *fired = true;
    signal->emit(how | asio::cancellation_type::terminal);
  });
  expected<T> r = fail(errc::cancelled, "with_timeout: not run");
  std::exception_ptr failure;
  try {
    r = co_await asio::co_spawn(ex, std::move(op),
                                asio::bind_cancellation_slot(signal->slot(), asio::use_awaitable));
  } catch (const std::system_error& e) {
    if (!*fired || e.code() != asio::error::operation_aborted) failure = std::current_exception();
  }
  timer.cancel();
  if (caller.is_connected()) caller.clear();
  if (failure) std::rethrow_exception(failure);
  if (!*fired || r) co_return r;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
  std::string what = "did not finish within " + std::to_string(ms) + " ms";
  if (r.error().status())
    co_return tl::unexpected(error::stopped(errc::timed_out, what + "; " + r.error().context(),
                                            *r.error().status(), r.error().lines()));
  co_return fail(errc::timed_out, what);
}

} // namespace sidecar
