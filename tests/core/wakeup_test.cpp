// detail::wakeup, the coroutines' condition variable, on the properties the event queue, tee,
// tcp_ingest and the reaper's waiters rely on: news before a wait is latched, notify() wakes
// every waiter, and a waiter cancelled per operation (a cancelled next_event()) loses nothing
// for the next one. That last property is why it is a timer and not an
// asio::experimental::channel: in Asio 1.22, after a cancelled async_receive a buffered
// channel's try_send fails and the next receiver is never woken (chriskohlhoff/asio#1241,
// fixed in 1.28), and a void(error_code) channel does not compile (ambiguous channel_traits).
#include <sidecar/detail/wakeup.hpp>

#include "catch.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>

#include <chrono>

using sidecar::detail::wakeup;

TEST_CASE("wakeup: news before the wait is latched and taken once", "[core]") {
  asio::io_context ctx;
  wakeup w(ctx.get_executor());
  CHECK_FALSE(w.take());
  w.notify();
  w.notify();
  CHECK(w.take()); // a waiter looks here first and does not wait
  CHECK_FALSE(w.take());
}

TEST_CASE("wakeup: notify() wakes every pending waiter", "[core]") {
  asio::io_context ctx;
  wakeup w(ctx.get_executor());
  int woken = 0;
  for (int i = 0; i < 3; ++i)
    w.async_wait([&](std::error_code) { ++woken; });
  ctx.poll();
  CHECK(woken == 0);
  w.notify();
  ctx.run_for(std::chrono::seconds(5));
  CHECK(woken == 3);
}

TEST_CASE("wakeup: a waiter cancelled per operation loses nothing for the next", "[core]") {
  asio::io_context ctx;
  wakeup w(ctx.get_executor());
  asio::cancellation_signal signal;
  std::error_code first;
  bool first_done = false, second_done = false;
  w.async_wait(asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec) {
    first = ec;
    first_done = true;
  }));
  ctx.poll();
  signal.emit(asio::cancellation_type::terminal);
  ctx.poll();
  REQUIRE(first_done);
  CHECK(first == asio::error::operation_aborted);
  CHECK_FALSE(w.take()); // a cancellation is not news
  w.async_wait([&](std::error_code) { second_done = true; });
  ctx.restart(); // running out of work stopped it
  ctx.poll();
  CHECK_FALSE(second_done); // pending: the cancelled waiter's end woke nobody else
  w.notify();
  ctx.run_for(std::chrono::seconds(5));
  CHECK(second_done);
  CHECK(w.take()); // and the news stays latched for the next look
}
