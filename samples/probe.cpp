// ffprobe as an awaitable: probes the file given on the command line, or one it makes first
// with lavfi (testsrc + sine → a temporary MP4), and prints a one-line summary.
#include <sidecar/sidecar.hpp>

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

asio::awaitable<sidecar::expected<sidecar::media_info>> probe(std::string path, bool make) {
  if (make) {
    auto ff = sidecar::command{}
                  .hide_banner()
                  .format("lavfi")
                  .input("testsrc=size=640x360:rate=30:duration=3")
                  .format("lavfi")
                  .input("sine=frequency=440:duration=3")
                  .codec_video("libx264")
                  .pix_fmt("yuv420p")
                  .codec_audio("aac")
                  .overwrite()
                  .output(path)
                  .spawn(co_await asio::this_coro::executor);
    if (!ff) co_return sidecar::unexpected(ff.error());
    if (auto st = co_await ff->wait(); !st) co_return sidecar::unexpected(st.error());
  }
  co_return co_await sidecar::probe(path);
}

int main(int argc, char** argv) {
  fs::path dir;
  std::string path = argc > 1 ? argv[1] : "";
  if (path.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "sidecar-probe-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return 1;
    dir = tmpl;
    path = (dir / "probe.mp4").string();
  }
  auto info = sidecar::run_sync(probe(path, argc <= 1), std::chrono::seconds(60));
  if (!dir.empty()) fs::remove_all(dir);
  if (!info) {
    std::cerr << "probe: " << info.error() << '\n';
    return 1;
  }
  std::cout << "probe: " << fs::path(path).filename().string() << ": " << info->format << ", "
            << (info->duration ? static_cast<double>(info->duration->count()) / 1e6 : 0.0) << " s";
  for (const auto& s : info->streams) {
    std::cout << "; #" << s.index << ' ' << s.type << ' ' << s.codec;
    if (s.type == "video")
      std::cout << ' ' << s.width << 'x' << s.height << ' ' << s.pix_fmt << ' '
                << s.frame_rate.value_or(0.0) << " fps";
    if (s.type == "audio") std::cout << ' ' << s.sample_rate << " Hz " << s.channels << " ch";
  }
  std::cout << '\n';
}
