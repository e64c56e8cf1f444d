// Shared by the rtmp suite: lavfi sources, a publisher, a sleep, a playlist reader, and the
// after-test check that nothing is left behind (children, fds, temp dirs).
#pragma once

#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/presets.hpp>
#include <sidecar/probe.hpp>

#include "../../samples/nginx_rtmp_server.hpp"
#include "support.hpp"

#include <asio/steady_timer.hpp>

#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace sidecar::test {

using sidecar_samples::free_loopback_port;

// What a recording holds, in brief, from sidecar::probe (ffprobe).
struct recording {
  int video = 0;
  int audio = 0;
  std::vector<std::string> codecs; // in stream order
  double seconds = 0;              // the container's duration
  std::uint64_t bytes = 0;         // 0 when ffprobe does not know
};

inline asio::awaitable<expected<recording>> inspect(std::filesystem::path file) {
  auto info = co_await probe(file.string());
  if (!info) co_return tl::unexpected(info.error());
  recording r;
  for (const auto& s : info->streams) {
    r.video += s.type == "video";
    r.audio += s.type == "audio";
    r.codecs.push_back(s.codec);
  }
  if (info->duration) r.seconds = static_cast<double>(info->duration->count()) / 1e6;
  r.bytes = info->size.value_or(0);
  co_return r;
}

// Waits until nginx's error log (info level) has a line containing `text` — the
// "publish: name='x'" or "play: name='x'" it writes as a client starts — polling it as the
// only place nginx tells; false when `limit` passes first.
template <class Server> // nginx_rtmp_server, from samples/
asio::awaitable<bool> logged(const Server& srv, std::string text,
                             std::chrono::steady_clock::duration limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (srv.error_log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    co_await sleep_for(20ms);
  }
  co_return true;
}

// testsrc (320x240, 25 fps) and a 440 Hz sine as two lavfi inputs, `seconds` long.
inline command& av_source(command& c, const std::string& seconds) {
  return c.hide_banner()
      .format("lavfi")
      .input("testsrc=size=320x240:rate=25")
      .format("lavfi")
      .input("sine=frequency=440:sample_rate=44100")
      .duration(seconds);
}

// Publishes the test source to `url` in real time, a keyframe every second (-g 25).
inline command publisher(const std::string& url, const std::string& seconds) {
  command c;
  av_source(c, seconds);
  rtmp_push(c, url, {.gop = 25});
  return c;
}

// Plays `url` and records `seconds` of it, as sent (-c copy). -rw_timeout: a stream that
// never comes fails the player after 15 s of silence instead of holding it for ever.
inline command recorder(const std::string& url, const std::string& seconds,
                        const std::filesystem::path& out) {
  command c;
  c.hide_banner().args(strings("-rw_timeout", "15000000")).input(url).duration(seconds);
  c.codec_video("copy").codec_audio("copy").output(out.string());
  return c;
}

// The #EXTINF durations of a playlist, in order.
inline std::vector<double> extinf_seconds(const std::filesystem::path& playlist) {
  std::vector<double> out;
  std::ifstream in(playlist);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("#EXTINF:", 0) == 0) out.push_back(std::stod(line.substr(8)));
  return out;
}

inline std::set<std::string> temp_entries(const std::string& prefix) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.insert(e.path().string());
  return out;
}

// The temp dirs of this process's nginx fixtures ("sidecar-nginx-<pid>-XXXXXX").
inline std::set<std::string> nginx_dirs() {
  return temp_entries("sidecar-nginx-" + std::to_string(::getpid()) + "-");
}

// Made at the start of a test, checked at its end (after run() has returned): no child
// left, running or zombie; as many fds open as before; no nginx temp dir of ours left.
class leaves_nothing_behind {
public:
  leaves_nothing_behind() : fds_(open_fds()), dirs_(nginx_dirs()) {}
  void check() const {
    CHECK_FALSE(has_children());
    CHECK(open_fds() == fds_);
    CHECK(nginx_dirs() == dirs_);
  }

private:
  std::size_t fds_;
  std::set<std::string> dirs_;
};

} // namespace sidecar::test
