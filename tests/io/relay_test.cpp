// relay, tee, file_stream and the ffplay sink with real processes, pipes, sockets and files.
#include <sidecar/ffplay.hpp>
#include <sidecar/file_stream.hpp>
#include <sidecar/relay.hpp>
#include <sidecar/tee.hpp>

#include "support.hpp"

#include <asio/bind_executor.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/readable_pipe.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>
#include <asio/writable_pipe.hpp>

#include <atomic>
#include <cstdlib>
#include <future>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

using namespace sidecar;
using namespace sidecar::test;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using asio::ip::tcp;

namespace {

constexpr std::size_t frame_bytes = 64 * 48 * 3;

// ffmpeg writing `frames` rgb24 frames of 64x48 to stdout.
command producer(int frames) {
  command c;
  c.hide_banner()
      .format("lavfi")
      .input("testsrc=size=64x48:rate=25")
      .frames(static_cast<std::uint64_t>(frames))
      .rawvideo();
  return c;
}

// ffmpeg reading 64x48 rgb24 frames on stdin, counting them (and stopping after `limit`).
command consumer(std::optional<int> limit = std::nullopt) {
  command c;
  c.hide_banner().format("rawvideo").pix_fmt("rgb24").size(64, 48).rate(25.0).input("-");
  if (limit) c.frames(static_cast<std::uint64_t>(*limit));
  c.format("null").output("-");
  return c;
}

// ffmpeg hashing the raw bytes it reads on stdin (-c copy: the packets are those bytes) and
// printing "MD5=<hex>" on stdout.
command consumer_md5() {
  command c;
  c.hide_banner().format("rawvideo").pix_fmt("rgb24").size(64, 48).rate(25.0).input("-");
  c.codec_video("copy").format("md5").output("-");
  return c;
}

// The same hash of producer(frames)'s output, made by ffmpeg without a pipe in between.
command producer_md5(int frames) {
  command c;
  c.hide_banner()
      .format("lavfi")
      .input("testsrc=size=64x48:rate=25")
      .frames(static_cast<std::uint64_t>(frames))
      .codec_video("rawvideo")
      .pix_fmt("rgb24")
      .format("md5")
      .output("-");
  return c;
}

// FNV-1a, 64 bits: a checksum to name in a failure message.
std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// A pipe whose two ends are Asio streams on `ex`.
std::pair<asio::readable_pipe, asio::writable_pipe> make_pipe(const asio::any_io_executor& ex) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  return {asio::readable_pipe(ex, fds[0]), asio::writable_pipe(ex, fds[1])};
}

awaitable<std::uint64_t> last_frame_count(ffmpeg_child& ff) {
  std::uint64_t n = 0;
  while (auto p = co_await ff.next_progress())
    if (p->frame) n = *p->frame;
  co_return n;
}

// Reads a socket to its end.
awaitable<std::uint64_t> drain(tcp::socket& s, std::chrono::milliseconds pause = {}) {
  std::vector<char> buf(64 * 1024);
  std::uint64_t n = 0;
  asio::steady_timer t(s.get_executor());
  for (;;) {
    auto [ec, got] = co_await s.async_read_some(asio::buffer(buf),
                                                asio::experimental::as_tuple(asio::use_awaitable));
    n += got;
    if (ec) break;
    if (pause.count()) {
      t.expires_after(pause);
      co_await t.async_wait(asio::use_awaitable);
    }
  }
  co_return n;
}

// A connected loopback pair.
awaitable<std::pair<tcp::socket, tcp::socket>> socket_pair() {
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acc(ex, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket a(ex);
  tcp::socket b = co_await (acc.async_accept(asio::use_awaitable) &&
                            a.async_connect(acc.local_endpoint(), asio::use_awaitable));
  co_return std::pair<tcp::socket, tcp::socket>{std::move(a), std::move(b)};
}

} // namespace

