// The HLS preset against the real ffmpeg: segment count and lengths, the playlist's total
// duration, a sliding window, a '%' in the directory, and a directory that cannot be written.
#include <sidecar/presets.hpp>

#include "rtmp_support.hpp"

#include <fstream>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

TEST_CASE("hls_output writes a playlist of segments hls_time long", "[hls]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  run(
      [&]() -> awaitable<void> {
        command c;
        av_source(c, "6");
        hls_output(c, tmp.path(), {.segment_seconds = 2});
        auto ff = c.spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        auto st = co_await ff->wait();
        REQUIRE(st);

        auto playlist = tmp / "playlist.m3u8";
        REQUIRE(std::filesystem::exists(playlist));
        // 6 s cut every 2 s: keyframes are forced where each segment starts.
        auto segments = extinf_seconds(playlist);
        REQUIRE(segments.size() == 3);
        for (double s : segments)
          CHECK(s == Approx(2.0).margin(0.05));
        for (auto name : {"segment000.ts", "segment001.ts", "segment002.ts"})
          CHECK(std::filesystem::file_size(tmp / name) > 0);
        std::ifstream in(playlist);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(text.find("#EXT-X-ENDLIST") != std::string::npos);

        auto m = co_await inspect(playlist);
        REQUIRE(m);
        CHECK(m->video == 1);
        CHECK(m->audio == 1);
        CHECK(m->codecs == strings("h264", "aac"));
        CHECK(m->seconds == Approx(6.0).margin(0.1));
      }(),
      60s);
  guard.check();
}

TEST_CASE("hls_output with list_size keeps a sliding window", "[hls]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  run(
      [&]() -> awaitable<void> {
        command c;
        av_source(c, "8");
        hls_output(c, tmp.path(), {.segment_seconds = 2, .list_size = 2, .playlist = "live.m3u8"});
        auto ff = c.spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        {
          auto done_ = co_await ff->wait();
          REQUIRE(done_);
        }
        auto segments = extinf_seconds(tmp / "live.m3u8");
        CHECK(segments.size() == 2);
        // Older segments leave the playlist, not the disk (no delete_segments flag).
        CHECK(std::filesystem::exists(tmp / "segment000.ts"));
        CHECK(std::filesystem::exists(tmp / "segment003.ts"));
      }(),
      60s);
  guard.check();
}

TEST_CASE("hls_output into a directory with a '%' in its name", "[hls]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  auto dir = tmp / "100% live";
  std::filesystem::create_directory(dir);
  run(
      [&]() -> awaitable<void> {
        command c;
        av_source(c, "2");
        hls_output(c, dir, {.segment_seconds = 1});
        auto ff = c.spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        {
          auto done_ = co_await ff->wait();
          REQUIRE(done_);
        }
      }(),
      60s);
  CHECK(std::filesystem::exists(dir / "playlist.m3u8"));
  CHECK(std::filesystem::exists(dir / "segment000.ts"));
  CHECK(std::filesystem::exists(dir / "segment001.ts"));
  guard.check();
}

TEST_CASE("an HLS directory that cannot be written: a clear error, no hang", "[hls]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  { std::ofstream(tmp / "file") << "a regular file, not a directory\n"; }
  auto started = std::chrono::steady_clock::now();
  run(
      [&]() -> awaitable<void> {
        command c;
        av_source(c, "4");
        hls_output(c, tmp / "file" / "hls", {.segment_seconds = 2});
        auto ff = c.spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        auto st = co_await ff->wait();
        REQUIRE_FALSE(st);
        CHECK(st.error() == errc::process_failed);
        REQUIRE(st.error().status());
        CHECK_FALSE(st.error().status()->success());
        auto msg = st.error().message();
        CHECK(msg.find("Not a directory") != std::string::npos);
        CHECK(msg.find("segment000.ts") != std::string::npos);
      }(),
      30s);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  guard.check();
}
