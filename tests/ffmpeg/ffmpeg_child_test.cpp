// ffmpeg_child with the real ffmpeg: success, failures with ffmpeg's own lines, the guards.
#include <sidecar/ffmpeg_child.hpp>

#include "support.hpp"

#include <asio/steady_timer.hpp>

#include <fstream>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

awaitable<expected<exit_status>> run_command(command cmd) {
  auto ff = cmd.spawn(co_await asio::this_coro::executor);
  REQUIRE(ff);
  co_return co_await ff->wait();
}

bool any_line_has(const std::vector<std::string>& lines, std::string_view text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

} // namespace

TEST_CASE("a short ffmpeg run exits 0", "[ffmpeg]") {
  auto st = run(run_command(
      command{}.hide_banner().testsrc().frames(5).format("null").output("-")));
  REQUIRE(st);
  CHECK(st->success());
}

TEST_CASE("a missing input gives the exit status and ffmpeg's error lines", "[ffmpeg]") {
  auto st = run(run_command(command{}.input("/nonexistent/input.mp4").format("null").output("-")));
  REQUIRE_FALSE(st);
  CHECK(st.error() == errc::process_failed);
  REQUIRE(st.error().status());
  CHECK(st.error().status()->code == 1);
  CHECK(any_line_has(st.error().lines(), "No such file or directory"));
  CHECK(st.error().message().find("ffmpeg failed (exit code 1)") == 0);
  CHECK(st.error().message().find("/nonexistent/input.mp4") != std::string::npos);
}

TEST_CASE("an unknown encoder and an invalid filter fail with the reason", "[ffmpeg]") {
  auto st = run(run_command(
      command{}.testsrc().frames(1).codec_video("no_such_codec").format("null").output("-")));
  REQUIRE_FALSE(st);
  CHECK(any_line_has(st.error().lines(), "no_such_codec"));
  st = run(run_command(
      command{}.testsrc().frames(1).filter("no_such_filter=1").format("null").output("-")));
  REQUIRE_FALSE(st);
  CHECK(any_line_has(st.error().lines(), "no_such_filter"));
}

TEST_CASE("an existing output never hangs on the overwrite prompt", "[ffmpeg]") {
  temp_dir dir;
  auto out = dir / "exists.nut";
  std::ofstream(out) << "x";
  // No -y: the builder adds -n, ffmpeg refuses at once instead of asking on stdin.
  auto st = run(run_command(command{}.testsrc().frames(1).output(out.string())), 20s);
  REQUIRE_FALSE(st);
  CHECK(any_line_has(st.error().lines(), "already exists"));
  CHECK(std::filesystem::file_size(out) == 1);
  // With overwrite() it writes.
  st = run(run_command(command{}.overwrite().testsrc().frames(1).output(out.string())), 20s);
  REQUIRE(st);
  CHECK(std::filesystem::file_size(out) > 1);
}

TEST_CASE("quit() ends an endless ffmpeg cleanly; reading stdin, it closes stdin", "[ffmpeg]") {
  auto st = run([]() -> awaitable<expected<exit_status>> {
    auto ex = co_await asio::this_coro::executor;
    auto ff = command{}.realtime().format("lavfi").input("testsrc=size=64x64")
                  .format("null").output("-").spawn(ex);
    REQUIRE(ff);
    asio::steady_timer t(ex, 300ms);
    co_await t.async_wait(asio::use_awaitable);
    CHECK_FALSE(ff->quit());
    co_return co_await ff->wait();
  }());
  REQUIRE(st);
  CHECK(st->success());

  st = run([]() -> awaitable<expected<exit_status>> {
    auto ex = co_await asio::this_coro::executor;
    auto ff = command{}.format("s16le").arg("-ar").arg("8000").input("-")
                  .format("null").output("-").spawn(ex);
    REQUIRE(ff);
    CHECK_FALSE(ff->quit()); // input from stdin: no q in the data, end of input instead
    co_return co_await ff->wait();
  }());
  REQUIRE(st);
  CHECK(st->success());
}

TEST_CASE("the command line is kept for messages, secrets masked", "[ffmpeg]") {
  auto st = run([]() -> awaitable<expected<exit_status>> {
    auto ff = command{}.testsrc().frames(1).format("flv")
                  .output("rtmp://127.0.0.1:1/live/SECRETKEY")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    CHECK(ff->command_line().find("SECRETKEY") == std::string::npos);
    CHECK(ff->command_line().find("rtmp://127.0.0.1:1/live/") != std::string::npos);
    co_return co_await ff->wait();
  }());
  REQUIRE_FALSE(st); // nothing listens on port 1
  CHECK_FALSE(st.error().lines().empty());
  for (const auto& l : st.error().lines()) CHECK(l.find("SECRETKEY") == std::string::npos);
}
