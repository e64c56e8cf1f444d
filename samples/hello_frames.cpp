// Count 1080p rgb24 frames from ffmpeg's stdout: the smallest useful sidecar program.
#include <sidecar/sidecar.hpp>

#include <iostream>

asio::awaitable<sidecar::expected<std::string>> hello_frames() {
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi")
                .input("testsrc=size=1920x1080:rate=30:duration=2")
                .rawvideo() // -f rawvideo -pix_fmt rgb24 -
                .spawn(co_await asio::this_coro::executor);
  if (!ff) co_return sidecar::unexpected(ff.error());
  std::size_t frames = 0, bytes = 0;
  while (auto f = co_await ff->next_frame()) { // stderr is drained meanwhile
    ++frames;
    bytes += f->size();
  }
  if (auto st = co_await ff->wait(); !st) co_return sidecar::unexpected(st.error());
  if (frames != 60)
    co_return sidecar::unexpected(sidecar::error(sidecar::errc::protocol, "not 60 frames"));
  co_return std::to_string(frames) + " frames of 1920x1080 rgb24, " + std::to_string(bytes) +
      " bytes in all";
}

int main() {
  auto r = sidecar::run_sync(hello_frames());
  if (!r) {
    std::cerr << "hello_frames: " << r.error() << '\n';
    return 1;
  }
  std::cout << "hello_frames: " << *r << '\n';
}
