// Pipelines that end together: stages return expected<T>; must() turns a failed stage into an
// exception so that Asio's `&&` cancels the other stages, and pipeline() turns it back into
// the stage's sidecar::error once every stage has finished or been cancelled.
//
//   auto r = co_await sidecar::pipeline(
//       sidecar::must(sidecar::relay(ff->take_stdout(), player->stdin_pipe())) &&
//       sidecar::must(player->wait()));
//   // a failed relay cancels the player's wait (the player is stopped); r holds the relay's error
//
// A cancelled stage that awaits a child (next_event(), wait()) ends with the cancellation;
// the child object, going out of scope, is stopped by the ladder and reaped.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/error.hpp>

#include <asio/awaitable.hpp>
#include <asio/multiple_exceptions.hpp>

#include <exception>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

namespace sidecar {

/// The exception must() throws; carries the stage's error.
class SIDECAR_API stage_failed : public std::runtime_error {
public:
  /// Carries `e`; what() is its message().
  explicit stage_failed(sidecar::error e) : std::runtime_error(e.message()), error_(std::move(e)) {}
  /// The failed stage's error.
  const sidecar::error& error() const noexcept { return error_; }

private:
  sidecar::error error_;
};

/// A stage for `&&`: its value, or stage_failed thrown so the other stages are cancelled
/// (pipeline() turns it back into the error).
template <class T> asio::awaitable<T> must(asio::awaitable<expected<T>> stage) {
  auto r = co_await std::move(stage);
  if (!r) throw stage_failed(std::move(r).error());
  if constexpr (!std::is_void_v<T>) co_return std::move(*r);
}

namespace detail {
inline sidecar::error pipeline_error(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const stage_failed& f) {
    return f.error();
  } catch (const asio::multiple_exceptions& m) {
    // The first failure caused the cancellations that followed it.
    return pipeline_error(m.first_exception());
  } catch (const std::system_error& s) {
    return sidecar::error(s.code(), "pipeline: a stage failed");
  }
}
} // namespace detail

/// Runs a composed pipeline; a stage_failed (or a system_error such as a cancellation) comes
/// back as the error. Other exceptions are bugs and pass through.
template <class T> asio::awaitable<expected<T>> pipeline(asio::awaitable<T> stages) {
  std::exception_ptr failure;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(stages);
      co_return expected<void>{};
    } else {
      co_return co_await std::move(stages);
    }
  } catch (const stage_failed&) {
    failure = std::current_exception();
  } catch (const asio::multiple_exceptions&) {
    failure = std::current_exception();
  } catch (const std::system_error&) {
    failure = std::current_exception();
  }
  co_return tl::unexpected(detail::pipeline_error(failure));
}

} // namespace sidecar
