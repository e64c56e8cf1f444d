// Publishes 5 s of testsrc + a sine tone to an RTMP server with the guide's low-latency
// settings (command::rtmp_push). `rtmp_publish URL` publishes there; with no URL it starts a
// private nginx-rtmp (samples/nginx_rtmp_server.hpp), publishes to it, and plays 2 s back
// from it to show that the stream went through. Exits 77 when nginx is not installed.
#include <sidecar/sidecar.hpp>

#include "nginx_rtmp_server.hpp"

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;
using sidecar::unexpected;

namespace {

// 5 s with a keyframe every second: a player that joins late starts within a second.
sidecar::command publisher(const std::string& url) {
  return sidecar::command{}
      .hide_banner()
      .format("lavfi")
      .input("testsrc=size=640x360:rate=25")
      .format("lavfi")
      .input("sine=frequency=440:sample_rate=44100")
      .duration("5")
      .rtmp_push(url, {.gop = 25});
}

// Publishes to `url`, reading progress as it goes: the number of frames sent.
asio::awaitable<sidecar::expected<std::uint64_t>> publish(sidecar::ffmpeg_child& pub) {
  std::uint64_t frames = 0;
  while (auto p = co_await pub.next_progress())
    frames = p->frame.value_or(frames);
  if (auto st = co_await pub.wait(); !st) co_return unexpected(st.error());
  co_return frames;
}

asio::awaitable<sidecar::expected<std::string>> to_url(std::string url) {
  auto pub = publisher(url).spawn(co_await asio::this_coro::executor);
  if (!pub) co_return unexpected(pub.error());
  auto frames = co_await publish(*pub);
  if (!frames) co_return unexpected(frames.error());
  co_return "sent " + std::to_string(*frames) + " frames to " + sidecar::mask_secrets(url);
}

asio::awaitable<sidecar::expected<std::string>> through_own_server(fs::path dir) {
  auto ex = co_await asio::this_coro::executor;
  auto srv = co_await sidecar_samples::nginx_rtmp_server::start();
  if (!srv) co_return unexpected(srv.error());
  auto url = srv->url("stream");
  auto pub = publisher(url).spawn(ex);
  if (!pub) co_return unexpected(pub.error());
  // Once the publisher has sent its first frames, a player joins and records 2 s as sent.
  if (!co_await pub->next_progress())
    co_return unexpected(sidecar::error(sidecar::errc::protocol, "the publisher sent nothing"));
  auto copy = (dir / "played.flv").string();
  auto player = sidecar::command{}
                    .hide_banner()
                    .arg("-rw_timeout")
                    .arg("15000000") // no stream for 15 s: give up
                    .input(url)
                    .duration("2")
                    .codec_video("copy")
                    .codec_audio("copy")
                    .output(copy)
                    .spawn(ex);
  if (!player) co_return unexpected(player.error());
  auto played = co_await player->wait();
  auto frames = co_await publish(*pub);
  co_await srv->stop();
  if (!played || !frames) co_return unexpected(!played ? played.error() : frames.error());
  auto m = co_await sidecar::probe(copy);
  if (!m) co_return unexpected(m.error());
  if (!m->first("video") || !m->first("audio"))
    co_return unexpected(sidecar::error(sidecar::errc::protocol, "played back without A/V"));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      m->duration.value_or(std::chrono::microseconds{}));
  co_return "sent " + std::to_string(*frames) + " frames to a private nginx-rtmp, played " +
      std::to_string(ms.count()) + " ms back (" + m->streams.at(0).codec + " + " +
      m->streams.at(1).codec + ")";
}

} // namespace

int main(int argc, char** argv) {
  std::string dir = (fs::temp_directory_path() / "sidecar-rtmp-publish-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  auto r = sidecar::run_sync(argc > 1 ? to_url(argv[1]) : through_own_server(dir),
                             std::chrono::seconds(90));
  fs::remove_all(dir);
  if (!r) { // 77: nginx is not installed (the test harness's "skipped")
    bool skipped = r.error() == sidecar::errc::binary_not_found;
    std::cerr << "rtmp_publish: " << (skipped ? "skipped: " : "") << r.error() << '\n';
    return skipped ? 77 : 1;
  }
  std::cout << "rtmp_publish: " << *r << '\n';
}
