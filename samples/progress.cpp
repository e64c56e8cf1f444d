// A transcode with a live progress bar (percent, speed, ETA) on a terminal, and plain lines
// when stdout is not one. The total comes from -t; ffmpeg prints a stats line twice a second.
#include <sidecar/sidecar.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

std::string bar(double percent, int width) {
  int full = static_cast<int>(percent / 100.0 * width + 0.5);
  return std::string(static_cast<std::size_t>(full), '#') +
         std::string(static_cast<std::size_t>(width - full), '.');
}

} // namespace

asio::awaitable<sidecar::expected<int>> transcode_with_progress(fs::path out) {
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi")
                .input("testsrc=size=1280x720:rate=30")
                .format("lavfi")
                .input("sine=frequency=440")
                .duration("8")
                .codec_video("libx264")
                .preset("veryfast")
                .pix_fmt("yuv420p")
                .codec_audio("aac")
                .stats_period("0.25")
                .overwrite()
                .output(out.string())
                .spawn(co_await asio::this_coro::executor);
  if (!ff) co_return sidecar::unexpected(ff.error());
  sidecar::progress last;
  while (auto p = co_await ff->next_progress()) {
    last = *p;
    double pct = p->percent.value_or(0.0);
    double speed = p->speed.value_or(0.0);
    double eta = p->eta ? static_cast<double>(p->eta->count()) / 1e6 : 0.0;
    char line[160];
    std::snprintf(line, sizeof line, "[%s] %5.1f%%  frame %5llu  speed %5.2fx  eta %5.1fs",
                  bar(pct, 30).c_str(), pct, static_cast<unsigned long long>(p->frame.value_or(0)),
                  speed, eta);
    if (tty)
      std::cout << '\r' << line << std::flush;
    else
      std::cout << line << '\n';
  }
  if (tty) std::cout << '\n';
  auto status = co_await ff->wait();
  if (!status) co_return sidecar::unexpected(status.error());
  std::cout << "progress: encoded " << last.frame.value_or(0) << " frames (8 s) to "
            << out.filename().string() << ", " << fs::file_size(out) << " bytes, final "
            << last.percent.value_or(0.0) << "%\n";
  co_return last.final ? 0 : 1;
}

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-progress-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  auto rc = sidecar::run_sync(transcode_with_progress(fs::path(dir) / "out.mp4"),
                              std::chrono::seconds(120));
  fs::remove_all(dir);
  if (!rc) {
    std::cerr << "progress: " << rc.error() << '\n';
    return 1;
  }
  return *rc;
}
