// Retrying until a deadline with a pause that doubles (up to 100 ms): the io layer's one way
// to wait for a peer that is not there yet (a FIFO's reader, a TCP listener).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <system_error>

namespace sidecar::detail {

class backoff {
public:
  backoff(const asio::any_io_executor& ex, std::chrono::milliseconds timeout,
          std::chrono::milliseconds first)
      : timer_(ex), deadline_(std::chrono::steady_clock::now() + timeout), pause_(first) {}

  bool expired() const { return std::chrono::steady_clock::now() >= deadline_; }

  // Waits the current pause, then doubles it. Cancelled: operation_aborted, as a value.
  asio::awaitable<std::error_code> pause() {
    timer_.expires_after(pause_);
    auto [ec] = co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    pause_ = std::min(pause_ * 2, std::chrono::milliseconds(100));
    co_return ec;
  }

private:
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::milliseconds pause_;
};

} // namespace sidecar::detail
