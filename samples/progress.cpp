// A transcode with a live progress bar (percent, speed, ETA) on a terminal, and plain lines
// when stdout is not one. The total comes from -t; ffmpeg prints a stats line twice a second.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

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

asio::awaitable<int> transcode_with_progress(fs::path out) {
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi").input("testsrc=size=1280x720:rate=30")
                .format("lavfi").input("sine=frequency=440")
                .duration("8")
                .codec_video("libx264").preset("veryfast").pix_fmt("yuv420p")
                .codec_audio("aac")
                .stats_period("0.25")
                .overwrite().output(out.string())
                .spawn(co_await asio::this_coro::executor);
  if (!ff) {
    std::cerr << "progress: " << ff.error().message() << '\n';
    co_return 1;
  }
  sidecar::progress last;
  while (auto p = co_await ff->next_progress()) {
    last = *p;
    double pct = p->percent.value_or(0.0);
    double speed = p->speed.value_or(0.0);
    double eta = p->eta ? static_cast<double>(p->eta->count()) / 1e6 : 0.0;
    char line[160];
    std::snprintf(line, sizeof line, "[%s] %5.1f%%  frame %5llu  speed %5.2fx  eta %5.1fs",
                  bar(pct, 30).c_str(), pct,
                  static_cast<unsigned long long>(p->frame.value_or(0)), speed, eta);
    if (tty) std::cout << '\r' << line << std::flush;
    else std::cout << line << '\n';
  }
  if (tty) std::cout << '\n';
  auto status = co_await ff->wait();
  if (!status) {
    std::cerr << "progress: " << status.error().message() << '\n';
    co_return 1;
  }
  std::cout << "progress: encoded " << last.frame.value_or(0) << " frames (8 s) to "
            << out.filename().string() << ", " << fs::file_size(out) << " bytes, final "
            << last.percent.value_or(0.0) << "%\n";
  co_return last.final ? 0 : 1;
}

int main() {
  std::string dir = (fs::temp_directory_path() / "sidecar-progress-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  int rc = 1;
  {
    asio::io_context ctx;
    auto result =
        asio::co_spawn(ctx, transcode_with_progress(fs::path(dir) / "out.mp4"), asio::use_future);
    ctx.run();
    rc = result.get();
  }
  fs::remove_all(dir);
  return rc;
}
