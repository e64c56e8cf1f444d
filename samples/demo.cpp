// The README's demo, as a pipeline: one ffmpeg turns lavfi's testsrc + sine into an HLS
// playlist on disk and raw frames over TCP at once; the program counts the frames, draws a
// progress bar, checks the playlist — and, where a display exists, previews the stream in
// ffplay through a third output relayed from ffmpeg's stdout.
#include <sidecar/sidecar.hpp>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr int seconds = 5, fps = 30, tcp_w = 320, tcp_h = 180;

// Frames of output 1, read from the TCP connection ffmpeg makes.
asio::awaitable<sidecar::expected<std::uint64_t>> count_frames(sidecar::tcp_ingest& ingest,
                                                               pid_t from) {
  auto conn = co_await ingest.accept(0, from); // only ffmpeg's connection
  if (!conn) co_return tl::unexpected(conn.error());
  std::vector<char> frame(tcp_w * tcp_h * 3);
  std::uint64_t frames = 0;
  for (;;) {
    auto [ec, n] = co_await asio::async_read(*conn, asio::buffer(frame),
                                             asio::experimental::as_tuple(asio::use_awaitable));
    if (n == frame.size()) ++frames;
    if (ec) break;
  }
  co_return frames;
}

asio::awaitable<sidecar::expected<double>> progress_bar(sidecar::ffmpeg_child& ff) {
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  double last = 0;
  for (;;) {
    auto p = co_await ff.next_progress();
    if (!p) break;
    last = p->percent.value_or(last);
    if (tty) {
      int full = static_cast<int>(last / 100 * 30);
      std::cout << "\r[" << std::string(static_cast<std::size_t>(full), '#')
                << std::string(static_cast<std::size_t>(30 - full), '.') << "] "
                << static_cast<int>(last) << "% speed " << p->speed.value_or(0) << "x   "
                << std::flush;
    }
  }
  if (tty) std::cout << '\n';
  co_return last;
}

} // namespace

asio::awaitable<sidecar::expected<int>> demo(fs::path dir) {
  auto ex = co_await asio::this_coro::executor;
  const bool preview = std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
  auto ingest = sidecar::tcp_ingest::open(ex);
  if (!ingest) co_return sidecar::unexpected(ingest.error());
  sidecar::command cmd;
  cmd.hide_banner()
      // -t as an input option: the known total gives the progress bar its percent
      .format("lavfi")
      .duration(std::to_string(seconds))
      .input("testsrc=size=640x360:rate=" + std::to_string(fps))
      .format("lavfi")
      .duration(std::to_string(seconds))
      .input("sine=frequency=1000")
      .overwrite();
  cmd.map("0:v").map("1:a");
  cmd.hls_output(dir, {.segment_seconds = 1}) // output 0: playlist + segments
      .map("0:v")
      .size(tcp_w, tcp_h)
      .format("rawvideo")
      .pix_fmt("rgb24")
      .output(*ingest, 0); // output 1: raw frames over TCP
  if (preview) cmd.map("0:v").codec_video("mpeg4").format("matroska").output("-"); // 2
  std::cout << "running: " << cmd << '\n';
  auto ff = cmd.spawn(ex);
  if (!ff) co_return sidecar::unexpected(ff.error());
  std::uint64_t frames = 0;
  double percent = 0;
  if (preview) {
    auto player = sidecar::ffplay(ex, {.format = "matroska", .window_title = "sidecar demo"});
    if (!player) co_return sidecar::unexpected(player.error());
    auto r = co_await sidecar::pipeline(
        sidecar::must(count_frames(*ingest, ff->id())) && sidecar::must(progress_bar(*ff)) &&
        sidecar::must(sidecar::relay(ff->take_stdout(), player->stdin_pipe())));
    if (!r) co_return sidecar::unexpected(r.error());
    frames = std::get<0>(*r);
    percent = std::get<1>(*r);
    (void)co_await player->wait();
  } else {
    auto r = co_await sidecar::pipeline(sidecar::must(count_frames(*ingest, ff->id())) &&
                                        sidecar::must(progress_bar(*ff)));
    if (!r) co_return sidecar::unexpected(r.error());
    frames = std::get<0>(*r);
    percent = std::get<1>(*r);
  }
  auto status = co_await ff->wait();
  if (!status) co_return sidecar::unexpected(status.error());
  auto playlist = sidecar::check_hls(dir / "playlist.m3u8");
  if (!playlist) co_return sidecar::unexpected(playlist.error());
  std::cout << "demo: " << playlist->segments.size() << " HLS segments ("
            << static_cast<double>(playlist->total.count()) / 1e6 << " s) and " << frames
            << " frames over " << ingest->url(0) << ", progress " << percent << "%"
            << (preview ? ", previewed in ffplay" : "") << '\n';
  co_return frames == seconds* fps && playlist->segments.size() >= seconds - 1 ? 0 : 1;
}

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-demo-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  auto rc = sidecar::run_sync(demo(fs::path(dir)), std::chrono::seconds(120));
  fs::remove_all(dir);
  if (!rc) {
    std::cerr << "demo: " << rc.error() << '\n';
    return 1;
  }
  return *rc;
}