TEST_CASE("relay: ffmpeg stdout into another ffmpeg's stdin, spliced, bytes intact", "[io]") {
  auto before = open_fds();
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    // What the producer's 50 frames hash to, from ffmpeg itself without any relay.
    auto reference = producer_md5(50).spawn(ex);
    REQUIRE(reference);
    const auto expected_md5 = co_await read_text(reference->take_stdout());
    CHECK((co_await reference->wait()));
    REQUIRE(expected_md5.rfind("MD5=", 0) == 0);

    auto from = producer(50).spawn(ex);
    auto to = consumer_md5().spawn(ex);
    REQUIRE(from);
    REQUIRE(to);
    REQUIRE(sidecar::detail::can_splice(from->take_stdout().native_handle(),
                                        to->stdin_pipe().native_handle()));
    auto [moved, frames, md5] = co_await (relay(from->take_stdout(), to->stdin_pipe()) &&
                                          last_frame_count(*to) && read_text(to->take_stdout()));
    REQUIRE(moved);
    CHECK(*moved == 50 * frame_bytes);
    CHECK(frames == 50);
    CHECK(md5 == expected_md5); // the consumer got exactly the producer's bytes
    {
      auto status = co_await from->wait();
      CHECK(status);
    }
    {
      auto status = co_await to->wait();
      CHECK(status);
    }
  }());
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("relay: a known payload spliced pipe to pipe arrives intact", "[io]") {
  auto before = open_fds();
  // Not a multiple of the pipe size, the chunk size or a page: partial splices at the end.
  std::string payload(4 * 1024 * 1024 + 4099, '\0');
  std::uint64_t x = 0x9e3779b97f4a7c15ull; // xorshift64: bytes no run-length trick can fake
  for (auto& c : payload) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 56);
  }
  auto [moved, got] = run([&]() -> awaitable<std::pair<expected<std::uint64_t>, std::string>> {
    auto ex = co_await asio::this_coro::executor;
    auto [in_r, in_w] = make_pipe(ex);
    auto [out_r, out_w] = make_pipe(ex);
    // The path under test: both ends pipes, so relay takes splice(2), not its buffer.
    REQUIRE(sidecar::detail::splice_pays(in_r.native_handle(), out_w.native_handle()));
    // A named reference: clang 14 cannot capture a structured binding in a lambda.
    auto& writer = in_w;
    auto send = [&]() -> awaitable<void> {
      co_await asio::async_write(writer, asio::buffer(payload), asio::use_awaitable);
      writer.close();
    };
    relay_options o;
    o.chunk_size = 100 * 1000; // several splice calls, none pipe-sized
    auto [n, text] = co_await (send() && relay(in_r, out_w, o) && read_text(out_r));
    co_return std::pair{std::move(n), std::move(text)};
  }());
  REQUIRE(moved);
  CHECK(*moved == payload.size());
  CHECK(got.size() == payload.size());
  CHECK(fnv1a(got) == fnv1a(payload));
  CHECK(got == payload);
  CHECK(open_fds() == before);
}

TEST_CASE("relay: pipe to TCP socket and socket to pipe, each method", "[io]") {
  const auto method = GENERATE(relay_method::automatic, relay_method::splice, relay_method::copy);
  CAPTURE(static_cast<int>(method));
  run([method]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto [a, b] = co_await socket_pair();
    auto from = producer(40).spawn(ex);
    REQUIRE(from);
    auto to = consumer().spawn(ex);
    REQUIRE(to);
    // automatic: read/write into the socket (splice is the slower path there), splice out of it
    const int out = from->take_stdout().native_handle(), in = to->stdin_pipe().native_handle();
    CHECK(sidecar::detail::can_splice(out, a.native_handle()));
    CHECK_FALSE(sidecar::detail::splice_pays(out, a.native_handle()));
    CHECK(sidecar::detail::splice_pays(b.native_handle(), in));
    relay_options o;
    o.method = method;
    // ffmpeg → socket a ⇢ socket b → ffmpeg
    auto [sent, received, frames] = co_await (
        relay(from->take_stdout(), a, o) && relay(b, to->stdin_pipe(), o) && last_frame_count(*to));
    REQUIRE(sent);
    REQUIRE(received);
    CHECK(*sent == 40 * frame_bytes);
    CHECK(*received == 40 * frame_bytes);
    CHECK(frames == 40);
    {
      auto status = co_await from->wait();
      CHECK(status);
    }
    {
      auto status = co_await to->wait();
      CHECK(status);
    }
  }());
}

