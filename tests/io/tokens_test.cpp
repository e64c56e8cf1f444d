// The free and io-level operations through completion tokens, as an Asio user drives them:
// async_probe, async_ffmpeg_version, named_pipe::async_open_write, tcp_ingest::async_accept,
// async_connect_with_retry and async_relay with a plain callback, use_future from another
// thread, deferred, as_tuple, and a handler bound to a strand (it runs there); and each
// cancellation type through a bound slot: asio::error::operation_aborted as a value, at once,
// with no child, FIFO writer or socket left behind. Real ffmpeg/ffprobe, FIFOs and loopback
// sockets; every run under a time limit.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/file_stream.hpp>
#include <sidecar/named_pipe.hpp>
#include <sidecar/probe.hpp>
#include <sidecar/read_all.hpp>
#include <sidecar/relay.hpp>
#include <sidecar/tcp_ingest.hpp>
#include <sidecar/tee.hpp>

#include "support.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/connect_pipe.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/read.hpp>
#include <asio/readable_pipe.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/writable_pipe.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <optional>
#include <thread>

using namespace sidecar;
using namespace sidecar::test;

namespace {

constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);

probe_options lavfi() {
  probe_options o;
  o.extra_args = strings("-f", "lavfi");
  return o;
}

// Runs ctx until it runs out of work; a hang fails the test instead of freezing the suite.
void run_limited(asio::io_context& ctx, std::chrono::steady_clock::duration limit = 30s) {
  ctx.run_for(limit);
  REQUIRE(ctx.stopped());
}

// Starts an operation whose handler is bound to a cancellation slot, emits `type` on it after
// 200 ms and returns what the handler got, and how long the operation took.
struct cancelled_result {
  std::optional<std::error_code> ec;
  std::chrono::steady_clock::duration took{};
};
template <class Start>
cancelled_result cancel_after_start(asio::io_context& ctx, asio::cancellation_type type,
                                    Start start) {
  cancelled_result r;
  asio::cancellation_signal signal;
  const auto t0 = std::chrono::steady_clock::now();
  start(asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, auto&&...) {
    r.ec = ec;
    r.took = std::chrono::steady_clock::now() - t0;
  }));
  asio::steady_timer timer(ctx, 200ms);
  timer.async_wait([&](std::error_code) { signal.emit(type); });
  // Until the handler has run (a tcp_ingest keeps its context busy while it lives), then
  // what the operation's end left to do (closing, reaping).
  const auto limit = std::chrono::steady_clock::now() + 30s;
  while (!r.ec && std::chrono::steady_clock::now() < limit)
    ctx.run_one_for(100ms);
  ctx.poll();
  return r;
}

} // namespace

TEST_CASE("async_probe and async_ffmpeg_version: callback, use_future, deferred, as_tuple",
          "[tokens]") {
  asio::io_context ctx;
  std::optional<media_info> info;
  std::error_code probe_ec, missing_ec;
  async_probe(ctx.get_executor(), "testsrc=size=64x48:rate=25:duration=1", lavfi(),
              [&](std::error_code ec, media_info m) {
                probe_ec = ec;
                info = std::move(m);
              });
  async_probe(ctx.get_executor(), "/nonexistent/sidecar-tokens.mp4", {},
              [&](std::error_code ec, media_info) { missing_ec = ec; });
  run_limited(ctx);
  CHECK_FALSE(probe_ec);
  REQUIRE(info);
  REQUIRE(info->streams.size() == 1);
  CHECK(info->streams.front().width == 64);
  CHECK(missing_ec == errc::process_failed); // the reason is in the awaitable form's error

  // use_future from another thread: the caller blocks on the result.
  asio::io_context ctx2;
  auto guard = asio::make_work_guard(ctx2);
  std::thread io([&] { ctx2.run_for(30s); });
  std::string failure;
  std::optional<version_info> version;
  try {
    version = async_ffmpeg_version(ctx2.get_executor(), tool::ffmpeg, asio::use_future).get();
    auto m = async_probe(ctx2.get_executor(), "testsrc=size=32x32:rate=5:duration=1", lavfi(),
                         asio::use_future)
                 .get();
    if (m.streams.empty() || m.streams.front().width != 32) failure = "wrong probe result";
    async_probe(ctx2.get_executor(), "/nonexistent/sidecar-tokens.mp4", {}, asio::use_future).get();
    failure = "probing a missing file succeeded";
  } catch (const std::system_error& e) {
    if (e.code() != errc::process_failed) failure = e.what(); // use_future throws the code
  }
  guard.reset();
  io.join();
  CHECK(failure.empty());
  REQUIRE(version);
  CHECK(version->major >= 4);

  // deferred and as_tuple in a coroutine.
  auto r = run([]() -> asio::awaitable<std::pair<std::error_code, int>> {
    auto ex = co_await asio::this_coro::executor;
    auto op = async_ffmpeg_version(ex, tool::ffprobe, asio::experimental::deferred);
    auto [vec, v] = co_await std::move(op)(tuple); // made first, started when awaited
    auto [pec, m] =
        co_await async_probe(ex, "testsrc=size=16x16:rate=5:duration=1", lavfi(), tuple);
    co_return std::pair(vec ? vec : pec, m.streams.empty() ? 0 : m.streams.front().height);
  }());
  CHECK_FALSE(r.first);
  CHECK(r.second == 16);
  CHECK_FALSE(has_children());
}

