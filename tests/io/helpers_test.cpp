// The less-ceremony helpers (#13), each on the real ffmpeg: run_sync, operator<< of an error,
// next_chunk, metadata::duration, presets as builder steps, output(named_pipe&) /
// output(tcp_ingest&, k), input_data, read_all / count_bytes, wait_listening.
#include <sidecar/sidecar.hpp>

#include "support.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <sstream>

using namespace sidecar;
using namespace sidecar::test;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using asio::ip::tcp;

namespace {

// An ffmpeg that runs until it is stopped: testsrc into the null muxer, at its native rate.
command endless() {
  return command{}
      .hide_banner()
      .realtime()
      .format("lavfi")
      .input("testsrc=size=64x48:rate=25")
      .format("null")
      .output("-");
}

awaitable<int> answer() {
  co_return 42;
}

awaitable<void> throws() {
  throw std::runtime_error("thrown inside the job");
  co_return;
}

} // namespace

TEST_CASE("run_sync: a job's value, its exception, and a deadline that stops ffmpeg", "[helpers]") {
  CHECK(run_sync(answer()) == 42);
  CHECK_THROWS_WITH(run_sync(throws()), "thrown inside the job");
  auto fine = run_sync(answer(), 5s); // any T comes as expected<T> with a deadline
  REQUIRE(fine);
  CHECK(*fine == 42);

  // An endless ffmpeg under a 1 s deadline: errc::timed_out with its exit status, and when
  // run_sync returns the child is gone (stopped, reaped).
  const auto started = std::chrono::steady_clock::now();
  auto st = run_sync(
      []() -> awaitable<expected<exit_status>> {
        auto ff = endless().spawn(co_await asio::this_coro::executor);
        if (!ff) co_return tl::unexpected(ff.error());
        co_return co_await ff->wait();
      }(),
      1s);
  REQUIRE_FALSE(st);
  CHECK(st.error() == errc::timed_out);
  CHECK(st.error().status().has_value());
  CHECK(std::chrono::steady_clock::now() - started < 20s);
  CHECK_FALSE(has_children());
}

TEST_CASE("an error prints its whole message through operator<<", "[helpers]") {
  auto r = run([]() -> awaitable<expected<exit_status>> {
    auto ff = command{}
                  .hide_banner()
                  .input("/nonexistent/sidecar-input.mp4")
                  .format("null")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    co_return co_await ff->wait();
  }());
  REQUIRE_FALSE(r);
  std::ostringstream out;
  out << r.error();
  CHECK(out.str() == r.error().message());
  CHECK(out.str().find("/nonexistent/sidecar-input.mp4") != std::string::npos);
}

TEST_CASE("next_chunk: an encoded stdout, chunk by chunk, then nullopt", "[helpers]") {
  auto r = run([]() -> awaitable<std::pair<std::uint64_t, std::uint64_t>> {
    auto ff = command{}
                  .hide_banner()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25:duration=1")
                  .codec_video("mpeg4")
                  .format("matroska")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::uint64_t chunks = 0, bytes = 0;
    for (;;) {
      auto c = co_await ff->next_chunk();
      if (!c) break;
      ++chunks;
      bytes += c->size();
    }
    auto st = co_await ff->wait();
    CHECK(st);
    co_return std::pair{chunks, bytes};
  }());
  CHECK(r.first > 0);
  CHECK(r.second > 1000); // a matroska header and 25 frames
}

TEST_CASE("metadata::duration: an input's Duration line, nullopt for N/A", "[helpers]") {
  temp_dir dir;
  const auto file = (dir / "two-seconds.mkv").string();
  auto r = run([&]() -> awaitable<std::pair<std::optional<std::chrono::microseconds>,
                                            std::optional<std::chrono::microseconds>>> {
    auto ex = co_await asio::this_coro::executor;
    auto make = command{}
                    .hide_banner()
                    .format("lavfi")
                    .input("testsrc=size=64x48:rate=25:duration=2")
                    .codec_video("mpeg4")
                    .output(file)
                    .spawn(ex);
    REQUIRE(make);
    auto made = co_await make->wait();
    REQUIRE(made);
    auto ff = command{}.hide_banner().input(file).format("null").output("-").spawn(ex);
    REQUIRE(ff);
    auto m = co_await ff->metadata();
    auto st = co_await ff->wait();
    CHECK(st);
    // lavfi prints `Duration: N/A`.
    auto live = command{}
                    .hide_banner()
                    .format("lavfi")
                    .input("testsrc=size=64x48:duration=1")
                    .format("null")
                    .output("-")
                    .spawn(ex);
    REQUIRE(live);
    auto lm = co_await live->metadata();
    auto lst = co_await live->wait();
    CHECK(lst);
    co_return std::pair{m.duration(), lm.duration()};
  }());
  REQUIRE(r.first);
  CHECK(*r.first >= 1900ms);
  CHECK(*r.first <= 2100ms);
  CHECK_FALSE(r.second);
}

