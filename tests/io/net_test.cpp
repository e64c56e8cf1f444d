// named_pipe and tcp_ingest with real FIFOs, real loopback sockets and the real ffmpeg.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/named_pipe.hpp>
#include <sidecar/tcp_ingest.hpp>
#include <sidecar/with_timeout.hpp>

#include "support.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <array>
#include <fstream>

#include <sys/stat.h>

using namespace sidecar;
using namespace sidecar::test;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using asio::ip::tcp;

namespace {

// accept(k, group), or accept(k) for group 0. (Not `c ? co_await a : co_await b`: g++ 12
// destroys the result of a co_await inside ?: twice.)
awaitable<expected<tcp::socket>> accept_from(tcp_ingest& in, std::size_t k, pid_t group) {
  if (group > 0) co_return co_await in.accept(k, group);
  co_return co_await in.accept(k);
}

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode;
}

} // namespace

TEST_CASE("named_pipe: a private 0700 directory, a 0600 FIFO, both removed after", "[net]") {
  asio::io_context ctx;
  std::filesystem::path path, dir;
  {
    auto p = named_pipe::create(ctx.get_executor(), "video");
    REQUIRE(p);
    path = p->path();
    dir = path.parent_path();
    CHECK(S_ISFIFO(mode_of(path)));
    CHECK((mode_of(path) & 0777) == 0600);
    CHECK((mode_of(dir) & 0777) == 0700);
    named_pipe moved = std::move(*p); // ownership moves, nothing removed yet
    CHECK(std::filesystem::exists(path));
  }
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK_FALSE(named_pipe::create(ctx.get_executor(), "a/b"));
}

TEST_CASE("named_pipe: an existing regular file is an error and is left alone", "[net]") {
  asio::io_context ctx;
  temp_dir dir;
  auto file = dir / "taken";
  std::ofstream(file) << "keep me";
  auto p = named_pipe::create_at(ctx.get_executor(), file);
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::already_exists);
  CHECK(p.error().message().find("not a FIFO") != std::string::npos);
  CHECK(std::filesystem::file_size(file) == 7);
  // An existing FIFO is used as it is, and not removed (it is not ours).
  auto fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  { REQUIRE(named_pipe::create_at(ctx.get_executor(), fifo)); }
  CHECK(std::filesystem::exists(fifo));
  // A missing path is made, and removed after.
  auto made = dir / "made";
  { REQUIRE(named_pipe::create_at(ctx.get_executor(), made)); }
  CHECK_FALSE(std::filesystem::exists(made));
}

TEST_CASE("named_pipe: a reader opened before any writer sees the data, then EOF", "[net]") {
  auto before = open_fds();
  auto got = run([]() -> awaitable<std::string> {
    auto ex = co_await asio::this_coro::executor;
    auto reader = named_pipe::create(ex);
    REQUIRE(reader);
    REQUIRE(reader->open_read());
    auto writer = named_pipe::create_at(ex, reader->path());
    REQUIRE(writer);
    auto write_later = [&]() -> awaitable<void> {
      asio::steady_timer t(ex, 150ms); // the reader is waiting meanwhile: no false EOF
      co_await t.async_wait(asio::use_awaitable);
      auto opened = co_await writer->open_write(2s);
      REQUIRE(opened);
      co_await asio::async_write(*writer, asio::buffer(std::string("hello fifo")),
                                 asio::use_awaitable);
      writer->close();
    };
    auto text = co_await (read_text(*reader) && write_later());
    co_return text;
  }());
  CHECK(got == "hello fifo");
  CHECK(open_fds() == before);
}