TEST_CASE("io operations through tokens: open_write, accept, connect_with_retry, relay",
          "[tokens]") {
  asio::io_context ctx;
  auto ex = ctx.get_executor();

  // named_pipe: a reader is there, the write end opens; none is, errc::timed_out.
  auto fifo = named_pipe::create(ex);
  REQUIRE(fifo);
  REQUIRE(fifo->open_read());
  auto writer = named_pipe::create_at(ex, fifo->path());
  REQUIRE(writer);
  auto lonely = named_pipe::create(ex);
  REQUIRE(lonely);
  std::optional<std::error_code> opened, timed_out;
  writer->async_open_write(5s, [&](std::error_code ec) { opened = ec; });
  lonely->async_open_write(100ms, [&](std::error_code ec) { timed_out = ec; });

  // connect_with_retry: to a listener, and to a port nothing listens on.
  asio::ip::tcp::acceptor listener(ex, {asio::ip::address_v4::loopback(), 0});
  std::optional<std::error_code> connected, refused;
  std::optional<asio::ip::tcp::socket> client, server;
  listener.async_accept([&](std::error_code ec, asio::ip::tcp::socket s) {
    if (!ec) server.emplace(std::move(s));
  });
  async_connect_with_retry(ex, listener.local_endpoint(), 5s,
                           [&](std::error_code ec, asio::ip::tcp::socket s) {
                             connected = ec;
                             if (!ec) client.emplace(std::move(s));
                           });
  auto free_port = free_loopback_port();
  REQUIRE(free_port);
  async_connect_with_retry(ex, {asio::ip::address_v4::loopback(), *free_port}, 200ms,
                           [&](std::error_code ec, asio::ip::tcp::socket s) {
                             refused = ec;
                             CHECK_FALSE(s.is_open()); // a closed socket comes with the error
                           });
  run_limited(ctx);
  REQUIRE(opened);
  CHECK_FALSE(*opened);
  CHECK(writer->is_open());
  REQUIRE(timed_out);
  CHECK(*timed_out == errc::timed_out);
  REQUIRE(connected);
  CHECK_FALSE(*connected);
  CHECK(client);
  CHECK(server);
  REQUIRE(refused);
  CHECK(*refused == asio::error::connection_refused);

  // tcp_ingest::async_accept from ffmpeg, then async_relay of what it sends into a pipe, both
  // through as_tuple and deferred in a coroutine.
  struct relayed {
    std::error_code accept_ec, relay_ec;
    std::uint64_t moved = 0;
    std::size_t read = 0;
  };
  auto r = run([]() -> asio::awaitable<relayed> {
    using namespace asio::experimental::awaitable_operators;
    relayed out;
    auto ex = co_await asio::this_coro::executor;
    auto ingest = tcp_ingest::open(ex);
    REQUIRE(ingest);
    command c;
    c.format("lavfi")
        .input("testsrc=size=64x48:rate=25")
        .frames(5)
        .format("rawvideo")
        .pix_fmt("rgb24");
    c.output(ingest->url(0));
    auto ff = c.spawn(ex);
    REQUIRE(ff);
    auto [aec, sock] = co_await ingest->async_accept(0, ff->id(), tuple);
    out.accept_ec = aec;
    asio::readable_pipe rd(ex);
    asio::writable_pipe wr(ex);
    asio::connect_pipe(rd, wr);
    auto op = async_relay(sock, wr, relay_options{}, asio::experimental::deferred);
    // (&& flattens the relay's (ec, n) and the text read into one tuple)
    auto [rec, moved, text] = co_await (std::move(op)(tuple) && read_text(rd));
    out.relay_ec = rec;
    out.moved = moved;
    out.read = text.size();
    auto st = co_await ff->wait();
    CHECK(st);
    co_return out;
  }());
  CHECK_FALSE(r.accept_ec);
  CHECK_FALSE(r.relay_ec);
  CHECK(r.moved == 5 * 64 * 48 * 3);
  CHECK(r.read == r.moved);
  CHECK_FALSE(has_children());
}

