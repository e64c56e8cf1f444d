// Writes an HLS playlist and its segments (sidecar::hls_output) from 6 s of testsrc + a sine
// tone into a temp directory, 2 s a segment, and prints what the playlist lists.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/presets.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

asio::awaitable<int> write_hls(fs::path dir) {
  sidecar::command c;
  c.hide_banner()
      .format("lavfi").input("testsrc=size=640x360:rate=25")
      .format("lavfi").input("sine=frequency=440:sample_rate=44100")
      .duration("6");
  sidecar::hls_output(c, dir, {.segment_seconds = 2});
  auto ff = c.spawn(co_await asio::this_coro::executor);
  if (!ff) {
    std::cerr << "hls: " << ff.error().message() << '\n';
    co_return 1;
  }
  auto st = co_await ff->wait();
  if (!st) {
    std::cerr << "hls: " << st.error().message() << '\n';
    co_return 1;
  }

  // Each segment is an #EXTINF line (its duration) followed by its file name.
  std::vector<double> segments;
  std::ifstream playlist(dir / "playlist.m3u8");
  for (std::string line; std::getline(playlist, line);)
    if (line.rfind("#EXTINF:", 0) == 0) segments.push_back(std::stod(line.substr(8)));
  double total = 0;
  std::uintmax_t bytes = 0;
  for (double s : segments) total += s;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".ts") bytes += e.file_size();
  char line[160];
  std::snprintf(line, sizeof line, "hls: %zu segments, %.2f s in total, %ju bytes of MPEG-TS",
                segments.size(), total, bytes);
  std::cout << line << " + playlist.m3u8 in " << dir.string() << " (removed)\n";
  co_return segments.size() == 3 ? 0 : 1;
}

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-hls-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  int rc = 1;
  {
    asio::io_context ctx;
    auto result = asio::co_spawn(ctx, write_hls(fs::path(dir)), asio::use_future);
    ctx.run();
    rc = result.get();
  }
  fs::remove_all(dir);
  return rc;
}
