// The streaming guide's first example: one ffmpeg writes video (rawvideo rgb24) to one FIFO
// and audio (s16le) to another; the program reads both at once. Reading them concurrently is
// what keeps it from deadlocking: ffmpeg writes the two outputs alternately.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <array>
#include <iostream>

using namespace asio::experimental::awaitable_operators;

namespace {

constexpr int width = 320, height = 240, fps = 25, seconds = 2, sample_rate = 44100;

asio::awaitable<std::uint64_t> count_bytes(sidecar::named_pipe& pipe) {
  std::array<char, 65536> buf;
  std::uint64_t n = 0;
  for (;;) {
    auto [ec, got] = co_await pipe.async_read_some(
        asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    n += got;
    if (ec) break; // eof once ffmpeg closes its end
  }
  co_return n;
}

} // namespace

asio::awaitable<int> named_pipes() {
  auto ex = co_await asio::this_coro::executor;
  auto video = sidecar::named_pipe::create(ex, "video.rgb");
  auto audio = sidecar::named_pipe::create(ex, "audio.pcm");
  if (!video || !audio) {
    std::cerr << "named_pipes: " << (!video ? video.error() : audio.error()).message() << '\n';
    co_return 1;
  }
  // Readers first: ffmpeg's open() of each FIFO for writing then finds a reader at once.
  if (auto r = video->open_read(); !r) co_return 1;
  if (auto r = audio->open_read(); !r) co_return 1;
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi")
                .input("testsrc=size=" + std::to_string(width) + "x" + std::to_string(height) +
                       ":rate=" + std::to_string(fps) + ":duration=" + std::to_string(seconds))
                .format("lavfi")
                .input("sine=frequency=1000:sample_rate=" + std::to_string(sample_rate) +
                       ":duration=" + std::to_string(seconds))
                .map("0:v").format("rawvideo").pix_fmt("rgb24").overwrite()
                .output(video->path().string())
                .map("1:a").format("s16le").arg("-ac").arg("1").output(audio->path().string())
                .spawn(ex);
  if (!ff) {
    std::cerr << "named_pipes: " << ff.error().message() << '\n';
    co_return 1;
  }
  auto [video_bytes, audio_bytes] = co_await (count_bytes(*video) && count_bytes(*audio));
  auto status = co_await ff->wait();
  if (!status) {
    std::cerr << "named_pipes: " << status.error().message() << '\n';
    co_return 1;
  }
  const std::uint64_t want_video = std::uint64_t{width} * height * 3 * fps * seconds;
  const std::uint64_t want_audio = std::uint64_t{sample_rate} * 2 * seconds;
  std::cout << "named_pipes: video " << video_bytes << " bytes (want " << want_video
            << "), audio " << audio_bytes << " bytes (want " << want_audio << ")\n";
  co_return video_bytes == want_video && audio_bytes == want_audio ? 0 : 1;
}

int main() {
  asio::io_context ctx;
  auto rc = asio::co_spawn(ctx, named_pipes(), asio::use_future);
  ctx.run();
  return rc.get();
}