TEST_CASE("relay: socket to socket copies through a buffer", "[io]") {
  run([]() -> awaitable<void> {
    auto [a, b] = co_await socket_pair();
    auto [c, d] = co_await socket_pair();
    CHECK_FALSE(sidecar::detail::can_splice(b.native_handle(), c.native_handle()));
    std::string payload(3 * 1024 * 1024 + 17, 'x');
    auto& writer = a; // clang 14 cannot capture a structured binding in a lambda
    auto send = [&]() -> awaitable<void> {
      co_await asio::async_write(writer, asio::buffer(payload), asio::use_awaitable);
      writer.shutdown(tcp::socket::shutdown_send);
    };
    auto [moved, got] = co_await (send() && relay(b, c) && drain(d));
    REQUIRE(moved);
    CHECK(*moved == payload.size());
    CHECK(got == payload.size());
  }());
}

TEST_CASE("relay: into a file and from a file", "[io]") {
  temp_dir dir;
  auto path = dir / "frames.raw";
  run([](std::filesystem::path path) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    {
      auto from = producer(30).spawn(ex);
      REQUIRE(from);
      auto file = file_stream::open(ex, path, file_stream::mode::write_truncate);
      REQUIRE(file);
      auto moved = co_await relay(from->take_stdout(), *file);
      REQUIRE(moved);
      CHECK(*moved == 30 * frame_bytes);
      {
        auto status = co_await from->wait();
        CHECK(status);
      }
    }
    CHECK(std::filesystem::file_size(path) == 30 * frame_bytes);
    auto to = consumer().spawn(ex);
    REQUIRE(to);
    auto file = file_stream::open(ex, path);
    REQUIRE(file);
    auto [moved, frames] = co_await (relay(*file, to->stdin_pipe()) && last_frame_count(*to));
    REQUIRE(moved);
    CHECK(*moved == 30 * frame_bytes);
    CHECK(frames == 30);
    {
      auto status = co_await to->wait();
      CHECK(status);
    }
    // Without splice the same bytes arrive.
    auto again = file_stream::open(ex, path);
    auto copy = file_stream::open(ex, path.string() + ".copy", file_stream::mode::write_truncate);
    REQUIRE(again);
    REQUIRE(copy);
    relay_options o;
    o.method = relay_method::copy;
    o.chunk_size = 1000;
    auto copied = co_await relay(*again, *copy, o);
    REQUIRE(copied);
    CHECK(*copied == 30 * frame_bytes);
  }(path));
  CHECK(std::filesystem::file_size(path.string() + ".copy") == 30 * frame_bytes);
}

// A file's operations complete at once; the handler still runs on its associated executor:
// bound to a strand of a context run by two threads, on that strand (they ran on the
// context's threads directly, outside the strand).
TEST_CASE("file_stream: a strand-bound handler runs on its strand", "[io][tokens]") {
  temp_dir dir;
  auto path = dir / "bytes";
  asio::io_context ctx(2);
  auto strand = asio::make_strand(ctx);
  auto out = file_stream::open(ctx.get_executor(), path, file_stream::mode::write_truncate);
  REQUIRE(out);
  constexpr int writes = 200;
  std::atomic<int> on_strand{0}, written{0}, called{0};
  for (int i = 0; i < writes; ++i)
    out->async_write_some(asio::buffer("x", 1),
                          asio::bind_executor(strand, [&](std::error_code ec, std::size_t n) {
                            if (!ec) written += static_cast<int>(n);
                            on_strand += strand.running_in_this_thread() ? 1 : 0;
                            ++called;
                          }));
  std::thread other([&] { ctx.run_for(10s); });
  ctx.run_for(10s);
  other.join();
  CHECK(called == writes);
  CHECK(on_strand == writes);
  CHECK(written == writes);
  CHECK(std::filesystem::file_size(path) == static_cast<std::uintmax_t>(writes));
  // A read's too, and use_future gets the result on its own thread.
  auto in = file_stream::open(ctx.get_executor(), path);
  REQUIRE(in);
  char buf[64];
  auto fut = in->async_read_some(asio::buffer(buf), asio::use_future);
  ctx.restart();
  ctx.run_for(10s);
  REQUIRE(fut.wait_for(0s) == std::future_status::ready);
  CHECK(fut.get() == sizeof buf);
}

