// Pipelines end together: a failing stage cancels the others, every child is stopped and
// reaped, every fd closed.
#include <sidecar/pipeline.hpp>
#include <sidecar/relay.hpp>
#include <sidecar/ffmpeg_child.hpp>

#include "support.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

using namespace sidecar;
using namespace sidecar::test;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;

namespace {

// Follows a child's progress to its end; an endless child never ends it.
awaitable<expected<std::uint64_t>> watch(ffmpeg_child& ff) {
  std::uint64_t frames = 0;
  for (;;) {
    auto p = co_await ff.next_progress();
    if (!p) break;
    frames = p->frame.value_or(frames);
  }
  co_return frames;
}

} // namespace

TEST_CASE("a failing relay cancels the other stages; children are stopped and reaped",
          "[pipeline]") {
  auto before = open_fds();
  auto r = run(
      []() -> awaitable<std::pair<expected<void>, double>> {
        auto ex = co_await asio::this_coro::executor;
        auto started = std::chrono::steady_clock::now();
        expected<void> result;
        {
          // An endless realtime producer, and a consumer that leaves after 5 frames.
          auto producer = command{}
                              .realtime()
                              .format("lavfi").input("testsrc=size=64x48:rate=25")
                              .rawvideo()
                              .spawn(ex);
          auto consumer = command{}
                              .format("rawvideo").pix_fmt("rgb24").size(64, 48).input("-")
                              .frames(5).format("null").output("-")
                              .spawn(ex);
          REQUIRE(producer);
          REQUIRE(consumer);
          auto& out = producer->take_stdout();
          auto r = co_await pipeline(must(relay(out, consumer->stdin_pipe())) &&
                                     must(watch(*producer)));
          if (!r) result = tl::unexpected(r.error());
          // Leaving the scope drops both children: the ladder stops the producer.
        }
        asio::steady_timer t(ex, 1500ms);
        co_await t.async_wait(asio::use_awaitable);
        CHECK_FALSE(has_children()); // reaped by the reaper service, not by the context's end
        co_return std::pair{result, std::chrono::duration<double>(
                                        std::chrono::steady_clock::now() - started).count()};
      }(),
      30s);
  REQUIRE_FALSE(r.first);
  CHECK(r.first.error().code().value() == EPIPE);
  CHECK(r.first.error().message().find("relay") != std::string::npos);
  CHECK(r.second < 10.0);
  CHECK(open_fds() == before);
}

TEST_CASE("a pipeline whose stages all succeed gives their results", "[pipeline]") {
  auto r = run([]() -> awaitable<expected<std::tuple<std::uint64_t, std::uint64_t>>> {
    auto ex = co_await asio::this_coro::executor;
    auto producer = command{}.format("lavfi").input("testsrc=size=64x48:rate=25")
                        .frames(20).rawvideo().spawn(ex);
    auto consumer = command{}.format("rawvideo").pix_fmt("rgb24").size(64, 48).input("-")
                        .format("null").output("-").spawn(ex);
    REQUIRE(producer);
    REQUIRE(consumer);
    auto& out = producer->take_stdout();
    co_return co_await pipeline(must(relay(out, consumer->stdin_pipe())) &&
                                must(watch(*consumer)));
  }());
  REQUIRE(r);
  CHECK(std::get<0>(*r) == 20u * 64 * 48 * 3);
  CHECK(std::get<1>(*r) == 20);
}
