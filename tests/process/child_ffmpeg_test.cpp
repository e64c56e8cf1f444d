// The process layer with the real ffmpeg: q ends it cleanly, the ladder reaps it.
#include <sidecar/child.hpp>

#include "support.hpp"

#include <asio/steady_timer.hpp>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;
using asio::use_awaitable;

TEST_CASE("request_exit (q) makes a running ffmpeg finish with 0", "[process][ffmpeg]") {
  auto st = run([]() -> awaitable<exit_status> {
    spawn_options o;
    o.program = "ffmpeg";
    o.args = strings("-hide_banner", "-nostats", "-re", "-f", "lavfi", "-i", "testsrc=size=64x64",
                     "-f", "null", "-");
    o.err = stdio::null();
    auto c = child::spawn(co_await asio::this_coro::executor, o);
    REQUIRE(c);
    asio::steady_timer t(co_await asio::this_coro::executor, 500ms);
    co_await t.async_wait(use_awaitable);
    CHECK(c->running());
    CHECK_FALSE(c->request_exit());
    co_return co_await c->async_wait(asio::use_awaitable);
  }());
  CHECK(st == exit_status::exited(0));
}

TEST_CASE("a dropped ffmpeg is asked to quit and reaped", "[process][ffmpeg]") {
  run([]() -> awaitable<void> {
    {
      spawn_options o;
      o.program = "ffmpeg";
      o.args = strings("-hide_banner", "-re", "-f", "lavfi", "-i", "testsrc=size=64x64", "-f",
                       "null", "-");
      auto c = child::spawn(co_await asio::this_coro::executor, o);
      REQUIRE(c);
    }
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (int i = 0; i < 200 && has_children(); ++i) {
      t.expires_after(10ms);
      co_await t.async_wait(use_awaitable);
    }
    CHECK_FALSE(has_children());
  }());
}
