// Faults from outside: a player killed while relaying. (An HLS output on a full file system
// is full_disk_test.cpp: it may have to skip, and a skip is the whole program's exit code.)
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/ffplay.hpp>
#include <sidecar/relay.hpp>

#include "support.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <csignal>

using namespace sidecar;
using namespace sidecar::test;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;

TEST_CASE("ffplay killed while relaying: the relay fails, nothing hangs", "[fault]") {
  auto before = open_fds();
  run(
      []() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto ff = command{}
                      .realtime()
                      .format("lavfi")
                      .input("testsrc=size=160x120:rate=25")
                      .codec_video("mpeg4")
                      .format("matroska")
                      .output("-")
                      .spawn(ex);
        REQUIRE(ff);
        auto player = ffplay(ex, {.format = "matroska", .headless = true});
        REQUIRE(player);
        auto killer = [&]() -> awaitable<void> {
          asio::steady_timer t(ex, 700ms);
          co_await t.async_wait(asio::use_awaitable);
          ::kill(player->id(), SIGKILL);
        };
        auto moved = co_await (relay(ff->take_stdout(), player->stdin_pipe()) && killer());
        REQUIRE_FALSE(moved);
        CHECK(moved.error().code().value() == EPIPE);
        auto played = co_await player->wait();
        REQUIRE_FALSE(played);
        CHECK(played.error().status()->signal == SIGKILL);
        ff->process().stdout_pipe().close(); // the producer gets EPIPE and stops
        auto st = co_await ff->wait();
        CHECK_FALSE(st);
      }(),
      30s);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}