TEST_CASE("a handler bound to a strand runs on it: probe, open_write, connect, relay", "[tokens]") {
  asio::io_context ctx;
  auto strand = asio::make_strand(ctx);
  std::atomic<int> off{0}, done{0};
  auto check = [&] {
    if (!strand.running_in_this_thread()) ++off;
    ++done;
  };
  auto fifo = named_pipe::create(ctx.get_executor());
  REQUIRE(fifo);
  REQUIRE(fifo->open_read());
  auto writer = named_pipe::create_at(ctx.get_executor(), fifo->path());
  REQUIRE(writer);
  asio::ip::tcp::acceptor listener(ctx, {asio::ip::address_v4::loopback(), 0});
  listener.async_accept([](std::error_code, asio::ip::tcp::socket) {});
  asio::readable_pipe in(ctx), rd(ctx);
  asio::writable_pipe feed(ctx), out(ctx);
  asio::connect_pipe(in, feed);
  asio::connect_pipe(rd, out);
  std::string text = "through the relay";
  asio::write(feed, asio::buffer(text));
  feed.close();
  std::optional<std::uint64_t> moved;
  std::atomic<int> failed{0};
  auto on_strand = [&] {
    return asio::bind_executor(strand, [&](std::error_code ec, auto&&...) {
      check();
      if (ec) ++failed;
    });
  };
  async_probe(ctx.get_executor(), "testsrc=size=16x16:rate=5:duration=1", lavfi(), on_strand());
  async_ffmpeg_version(ctx.get_executor(), tool::ffmpeg, on_strand());
  writer->async_open_write(5s, on_strand());
  async_connect_with_retry(ctx.get_executor(), listener.local_endpoint(), 5s, on_strand());
  async_relay(in, out, relay_options{},
              asio::bind_executor(strand, [&](std::error_code ec, std::uint64_t n) {
                check();
                if (ec) ++failed;
                moved = n;
              }));
  std::thread other([&] { ctx.run_for(30s); });
  ctx.run_for(30s);
  other.join();
  CHECK(done == 5);
  CHECK(off == 0);
  CHECK(failed == 0);
  REQUIRE(moved);
  CHECK(*moved == text.size());
  CHECK_FALSE(has_children());
}

