// Count 1080p rgb24 frames from ffmpeg's stdout: the smallest useful sidecar program.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <iostream>

asio::awaitable<int> hello_frames() {
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi").input("testsrc=size=1920x1080:rate=30:duration=2")
                .rawvideo() // -f rawvideo -pix_fmt rgb24 -
                .spawn(co_await asio::this_coro::executor);
  if (!ff) {
    std::cerr << "hello_frames: " << ff.error().message() << '\n';
    co_return 1;
  }
  std::size_t frames = 0, bytes = 0;
  int width = 0, height = 0;
  while (auto f = co_await ff->next_frame()) { // stderr is drained meanwhile
    ++frames;
    bytes += f->size();
    width = f->width;
    height = f->height;
  }
  auto status = co_await ff->wait();
  if (!status) {
    std::cerr << "hello_frames: " << status.error().message() << '\n';
    co_return 1;
  }
  std::cout << "hello_frames: " << frames << " frames of " << width << 'x' << height
            << " rgb24, " << bytes / frames << " bytes each, " << bytes << " bytes in all\n";
  co_return frames == 60 ? 0 : 1;
}

int main() {
  asio::io_context ctx;
  auto rc = asio::co_spawn(ctx, hello_frames(), asio::use_future);
  ctx.run();
  return rc.get();
}
