// Cancellation and faults, end to end: every case ends with a clear result, a reaped child,
// no fd left open, and — when ffmpeg was asked to quit — a file that still plays.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/probe.hpp>
#include <sidecar/with_timeout.hpp>

#include "support.hpp"

#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <csignal>
#include <optional>

using namespace sidecar;
using namespace sidecar::test;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;

namespace {

// An endless realtime encode to an mp4 file: only a clean quit writes its index (moov).
command endless_mp4(const std::filesystem::path& out) {
  command c;
  c.realtime()
      .format("lavfi")
      .input("testsrc=size=160x120:rate=25")
      .codec_video("libx264")
      .preset("ultrafast")
      .pix_fmt("yuv420p")
      .overwrite()
      .output(out.string());
  return c;
}

} // namespace

TEST_CASE("with_timeout: total cancellation asks ffmpeg to quit; the file plays", "[cancel]") {
  temp_dir dir;
  auto out = dir / "quit.mp4";
  auto before = open_fds();
  auto r = run([](std::filesystem::path out)
                   -> awaitable<std::pair<expected<exit_status>, expected<media_info>>> {
    auto ff = endless_mp4(out).spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto st = co_await with_timeout(ff->wait(), 1500ms);
    auto info = co_await probe(out.string());
    co_return std::pair{st, info};
  }(out));
  REQUIRE_FALSE(r.first);
  CHECK(r.first.error() == errc::timed_out);
  REQUIRE(r.first.error().status());
  CHECK(r.first.error().status()->success()); // `q`: ffmpeg finished normally
  CHECK(r.first.error().message().find("asked to quit") != std::string::npos);
  REQUIRE(r.second); // the mp4 has its index: ffprobe reads it
  REQUIRE(r.second->duration);
  CHECK(r.second->duration->count() > 500000);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("partial cancellation sends SIGTERM, terminal sends SIGKILL", "[cancel]") {
  temp_dir dir;
  auto before = open_fds();
  auto r = run([](std::filesystem::path d)
                   -> awaitable<std::pair<expected<exit_status>, expected<exit_status>>> {
    auto ex = co_await asio::this_coro::executor;
    auto a = endless_mp4(d / "term.mp4").spawn(ex);
    auto b = endless_mp4(d / "kill.mp4").spawn(ex);
    REQUIRE(a);
    REQUIRE(b);
    auto term = co_await with_timeout(a->wait(), 800ms, asio::cancellation_type::partial);
    auto kill = co_await with_timeout(b->wait(), 800ms, asio::cancellation_type::terminal);
    co_return std::pair{term, kill};
  }(dir.path()));
  REQUIRE_FALSE(r.first);
  CHECK(r.first.error().message().find("SIGTERM") != std::string::npos);
  REQUIRE(r.first.error().status());
  CHECK_FALSE(r.first.error().status()->success()); // ffmpeg exits 255 on SIGTERM
  REQUIRE_FALSE(r.second);
  REQUIRE(r.second.error().status());
  CHECK(r.second.error().status()->signal == SIGKILL);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("`wait() || timer`: the timer wins, the child quits and is reaped", "[cancel]") {
  temp_dir dir;
  auto out = dir / "or.mp4";
  auto idx = run([](std::filesystem::path out) -> awaitable<std::size_t> {
    auto ex = co_await asio::this_coro::executor;
    auto ff = endless_mp4(out).spawn(ex);
    REQUIRE(ff);
    asio::steady_timer t(ex, 1s);
    auto r = co_await (ff->wait() || t.async_wait(asio::use_awaitable));
    // || returns once the cancelled wait() has finished: the child is gone already.
    CHECK_FALSE(has_children());
    co_return r.index();
  }(out));
  CHECK(idx == 1);
  auto info = run(probe(out.string()));
  CHECK(info); // quit, not killed: the file is complete
}

TEST_CASE("io_context::stop() and the context's destruction leave no child", "[cancel]") {
  auto before = open_fds();
  {
    asio::io_context ctx;
    asio::co_spawn(
        ctx,
        []() -> awaitable<void> {
          auto ff = command{}
                        .format("lavfi")
                        .input("testsrc=size=64x48:rate=25")
                        .rawvideo()
                        .spawn(co_await asio::this_coro::executor);
          REQUIRE(ff);
          for (;;) {
            auto f = co_await ff->next_frame();
            if (!f) break;
          }
        },
        asio::detached);
    asio::steady_timer t(ctx, 300ms);
    t.async_wait([&](std::error_code) { ctx.stop(); });
    ctx.run();
    CHECK(has_children()); // stopped, not yet destroyed: the child still runs
  }
  CHECK_FALSE(has_children()); // the reaper killed and reaped it at shutdown
  CHECK(open_fds() == before);
}

TEST_CASE("a consumer that throws mid-frame-loop: the child is stopped and reaped", "[cancel]") {
  auto before = open_fds();
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    bool thrown = false;
    try {
      co_await [&]() -> awaitable<void> {
        auto ff =
            command{}.format("lavfi").input("testsrc=size=320x240:rate=25").rawvideo().spawn(ex);
        REQUIRE(ff);
        int n = 0;
        for (;;) {
          auto f = co_await ff->next_frame();
          if (!f) break;
          if (++n == 5) throw std::runtime_error("consumer failed");
        }
      }();
    } catch (const std::runtime_error&) {
      thrown = true;
    }
    CHECK(thrown);
    // The ladder: q, and stdout drained while it quits; then reaped.
    co_await async_wait_reaped(co_await asio::this_coro::executor, asio::use_awaitable);
    CHECK_FALSE(has_children());
  }());
  CHECK(open_fds() == before);
}

