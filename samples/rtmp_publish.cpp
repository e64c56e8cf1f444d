// Publishes 5 s of testsrc + a sine tone to an RTMP server with the guide's low-latency
// settings (sidecar::rtmp_push). `rtmp_publish URL` publishes there; with no URL it starts a
// private nginx-rtmp (samples/nginx_rtmp_server.hpp), publishes to it, and plays 2 s back
// from it to show that the stream went through. Exits 77 when nginx is not installed.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/presets.hpp>
#include <sidecar/probe.hpp>

#include "nginx_rtmp_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

namespace fs = std::filesystem;
using sidecar_samples::nginx_rtmp_server;

namespace {

// A player joining a second late waits up to a second for a keyframe: 5 s leaves its 2 s.
constexpr const char* seconds = "5";

sidecar::command publisher(const std::string& url) {
  sidecar::command c;
  c.hide_banner()
      .format("lavfi").input("testsrc=size=640x360:rate=25")
      .format("lavfi").input("sine=frequency=440:sample_rate=44100")
      .duration(seconds);
  // A keyframe every second, so a player that joins late starts within a second.
  return sidecar::rtmp_push(c, url, {.gop = 25});
}

// Publishes and reads progress as it goes; the number of frames sent.
asio::awaitable<sidecar::expected<std::uint64_t>> publish(sidecar::ffmpeg_child& pub) {
  std::uint64_t frames = 0;
  while (auto p = co_await pub.next_progress())
    if (p->frame) frames = *p->frame;
  auto st = co_await pub.wait();
  if (!st) co_return tl::unexpected(st.error());
  co_return frames;
}

asio::awaitable<int> to_url(std::string url) {
  auto pub = publisher(url).spawn(co_await asio::this_coro::executor);
  if (!pub) {
    std::cerr << "rtmp_publish: " << pub.error().message() << '\n';
    co_return 1;
  }
  auto frames = co_await publish(*pub);
  if (!frames) {
    std::cerr << "rtmp_publish: " << frames.error().message() << '\n';
    co_return 1;
  }
  std::cout << "rtmp_publish: sent " << *frames << " frames (" << seconds
            << " s of H.264 + AAC) to " << sidecar::mask_secrets(url) << '\n';
  co_return 0;
}

asio::awaitable<int> through_own_server(fs::path dir) {
  auto ex = co_await asio::this_coro::executor;
  auto srv = co_await nginx_rtmp_server::start();
  if (!srv) {
    bool missing = srv.error() == sidecar::errc::binary_not_found;
    std::cerr << "rtmp_publish: " << (missing ? "skipped: " : "") << srv.error().message() << '\n';
    co_return missing ? 77 : 1;
  }
  auto url = srv->url("stream");
  auto pub = publisher(url).spawn(ex);
  if (!pub) {
    std::cerr << "rtmp_publish: " << pub.error().message() << '\n';
    co_return 1;
  }
  // Once the publisher has sent its first frames, a player joins and records 2 s as sent.
  if (!co_await pub->next_progress()) {
    std::cerr << "rtmp_publish: the publisher ended before sending anything\n";
    co_return 1;
  }
  auto copy = dir / "played.flv";
  auto player = sidecar::command{}
                    .hide_banner()
                    .arg("-rw_timeout").arg("15000000") // no stream for 15 s: give up
                    .input(url).duration("2")
                    .codec_video("copy").codec_audio("copy").output(copy.string())
                    .spawn(ex);
  if (!player) {
    std::cerr << "rtmp_publish: " << player.error().message() << '\n';
    co_return 1;
  }
  auto played = co_await player->wait();
  auto frames = co_await publish(*pub);
  co_await srv->stop();
  if (!played || !frames) {
    std::cerr << "rtmp_publish: " << (!played ? played.error() : frames.error()).message()
              << '\n';
    co_return 1;
  }
  auto m = co_await sidecar::probe(copy.string());
  if (!m) {
    std::cerr << "rtmp_publish: " << m.error().message() << '\n';
    co_return 1;
  }
  std::string codecs;
  for (const auto& s : m->streams) codecs += (codecs.empty() ? "" : " + ") + s.codec;
  char played_s[32];
  std::snprintf(played_s, sizeof played_s, "%.2f",
                static_cast<double>(m->duration.value_or(std::chrono::microseconds{0}).count()) /
                    1e6);
  std::cout << "rtmp_publish: sent " << *frames << " frames to " << sidecar::mask_secrets(url)
            << " (a private nginx-rtmp), played " << played_s << " s back (" << codecs << ")\n";
  co_return m->first("video") && m->first("audio") ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  std::string dir = (fs::temp_directory_path() / "sidecar-rtmp-publish-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  int rc = 1;
  {
    asio::io_context ctx;
    auto result = asio::co_spawn(ctx, argc > 1 ? to_url(argv[1]) : through_own_server(dir),
                                 asio::use_future);
    ctx.run();
    rc = result.get();
  }
  fs::remove_all(dir);
  return rc;
}