TEST_CASE("named_pipe: a writer with no reader times out without blocking", "[net]") {
  auto r = run([]() -> awaitable<std::pair<bool, bool>> {
    auto ex = co_await asio::this_coro::executor;
    auto p = named_pipe::create(ex);
    REQUIRE(p);
    // A timer keeps ticking while open_write waits: the io_context is never blocked.
    int ticks = 0;
    auto tick = [&]() -> awaitable<void> {
      asio::steady_timer t(ex);
      for (int i = 0; i < 5; ++i) {
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
        ++ticks;
      }
    };
    auto opened = co_await (p->open_write(300ms) && tick());
    REQUIRE_FALSE(opened);
    co_return std::pair{opened.error() == errc::timed_out, ticks == 5};
  }());
  CHECK(r.first);
  CHECK(r.second);
}

TEST_CASE("named_pipe: ffmpeg writes two FIFOs alternately, no deadlock, exact bytes", "[net]") {
  auto before = open_fds();
  auto sizes = run([]() -> awaitable<std::pair<std::size_t, std::size_t>> {
    auto ex = co_await asio::this_coro::executor;
    auto video = named_pipe::create(ex, "v");
    auto audio = named_pipe::create(ex, "a");
    REQUIRE(video);
    REQUIRE(audio);
    REQUIRE(video->open_read());
    REQUIRE(audio->open_read());
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=320x240:rate=25:duration=3")
                  .format("lavfi")
                  .input("sine=frequency=1000:sample_rate=44100:duration=3")
                  .map("0:v")
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .overwrite()
                  .output(video->path().string())
                  .map("1:a")
                  .format("s16le")
                  .arg("-ac")
                  .arg("1")
                  .output(audio->path().string())
                  .spawn(ex);
    REQUIRE(ff);
    auto [v, a] = co_await (read_text(*video) && read_text(*audio));
    auto st = co_await ff->wait();
    CHECK(st);
    co_return std::pair{v.size(), a.size()};
  }());
  CHECK(sizes.first == 320u * 240 * 3 * 75);
  CHECK(sizes.second == 44100u * 2 * 3);
  CHECK(open_fds() == before);
  CHECK_FALSE(has_children());
}

TEST_CASE("tcp_ingest: one port, an address per output, urls distinct", "[net]") {
  asio::io_context ctx;
  auto in = tcp_ingest::open(ctx.get_executor(), {.outputs = 3});
  REQUIRE(in);
  CHECK(in->port() != 0);
  CHECK(in->url(0) == "tcp://127.0.0.1:" + std::to_string(in->port()));
  CHECK(in->url(1) == "tcp://127.0.0.2:" + std::to_string(in->port()));
  CHECK(in->url(2) == "tcp://127.0.0.3:" + std::to_string(in->port()));
  for (std::size_t k = 0; k < 3; ++k)
    CHECK(in->endpoint(k).address().to_v4().to_bytes()[0] == 127);
}