TEST_CASE("relay: a sink that exits early is an error, not a hang", "[io]") {
  auto before = open_fds();
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto from = producer(2000).spawn(ex);
    auto to = consumer(5).spawn(ex); // takes 5 frames, then exits
    REQUIRE(from);
    REQUIRE(to);
    auto moved = co_await relay(from->take_stdout(), to->stdin_pipe());
    REQUIRE_FALSE(moved);
    CHECK(moved.error().code() == std::errc::broken_pipe);
    CHECK(moved.error().message().find("relay") != std::string::npos);
    {
      auto status = co_await to->wait();
      CHECK(status);
    }
    // The failed relay closed the producer's stdout: it ends (EPIPE), however full its pipe.
    CHECK_FALSE(from->process().stdout_pipe().is_open());
    (void)co_await from->wait();
  }());
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("wait() after a cancelled relay or tee of the taken stdout returns: they close it",
          "[io]") {
  // Before, the stdout pipe stayed open with nobody reading it: ffmpeg blocked on a full pipe
  // and wait() never returned (the run() limit failed the test).
  auto before = open_fds();
  run(
      []() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (bool use_tee : {false, true}) {
          CAPTURE(use_tee);
          auto from = producer(1000000).spawn(ex); // ~9 GB: never ends by itself
          auto to = consumer().spawn(ex);
          REQUIRE(from);
          REQUIRE(to);
          if (use_tee)
            (void)co_await (tee(from->take_stdout(), to->stdin_pipe()) ||
                            sleep_for(std::chrono::milliseconds(300)));
          else
            (void)co_await (relay(from->take_stdout(), to->stdin_pipe()) ||
                            sleep_for(std::chrono::milliseconds(300)));
          CHECK_FALSE(from->process().stdout_pipe().is_open());
          auto status = co_await from->wait(); // ends: its next write is a broken pipe
          REQUIRE_FALSE(status);
          CHECK(status.error().code() == errc::process_failed);
          to->close_stdin(); // the sink was left open (only the source's end closes it)
          auto sunk = co_await to->wait();
          CHECK(sunk);
        }
      }(),
      std::chrono::seconds(20));
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("relay_options::close_source off: a cancelled relay leaves the source to the caller",
          "[io]") {
  auto before = open_fds();
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto from = producer(1000000).spawn(ex);
    auto to = consumer().spawn(ex);
    REQUIRE(from);
    REQUIRE(to);
    relay_options o;
    o.close_source = false;
    (void)co_await (relay(from->take_stdout(), to->stdin_pipe(), o) ||
                    sleep_for(std::chrono::milliseconds(200)));
    REQUIRE(from->process().stdout_pipe().is_open());
    // The rest of the stream, relayed again: the source is still good to read.
    auto more = co_await (relay(from->take_stdout(), to->stdin_pipe(), o) ||
                          sleep_for(std::chrono::milliseconds(200)));
    CHECK(more.index() == 1); // still flowing when the timer ended it
    from->process().stdout_pipe().close();
    (void)co_await from->wait();
    to->close_stdin();
    (void)co_await to->wait();
  }());
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("tee: one ffmpeg to a file and another ffmpeg at once", "[io]") {
  temp_dir dir;
  auto path = dir / "copy.raw";
  run([](std::filesystem::path path) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto from = producer(60).spawn(ex);
    auto to = consumer().spawn(ex);
    auto file = file_stream::open(ex, path, file_stream::mode::write_truncate);
    REQUIRE(from);
    REQUIRE(to);
    REQUIRE(file);
    tee_options o;
    o.high_water = 2 * frame_bytes;
    o.chunk_size = 4096;
    auto [r, frames] =
        co_await (tee(o, from->take_stdout(), *file, to->stdin_pipe()) && last_frame_count(*to));
    REQUIRE(r);
    CHECK(r->bytes == 60 * frame_bytes);
    REQUIRE(r->sinks.size() == 2);
    CHECK(r->sinks[0].bytes == 60 * frame_bytes);
    CHECK(r->sinks[1].bytes == 60 * frame_bytes);
    CHECK_FALSE(r->sinks[0].failed);
    CHECK_FALSE(r->sinks[1].failed);
    CHECK(frames == 60);
    {
      auto status = co_await from->wait();
      CHECK(status);
    }
    {
      auto status = co_await to->wait();
      CHECK(status);
    }
  }(path));
  CHECK(std::filesystem::file_size(path) == 60 * frame_bytes);
}

