// run_sync(job[, limit]): one coroutine run to its end from plain synchronous code — main(), a
// test, a command-line tool — on a private io_context, so a program needs no runner of its
// own:
//
//   int main() { return sidecar::run_sync(encode()); }            // encode() -> awaitable<int>
//   auto info = sidecar::run_sync(sidecar::probe("in.mp4"), 10s); // expected<media_info>
//
// It returns once the job and everything it started have ended: children stopped and reaped,
// pending operations completed. Not for a thread that already runs an io_context of the job's
// (the job would wait on a context nobody runs): co_await the job there instead.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/error.hpp>
#include <sidecar/with_timeout.hpp>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace sidecar {

namespace detail {
template <class T> struct is_expected : std::false_type {};
template <class T> struct is_expected<expected<T>> : std::true_type {};

template <class T> asio::awaitable<expected<T>> as_expected(asio::awaitable<T> job) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(job);
    co_return expected<void>{};
  } else {
    co_return expected<T>(co_await std::move(job));
  }
}
} // namespace detail

/// The type of sidecar::run_sync (a function object, so that argument-dependent lookup never
/// finds it). The name follows run_to_end_sync(): the calling thread blocks.
struct SIDECAR_API run_sync_fn {
  /// Runs `job` on a private io_context until it, and everything it started on that context
  /// (children, their stop ladders, the reaper), has ended, and returns its value; an
  /// exception that escapes the job is rethrown here. The value is handed over on this thread
  /// (no other thread is started). T must be default-constructible, as co_spawn requires, and
  /// must not hold objects of the private context (a socket, an ffmpeg_child): it is gone
  /// when this returns. A job left suspended with nothing on its context to resume it is
  /// reported as std::logic_error rather than returned as a value it never produced.
  template <class T> T operator()(asio::awaitable<T> job) const {
    std::exception_ptr failure;
    bool done = false;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
    {
      asio::io_context ctx;
      asio::co_spawn(ctx, std::move(job), [&](std::exception_ptr e, auto&&... v) {
        done = true;
        failure = e;
        if constexpr (sizeof...(v) > 0)
          if (!e) value.emplace(std::move(v)...);
      });
      ctx.run();
    }
    if (failure) std::rethrow_exception(failure);
    if (!done)
      throw std::logic_error("sidecar::run_sync: the job waits on something outside its "
                             "io_context and cannot finish");
    if constexpr (!std::is_void_v<T>) return std::move(*value);
  }

  /// The same with a deadline: past `limit` the job is cancelled as with_timeout() cancels it
  /// (total cancellation: ffmpeg is asked to quit, then the stop ladder) and the result is
  /// errc::timed_out. A job that returns expected<T> gives expected<T> (its own error, or
  /// timed_out); any other job's T comes as expected<T>.
  template <class T>
  auto operator()(asio::awaitable<T> job, std::chrono::steady_clock::duration limit) const {
    if constexpr (detail::is_expected<T>::value) {
      return (*this)(with_timeout(std::move(job), limit));
    } else {
      return (*this)(with_timeout(detail::as_expected(std::move(job)), limit));
    }
  }
};

/// run_sync(job) and run_sync(job, limit): see run_sync_fn.
inline constexpr run_sync_fn run_sync{};

} // namespace sidecar
