// Faults from outside: a player killed while relaying, an HLS output on a full file system.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/ffplay.hpp>
#include <sidecar/hls.hpp>
#include <sidecar/relay.hpp>

#include "support.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <csignal>
#include <cstring>
#include <iostream>

#include <sys/mount.h>

using namespace sidecar;
using namespace sidecar::test;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;

TEST_CASE("ffplay killed while relaying: the relay fails, nothing hangs", "[fault]") {
  auto before = open_fds();
  run(
      []() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto ff = command{}.realtime().format("lavfi").input("testsrc=size=160x120:rate=25")
                      .codec_video("mpeg4").format("matroska").output("-").spawn(ex);
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

TEST_CASE("an HLS output on a full file system: no hang, and check_hls says so", "[fault]") {
  temp_dir dir;
  auto mnt = dir / "small";
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    std::cout << "skipped: cannot mount a small tmpfs here (" << std::strerror(errno) << ")\n";
    SUCCEED("no tmpfs");
    return;
  }
  struct unmount {
    std::filesystem::path p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } guard{mnt};
  auto st = run(
      [](std::filesystem::path out) -> awaitable<expected<exit_status>> {
        auto ff = command{}
                      .format("lavfi").input("testsrc=size=640x360:rate=25:duration=20")
                      .codec_video("mpeg2video").arg("-b:v").arg("8M")
                      .format("hls").arg("-hls_time").arg("1").arg("-hls_list_size").arg("0")
                      .arg("-hls_segment_filename").arg((out / "seg%03d.ts").string())
                      .overwrite().output((out / "playlist.m3u8").string())
                      .spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        co_return co_await ff->wait();
      }(mnt),
      60s);
  // ffmpeg 5.1's HLS muxer ignores its write errors and exits 0 (seen here); whatever it
  // says, the files tell: check_hls() reads the playlist and the segments.
  if (!st) CHECK(st.error().message().find("No space left") != std::string::npos);
  auto hls = check_hls(mnt / "playlist.m3u8");
  REQUIRE_FALSE(hls);
  CHECK(hls.error() == errc::protocol);
  CHECK(hls.error().message().find("No space left on device") != std::string::npos);
  CHECK_FALSE(has_children());
}
