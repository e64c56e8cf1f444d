// The guide's multi-output example: one ffmpeg, three outputs — 1080p60 testsrc as rawvideo
// rgb24, a 1000 Hz sine as s16le, an SRT subtitle from a data: URI — to three connections on
// one port. tcp_ingest gives each output its own loopback address, so every connection is
// known to carry the output it does, whatever order they open in.
#include <sidecar/sidecar.hpp>

#include <asio/experimental/awaitable_operators.hpp>
#include <iostream>

using namespace asio::experimental::awaitable_operators;
using sidecar::unexpected;

// Output k's connection (only one from ffmpeg's process group is taken), read by `read`.
template <class Read>
auto from(sidecar::tcp_ingest& in, std::size_t k, pid_t ffmpeg, Read read)
    -> decltype(read(std::declval<asio::ip::tcp::socket&>())) {
  auto conn = co_await in.accept(k, ffmpeg);
  if (!conn) co_return unexpected(conn.error());
  co_return co_await read(*conn);
}

asio::awaitable<sidecar::expected<std::string>> tcp_multi_output() {
  auto ex = co_await asio::this_coro::executor;
  auto in = sidecar::tcp_ingest::open(ex, {.outputs = 3});
  if (!in) co_return unexpected(in.error());
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi")
                .input("testsrc=size=1920x1080:rate=60:duration=0.5")
                .format("lavfi")
                .input("sine=frequency=1000:sample_rate=44100:duration=0.5")
                .format("srt")
                .input_data("text/plain", "1\n00:00:00,000 --> 00:00:01,000\nHi\n\n")
                .map("0:v")
                .format("rawvideo")
                .pix_fmt("rgb24")
                .output(*in, 0)
                .map("1:a")
                .format("s16le")
                .arg("-ac")
                .arg("1")
                .output(*in, 1)
                .map("2:s")
                .codec_subtitle("srt")
                .format("srt")
                .output(*in, 2)
                .spawn(ex);
  if (!ff) co_return unexpected(ff.error());
  auto count = [](auto& s) { return sidecar::count_bytes(s); };
  auto text = [](auto& s) { return sidecar::read_all(s); };
  auto [v, a, t] = co_await (from(*in, 0, ff->id(), count) && from(*in, 1, ff->id(), count) &&
                             from(*in, 2, ff->id(), text));
  if (auto st = co_await ff->wait(); !st) co_return unexpected(st.error());
  if (!v || !a || !t) co_return unexpected(!v ? v.error() : !a ? a.error() : t.error());
  if (*v != 1920u * 1080 * 3 * 30 || *a != 44100 || t->find("Hi") == std::string::npos)
    co_return unexpected(sidecar::error(sidecar::errc::protocol, "an output is not whole"));
  co_return "port " + std::to_string(in->port()) + ": video " + std::to_string(*v) +
      " bytes, audio " + std::to_string(*a) + " bytes, subtitle intact";
}

int main() {
  auto r = sidecar::run_sync(tcp_multi_output(), std::chrono::seconds(60));
  if (!r) {
    std::cerr << "tcp_multi_output: " << r.error() << '\n';
    return 1;
  }
  std::cout << "tcp_multi_output: " << *r << '\n';
}