TEST_CASE("tcp_ingest: outputs that start at different times are told apart", "[net]") {
  // Three separate ffmpeg children, started in reverse order with delays: connection order
  // is the opposite of output order, and each connection still maps to its output. Each has
  // exited before its output is accepted: the ingest checked its peer on arrival, or (a short
  // output, closed before the ingest could look) took it as the only one once the child ended.
  bool by_group = false;
  SECTION("accept(k): any process of our uid") {}
  SECTION("accept(k, group): each child's process group") {
    by_group = true;
  }
  auto got = run([by_group]() -> awaitable<std::array<std::string, 3>> {
    auto ex = co_await asio::this_coro::executor;
    auto in = tcp_ingest::open(ex, {.outputs = 3});
    REQUIRE(in);
    std::vector<ffmpeg_child> children;
    asio::steady_timer t(ex);
    for (int k = 2; k >= 0; --k) {
      auto ff = command{}
                    .format("lavfi")
                    .input("sine=frequency=" + std::to_string(100 * (k + 1)) + ":duration=0.2")
                    .format("lavfi")
                    .input("color=c=black:size=16x16:duration=0.2")
                    .arg("-metadata")
                    .arg("title=output" + std::to_string(k))
                    .map("1:v")
                    .codec_video("rawvideo")
                    .format("nut")
                    .output(in->url(k))
                    .spawn(ex);
      REQUIRE(ff);
      children.push_back(std::move(*ff));
      t.expires_after(100ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    for (auto& c : children) {
      auto st = co_await c.wait();
      CHECK(st);
    }
    std::array<std::string, 3> out;
    for (std::size_t k = 0; k < 3; ++k) {
      // children[2 - k] was started for output k (in reverse order)
      auto c = co_await accept_from(*in, k, by_group ? children[2 - k].id() : 0);
      REQUIRE(c);
      out[k] = co_await read_text(*c);
    }
    co_return out;
  }());
  for (int k = 0; k < 3; ++k) {
    INFO(k);
    CHECK(got[static_cast<std::size_t>(k)].find("output" + std::to_string(k)) != std::string::npos);
  }
}

TEST_CASE("tcp_ingest: a port in use is a clear error", "[net]") {
  auto before = open_fds();
  {
    asio::io_context ctx;
    tcp::acceptor holder(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    auto port = holder.local_endpoint().port();
    auto in = tcp_ingest::open(ctx.get_executor(), {.port = port});
    REQUIRE_FALSE(in);
    CHECK(in.error().code() == asio::error::address_in_use);
    CHECK(in.error().message().find(std::to_string(port)) != std::string::npos);
  }
  CHECK(open_fds() == before); // the failed acceptor closed its socket
  CHECK_FALSE(has_children());
}

TEST_CASE("tcp_ingest: accept times out when nothing connects", "[net]") {
  auto r = run([]() -> awaitable<expected<int>> {
    auto in = tcp_ingest::open(co_await asio::this_coro::executor, {.accept_timeout = 200ms});
    REQUIRE(in);
    auto c = co_await in->accept(0);
    if (!c) co_return tl::unexpected(c.error());
    co_return 0;
  }());
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::timed_out);
}

TEST_CASE("ffmpeg as the server: connect_with_retry until it listens", "[net]") {
  auto bytes = run([]() -> awaitable<std::size_t> {
    auto ex = co_await asio::this_coro::executor;
    auto port = free_loopback_port();
    REQUIRE(port);
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25:duration=1")
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .output("tcp://127.0.0.1:" + std::to_string(*port) + "?listen")
                  .spawn(ex);
    REQUIRE(ff);
    auto s =
        co_await connect_with_retry(tcp::endpoint(asio::ip::address_v4::loopback(), *port), 10s);
    REQUIRE(s);
    auto data = co_await read_text(*s);
    auto st = co_await ff->wait();
    CHECK(st);
    co_return data.size();
  }());
  CHECK(bytes == 64u * 48 * 3 * 25);
}

TEST_CASE("connect_with_retry gives up with the reason", "[net]") {
  auto r = run([]() -> awaitable<expected<int>> {
    auto port = free_loopback_port();
    REQUIRE(port);
    auto c =
        co_await connect_with_retry(tcp::endpoint(asio::ip::address_v4::loopback(), *port), 300ms);
    if (!c) co_return tl::unexpected(c.error());
    co_return 0;
  }());
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == asio::error::connection_refused);
  CHECK(r.error().message().find("nothing listened") != std::string::npos);
}

// The program closes its end after 1000 bytes while ffmpeg keeps sending. Unread data is
// still queued on our side, so Linux answers with a reset rather than a FIN: either way
// ffmpeg's next write fails, and its run must end with an error carrying that.
TEST_CASE("the program closes the connection early: ffmpeg's write fails, no hang", "[net]") {
  auto before = open_fds();
  auto r = run([]() -> awaitable<std::pair<std::size_t, expected<exit_status>>> {
    auto ex = co_await asio::this_coro::executor;
    auto in = tcp_ingest::open(ex);
    REQUIRE(in);
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=320x240:rate=25")
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .output(in->url(0))
                  .spawn(ex);
    REQUIRE(ff);
    auto c = co_await in->accept(0);
    REQUIRE(c);
    std::array<char, 1000> buf;
    auto n = co_await asio::async_read(*c, asio::buffer(buf), asio::use_awaitable);
    c->close();
    auto st = co_await with_timeout(ff->wait(), 10s);
    co_return std::pair{n, st};
  }());
  CHECK(r.first == 1000);
  REQUIRE_FALSE(r.second);
  CHECK(r.second.error() == errc::process_failed); // ffmpeg failed by itself, promptly
  REQUIRE(r.second.error().status());
  CHECK(r.second.error().status()->code > 0); // 1 up to 5.1, 152 on 7.x: non-zero
  CHECK_FALSE(r.second.error().lines().empty());
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

namespace {

// Reads `bytes` from the socket, then closes it with SO_LINGER {on, 0}: the kernel drops
// what is queued and sends a reset (RST) instead of an orderly FIN.
awaitable<void> read_then_reset(tcp::socket& s, std::size_t bytes) {
  std::vector<char> buf(bytes);
  co_await asio::async_read(s, asio::buffer(buf), asio::use_awaitable);
  s.set_option(asio::socket_base::linger(true, 0));
  s.close();
}

// ffmpeg's failure as a reset peer reports it: its exit status and its own error lines.
void check_reset_failure(const expected<exit_status>& st) {
  REQUIRE_FALSE(st);
  INFO(st.error().message());
  CHECK(st.error() == errc::process_failed); // not timed_out: ffmpeg noticed by itself
  REQUIRE(st.error().status());
  CHECK(st.error().status()->code > 0); // 1 up to 5.1, 152 on 7.x: non-zero
  REQUIRE_FALSE(st.error().lines().empty());
  auto says = [&](std::string_view what) {
    return st.error().message().find(what) != std::string::npos;
  };
  CHECK((says("Connection reset by peer") || says("Broken pipe")));
}

} // namespace

TEST_CASE("a reset (SO_LINGER 0) mid-stream on an ingest connection ends ffmpeg's run",
          "[net][fault]") {
  auto before = open_fds();
  auto st = run(
      []() -> awaitable<expected<exit_status>> {
        auto ex = co_await asio::this_coro::executor;
        auto in = tcp_ingest::open(ex);
        REQUIRE(in);
        auto ff = command{}
                      .format("lavfi")
                      .input("testsrc=size=320x240:rate=25")
                      .format("rawvideo")
                      .pix_fmt("rgb24")
                      .output(in->url(0))
                      .spawn(ex);
        REQUIRE(ff);
        auto c = co_await in->accept(0);
        REQUIRE(c);
        co_await read_then_reset(*c, 256 * 1024);
        co_return co_await with_timeout(ff->wait(), 10s);
      }(),
      30s);
  check_reset_failure(st);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("a reset (SO_LINGER 0) mid-stream on ffmpeg's ?listen server ends its run",
          "[net][fault]") {
  auto before = open_fds();
  auto st = run(
      []() -> awaitable<expected<exit_status>> {
        auto ex = co_await asio::this_coro::executor;
        auto port = free_loopback_port();
        REQUIRE(port);
        auto ff = command{}
                      .realtime()
                      .format("lavfi")
                      .input("testsrc=size=320x240:rate=25")
                      .format("rawvideo")
                      .pix_fmt("rgb24")
                      .output("tcp://127.0.0.1:" + std::to_string(*port) + "?listen")
                      .spawn(ex);
        REQUIRE(ff);
        auto s = co_await connect_with_retry(tcp::endpoint(asio::ip::address_v4::loopback(), *port),
                                             10s);
        REQUIRE(s);
        co_await read_then_reset(*s, 3 * 320 * 240 * 3); // three frames, in real time
        co_return co_await with_timeout(ff->wait(), 10s);
      }(),
      30s);
  check_reset_failure(st);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}
