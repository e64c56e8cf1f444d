// The guide's multi-output example: one ffmpeg, three outputs — 1080p60 testsrc as rawvideo
// rgb24, a 1000 Hz sine as s16le, an SRT subtitle from a data: URI — to three connections on
// one port. tcp_ingest gives each output its own loopback address, so every connection is
// known to carry the output it does, whatever order they open in.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <array>
#include <iostream>

#include <sys/types.h>

using namespace asio::experimental::awaitable_operators;

namespace {

const std::string subtitle = "1\n00:00:00,000 --> 00:00:01,000\nHello from sidecar\n\n";

std::string base64(std::string_view in) {
  static constexpr char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t v = 0;
  int bits = 0;
  for (unsigned char c : in) {
    v = (v << 8) | c;
    bits += 8;
    while (bits >= 6) out += t[(v >> (bits -= 6)) & 63];
  }
  if (bits > 0) out += t[(v << (6 - bits)) & 63];
  while (out.size() % 4) out += '=';
  return out;
}

struct received {
  std::uint64_t bytes = 0;
  std::string text; // kept for the subtitle output
};

asio::awaitable<received> read_output(sidecar::tcp_ingest& ingest, std::size_t k, pid_t from,
                                      bool keep) {
  received r;
  auto conn = co_await ingest.accept(k, from); // only a connection of ffmpeg's process group
  if (!conn) {
    std::cerr << "tcp_multi_output: " << conn.error().message() << '\n';
    co_return r;
  }
  std::array<char, 65536> buf;
  for (;;) {
    auto [ec, n] = co_await conn->async_read_some(
        asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    r.bytes += n;
    if (keep) r.text.append(buf.data(), n);
    if (ec) break;
  }
  co_return r;
}

} // namespace

asio::awaitable<int> tcp_multi_output() {
  auto ex = co_await asio::this_coro::executor;
  auto ingest = sidecar::tcp_ingest::open(ex, {.outputs = 3});
  if (!ingest) {
    std::cerr << "tcp_multi_output: " << ingest.error().message() << '\n';
    co_return 1;
  }
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi").input("testsrc=size=1920x1080:rate=60:duration=0.5")
                .format("lavfi").input("sine=frequency=1000:sample_rate=44100:duration=0.5")
                .format("srt").input("data:text/plain;base64," + base64(subtitle))
                .map("0:v").format("rawvideo").pix_fmt("rgb24").output(ingest->url(0))
                .map("1:a").format("s16le").arg("-ac").arg("1").output(ingest->url(1))
                .map("2:s").codec_subtitle("srt").format("srt").output(ingest->url(2))
                .spawn(ex);
  if (!ff) {
    std::cerr << "tcp_multi_output: " << ff.error().message() << '\n';
    co_return 1;
  }
  auto [video, audio, text] =
      co_await (read_output(*ingest, 0, ff->id(), false) &&
                read_output(*ingest, 1, ff->id(), false) && read_output(*ingest, 2, ff->id(), true));
  auto status = co_await ff->wait();
  if (!status) {
    std::cerr << "tcp_multi_output: " << status.error().message() << '\n';
    co_return 1;
  }
  bool intact = text.text.find("Hello from sidecar") != std::string::npos;
  std::cout << "tcp_multi_output: port " << ingest->port() << ", video " << video.bytes
            << " bytes (" << video.bytes / (1920 * 1080 * 3) << " frames), audio "
            << audio.bytes << " bytes, subtitle " << text.bytes << " bytes"
            << (intact ? " (text intact)" : " (text MISSING)") << '\n';
  co_return video.bytes == 1920ull * 1080 * 3 * 30 && audio.bytes == 44100 && intact ? 0 : 1;
}

int main() {
  asio::io_context ctx;
  auto rc = asio::co_spawn(ctx, tcp_multi_output(), asio::use_future);
  ctx.run();
  return rc.get();
}
