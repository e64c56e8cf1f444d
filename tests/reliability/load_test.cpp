// Leaks and load: 1000 spawn/cancel cycles leave fds, RSS and the process table as they were;
// 200 concurrent ffmpeg children on one thread all complete and are reaped.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/with_timeout.hpp>

#include "support.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

// How cycles ended that were not clean: their error, exit status or exception, counted.
std::map<std::string, int> unclean;

// One cycle: spawn, let it start, cancel the wait (total: `q`), reap. Clean: timed out, and
// the child quit on `q` with status 0. Its quit grace is long: 50 sanitizer-built helpers
// starting at once on 2 busy cores can take longer than the default 3 s to read `q`, and
// SIGTERM then is the ladder working, not a leak.
awaitable<bool> cycle() {
  auto ff = command{}.arg("quit-on-q").spawn(co_await asio::this_coro::executor);
  if (!ff) {
    ++unclean["spawn: " + ff.error().message()];
    co_return false;
  }
  ff->process().set_ladder({std::chrono::seconds(30), std::chrono::seconds(2)});
  auto st = co_await with_timeout(ff->wait(), std::chrono::milliseconds(20));
  const bool clean =
      !st && st.error() == errc::timed_out && st.error().status() && st.error().status()->success();
  if (!clean) ++unclean[st ? std::string("finished before the timeout") : st.error().message()];
  co_return clean;
}

awaitable<int> batch(int n) {
  auto ex = co_await asio::this_coro::executor;
  int ok = 0, done = 0;
  asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
  for (int i = 0; i < n; ++i)
    asio::co_spawn(ex, cycle(), [&](std::exception_ptr e, bool good) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          ++unclean[std::string("exception: ") + x.what()];
        }
      }
      ok += !e && good;
      if (++done == n) all_done.cancel();
    });
  co_await all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  co_return ok;
}

} // namespace

TEST_CASE("1000 spawn/cancel cycles: flat fds and RSS, no zombie", "[load]") {
  const char* helper = std::getenv("SIDECAR_TEST_HELPER");
  REQUIRE(helper);
  ::setenv("SIDECAR_FFMPEG", helper, 1); // a small child that quits on `q`, like ffmpeg
  struct unset {
    ~unset() { ::unsetenv("SIDECAR_FFMPEG"); }
  } restore;
  const auto fds_before = open_fds();
  std::size_t rss_warm = 0;
  int ok = 0;
  run(
      [&]() -> awaitable<void> {
        for (int b = 0; b < 20; ++b) { // 20 batches of 50 concurrent cycles
          ok += co_await batch(50);
          if (b == 1) rss_warm = rss_kib();
        }
      }(),
      120s);
  const auto rss_end = rss_kib();
  const auto fds_end = open_fds();
  std::cout << "load: 1000 cycles, " << ok << " clean; fds " << fds_before << " -> " << fds_end
            << "; RSS after 100 cycles " << rss_warm << " KiB, after 1000 " << rss_end << " KiB\n";
  for (const auto& [what, n] : unclean)
    std::cout << "load: not clean, " << n << "x: " << what << '\n';
  CHECK(ok == 1000);
  CHECK(fds_end == fds_before);
  if (!rss_is_meaningful) {
    // ASan's quarantine keeps freed memory resident (256 MiB by default), so RSS says nothing
    // here; LeakSanitizer checks for leaks at exit instead.
    std::cout << "load: RSS not checked under AddressSanitizer (LeakSanitizer checks leaks)\n";
  } else {
    CHECK(rss_end < rss_warm + 8 * 1024); // flat: no per-cycle growth
  }
  CHECK_FALSE(has_children());
}

TEST_CASE("200 concurrent ffmpeg children on one thread all complete and are reaped", "[load]") {
  const auto fds_before = open_fds();
  auto done = run(
      []() -> awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        int ok = 0, finished = 0;
        const int n = 200;
        asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
        for (int i = 0; i < n; ++i)
          asio::co_spawn(
              ex,
              []() -> awaitable<bool> {
                auto ff = command{}
                              .format("lavfi")
                              .input("nullsrc=s=16x16:d=1")
                              .format("null")
                              .output("-")
                              .spawn(co_await asio::this_coro::executor);
                if (!ff) co_return false;
                std::uint64_t frames = 0;
                for (;;) {
                  auto p = co_await ff->next_progress();
                  if (!p) break;
                  frames = p->frame.value_or(frames);
                }
                auto st = co_await ff->wait();
                co_return st&& frames == 25;
              }(),
              [&](std::exception_ptr e, bool good) {
                ok += !e && good;
                if (++finished == n) all_done.cancel();
              });
        co_await all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        co_return ok;
      }(),
      150s);
  CHECK(done == 200);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == fds_before);
}
