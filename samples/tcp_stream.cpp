// The guide's first TCP example: ffmpeg sends rawvideo rgb24 to a TCP connection the program
// accepts on loopback (port 0: a free one), and the program counts frames.
#include <sidecar/sidecar.hpp>

#include <asio/read.hpp>
#include <iostream>
#include <vector>

asio::awaitable<sidecar::expected<std::uint64_t>> tcp_stream() {
  auto ex = co_await asio::this_coro::executor;
  auto ingest = sidecar::tcp_ingest::open(ex);
  if (!ingest) co_return sidecar::unexpected(ingest.error());
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi")
                .input("testsrc=size=640x480:rate=30:duration=2")
                .format("rawvideo")
                .pix_fmt("rgb24")
                .output(*ingest, 0)
                .spawn(ex);
  if (!ff) co_return sidecar::unexpected(ff.error());
  auto conn = co_await ingest->accept(0, ff->id()); // only ffmpeg's connection
  if (!conn) co_return sidecar::unexpected(conn.error());
  std::vector<char> frame(640 * 480 * 3);
  std::uint64_t frames = 0;
  for (;;) { // whole frames, one at a time
    auto [ec, n] = co_await asio::async_read(*conn, asio::buffer(frame),
                                             asio::experimental::as_tuple(asio::use_awaitable));
    if (n == frame.size()) ++frames;
    if (ec) break;
  }
  if (auto st = co_await ff->wait(); !st) co_return sidecar::unexpected(st.error());
  co_return frames;
}

int main() {
  auto frames = sidecar::run_sync(tcp_stream(), std::chrono::seconds(60));
  if (!frames) {
    std::cerr << "tcp_stream: " << frames.error() << '\n';
    return 1;
  }
  std::cout << "tcp_stream: " << *frames << " frames of 640x480 rgb24 over TCP\n";
  return *frames == 60 ? 0 : 1;
}