TEST_CASE("each cancellation type ends each io operation with operation_aborted, at once",
          "[tokens][cancel]") {
  const auto type = GENERATE(asio::cancellation_type::terminal, asio::cancellation_type::partial,
                             asio::cancellation_type::total);
  CAPTURE(static_cast<int>(type));
  const auto fds = open_fds();
  {
    INFO("async_probe of a FIFO nobody writes: ffprobe blocks in open() until killed");
    asio::io_context ctx;
    auto fifo = named_pipe::create(ctx.get_executor());
    REQUIRE(fifo);
    auto r = cancel_after_start(ctx, type, [&](auto token) {
      async_probe(ctx.get_executor(), fifo->path().string(), {}, std::move(token));
    });
    REQUIRE(r.ec);
    CHECK(*r.ec == asio::error::operation_aborted);
    CHECK(r.took < 5s);
    CHECK_FALSE(has_children());
  }
  {
    INFO("async_open_write with no reader");
    asio::io_context ctx;
    auto fifo = named_pipe::create(ctx.get_executor());
    REQUIRE(fifo);
    auto r = cancel_after_start(ctx, type,
                                [&](auto token) { fifo->async_open_write(30s, std::move(token)); });
    REQUIRE(r.ec);
    CHECK(*r.ec == asio::error::operation_aborted);
    CHECK(r.took < 5s);
    CHECK_FALSE(fifo->is_open());
  }
  {
    INFO("async_accept with nothing connecting");
    asio::io_context ctx;
    auto ingest = tcp_ingest::open(ctx.get_executor());
    REQUIRE(ingest);
    auto r = cancel_after_start(ctx, type,
                                [&](auto token) { ingest->async_accept(0, std::move(token)); });
    REQUIRE(r.ec);
    CHECK(*r.ec == asio::error::operation_aborted);
    CHECK(r.took < 5s);
  }
  {
    INFO("async_connect_with_retry to a port nothing listens on");
    asio::io_context ctx;
    auto port = free_loopback_port();
    REQUIRE(port);
    auto r = cancel_after_start(ctx, type, [&](auto token) {
      async_connect_with_retry(ctx.get_executor(), {asio::ip::address_v4::loopback(), *port}, 30s,
                               std::move(token));
    });
    REQUIRE(r.ec);
    CHECK(*r.ec == asio::error::operation_aborted);
    CHECK(r.took < 5s);
  }
  {
    INFO("async_relay from a pipe nobody writes");
    asio::io_context ctx;
    asio::readable_pipe in(ctx), rd(ctx);
    asio::writable_pipe feed(ctx), out(ctx);
    asio::connect_pipe(in, feed);
    asio::connect_pipe(rd, out);
    auto r = cancel_after_start(
        ctx, type, [&](auto token) { async_relay(in, out, relay_options{}, std::move(token)); });
    REQUIRE(r.ec);
    CHECK(*r.ec == asio::error::operation_aborted);
    CHECK(r.took < 5s);
    CHECK_FALSE(in.is_open()); // a relay that ends early closes its source
  }
  {
    INFO("async_read_all and async_count_bytes from a pipe nobody writes");
    asio::io_context ctx;
    asio::readable_pipe in(ctx);
    asio::writable_pipe feed(ctx);
    asio::connect_pipe(in, feed);
    auto r = cancel_after_start(ctx, type,
                                [&](auto token) { async_read_all(in, 1024, std::move(token)); });
    REQUIRE(r.ec);
    CHECK(*r.ec == asio::error::operation_aborted);
    CHECK(r.took < 5s);
    ctx.restart(); // the first run left it stopped
    auto c =
        cancel_after_start(ctx, type, [&](auto token) { async_count_bytes(in, std::move(token)); });
    REQUIRE(c.ec);
    CHECK(*c.ec == asio::error::operation_aborted);
    CHECK(c.took < 5s);
  }
  {
    INFO("async_run_to_end of an ffprobe blocked opening a FIFO nobody writes");
    asio::io_context ctx;
    auto fifo = named_pipe::create(ctx.get_executor());
    REQUIRE(fifo);
    auto r = cancel_after_start(ctx, type, [&](auto token) {
      async_run_to_end(
          ctx.get_executor(),
          spawn_options::to_read("ffprobe", strings("-v", "error", fifo->path().string())),
          run_limits{}, std::move(token));
    });
    REQUIRE(r.ec);
    CHECK(*r.ec == asio::error::operation_aborted);
    CHECK(r.took < 5s);
    CHECK_FALSE(has_children());
  }
  {
    INFO("async_tee from a pipe nobody writes");
    asio::io_context ctx;
    asio::readable_pipe in(ctx), rd1(ctx), rd2(ctx);
    asio::writable_pipe feed(ctx), out1(ctx), out2(ctx);
    asio::connect_pipe(in, feed);
    asio::connect_pipe(rd1, out1);
    asio::connect_pipe(rd2, out2);
    auto r = cancel_after_start(ctx, type, [&](auto token) {
      async_tee(in, std::tie(out1, out2), tee_options{}, std::move(token));
    });
    REQUIRE(r.ec);
    CHECK(*r.ec == asio::error::operation_aborted);
    CHECK(r.took < 5s);
    CHECK_FALSE(in.is_open()); // a tee that ends early closes its source
  }
  CHECK(open_fds() == fds);
}

