// The guide's preview: ffmpeg copies video into matroska on its stdout, relayed into ffplay's
// stdin. A window where a display exists; headless (no window, dummy audio) elsewhere.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <cstdlib>
#include <iostream>

using namespace asio::experimental::awaitable_operators;

asio::awaitable<int> preview() {
  auto ex = co_await asio::this_coro::executor;
  auto ff = sidecar::command{}
                .hide_banner()
                .realtime() // -re: play at the source's pace
                .format("lavfi").input("testsrc=size=640x360:rate=30:duration=3")
                .format("lavfi").input("sine=frequency=440:duration=3")
                .codec_video("mpeg4").arg("-q:v").arg("5").codec_audio("pcm_s16le")
                .format("matroska").output("-")
                .spawn(ex);
  if (!ff) {
    std::cerr << "ffplay_preview: " << ff.error().message() << '\n';
    co_return 1;
  }
  sidecar::ffplay_options o;
  o.format = "matroska";
  o.window_title = "sidecar preview";
  auto player = sidecar::ffplay(ex, o);
  if (!player) {
    std::cerr << "ffplay_preview: " << player.error().message() << '\n';
    co_return 1;
  }
  // The relay and the source's progress run side by side; the relay ends at ffmpeg's EOF and
  // closes ffplay's stdin, so ffplay (-autoexit) finishes too.
  auto watch = [&]() -> asio::awaitable<std::uint64_t> {
    std::uint64_t frames = 0;
    while (auto p = co_await ff->next_progress()) frames = p->frame.value_or(frames);
    co_return frames;
  };
  auto [moved, frames] =
      co_await (sidecar::relay(ff->take_stdout(), player->stdin_pipe()) && watch());
  auto source = co_await ff->wait();
  auto played = co_await player->wait();
  if (!moved || !source || !played) {
    std::cerr << "ffplay_preview: "
              << (!moved ? moved.error().message()
                         : !source ? source.error().message() : played.error().message())
              << '\n';
    co_return 1;
  }
  const bool headless = !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY");
  std::cout << "ffplay_preview: relayed " << frames << " frames, " << *moved
            << " bytes of matroska into ffplay" << (headless ? " (headless)" : "")
            << ", ffplay " << played->to_string() << '\n';
  co_return 0;
}

int main() {
  asio::io_context ctx;
  auto rc = asio::co_spawn(ctx, preview(), asio::use_future);
  ctx.run();
  return rc.get();
}