TEST_CASE("tee: a failing sink is dropped, the others get everything", "[io]") {
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto from = producer(100).spawn(ex);
    auto quitter = consumer(3).spawn(ex);
    auto full = consumer().spawn(ex);
    REQUIRE(from);
    REQUIRE(quitter);
    REQUIRE(full);
    auto [r, frames] =
        co_await (tee(from->take_stdout(), quitter->stdin_pipe(), full->stdin_pipe()) &&
                  last_frame_count(*full));
    REQUIRE(r);
    CHECK(r->bytes == 100 * frame_bytes);
    REQUIRE(r->sinks[0].failed);
    CHECK(r->sinks[0].failed->code().value() == EPIPE);
    CHECK(r->sinks[0].bytes < 100 * frame_bytes);
    CHECK_FALSE(r->sinks[1].failed);
    CHECK(r->sinks[1].bytes == 100 * frame_bytes);
    CHECK(frames == 100);
    {
      auto status = co_await quitter->wait();
      CHECK(status);
    }
    {
      auto status = co_await full->wait();
      CHECK(status);
    }
    {
      auto status = co_await from->wait();
      CHECK(status);
    }
  }());
  CHECK_FALSE(has_children());
}

TEST_CASE("tee: fail_all stops at the first failing sink", "[io]") {
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto from = producer(1000).spawn(ex);
    auto quitter = consumer(3).spawn(ex);
    auto [a, b] = co_await socket_pair();
    REQUIRE(from);
    REQUIRE(quitter);
    tee_options o;
    o.on_error = tee_options::on_sink_error::fail_all;
    auto [r, got] = co_await (tee(o, from->take_stdout(), quitter->stdin_pipe(), a) && drain(b));
    REQUIRE_FALSE(r);
    CHECK(r.error().code().value() == EPIPE);
    CHECK(got < 1000 * frame_bytes);
    from->process().stdout_pipe().close();
    (void)co_await from->wait();
    {
      auto status = co_await quitter->wait();
      CHECK(status);
    }
  }());
  CHECK_FALSE(has_children());
}