namespace {

// A source pipe holding `text` and then its end, and `n` sink pipes with their read ends.
struct tee_pipes {
  asio::readable_pipe in;
  std::vector<asio::readable_pipe> rd;
  std::vector<asio::writable_pipe> out;
  tee_pipes(const asio::any_io_executor& ex, const std::string& text, std::size_t n) : in(ex) {
    asio::writable_pipe feed(ex);
    asio::connect_pipe(in, feed);
    asio::write(feed, asio::buffer(text));
    for (std::size_t i = 0; i < n; ++i) {
      rd.emplace_back(ex);
      out.emplace_back(ex);
      asio::connect_pipe(rd.back(), out.back());
    }
  }
  // What sink i received (its write end is closed once the tee has ended).
  std::string received(std::size_t i) {
    std::string s;
    std::error_code ec;
    asio::read(rd[i], asio::dynamic_buffer(s), ec);
    return s;
  }
};

} // namespace

TEST_CASE("async_tee: callback, use_future from another thread, deferred, a strand", "[tokens]") {
  const std::string text = "one stream, two sinks";
  SECTION("a plain callback: (error_code, tee_result), each sink got every byte") {
    asio::io_context ctx;
    tee_pipes p(ctx.get_executor(), text, 2);
    std::optional<std::error_code> ec;
    tee_result result;
    async_tee(p.in, std::tie(p.out[0], p.out[1]), tee_options{},
              [&](std::error_code e, tee_result r) {
                ec = e;
                result = std::move(r);
              });
    run_limited(ctx);
    REQUIRE(ec);
    CHECK_FALSE(*ec);
    CHECK(result.bytes == text.size());
    REQUIRE(result.sinks.size() == 2);
    CHECK(result.sinks[1].bytes == text.size());
    CHECK(p.received(0) == text);
    CHECK(p.received(1) == text);
  }
  SECTION("use_future from another thread") {
    asio::io_context ctx;
    tee_pipes p(ctx.get_executor(), text, 1);
    auto work = asio::make_work_guard(ctx);
    std::thread runner([&] { ctx.run_for(30s); });
    auto f = async_tee(p.in, std::tie(p.out[0]), tee_options{}, asio::use_future);
    const bool ready = f.wait_for(20s) == std::future_status::ready;
    work.reset();
    runner.join();
    REQUIRE(ready);
    CHECK(f.get().bytes == text.size());
    CHECK(p.received(0) == text);
  }
  SECTION("deferred and as_tuple in a coroutine; fail_all's error is the code") {
    asio::io_context ctx;
    tee_pipes p(ctx.get_executor(), text, 2);
    p.rd[1].close(); // the second sink's reader is gone: EPIPE
    std::error_code ec;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          tee_options o;
          o.on_error = tee_options::on_sink_error::fail_all;
          auto op = async_tee(p.in, std::tie(p.out[0], p.out[1]), o, asio::experimental::deferred);
          auto [e, r] = co_await std::move(op)(tuple);
          ec = e;
          // A failed tee gives an empty result; the coroutine form's error names the sink.
          CHECK(r.sinks.empty());
        },
        asio::detached);
    run_limited(ctx);
    CHECK(ec.value() == EPIPE);
  }
  SECTION("a handler bound to a strand runs on it") {
    asio::io_context ctx;
    // The tee's parts on one strand (the one-strand-per-object rule), the handler on another.
    tee_pipes p(asio::make_strand(ctx), text, 2);
    auto strand = asio::make_strand(ctx);
    std::atomic<int> on{0}, off{0};
    async_tee(p.in, std::tie(p.out[0], p.out[1]), tee_options{},
              asio::bind_executor(strand, [&](std::error_code ec, tee_result) {
                ++(strand.running_in_this_thread() && !ec ? on : off);
              }));
    std::thread other([&] { ctx.run_for(30s); });
    ctx.run_for(30s);
    other.join();
    CHECK(on == 1);
    CHECK(off == 0);
  }
}

