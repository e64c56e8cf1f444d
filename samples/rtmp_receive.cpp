// ffmpeg as an RTMP server for one publisher (command::rtmp_listen, `-listen 1`): one child
// listens on a free loopback port and records what it receives; once it listens
// (wait_listening, which never connects: the server takes one client only), a second child
// publishes 3 s of testsrc + a sine tone to it. Prints what was recorded.
#include <sidecar/sidecar.hpp>

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sidecar::unexpected;

asio::awaitable<sidecar::expected<std::string>> receive(fs::path dir) {
  auto ex = co_await asio::this_coro::executor;
  auto port = sidecar::free_loopback_port();
  if (!port) co_return unexpected(port.error());
  auto url = "rtmp://127.0.0.1:" + std::to_string(*port) + "/live/x";
  auto file = (dir / "received.flv").string();
  auto server = sidecar::command{}
                    .hide_banner()
                    .rtmp_listen(url, {.timeout = 20s}) // no publisher for 20 s: give up
                    .codec_video("copy")
                    .codec_audio("copy")
                    .output(file)
                    .spawn(ex);
  if (!server) co_return unexpected(server.error());
  if (auto ready = co_await sidecar::wait_listening(server->id(), *port, 10s); !ready)
    co_return unexpected(ready.error());
  auto pub = sidecar::command{}
                 .hide_banner()
                 .format("lavfi")
                 .input("testsrc=size=640x360:rate=25")
                 .format("lavfi")
                 .input("sine=frequency=440:sample_rate=44100")
                 .duration("3")
                 .rtmp_push(url, {.gop = 25})
                 .spawn(ex);
  if (!pub) co_return unexpected(pub.error());
  // The server's input ends when its publisher disconnects; then it finishes the file.
  if (auto sent = co_await pub->wait(); !sent) co_return unexpected(sent.error());
  if (auto got = co_await server->wait(); !got) co_return unexpected(got.error());
  auto m = co_await sidecar::probe(file);
  if (!m) co_return unexpected(m.error());
  if (!m->first("video") || !m->first("audio"))
    co_return unexpected(sidecar::error(sidecar::errc::protocol, "recorded without A/V"));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      m->duration.value_or(std::chrono::microseconds{}));
  co_return "recorded " + std::to_string(ms.count()) + " ms (" + m->streams.at(0).codec + " + " +
      m->streams.at(1).codec + "), " + std::to_string(fs::file_size(file)) +
      " bytes, from a publisher on " + url;
}

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-rtmp-receive-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  auto r = sidecar::run_sync(receive(dir), std::chrono::seconds(60));
  fs::remove_all(dir);
  if (!r) {
    std::cerr << "rtmp_receive: " << r.error() << '\n';
    return 1;
  }
  std::cout << "rtmp_receive: " << *r << '\n';
}
