// One io_context run by several threads: each sidecar object is used from one strand (its
// coroutine spawned on asio::make_strand(ctx)), and then every coroutine finishes, the reaper
// works across threads, and no child or fd is left. .ci/tsan runs this under ThreadSanitizer.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/with_timeout.hpp>

#include "support.hpp"

#include <asio/strand.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

constexpr int threads = 4;

struct tally {
  int finished = 0; // coroutines that completed (returned or threw)
  int good = 0;     // ... and returned true
  std::chrono::milliseconds took{};
};

// Spawns make(i) for i in [0, n), each on a strand of its own, on one io_context run by
// `threads` threads until the work is done or `limit` has passed; then destroys the context
// (which ends every child it still owns). A hang fails the count rather than the suite.
// Catch2 is not thread-safe: the handlers only count.
// When some coroutine has not finished by then, `stuck` runs after the threads stopped and
// before the context is destroyed (its children still run): to say where they hang.
template <class Make>
tally run_on_strands(int n, std::chrono::seconds limit, Make make,
                     const std::function<void()>& stuck = {}) {
  std::atomic<int> finished{0}, good{0};
  const auto start = std::chrono::steady_clock::now();
  {
    asio::io_context ctx(threads);
    for (int i = 0; i < n; ++i)
      asio::co_spawn(asio::make_strand(ctx), make(i), [&](std::exception_ptr e, bool ok) {
        good += !e && ok;
        ++finished;
      });
    const auto deadline = start + limit;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&] { ctx.run_until(deadline); });
    for (auto& t : pool)
      t.join();
    if (finished.load() < n && stuck) stuck();
  }
  return {finished.load(), good.load(),
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                start)};
}

// A short real ffmpeg: `count` small rgb24 frames of testsrc on stdout.
command short_frames(std::uint64_t count) {
  return command{}.format("lavfi").input("testsrc=size=64x48:rate=25").frames(count).rawvideo();
}

// An endless one: frames as fast as the reader takes them.
command endless_frames() {
  return command{}.format("lavfi").input("testsrc=size=64x48:rate=25").rawvideo();
}

// Reads every frame of a short run on the coroutine's strand, then waits for the exit.
awaitable<bool> pull_all(std::uint64_t count) {
  auto ff = short_frames(count).spawn(co_await asio::this_coro::executor);
  if (!ff) co_return false;
  std::uint64_t frames = 0;
  for (;;) {
    auto f = co_await ff->next_frame();
    if (!f) break;
    if (f->width != 64 || f->height != 48 || f->data().size() != 64 * 48 * 3) co_return false;
    ++frames;
  }
  auto st = co_await ff->wait();
  co_return st&& frames == count;
}

// Reads a few frames of an endless run and drops the child: the reaper of the context stops
// and reaps it (on the strand it was spawned on); then waits until the reaper holds none.
awaitable<bool> drop_midway() {
  auto ex = co_await asio::this_coro::executor;
  {
    auto ff = endless_frames().spawn(ex);
    if (!ff) co_return false;
    for (int i = 0; i < 3; ++i) {
      auto f = co_await ff->next_frame();
      if (!f) co_return false;
    }
  } // dropped while it runs
  co_await async_wait_reaped(ex, asio::use_awaitable);
  co_return true;
}

// Cancels the wait of an endless run (total: `q`): ffmpeg finishes, is reaped, and the wait
// says timed_out.
awaitable<bool> time_out() {
  auto ff = endless_frames().spawn(co_await asio::this_coro::executor);
  if (!ff) co_return false;
  auto st = co_await with_timeout(ff->wait(), std::chrono::milliseconds(300));
  co_return !st && st.error() == errc::timed_out;
}

} // namespace

TEST_CASE("40 frame loops, each on its own strand, on one io_context run by 4 threads all "
          "finish; no child, no fd left",
          "[threads]") {
  const auto fds_before = open_fds();
  const int n = 40;
  auto t = run_on_strands(n, std::chrono::seconds(120),
                          [](int i) { return pull_all(10 + static_cast<std::uint64_t>(i % 16)); });
  std::cout << "threads: " << t.finished << "/" << n << " frame loops finished, " << t.good
            << " read every frame and exited 0, in " << t.took.count() << " ms on " << threads
            << " threads\n";
  CHECK(t.finished == n);
  CHECK(t.good == n);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == fds_before);
}