TEST_CASE("async_accept holds the ingest's state: moving the tcp_ingest meanwhile is safe",
          "[tokens]") {
  asio::io_context ctx;
  auto ingest = tcp_ingest::open(ctx.get_executor());
  REQUIRE(ingest);
  command c;
  c.format("lavfi").input("testsrc=size=64x48:rate=25").frames(5).format("rawvideo");
  c.output(ingest->url(0));
  auto ff = c.spawn(ctx.get_executor());
  REQUIRE(ff);
  std::optional<std::error_code> ec;
  std::uint64_t got = 0;
  asio::ip::tcp::socket held(ctx);
  ingest->async_accept(0, ff->id(), [&](std::error_code e, asio::ip::tcp::socket s) {
    ec = e;
    held = std::move(s);
  });
  // Moved before the operation has even started on the context, and again after.
  std::optional<tcp_ingest> moved(std::move(*ingest));
  ingest = fail(errc::cancelled, "moved away");
  ctx.run_one_for(100ms);
  std::optional<tcp_ingest> again(std::move(*moved));
  moved.reset();
  const auto limit = std::chrono::steady_clock::now() + 30s;
  while (!ec && std::chrono::steady_clock::now() < limit)
    ctx.run_one_for(100ms);
  REQUIRE(ec);
  CHECK_FALSE(*ec);
  if (!*ec) {
    std::error_code rec;
    std::string bytes;
    asio::read(held, asio::dynamic_buffer(bytes), rec);
    got = bytes.size();
  }
  CHECK(got == 5 * 64 * 48 * 3);
  again.reset();
  asio::post(ctx, [&] { ff = fail(errc::cancelled, "done"); });
  ctx.restart();
  run_limited(ctx);
  CHECK_FALSE(has_children());
}

TEST_CASE("async_read_all, async_count_bytes and async_run_to_end through tokens", "[tokens]") {
  const std::string text = "the whole stream";
  SECTION("callbacks: the bytes, and past the limit errc::bad_argument") {
    asio::io_context ctx;
    tee_pipes p(ctx.get_executor(), text, 0);
    std::optional<std::error_code> ec;
    std::string got;
    auto strand = asio::make_strand(ctx);
    bool on_strand = false;
    async_read_all(p.in, 1024, asio::bind_executor(strand, [&](std::error_code e, std::string s) {
                     on_strand = strand.running_in_this_thread();
                     ec = e;
                     got = std::move(s);
                   }));
    run_limited(ctx);
    REQUIRE(ec);
    CHECK_FALSE(*ec);
    CHECK(got == text);
    CHECK(on_strand); // a handler bound to a strand runs on it
    tee_pipes q(ctx.get_executor(), text, 0);
    ec.reset();
    async_read_all(q.in, 4, [&](std::error_code e, std::string) { ec = e; });
    ctx.restart();
    run_limited(ctx);
    REQUIRE(ec);
    CHECK(*ec == errc::bad_argument);
  }
  SECTION("use_future from another thread: async_count_bytes and async_run_to_end") {
    asio::io_context ctx;
    tee_pipes p(ctx.get_executor(), text, 0);
    auto work = asio::make_work_guard(ctx);
    std::thread runner([&] { ctx.run_for(30s); });
    auto n = async_count_bytes(p.in, asio::use_future);
    auto version =
        async_run_to_end(ctx.get_executor(), spawn_options::to_read("ffmpeg", strings("-version")),
                         run_limits{}, asio::use_future);
    const bool ready = n.wait_for(20s) == std::future_status::ready &&
                       version.wait_for(20s) == std::future_status::ready;
    work.reset();
    runner.join();
    REQUIRE(ready);
    CHECK(n.get() == text.size());
    auto out = version.get();
    CHECK(out.status.success());
    CHECK(out.out.find("ffmpeg version") != std::string::npos);
    CHECK_FALSE(has_children());
  }
}

