// Test helpers: drive a coroutine under a time limit, count fds and children, temp dirs.
#pragma once

#include "catch.hpp"

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace sidecar::test {

using namespace std::chrono_literals;

// Runs the coroutine on its own io_context. A hang fails the test instead of freezing the
// suite: past the limit the context is destroyed, which ends every child it still owns.
template <class T> T run(asio::awaitable<T> aw, std::chrono::steady_clock::duration limit = 30s) {
  std::future<T> result;
  {
    asio::io_context ctx;
    result = asio::co_spawn(ctx, std::move(aw), asio::use_future);
    ctx.run_for(limit);
    // use_future hands the result over on Asio's system executor (another thread): give it
    // a moment after the context ran out of work.
    if (result.wait_for(2s) != std::future_status::ready) {
      FAIL("coroutine did not finish within "
           << std::chrono::duration_cast<std::chrono::milliseconds>(limit).count() << " ms");
    }
  }
  return result.get();
}

// A list of strings. g++ 12 rejects a braced list of string literals inside a coroutine
// ("array used as initializer"), so coroutines build their argument lists through this.
template <class... A> std::vector<std::string> strings(A&&... a) {
  return std::vector<std::string>{std::string(std::forward<A>(a))...};
}

// Entries in /proc/self/fd, less the one opendir itself uses.
inline std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n - 1;
}

// True when this process has any child, running or zombie.
inline bool has_children() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

// Waits d on the coroutine's executor. Only for pacing (a retry's backoff, a producer's
// rate): to wait for something to happen, wait for that (an event, async_wait_reaped).
// Reads a stream to its end (or first error) and returns what came.
template <class Stream> asio::awaitable<std::string> read_text(Stream& s) {
  std::string out;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf),
                                              asio::experimental::as_tuple(asio::use_awaitable));
    out.append(buf.data(), n);
    if (ec) break;
  }
  co_return out;
}

inline asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// ASan's quarantine keeps freed memory resident (256 MiB by default): an RSS bound says
// nothing under it (LeakSanitizer checks leaks at exit instead). g++ says ASan with
// __SANITIZE_ADDRESS__, clang with __has_feature.
#if !defined(SIDECAR_TEST_ASAN) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIDECAR_TEST_ASAN 1
#endif
#endif
#if !defined(SIDECAR_TEST_ASAN) && defined(__SANITIZE_ADDRESS__)
#define SIDECAR_TEST_ASAN 1
#endif
#if defined(SIDECAR_TEST_ASAN)
inline constexpr bool rss_is_meaningful = false;
#else
inline constexpr bool rss_is_meaningful = true;
#endif

// This process's resident set, in KiB (VmRSS of /proc/self/status).
inline std::size_t rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      std::size_t v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

// A private temp dir, removed with everything in it.
class temp_dir {
public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sidecar-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
  std::filesystem::path path_;
};

// The source tree, for fixtures.
inline std::filesystem::path source_root() {
  const char* root = std::getenv("SIDECAR_SOURCE_ROOT");
  return root ? std::filesystem::path(root) : std::filesystem::current_path();
}

} // namespace sidecar::test