// (No ": " in these names: Catch2 v2 indents the rest of a name past it when it reports a
// failure, and asserts when that indent passes its console width.)
TEST_CASE("children pulled, dropped mid-stream and timed out on strands across 4 threads; the "
          "reaper stops and reaps them all, async_wait_reaped completes, no child, no fd left",
          "[threads]") {
  const auto fds_before = open_fds();
  const int n = 24;
  auto t = run_on_strands(n, std::chrono::seconds(120), [](int i) -> awaitable<bool> {
    switch (i % 3) {
    case 0:
      return pull_all(12);
    case 1:
      return drop_midway();
    default:
      return time_out();
    }
  });
  std::cout << "threads: " << t.finished << "/" << n << " pulled/dropped/timed-out children done, "
            << t.good << " as expected, in " << t.took.count() << " ms\n";
  CHECK(t.finished == n);
  CHECK(t.good == n);
  // The context is gone: whatever it still held was killed and reaped by then; with every
  // coroutine finished, that was nothing (each dropped child awaited async_wait_reaped).
  CHECK_FALSE(has_children());
  CHECK(open_fds() == fds_before);
}

// What /proc says of a process and its threads: state and where each waits (for a hang).
std::string proc_state(pid_t pid) {
  std::ostringstream out;
  auto first_line = [](const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  };
  out << "pid " << pid << ": " << first_line("/proc/" + std::to_string(pid) + "/stat") << "\n";
  std::error_code ec;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
    out << "  task " << t.path().filename().string() << " wchan "
        << first_line(t.path().string() + "/wchan") << " stat "
        << first_line(t.path().string() + "/stat") << "\n";
  return out.str();
}

TEST_CASE("async_wait_reaped on one strand while children are dropped on others completes "
          "once the last is reaped",
          "[threads]") {
  const auto fds_before = open_fds();
  std::atomic<int> dropped{0};
  const int droppers = 8;
  // Where each coroutine is, for a hang's report: 0 started, 1 spawned, 2 got its frame,
  // 3 dropped it; the watcher: 4 polling, 5 awaiting the reaper, 6 done.
  std::array<std::atomic<int>, droppers + 1> phase{};
  std::array<std::atomic<pid_t>, droppers> pids{};
  std::array<std::atomic<ffmpeg_child*>, droppers> children{};
  auto t = run_on_strands(
      droppers + 1, std::chrono::seconds(120),
      [&](int i) -> awaitable<bool> {
        auto ex = co_await asio::this_coro::executor;
        if (i == droppers) {
          // The watcher: polls (paced) a counter the other threads bump — no sidecar object to
          // wait on for that — then waits for the reaper while its ladders run on other threads.
          phase[i] = 4;
          while (dropped.load() < droppers)
            co_await sleep_for(std::chrono::milliseconds(10));
          phase[i] = 5;
          co_await async_wait_reaped(ex, asio::use_awaitable);
          phase[i] = 6;
          co_return !has_children();
        }
        bool got = false;
        {
          auto ff = endless_frames().spawn(ex);
          if (!ff) co_return false;
          pids[i] = ff->id();
          children[i] = &*ff;
          phase[i] = 1;
          got = (co_await ff->next_frame()).has_value();
          phase[i] = 2;
          children[i] = nullptr;
        } // dropped while it runs: adopted by the reaper
        phase[i] = 3;
        ++dropped;
        co_return got;
      },
      [&] {
        // Every thread has stopped: the stuck children's objects may be read here.
        std::string report;
        for (int i = 0; i <= droppers; ++i)
          report += "coroutine " + std::to_string(i) + " phase " + std::to_string(phase[i]) + "\n";
        for (int i = 0; i < droppers; ++i) {
          if (phase[i] != 1) continue;
          report += proc_state(pids[i]);
          if (auto* ff = children[i].load()) {
            report += "  its command: " + ff->command_line() + "\n";
            for (const auto& l : ff->error_lines())
              report += "  stderr: " + l + "\n";
          }
        }
        std::cout << "threads: stuck:\n" << report;
      });
  CHECK(t.finished == droppers + 1);
  CHECK(t.good == droppers + 1);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == fds_before);
}
