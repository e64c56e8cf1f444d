// Writes an HLS playlist and its segments (command::hls_output) from 6 s of testsrc + a sine
// tone into a temp directory, 2 s a segment, and prints what check_hls() finds in it.
#include <sidecar/sidecar.hpp>

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;
using sidecar::unexpected;

asio::awaitable<sidecar::expected<sidecar::hls_playlist>> write_hls(fs::path dir) {
  // The executor first: g++ 12 destroys a braced temporary ({.segment_seconds = 2}) twice in
  // a statement that also has a co_await.
  auto ex = co_await asio::this_coro::executor;
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi")
                .input("testsrc=size=640x360:rate=25")
                .format("lavfi")
                .input("sine=frequency=440:sample_rate=44100")
                .duration("6")
                .hls_output(dir, {.segment_seconds = 2})
                .spawn(ex);
  if (!ff) co_return unexpected(ff.error());
  if (auto st = co_await ff->wait(); !st) co_return unexpected(st.error());
  // Every segment the playlist lists is there and not empty (ffmpeg 5.1 exits 0 when its
  // writes fail: the exit status alone does not say the output is whole).
  co_return sidecar::check_hls(dir / "playlist.m3u8");
}

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-hls-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  auto hls = sidecar::run_sync(write_hls(dir), std::chrono::seconds(60));
  fs::remove_all(dir);
  if (!hls) {
    std::cerr << "hls: " << hls.error() << '\n';
    return 1;
  }
  std::uintmax_t bytes = 0;
  for (const auto& s : hls->segments)
    bytes += s.size;
  std::cout << "hls: " << hls->segments.size() << " segments, "
            << std::chrono::duration_cast<std::chrono::milliseconds>(hls->total).count()
            << " ms in total, " << bytes << " bytes of MPEG-TS + playlist.m3u8 (removed)\n";
  return hls->segments.size() == 3 && hls->ended ? 0 : 1;
}