TEST_CASE("ffmpeg killed from outside mid-stream: an error event with the signal", "[fault]") {
  auto before = open_fds();
  run([]() -> awaitable<void> {
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=320x240:rate=25")
                  .rawvideo()
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    int frames = 0;
    std::optional<error> seen;
    for (;;) {
      auto e = co_await ff->next_event();
      if (!e) break;
      if (std::holds_alternative<frame>(*e) && ++frames == 3) ::kill(ff->id(), SIGKILL);
      if (auto* x = std::get_if<error_event>(&*e)) seen = x->error;
    }
    REQUIRE(seen);
    REQUIRE(seen->status());
    CHECK(seen->status()->signal == SIGKILL);
    auto st = co_await ff->wait();
    REQUIRE_FALSE(st);
    CHECK(st.error() == errc::process_failed);
  }());
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("an ffmpeg that hangs without output is ended by a timeout", "[fault]") {
  auto before = open_fds();
  std::optional<temp_dir> dir(std::in_place);
  auto fifo = *dir / "never";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto r = run(
      [](std::filesystem::path fifo) -> awaitable<std::pair<expected<exit_status>, double>> {
        auto ff = command{}
                      .input(fifo.string())
                      .format("null")
                      .output("-")
                      .spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        ff->process().set_ladder({std::chrono::milliseconds(300), std::chrono::milliseconds(300)});
        auto t0 = std::chrono::steady_clock::now();
        auto st = co_await with_timeout(ff->wait(), 500ms);
        co_return std::pair{
            st, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
      }(fifo),
      20s);
  REQUIRE_FALSE(r.first);
  CHECK(r.first.error() == errc::timed_out);
  CHECK(r.second < 5.0); // quit ignored (blocked in open), SIGTERM, SIGKILL: ladder, no hang
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
  // The FIFO ffmpeg was stuck on goes with its dir: nothing in /tmp stays.
  auto path = dir->path();
  dir.reset();
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a grandchild holding the pipes cannot make a timed-out wait() hang", "[cancel]") {
  // A wrapper that leaves a child of its own behind, holding stdout and stderr, and exits 0:
  // the stream never reaches its end by itself. The timeout's stop must still end it.
  temp_dir dir;
  auto fake = dir / "ffmpeg";
  {
    std::ofstream script(fake);
    script << "#!/bin/sh\nsleep 120 &\necho started >&2\nexit 0\n";
  }
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  const char* old = std::getenv("SIDECAR_FFMPEG");
  std::string saved = old ? old : "";
  ::setenv("SIDECAR_FFMPEG", fake.c_str(), 1);
  auto before = open_fds();
  auto [status, seconds] = run([]() -> awaitable<std::pair<expected<exit_status>, double>> {
    auto ff = command{}.format("lavfi").input("testsrc").format("null").output("-").spawn(
        co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto t0 = std::chrono::steady_clock::now();
    auto st = co_await with_timeout(ff->wait(), 2s);
    co_return std::pair{
        std::move(st),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  }());
  if (old)
    ::setenv("SIDECAR_FFMPEG", saved.c_str(), 1);
  else
    ::unsetenv("SIDECAR_FFMPEG");
  REQUIRE_FALSE(status);
  INFO(status.error().message());
  CHECK((status.error() == errc::timed_out || status.error() == errc::cancelled));
  CHECK(seconds < 10.0);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}
