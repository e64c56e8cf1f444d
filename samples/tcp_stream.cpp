// The guide's first TCP example: ffmpeg sends rawvideo rgb24 to a TCP connection the program
// accepts on loopback (port 0: a free one), and the program counts frames.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/use_future.hpp>

#include <iostream>
#include <vector>

asio::awaitable<int> tcp_stream() {
  auto ex = co_await asio::this_coro::executor;
  auto ingest = sidecar::tcp_ingest::open(ex);
  if (!ingest) {
    std::cerr << "tcp_stream: " << ingest.error().message() << '\n';
    co_return 1;
  }
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi").input("testsrc=size=640x480:rate=30:duration=2")
                .format("rawvideo").pix_fmt("rgb24").output(ingest->url(0))
                .spawn(ex);
  if (!ff) {
    std::cerr << "tcp_stream: " << ff.error().message() << '\n';
    co_return 1;
  }
  auto conn = co_await ingest->accept(0, ff->id()); // only ffmpeg's connection
  if (!conn) {
    std::cerr << "tcp_stream: " << conn.error().message() << '\n';
    co_return 1;
  }
  const std::size_t frame = 640 * 480 * 3;
  std::vector<char> buf(frame);
  std::uint64_t frames = 0;
  for (;;) {
    auto [ec, n] = co_await asio::async_read(*conn, asio::buffer(buf),
                                             asio::experimental::as_tuple(asio::use_awaitable));
    if (n == frame) ++frames;
    if (ec) break;
  }
  auto status = co_await ff->wait();
  if (!status) {
    std::cerr << "tcp_stream: " << status.error().message() << '\n';
    co_return 1;
  }
  std::cout << "tcp_stream: " << frames << " frames of 640x480 rgb24 over " << ingest->url(0)
            << '\n';
  co_return frames == 60 ? 0 : 1;
}

int main() {
  asio::io_context ctx;
  auto rc = asio::co_spawn(ctx, tcp_stream(), asio::use_future);
  ctx.run();
  return rc.get();
}