TEST_CASE("tee: a slow sink slows the source instead of growing memory", "[io]") {
  run(
      []() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto [a, b] = co_await socket_pair();
        auto [c, d] = co_await socket_pair();
        // Small socket buffers, so the backlog is ours to bound, not the kernel's.
        a.set_option(asio::socket_base::send_buffer_size(16 * 1024));
        b.set_option(asio::socket_base::receive_buffer_size(16 * 1024));
        const std::size_t total = 8 * 1024 * 1024;
        std::string payload(total, 'y');
        auto& writer = c; // clang 14 cannot capture a structured binding in a lambda
        auto send = [&]() -> awaitable<void> {
          co_await asio::async_write(writer, asio::buffer(payload), asio::use_awaitable);
          writer.shutdown(tcp::socket::shutdown_send);
        };
        // The sink file is /dev/null-fast; the socket sink is read 64 KiB per 5 ms.
        auto null = file_stream::open(ex, "/dev/null", file_stream::mode::write_append);
        REQUIRE(null);
        tee_options o;
        o.high_water = 256 * 1024;
        o.chunk_size = 64 * 1024;
        auto [r, got] = co_await (send() && tee(o, d, *null, a) && drain(b, 5ms));
        REQUIRE(r);
        CHECK(r->bytes == total);
        CHECK(r->sinks[0].bytes == total);
        CHECK(r->sinks[1].bytes == total);
        CHECK(got == total);
        // The fast sink never ran further ahead than the high-water mark (plus the chunk
        // that crossed it): the slow one set the pace.
        CHECK(r->peak_backlog <= o.high_water + o.chunk_size);
        CHECK(r->peak_backlog >= o.high_water);
      }(),
      60s);
}

TEST_CASE("ffplay consumes a matroska stream relayed from ffmpeg and exits 0", "[io][ffplay]") {
  run(
      []() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto ff = command{}
                      .hide_banner()
                      .format("lavfi")
                      .input("testsrc=size=160x120:rate=25:duration=2")
                      .format("lavfi")
                      .input("sine=frequency=440:duration=2")
                      .codec_video("mpeg4")
                      .codec_audio("pcm_s16le")
                      .format("matroska")
                      .output("-")
                      .spawn(ex);
        REQUIRE(ff);
        ffplay_options o;
        o.headless = true;
        o.format = "matroska";
        auto player = ffplay(ex, o);
        REQUIRE(player);
        auto moved = co_await relay(ff->take_stdout(), player->stdin_pipe());
        REQUIRE(moved);
        CHECK(*moved > 10000);
        {
          auto status = co_await ff->wait();
          CHECK(status);
        }
        auto st = co_await player->wait();
        REQUIRE(st);
        CHECK(st->success());
      }(),
      60s);
  CHECK_FALSE(has_children());
}

TEST_CASE("tee to ffplay and a file at once", "[io][ffplay]") {
  temp_dir dir;
  auto path = dir / "copy.mkv";
  run(
      [](std::filesystem::path path) -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto ff = command{}
                      .hide_banner()
                      .format("lavfi")
                      .input("testsrc=size=160x120:rate=25:duration=2")
                      .codec_video("mpeg4")
                      .format("matroska")
                      .output("-")
                      .spawn(ex);
        REQUIRE(ff);
        ffplay_options o;
        o.headless = true;
        auto player = ffplay(ex, o);
        REQUIRE(player);
        auto file = file_stream::open(ex, path, file_stream::mode::write_truncate);
        REQUIRE(file);
        auto r = co_await tee(ff->take_stdout(), player->stdin_pipe(), *file);
        REQUIRE(r);
        CHECK(r->sinks[0].bytes == r->bytes);
        CHECK(r->sinks[1].bytes == r->bytes);
        {
          auto status = co_await ff->wait();
          CHECK(status);
        }
        {
          auto status = co_await player->wait();
          CHECK(status);
        }
        // The copy is a whole stream ffmpeg can read back.
        auto back = command{}.input(path.string()).format("null").output("-").spawn(ex);
        REQUIRE(back);
        auto frames = co_await last_frame_count(*back);
        CHECK(frames == 50);
        {
          auto status = co_await back->wait();
          CHECK(status);
        }
      }(path),
      60s);
}

TEST_CASE("a missing ffplay is a clear error at once", "[io][ffplay]") {
  ::setenv("SIDECAR_FFPLAY", "/nonexistent/ffplay", 1);
  asio::io_context ctx;
  auto player = ffplay(ctx.get_executor());
  ::unsetenv("SIDECAR_FFPLAY");
  REQUIRE_FALSE(player);
  CHECK(player.error() == errc::binary_not_found);
  CHECK(player.error().message().find("ffplay") != std::string::npos);
}