TEST_CASE("presets are builder steps that chain, with the free functions' arguments", "[helpers]") {
  // rtmp_push rebuilds the command to put -re before each input: secret() values survive.
  auto kept = command{}.secret("token-12345").testsrc().rtmp_push("rtmp://127.0.0.1/live/key");
  CHECK(std::find(kept.secrets().begin(), kept.secrets().end(), "token-12345") !=
        kept.secrets().end());

  command a;
  a.testsrc();
  rtmp_push(a, "rtmp://127.0.0.1/live/key");
  CHECK(command{}.testsrc().rtmp_push("rtmp://127.0.0.1/live/key").args() == a.args());

  command b;
  rtmp_push(b.testsrc(), "rtmp://127.0.0.1/live/key", {.gop = 60});
  CHECK(command{}.testsrc().rtmp_push("rtmp://127.0.0.1/live/key", {.gop = 60}).args() == b.args());

  command c;
  rtmp_listen(c, "rtmp://127.0.0.1:1935/live/in", {.timeout = 5s});
  CHECK(command{}.rtmp_listen("rtmp://127.0.0.1:1935/live/in", {.timeout = 5s}).args() == c.args());

  command d;
  hls_output(d.testsrc(), "/tmp/hls-out", {.segment_seconds = 2});
  CHECK(command{}.testsrc().hls_output("/tmp/hls-out", {.segment_seconds = 2}).args() == d.args());
  CHECK(command{}.testsrc().hls_output("/tmp/hls-out").args() ==
        hls_output(command{}.testsrc(), "/tmp/hls-out").args());
}

TEST_CASE("input_data: a subtitle given inline reaches ffmpeg as a data: URI", "[helpers]") {
  const std::string srt = "1\n00:00:00,000 --> 00:00:01,000\nHello, data: URI\n\n";
  auto cmd = command{}.hide_banner().format("srt").input_data("text/plain", srt);
  REQUIRE(cmd.inputs().size() == 1);
  CHECK(cmd.inputs()[0].url.rfind("data:text/plain;base64,", 0) == 0);
  auto text = run([&]() -> awaitable<expected<std::string>> {
    auto ff = command(cmd).format("srt").output("-").spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto out = co_await read_all(ff->take_stdout());
    auto st = co_await ff->wait();
    if (!st) co_return tl::unexpected(st.error());
    co_return out;
  }());
  REQUIRE(text);
  CHECK(text->find("Hello, data: URI") != std::string::npos);
}

TEST_CASE("output(named_pipe&), count_bytes and read_all on FIFOs", "[helpers]") {
  auto before = open_fds();
  auto r = run([]() -> awaitable<std::pair<expected<std::uint64_t>, expected<std::string>>> {
    auto ex = co_await asio::this_coro::executor;
    auto video = named_pipe::create(ex, "video");
    auto text = named_pipe::create(ex, "text");
    REQUIRE(video);
    REQUIRE(text);
    REQUIRE(video->open_read());
    REQUIRE(text->open_read());
    auto cmd = command{}
                   .hide_banner()
                   .format("lavfi")
                   .input("testsrc=size=64x48:rate=25:duration=1")
                   .format("srt")
                   .input_data("text/plain", "1\n00:00:00,000 --> 00:00:00,500\nfifo text\n\n")
                   .map("0:v")
                   .format("rawvideo")
                   .pix_fmt("rgb24")
                   .output(*video) // adds -y: with -n ffmpeg would refuse the FIFO
                   .map("1:s")
                   .format("srt")
                   .output(*text);
    CHECK(cmd.has_option("-y"));
    CHECK_FALSE(cmd.has_option("-n"));
    CHECK(cmd.outputs().at(0).url == video->path().string());
    CHECK(cmd.outputs().at(1).url == text->path().string());
    auto ff = cmd.spawn(ex);
    REQUIRE(ff);
    auto [n, s] = co_await (count_bytes(*video) && read_all(*text));
    auto st = co_await ff->wait();
    CHECK(st);
    co_return std::pair{std::move(n), std::move(s)};
  }());
  REQUIRE(r.first);
  CHECK(*r.first == 64u * 48 * 3 * 25);
  REQUIRE(r.second);
  CHECK(r.second->find("fifo text") != std::string::npos);
  CHECK(open_fds() == before);
}

