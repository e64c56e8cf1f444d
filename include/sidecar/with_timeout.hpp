// with_timeout(op, limit): Asio 1.22 has no cancel_after. Runs an awaitable that returns
// expected<T>; past the limit it is cancelled, and its result, once it has ended, becomes
// errc::timed_out (with the exit status when op's error carried one).
// Cancelling the caller cancels op as well, with the caller's cancellation type (its result,
// or its operation_aborted, is then the caller's).
//
//   auto st = co_await sidecar::with_timeout(ff->wait(), 10s);
//   // timed out: ffmpeg was asked to quit (`q`), so its files are finished and playable
#pragma once

#include <sidecar/detail/asio_config.hpp>

#include <sidecar/async.hpp>
#include <sidecar/error.hpp>

#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace sidecar {

/// `how` is the cancellation the operation sees: total (the default) makes ffmpeg_child::wait()
/// ask ffmpeg to quit, partial sends SIGTERM, terminal SIGKILL. Terminal is always added, so
/// operations that only honour terminal cancellation (Asio's default) stop too.
template <class T>
asio::awaitable<expected<T>>
with_timeout(asio::awaitable<expected<T>> op, std::chrono::steady_clock::duration limit,
             asio::cancellation_type how = asio::cancellation_type::total) {
  auto ex = co_await asio::this_coro::executor;
  auto fired = std::make_shared<bool>(false);
  // Cancelled before it began (a handler's slot emitted before the operation started): the
  // operation is not started at all. The reset below would forget it.
  asio::cancellation_state before = co_await asio::this_coro::cancellation_state;
  if (before.cancelled() != asio::cancellation_type::none)
    co_return fail(asio::error::operation_aborted, "with_timeout: cancelled before it began");
  // The caller's cancellation, every type of it, reaches op too: the op is bound to `signal`,
  // so this coroutine's own slot is free to pass it on.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  detail::caller_cancellation cancel(co_await asio::this_coro::cancellation_state,
                                     asio::cancellation_type::none);
  auto signal = cancel.signal();
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
  if (failure) std::rethrow_exception(failure);
  if (!*fired) co_return r;
  // Past the limit the result is timed_out, whatever op made of its cancellation: a value then
  // is what a cut-short op had (a loop over next_event() ends with nullopt), not a finished one.
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
  std::string what = "did not finish within " + std::to_string(ms) + " ms";
  if (!r && r.error().status())
    co_return tl::unexpected(error::stopped(errc::timed_out, what + "; " + r.error().context(),
                                            *r.error().status(), r.error().lines()));
  co_return fail(errc::timed_out, what);
}

namespace detail {

/// What a deferred operation completing with (error_code[, T]) gives as a coroutine: expected<T>.
template <class A> struct deferred_result;
template <class T, class E>
struct deferred_result<asio::awaitable<std::tuple<std::error_code, T>, E>> {
  using type = expected<T>;
  static type from(std::tuple<std::error_code, T>&& t) {
    auto ec = std::get<0>(t);
    if (!ec) return std::move(std::get<1>(t));
    if constexpr (std::is_same_v<T, exit_status>) { // a failed wait still says how it ended
      if (ec == errc::cancelled)
        return tl::unexpected(error::stopped(errc::cancelled, "stopped", std::get<1>(t), {}));
      if (ec == errc::process_failed)
        return tl::unexpected(error::process_failed("failed", std::get<1>(t), {}));
    }
    return fail(ec, "with_timeout: the operation failed");
  }
};
template <class E> struct deferred_result<asio::awaitable<std::tuple<std::error_code>, E>> {
  using type = expected<void>;
  static type from(std::tuple<std::error_code>&& t) {
    if (auto ec = std::get<0>(t)) return fail(ec, "with_timeout: the operation failed");
    return {};
  }
};
template <class Op>
using deferred_awaitable_t =
    decltype(std::declval<Op>()(asio::experimental::as_tuple(asio::use_awaitable)));

template <class Op>
concept deferred_operation = requires {
  typename deferred_result<deferred_awaitable_t<Op>>::type;
};

template <class Op>
asio::awaitable<typename deferred_result<deferred_awaitable_t<Op>>::type> await_deferred(Op op) {
  // Every type reaches the operation (a co_spawned coroutine lets only terminal through).
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_return deferred_result<deferred_awaitable_t<Op>>::from(
      co_await std::move(op)(asio::experimental::as_tuple(asio::use_awaitable)));
}

} // namespace detail

/// with_timeout through any completion token, for code that is not a coroutine: `op` is a
/// deferred operation completing with (error_code[, T]) — `ff->async_wait(deferred)`,
/// `async_probe(ex, input, {}, deferred)` — run on `ex`. Completes with the operation's own
/// signature, void(std::error_code, T) (void(std::error_code)): errc::timed_out past the
/// limit, after the operation has ended as `how` asked (ffmpeg's wait: it quit, its files
/// finished); the operation's error otherwise. The handler's cancellation reaches the
/// operation, every type of it, and ends with the operation's result (ffmpeg_child's wait:
/// errc::cancelled with the exit status; most others: operation_aborted); emitted before the
/// operation began, it is not started and the result is operation_aborted.
///
///   sidecar::async_with_timeout(ex, ff->async_wait(asio::experimental::deferred), 10s,
///       [](std::error_code ec, sidecar::exit_status st) { ... });
template <class Executor, detail::deferred_operation Op,
          class Token = asio::default_completion_token_t<Executor>>
requires detail::executor_like<Executor>
auto async_with_timeout(const Executor& ex, Op op, std::chrono::steady_clock::duration limit,
                        asio::cancellation_type how,
                        Token&& token = asio::default_completion_token_t<Executor>()) {
  using R = typename detail::deferred_result<detail::deferred_awaitable_t<Op>>::type;
  return detail::async_spawned<R>(
      ex,
      [op = std::move(op), limit, how]() mutable {
        return with_timeout(detail::await_deferred(std::move(op)), limit, how);
      },
      std::forward<Token>(token));
}

/// async_with_timeout with the default cancellation (total: ffmpeg is asked to quit).
template <class Executor, detail::deferred_operation Op,
          class Token = asio::default_completion_token_t<Executor>>
requires detail::executor_like<Executor>
auto async_with_timeout(const Executor& ex, Op op, std::chrono::steady_clock::duration limit,
                        Token&& token = asio::default_completion_token_t<Executor>()) {
  return async_with_timeout(ex, std::move(op), limit, asio::cancellation_type::total,
                            std::forward<Token>(token));
}

} // namespace sidecar
