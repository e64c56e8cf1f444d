// Two children, one coroutine: ffmpeg #1 decodes a file to rgb24 frames on its stdout, the
// program changes the pixels, ffmpeg #2 encodes the frames it reads on stdin to H.265
// (libx265). Backpressure both ways: a frame is read only once the previous
// one has been written. ffmpeg-sidecar's h265_transcode example, with no thread.
#include <sidecar/sidecar.hpp>

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

namespace {

// Makes the input: 3 s of 640x360 testsrc in an mp4.
asio::awaitable<sidecar::expected<void>> make_input(const fs::path& path) {
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi")
                .input("testsrc=size=640x360:rate=30:duration=3")
                .codec_video("libx264")
                .pix_fmt("yuv420p")
                .overwrite()
                .output(path.string())
                .spawn(co_await asio::this_coro::executor);
  if (!ff) co_return tl::unexpected(ff.error());
  auto st = co_await ff->wait();
  if (!st) co_return tl::unexpected(st.error());
  co_return sidecar::expected<void>{};
}

} // namespace

asio::awaitable<sidecar::expected<int>> transcode(fs::path dir) {
  auto ex = co_await asio::this_coro::executor;
  auto in = dir / "input.mp4", out = dir / "output.mp4";
  if (auto made = co_await make_input(in); !made) co_return sidecar::unexpected(made.error());

  auto decoder = sidecar::command{}.hide_banner().input(in.string()).rawvideo().spawn(ex);
  if (!decoder) co_return sidecar::unexpected(decoder.error());
  // The encoder needs the frame size: the decoder's metadata has it before the first frame.
  auto meta = co_await decoder->metadata();
  auto streams = meta.output_streams(0);
  if (streams.empty() || streams.front()->width == 0)
    co_return sidecar::unexpected(sidecar::error(sidecar::errc::protocol, "no output stream"));
  const auto& video = *streams.front();
  std::string codec = "libx265";
  auto encoder = sidecar::command{}
                     .hide_banner()
                     .format("rawvideo")
                     .pix_fmt("rgb24")
                     .size(static_cast<unsigned>(video.width), static_cast<unsigned>(video.height))
                     .rate(video.fps.value_or(30.0))
                     .input("-")
                     .codec_video(codec)
                     .pix_fmt("yuv420p")
                     .arg("-x265-params")
                     .arg("log-level=error")
                     .overwrite()
                     .output(out.string())
                     .spawn(ex);
  if (!encoder) co_return sidecar::unexpected(encoder.error());

  std::size_t frames = 0;
  while (auto f = co_await decoder->next_frame()) {
    // Invert the colours of the left half.
    auto px = f->data();
    const auto row = static_cast<std::size_t>(f->width) * 3;
    for (std::size_t y = 0; y < static_cast<std::size_t>(f->height); ++y)
      for (std::size_t x = 0; x < row / 2; ++x)
        px[y * row + x] = ~px[y * row + x];
    if (auto w = co_await encoder->write_frame(*f); !w) co_return sidecar::unexpected(w.error());
    ++frames;
  }
  encoder->close_stdin(); // end of input: the encoder finishes the file
  auto decoded = co_await decoder->wait();
  auto encoded = co_await encoder->wait();
  if (!decoded || !encoded)
    co_return sidecar::unexpected(!decoded ? decoded.error() : encoded.error());
  std::cout << "transcode: " << frames << " frames of " << video.width << 'x' << video.height
            << " through the program, " << codec << " → " << out.filename().string() << ", "
            << fs::file_size(out) << " bytes\n";
  co_return frames == 90 ? 0 : 1;
}

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-transcode-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  auto rc = sidecar::run_sync(transcode(fs::path(dir)), std::chrono::seconds(120));
  fs::remove_all(dir);
  if (!rc) {
    std::cerr << "transcode: " << rc.error() << '\n';
    return 1;
  }
  return *rc;
}
