// The one "condition variable" of sidecar's coroutines: a timer that never expires, cancelled
// to wake whoever waits on it (Asio 1.22 has no condition variable for coroutines), with a
// latch so that news between a waiter's look and its wait is never lost.
//
// Not asio::experimental::channel, on purpose: in Asio 1.22 a buffered channel's try_send
// fails after a cancelled async_receive, so the next receiver is never woken
// (chriskohlhoff/asio#1241, fixed in 1.28) — a cancelled next_event() would hang the next
// one — and a void(error_code) channel does not compile (ambiguous channel_traits). A
// channel also wakes one receiver where tee and tcp_ingest need every waiter woken.
// tests/core/wakeup_test.cpp checks the properties this gives.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <system_error>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

namespace sidecar::detail {

// Not thread-safe: notify(), take() and async_wait() run on the executor it was made with
// (post a notify() there from another thread).
class SIDECAR_API wakeup {
public:
  explicit wakeup(const asio::any_io_executor& ex)
      : timer_(ex, asio::steady_timer::time_point::max()) {}

  // Wakes every pending async_wait and latches the news for take().
  void notify() noexcept {
    pending_ = true;
    try {
      timer_.cancel();
    } catch (const std::system_error&) { // epoll's timers do not fail to cancel
    }
  }
  // Was there news since the last take()? Clears it. A waiter looks here before waiting.
  bool take() noexcept { return std::exchange(pending_, false); }
  // Completes on the next notify() (with operation_aborted) or on the waiter's cancellation.
  template <class Token> auto async_wait(Token&& token) {
    return timer_.async_wait(std::forward<Token>(token));
  }
  asio::any_io_executor get_executor() { return timer_.get_executor(); }

private:
  asio::steady_timer timer_;
  bool pending_ = false;
};

} // namespace sidecar::detail
