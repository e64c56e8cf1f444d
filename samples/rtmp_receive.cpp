// ffmpeg as an RTMP server for one publisher (sidecar::rtmp_listen, `-listen 1`): one child
// listens on a free loopback port and records what it receives, a second child publishes
// 3 s of testsrc + a sine tone to it. Prints what was recorded.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/presets.hpp>
#include <sidecar/probe.hpp>

#include "nginx_rtmp_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_future.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// ffmpeg prints nothing when it starts to listen, and a test connection would be taken as
// its one publisher: so publish, and try again while the connection is refused.
asio::awaitable<sidecar::expected<sidecar::exit_status>> publish_when_listening(std::string url) {
  auto ex = co_await asio::this_coro::executor;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    sidecar::command c;
    c.hide_banner()
        .format("lavfi").input("testsrc=size=640x360:rate=25")
        .format("lavfi").input("sine=frequency=440:sample_rate=44100")
        .duration("3");
    auto pub = sidecar::rtmp_push(c, url, {.gop = 25}).spawn(ex);
    if (!pub) co_return tl::unexpected(pub.error());
    auto st = co_await pub->wait();
    if (st || std::chrono::steady_clock::now() > deadline ||
        st.error().message().find("Connection refused") == std::string::npos)
      co_return st;
    asio::steady_timer pause(ex, 100ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<int> receive(fs::path dir) {
  auto ex = co_await asio::this_coro::executor;
  auto port = sidecar_samples::free_loopback_port(ex);
  if (!port) {
    std::cerr << "rtmp_receive: " << port.error().message() << '\n';
    co_return 1;
  }
  auto url = "rtmp://127.0.0.1:" + std::to_string(*port) + "/live/x";
  auto file = dir / "received.flv";

  sidecar::command listen;
  listen.hide_banner();
  // Give up after 20 s without a publisher rather than wait for ever.
  sidecar::rtmp_listen(listen, url, {.timeout = 20s});
  listen.codec_video("copy").codec_audio("copy").output(file.string());
  auto server = listen.spawn(ex);
  if (!server) {
    std::cerr << "rtmp_receive: " << server.error().message() << '\n';
    co_return 1;
  }
  auto sent = co_await publish_when_listening(url);
  // The listener's input ends when its publisher disconnects; then it finishes the file.
  auto got = co_await server->wait();
  if (!sent || !got) {
    std::cerr << "rtmp_receive: " << (!sent ? sent.error() : got.error()).message() << '\n';
    co_return 1;
  }
  auto m = co_await sidecar::probe(file.string());
  if (!m) {
    std::cerr << "rtmp_receive: " << m.error().message() << '\n';
    co_return 1;
  }
  std::string codecs;
  for (const auto& s : m->streams) codecs += (codecs.empty() ? "" : " + ") + s.codec;
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.2f",
                static_cast<double>(m->duration.value_or(std::chrono::microseconds{0}).count()) /
                    1e6);
  std::cout << "rtmp_receive: recorded " << duration << " s (" << codecs << "), "
            << fs::file_size(file) << " bytes, from a publisher on " << url << '\n';
  co_return m->first("video") && m->first("audio") ? 0 : 1;
}

} // namespace

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-rtmp-receive-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  int rc = 1;
  {
    asio::io_context ctx;
    auto result = asio::co_spawn(ctx, receive(fs::path(dir)), asio::use_future);
    ctx.run();
    rc = result.get();
  }
  fs::remove_all(dir);
  return rc;
}
