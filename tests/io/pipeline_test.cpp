// Pipelines end together: a failing stage cancels the others, every child is stopped and
// reaped, every fd closed.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/named_pipe.hpp>
#include <sidecar/pipeline.hpp>
#include <sidecar/relay.hpp>
#include <sidecar/tcp_ingest.hpp>

#include "support.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <filesystem>

using namespace sidecar;
using namespace sidecar::test;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;

namespace {

// Follows a child's progress to its end; an endless child never ends it.
awaitable<expected<std::uint64_t>> watch(ffmpeg_child& ff) {
  std::uint64_t frames = 0;
  for (;;) {
    auto p = co_await ff.next_progress();
    if (!p) break;
    frames = p->frame.value_or(frames);
  }
  co_return frames;
}

} // namespace

TEST_CASE("a failing relay cancels the other stages; children are stopped and reaped",
          "[pipeline]") {
  auto before = open_fds();
  auto r = run(
      []() -> awaitable<std::pair<expected<void>, double>> {
        auto ex = co_await asio::this_coro::executor;
        auto started = std::chrono::steady_clock::now();
        expected<void> result;
        {
          // An endless realtime producer, and a consumer that leaves after 5 frames.
          auto producer = command{}
                              .realtime()
                              .format("lavfi")
                              .input("testsrc=size=64x48:rate=25")
                              .rawvideo()
                              .spawn(ex);
          auto consumer = command{}
                              .format("rawvideo")
                              .pix_fmt("rgb24")
                              .size(64, 48)
                              .input("-")
                              .frames(5)
                              .format("null")
                              .output("-")
                              .spawn(ex);
          REQUIRE(producer);
          REQUIRE(consumer);
          auto& out = producer->take_stdout();
          auto r =
              co_await pipeline(must(relay(out, consumer->stdin_pipe())) && must(watch(*producer)));
          if (!r) result = tl::unexpected(r.error());
          // Leaving the scope drops both children: the ladder stops the producer.
        }
        co_await async_wait_reaped(
            ex, asio::use_awaitable); // the reaper's ladder has run and reaped them
        CHECK_FALSE(has_children());  // reaped by the reaper service, not by the context's end
        co_return std::pair{
            result,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
      }(),
      30s);
  REQUIRE_FALSE(r.first);
  CHECK(r.first.error().code().value() == EPIPE);
  CHECK(r.first.error().message().find("relay") != std::string::npos);
  CHECK(r.second < 10.0);
  CHECK(open_fds() == before);
}

TEST_CASE("a pipeline whose stages all succeed gives their results", "[pipeline]") {
  auto r = run([]() -> awaitable<expected<std::tuple<std::uint64_t, std::uint64_t>>> {
    auto ex = co_await asio::this_coro::executor;
    auto producer = command{}
                        .format("lavfi")
                        .input("testsrc=size=64x48:rate=25")
                        .frames(20)
                        .rawvideo()
                        .spawn(ex);
    auto consumer = command{}
                        .format("rawvideo")
                        .pix_fmt("rgb24")
                        .size(64, 48)
                        .input("-")
                        .format("null")
                        .output("-")
                        .spawn(ex);
    REQUIRE(producer);
    REQUIRE(consumer);
    auto& out = producer->take_stdout();
    co_return co_await pipeline(must(relay(out, consumer->stdin_pipe())) && must(watch(*consumer)));
  }());
  REQUIRE(r);
  CHECK(std::get<0>(*r) == 20u * 64 * 48 * 3);
  CHECK(std::get<1>(*r) == 20);
}

TEST_CASE("a failing stage leaves no FIFO, no listening port, no child and no fd behind",
          "[pipeline]") {
  const auto before = open_fds();
  std::filesystem::path fifo_path;
  unsigned short port = 0;
  std::uint64_t tcp_bytes = 0;
  auto r = run(
      [&]() -> awaitable<expected<void>> {
        auto ex = co_await asio::this_coro::executor;
        expected<void> result;
        {
          auto fifo = named_pipe::create(ex, "video.rgb");
          auto ingest = tcp_ingest::open(ex);
          REQUIRE(fifo);
          REQUIRE(ingest);
          fifo_path = fifo->path();
          port = ingest->port();
          // One endless realtime ffmpeg, one output into the FIFO and one over TCP.
          auto ff = command{}
                        .realtime()
                        .format("lavfi")
                        .input("testsrc=size=64x48:rate=25")
                        .format("rawvideo")
                        .pix_fmt("rgb24")
                        .overwrite()
                        .output(fifo_path.string())
                        .format("rawvideo")
                        .pix_fmt("rgb24")
                        .output(ingest->url(0))
                        .spawn(ex);
          REQUIRE(ff);
          // The FIFO's reader has had enough after 5 frames, once the TCP output flows too
          // (7.x and later mux each output on its own thread: one may start later), and
          // fails its stage.
          auto fifo_stage = [&]() -> awaitable<expected<void>> {
            if (auto o = fifo->open_read(); !o) co_return tl::unexpected(o.error());
            std::array<std::byte, 64 * 48 * 3> frame{};
            std::size_t got = 0;
            while (got < 5 * frame.size() || tcp_bytes == 0) {
              auto [ec, n] = co_await fifo->async_read_some(
                  asio::buffer(frame), asio::experimental::as_tuple(asio::use_awaitable));
              if (ec) co_return fail(ec, "reading the FIFO");
              got += n;
            }
            co_return fail(errc::protocol, "the FIFO's reader gave up");
          };
          // The TCP reader would read forever.
          auto tcp_stage = [&]() -> awaitable<expected<void>> {
            auto sock = co_await ingest->accept(0, ff->id());
            if (!sock) co_return tl::unexpected(sock.error());
            std::array<std::byte, 65536> buf{};
            for (;;) {
              auto [ec, n] = co_await sock->async_read_some(
                  asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
              tcp_bytes += n;
              if (ec) co_return fail(ec, "reading TCP");
            }
          };
          auto p = co_await pipeline(must(fifo_stage()) && must(tcp_stage()));
          if (!p) result = tl::unexpected(p.error());
          // Leaving the scope drops the child, the FIFO and the acceptor.
        }
        co_await async_wait_reaped(
            ex, asio::use_awaitable); // the reaper's ladder has run and reaped them
        CHECK_FALSE(has_children());
        co_return result;
      }(),
      30s);
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::protocol);
  CHECK(r.error().message().find("gave up") != std::string::npos);
  CHECK(tcp_bytes > 0); // both outputs were flowing when the FIFO's stage failed
  CHECK_FALSE(std::filesystem::exists(fifo_path));
  CHECK_FALSE(std::filesystem::exists(fifo_path.parent_path())); // its private directory too
  CHECK(open_fds() == before);
  // Nothing listens on the port any more: a fresh listener can take it.
  asio::io_context ctx;
  asio::ip::tcp::acceptor again(ctx);
  std::error_code ec;
  again.open(asio::ip::tcp::v4(), ec);
  again.set_option(asio::socket_base::reuse_address(true), ec);
  again.bind({asio::ip::address_v4::loopback(), port}, ec);
  CHECK_FALSE(ec);
  if (!ec) again.listen(asio::socket_base::max_listen_connections, ec);
  CHECK_FALSE(ec);
}
