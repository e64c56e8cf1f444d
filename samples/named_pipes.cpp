// The streaming guide's first example: one ffmpeg writes video (rawvideo rgb24), audio
// (s16le) and subtitles (SRT, from a data: URI) to three FIFOs; the program reads all three at
// once. Reading them concurrently is what keeps it from deadlocking: ffmpeg writes the
// outputs in turn.
#include <sidecar/sidecar.hpp>

#include <asio/experimental/awaitable_operators.hpp>
#include <iostream>

using namespace asio::experimental::awaitable_operators;
using sidecar::unexpected;

asio::awaitable<sidecar::expected<std::string>> named_pipes() {
  auto ex = co_await asio::this_coro::executor;
  auto video = sidecar::named_pipe::create(ex, "video.rgb");
  auto audio = sidecar::named_pipe::create(ex, "audio.pcm");
  auto text = sidecar::named_pipe::create(ex, "subtitles.srt");
  for (auto* pipe : {&video, &audio, &text}) {
    if (!*pipe) co_return unexpected(pipe->error());
    // Readers first: ffmpeg's open() of each FIFO for writing then finds a reader at once.
    if (auto r = (*pipe)->open_read(); !r) co_return unexpected(r.error());
  }
  auto ff = sidecar::command{}
                .hide_banner()
                .format("lavfi")
                .input("testsrc=size=320x240:rate=25:duration=2")
                .format("lavfi")
                .input("sine=frequency=1000:sample_rate=44100:duration=2")
                .format("srt")
                .input_data("text/plain", "1\n00:00:00,000 --> 00:00:01,000\nHi\n\n")
                .map("0:v")
                .format("rawvideo")
                .pix_fmt("rgb24")
                .overwrite()
                .output(*video)
                .map("1:a")
                .format("s16le")
                .arg("-ac")
                .arg("1")
                .output(*audio)
                .map("2:s")
                .format("srt")
                .output(*text)
                .spawn(ex);
  if (!ff) co_return unexpected(ff.error());
  auto [v, a, t] = co_await (sidecar::count_bytes(*video) && sidecar::count_bytes(*audio) &&
                             sidecar::read_all(*text));
  if (auto st = co_await ff->wait(); !st) co_return unexpected(st.error());
  if (!v || !a || !t) co_return unexpected(!v ? v.error() : !a ? a.error() : t.error());
  if (*v != 320u * 240 * 3 * 25 * 2 || *a != 44100u * 2 * 2 || t->find("Hi") == t->npos)
    co_return unexpected(sidecar::error(sidecar::errc::protocol, "an output is not whole"));
  co_return "video " + std::to_string(*v) + " bytes, audio " + std::to_string(*a) +
      " bytes, subtitles intact";
}

int main() {
  auto r = sidecar::run_sync(named_pipes(), std::chrono::seconds(60));
  if (!r) {
    std::cerr << "named_pipes: " << r.error() << '\n';
    return 1;
  }
  std::cout << "named_pipes: " << *r << '\n';
}
