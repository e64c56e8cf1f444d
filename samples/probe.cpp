// ffprobe as an awaitable: probes the file given on the command line, or one it makes first
// with lavfi (testsrc + sine → a temporary MP4), and prints a one-line summary.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

asio::awaitable<int> run_probe(std::string path, bool make) {
  if (make) {
    auto ff = sidecar::command{}
                  .hide_banner()
                  .format("lavfi").input("testsrc=size=640x360:rate=30:duration=3")
                  .format("lavfi").input("sine=frequency=440:duration=3")
                  .codec_video("libx264").pix_fmt("yuv420p").codec_audio("aac")
                  .overwrite().output(path)
                  .spawn(co_await asio::this_coro::executor);
    if (!ff) {
      std::cerr << "probe: " << ff.error().message() << '\n';
      co_return 1;
    }
    if (auto st = co_await ff->wait(); !st) {
      std::cerr << "probe: " << st.error().message() << '\n';
      co_return 1;
    }
  }
  auto info = co_await sidecar::probe(path);
  if (!info) {
    std::cerr << "probe: " << info.error().message() << '\n';
    co_return 1;
  }
  std::cout << "probe: " << fs::path(path).filename().string() << ": " << info->format << ", "
            << (info->duration ? static_cast<double>(info->duration->count()) / 1e6 : 0.0)
            << " s";
  for (const auto& s : info->streams) {
    std::cout << "; #" << s.index << ' ' << s.type << ' ' << s.codec;
    if (s.type == "video")
      std::cout << ' ' << s.width << 'x' << s.height << ' ' << s.pix_fmt << ' '
                << s.frame_rate.value_or(0.0) << " fps";
    if (s.type == "audio") std::cout << ' ' << s.sample_rate << " Hz " << s.channels << " ch";
  }
  std::cout << '\n';
  co_return 0;
}

int main(int argc, char** argv) {
  fs::path dir;
  std::string path;
  if (argc > 1) {
    path = argv[1];
  } else {
    std::string tmpl = (fs::temp_directory_path() / "sidecar-probe-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return 1;
    dir = tmpl;
    path = (dir / "probe.mp4").string();
  }
  int rc = 1;
  {
    asio::io_context ctx;
    auto result = asio::co_spawn(ctx, run_probe(path, argc <= 1), asio::use_future);
    ctx.run();
    rc = result.get();
  }
  if (!dir.empty()) fs::remove_all(dir);
  return rc;
}
