// The guide's preview: ffmpeg encodes into matroska on its stdout, relayed into ffplay's
// stdin. A window where a display exists; headless (no window, dummy audio) elsewhere.
#include <sidecar/sidecar.hpp>

#include <iostream>

asio::awaitable<sidecar::expected<std::uint64_t>> preview() {
  auto ex = co_await asio::this_coro::executor;
  auto ff = sidecar::command{}
                .hide_banner()
                .realtime() // -re: at the source's pace
                .format("lavfi")
                .input("testsrc=size=640x360:rate=30:duration=3")
                .codec_video("mpeg4")
                .format("matroska")
                .output("-")
                .spawn(ex);
  if (!ff) co_return sidecar::unexpected(ff.error());
  auto player = sidecar::ffplay(ex, {.format = "matroska", .window_title = "sidecar preview"});
  if (!player) co_return sidecar::unexpected(player.error());
  // The relay ends at ffmpeg's EOF and closes ffplay's stdin: ffplay (-autoexit) ends too.
  auto moved = co_await sidecar::relay(ff->take_stdout(), player->stdin_pipe());
  if (auto st = co_await ff->wait(); !st) co_return sidecar::unexpected(st.error());
  if (auto st = co_await player->wait(); !st) co_return sidecar::unexpected(st.error());
  co_return moved;
}

int main() {
  auto moved = sidecar::run_sync(preview(), std::chrono::seconds(60));
  if (!moved) {
    std::cerr << "ffplay_preview: " << moved.error() << '\n';
    return 1;
  }
  std::cout << "ffplay_preview: relayed " << *moved << " bytes of matroska into ffplay\n";
}
