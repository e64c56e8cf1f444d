// The README's demo: testsrc and sine encoded to a temporary MP4 by one ffmpeg child.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

asio::awaitable<int> demo(fs::path out) {
  auto ex = co_await asio::this_coro::executor;
  auto cmd = sidecar::command{}
                 .hide_banner()
                 .format("lavfi").input("testsrc=size=640x360:rate=30:duration=5")
                 .format("lavfi").input("sine=frequency=1000:duration=5")
                 .codec_video("libx264").preset("veryfast").pix_fmt("yuv420p")
                 .codec_audio("aac")
                 .overwrite()
                 .output(out.string());
  std::cout << "running: " << cmd << '\n';
  auto started = std::chrono::steady_clock::now();
  auto ff = cmd.spawn(ex);
  if (!ff) {
    std::cerr << "demo: " << ff.error().message() << '\n';
    co_return 1;
  }
  auto status = co_await ff->wait();
  if (!status) {
    std::cerr << "demo: " << status.error().message() << '\n';
    co_return 1;
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "demo: encoded 5 s of testsrc+sine to " << out.filename().string() << ", "
            << fs::file_size(out) << " bytes in " << secs << " s, ffmpeg "
            << status->to_string() << '\n';
  co_return 0;
}

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-demo-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  int rc = 1;
  {
    asio::io_context ctx;
    auto result = asio::co_spawn(ctx, demo(fs::path(dir) / "demo.mp4"), asio::use_future);
    ctx.run();
    rc = result.get();
  }
  fs::remove_all(dir);
  return rc;
}