TEST_CASE("read_all: a stream longer than the limit is an error, not a huge string", "[helpers]") {
  auto r = run([]() -> awaitable<expected<std::string>> {
    auto ff = command{}
                  .hide_banner()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25:duration=1")
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto out = co_await read_all(ff->take_stdout(), 10000);
    ff->take_stdout().close(); // read no more: ffmpeg then ends on its broken pipe
    auto st = co_await ff->wait();
    (void)st;
    co_return out;
  }());
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::bad_argument);
  CHECK(r.error().message().find("10000") != std::string::npos);
}

TEST_CASE("output(tcp_ingest&, k) names output k's URL", "[helpers]") {
  asio::io_context ctx;
  auto in = tcp_ingest::open(ctx.get_executor(), {.outputs = 2});
  REQUIRE(in);
  auto cmd =
      command{}.testsrc().format("rawvideo").output(*in, 0).format("rawvideo").output(*in, 1);
  REQUIRE(cmd.outputs().size() == 2);
  CHECK(cmd.outputs()[0].url == in->url(0));
  CHECK(cmd.outputs()[1].url == in->url(1));
}

TEST_CASE("wait_listening: ready once ffmpeg listens, without taking its one client", "[helpers]") {
  auto bytes = run([]() -> awaitable<std::size_t> {
    auto ex = co_await asio::this_coro::executor;
    auto port = free_loopback_port();
    REQUIRE(port);
    auto ff = command{}
                  .hide_banner()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25:duration=1")
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .output("tcp://127.0.0.1:" + std::to_string(*port) + "?listen")
                  .spawn(ex);
    REQUIRE(ff);
    auto ready = co_await wait_listening(ff->id(), *port, 10s);
    REQUIRE(ready);
    // Listening: one connect, no retry, and it is the client ffmpeg serves.
    tcp::socket s(ex);
    auto [ec] = co_await s.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), *port),
                                         asio::experimental::as_tuple(asio::use_awaitable));
    REQUIRE_FALSE(ec);
    auto data = co_await read_text(s);
    auto st = co_await ff->wait();
    CHECK(st);
    co_return data.size();
  }());
  CHECK(bytes == 64u * 48 * 3 * 25);
}

TEST_CASE("wait_listening: a server that dies first, and one that never listens", "[helpers]") {
  auto r = run([]() -> awaitable<std::pair<expected<void>, expected<void>>> {
    auto ex = co_await asio::this_coro::executor;
    auto port = free_loopback_port();
    REQUIRE(port);
    // Its input is missing: ffmpeg exits before it opens its listening output.
    auto dies = command{}
                    .hide_banner()
                    .input("/nonexistent/sidecar-input.mp4")
                    .format("mpegts")
                    .output("tcp://127.0.0.1:" + std::to_string(*port) + "?listen")
                    .spawn(ex);
    REQUIRE(dies);
    auto first = co_await wait_listening(dies->id(), *port, 10s);
    auto st = co_await dies->wait();
    CHECK_FALSE(st);
    // It runs but listens nowhere.
    auto quiet = endless().spawn(ex);
    REQUIRE(quiet);
    auto second = co_await wait_listening(quiet->id(), *port, 300ms);
    co_return std::pair{std::move(first), std::move(second)};
  }());
  REQUIRE_FALSE(r.first);
  CHECK(r.first.error() == errc::process_failed);
  REQUIRE_FALSE(r.second);
  CHECK(r.second.error() == errc::timed_out);
  CHECK(r.second.error().message().find("listen") != std::string::npos);
}