static_assert(std::is_same_v<named_pipe::rebind_executor<asio::io_context::executor_type>::other,
                             basic_named_pipe<asio::io_context::executor_type>>);
static_assert(std::is_same_v<file_stream::rebind_executor<asio::io_context::executor_type>::other,
                             basic_file_stream<asio::io_context::executor_type>>);
static_assert(std::is_same_v<tcp_ingest::rebind_executor<asio::io_context::executor_type>::other,
                             basic_tcp_ingest<asio::io_context::executor_type>>);

TEST_CASE("as_default_on: a tcp_ingest, a named_pipe and a file_stream need no token", "[tokens]") {
  temp_dir dir;
  struct outcome {
    std::error_code accept, open, wrote, read, file;
    std::size_t accepted_bytes = 0;
    std::string through_fifo, through_file;
  };
  auto out = run([&]() -> asio::awaitable<outcome> {
    outcome o;
    auto ex = co_await asio::this_coro::executor;
    constexpr auto tuples = asio::experimental::as_tuple(asio::use_awaitable);
    // tcp_ingest: (ec, socket) by default
    auto opened = tcp_ingest::open(ex);
    REQUIRE(opened);
    auto ingest = tuples.as_default_on(std::move(*opened));
    command c;
    c.format("lavfi").input("testsrc=size=64x48:rate=25").frames(2).format("rawvideo");
    c.output(ingest.url(0));
    auto ff = c.spawn(ex);
    REQUIRE(ff);
    auto [aec, sock] = co_await ingest.async_accept(0, ff->id());
    o.accept = aec;
    auto all = co_await read_all(sock);
    if (all) o.accepted_bytes = all->size();
    (void)co_await ff->wait();
    // named_pipe: a writer and a reader of one FIFO
    auto made = named_pipe::create(ex);
    REQUIRE(made);
    auto reader = tuples.as_default_on(std::move(*made));
    REQUIRE(reader.open_read());
    auto other = named_pipe::create_at(ex, reader.path());
    REQUIRE(other);
    auto writer = tuples.as_default_on(std::move(*other));
    auto [oec] = co_await writer.async_open_write(5s);
    o.open = oec;
    const std::string text = "through the fifo";
    auto [wec, wn] = co_await writer.async_write_some(asio::buffer(text));
    o.wrote = wec;
    (void)wn;
    std::array<char, 64> buf{};
    auto [rec, rn] = co_await reader.async_read_some(asio::buffer(buf));
    o.read = rec;
    o.through_fifo.assign(buf.data(), rn);
    // file_stream: written, then read back
    auto path = dir / "bytes";
    auto fw = file_stream::open(ex, path, file_stream::mode::write_truncate);
    REQUIRE(fw);
    auto fs = asio::use_awaitable.as_default_on(std::move(*fw));
    co_await fs.async_write_some(asio::buffer(text)); // throws on error: use_awaitable
    fs.close();
    auto fr = file_stream::open(ex, path);
    REQUIRE(fr);
    auto fsr = tuples.as_default_on(std::move(*fr));
    auto [fec, fn] = co_await fsr.async_read_some(asio::buffer(buf));
    o.file = fec;
    o.through_file.assign(buf.data(), fn);
    co_return o;
  }());
  CHECK_FALSE(out.accept);
  CHECK(out.accepted_bytes == 2 * 64 * 48 * 3);
  CHECK_FALSE(out.open);
  CHECK_FALSE(out.wrote);
  CHECK_FALSE(out.read);
  CHECK(out.through_fifo == "through the fifo");
  CHECK_FALSE(out.file);
  CHECK(out.through_file == "through the fifo");
  CHECK_FALSE(has_children());
}
