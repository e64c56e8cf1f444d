// Every asynchronous operation in the public headers, driven every way an Asio user would
// (issue 12): a plain callback, use_future waited on from another thread, deferred (started
// later with a callback), as_tuple(use_awaitable) in a coroutine, and a handler bound to a
// strand of a 2-thread context while the object lives on another strand (the handler must run
// on its own). Then, for each operation that documents cancellation, each type it claims
// through a bound slot: the documented error value, at once, and the child stopped (or left
// running) as documented. One table: an operation is a fixture (made on the executor, held
// by a shared_ptr, dropped on its context), a start(fixture, token) and what a success looks
// like. Real ffmpeg, ffprobe, pipes, FIFOs, files and loopback sockets; every run under a limit.
#include <sidecar/sidecar.hpp>

#include "support.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/connect_pipe.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/read.hpp>
#include <asio/readable_pipe.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>
#include <asio/writable_pipe.hpp>
#include <asio/write.hpp>

#include <array>
#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unistd.h>

using namespace sidecar;
using namespace sidecar::test;
using ex_t = asio::any_io_executor;

namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto deferred = asio::experimental::deferred;

// Runs ctx until done() or the limit; then drops the fixture on the context and runs on until
// the context is out of work (children stopped and reaped, sockets closed).
template <class F, class Done>
void finish(asio::io_context& ctx, std::shared_ptr<F>& f, Done done) {
  const auto limit = std::chrono::steady_clock::now() + 30s;
  while (!done() && std::chrono::steady_clock::now() < limit)
    ctx.run_one_for(100ms);
  CHECK(done()); // else it hung
  f.reset();
  ctx.restart();
  ctx.run_for(20s);
  CHECK(ctx.stopped());
}

// One way that ends in a plain callback: launch(fixture, handler) starts the operation.
template <class Make, class Launch, class Ok>
void through_callback(Make make, Launch launch, Ok ok) {
  asio::io_context ctx;
  auto f = make(ex_t(ctx.get_executor()));
  int calls = 0;
  bool good = false;
  launch(*f, [&](std::error_code ec, auto&&... v) {
    ++calls;
    good = ok(ec, v...);
  });
  finish(ctx, f, [&] { return calls > 0; });
  CHECK(calls == 1);
  CHECK(good);
}

// Drives start(fixture, token) every way; ok(ec, values...) says whether it succeeded.
template <class Make, class Start, class Ok>
void every_way(const char* name, Make make, Start start, Ok ok) {
  INFO(name);
  {
    INFO("way: a plain callback");
    through_callback(
        make, [&](auto& f, auto handler) { start(f, std::move(handler)); }, ok);
  }
  {
    INFO("way: use_future, waited on from a thread that does not run the context");
    asio::io_context ctx;
    auto guard = asio::make_work_guard(ctx);
    auto f = make(ex_t(ctx.get_executor()));
    std::thread io([&] { ctx.run_for(40s); });
    bool good = false;
    std::string failure;
    try {
      auto fut = start(*f, asio::use_future);
      if constexpr (std::is_void_v<decltype(fut.get())>) {
        fut.get();
        good = ok(std::error_code());
      } else {
        auto v = fut.get();
        good = ok(std::error_code(), v);
      }
    } catch (const std::system_error& e) {
      failure = e.what(); // use_future throws the error code
    }
    asio::post(ctx, [&] { f.reset(); }); // dropped on its context
    guard.reset();
    io.join();
    INFO(failure);
    CHECK(good);
  }
  {
    INFO("way: deferred, started later with a callback");
    through_callback(
        make, [&](auto& f, auto handler) { start(f, deferred)(std::move(handler)); }, ok);
  }
  {
    INFO("way: as_tuple(use_awaitable) in a coroutine");
    asio::io_context ctx;
    auto f = make(ex_t(ctx.get_executor()));
    bool good = false, done = false;
    asio::co_spawn(
        ctx,
        [](auto f, Start start, Ok ok, bool& good, bool& done) -> asio::awaitable<void> {
          auto t = co_await start(*f, as_tuple);
          good = std::apply(ok, std::move(t));
          done = true;
        }(f, start, ok, good, done),
        asio::detached);
    finish(ctx, f, [&] { return done; });
    CHECK(good);
  }
  {
    INFO("way: a handler bound to a strand runs there (2 threads, the object on another "
         "strand)");
    asio::io_context ctx;
    auto guard = asio::make_work_guard(ctx);
    auto home = asio::make_strand(ctx);
    auto theirs = asio::make_strand(ctx);
    auto f = make(ex_t(home));
    std::atomic<int> calls = 0;
    std::atomic<bool> good = false, on_strand = false;
    asio::post(home, [&] {
      start(*f, asio::bind_executor(theirs, [&](std::error_code ec, auto&&... v) {
        on_strand = theirs.running_in_this_thread();
        good = ok(ec, v...);
        ++calls;
      }));
    });
    std::thread a([&] { ctx.run_for(40s); }), b([&] { ctx.run_for(40s); });
    const auto limit = std::chrono::steady_clock::now() + 30s;
    while (calls == 0 && std::chrono::steady_clock::now() < limit)
      std::this_thread::sleep_for(5ms);
    asio::post(home, [&] { f.reset(); });
    guard.reset();
    a.join();
    b.join();
    CHECK(calls == 1);
    CHECK(on_strand);
    CHECK(good);
  }
}

// Each cancellation type in `types`, emitted `after` the start (zero: before the context has
// run at all, so before the operation began on its executor): the handler gets `expected`
// within 5 s; then after(fixture, type, ctx) checks what the documentation says happened.
template <class Make, class Start, class After>
void each_cancellation(const char* name, std::initializer_list<asio::cancellation_type> types,
                       Make make, Start start, std::error_code expected, After after,
                       std::chrono::milliseconds delay = 300ms) {
  for (auto type : types) {
    INFO(name << ", cancellation type " << static_cast<int>(type));
    asio::io_context ctx;
    auto f = make(ex_t(ctx.get_executor()));
    asio::cancellation_signal signal;
    std::optional<std::error_code> got;
    auto t0 = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration took{};
    start(*f, asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, auto&&...) {
      got = ec;
      took = std::chrono::steady_clock::now() - t0;
    }));
    asio::steady_timer timer(ctx, delay);
    if (delay == 0ms)
      signal.emit(type);
    else
      timer.async_wait([&](std::error_code) { signal.emit(type); });
    const auto limit = std::chrono::steady_clock::now() + 30s;
    while (!got && std::chrono::steady_clock::now() < limit)
      ctx.run_one_for(100ms);
    REQUIRE(got);
    INFO("completed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                            << " ms");
    CHECK(*got == expected);
    CHECK(took < delay + 5s);
    after(*f, type, ctx);
    finish(ctx, f, [] { return true; });
  }
  CHECK_FALSE(has_children());
}

constexpr std::initializer_list<asio::cancellation_type> all_types = {
    asio::cancellation_type::terminal, asio::cancellation_type::partial,
    asio::cancellation_type::total};

auto nothing_more = [](auto&, asio::cancellation_type, asio::io_context&) {};

// --- fixtures ------------------------------------------------------------------------------

struct ff_fixture {
  std::optional<ffmpeg_child> ff;
  std::vector<std::byte> data = std::vector<std::byte>(64 * 48 * 3);
};
auto spawning(command cmd) {
  return [cmd](ex_t ex) {
    auto f = std::make_shared<ff_fixture>();
    auto c = cmd.spawn(ex);
    REQUIRE(c);
    f->ff.emplace(std::move(*c));
    return f;
  };
}

command five_frames() {
  return command{}.format("lavfi").input("testsrc=size=64x48:rate=25").frames(5).rawvideo();
}
command five_chunks() {
  return command{}
      .format("lavfi")
      .input("testsrc=size=64x48:rate=25")
      .frames(5)
      .format("mpegts")
      .output("-");
}
command missing_input() {
  return command{}.input("/nonexistent/sidecar-every-way.mp4").format("null").output("-");
}
// Reads raw frames from stdin (what async_write feeds).
command frames_from_stdin() {
  return command{}
      .format("rawvideo")
      .arg("-pix_fmt")
      .arg("rgb24")
      .arg("-s")
      .arg("64x48")
      .input("-")
      .format("null")
      .output("-");
}
// Waits for raw audio on stdin that never comes: it describes no input, outputs nothing.
command starved(std::string_view level = "info") {
  return command{}
      .loglevel(level)
      .format("s16le")
      .arg("-ar")
      .arg("8000")
      .input("-")
      .format("null")
      .output("-");
}

// After a cancelled call on the event stream: wait() says errc::cancelled, the child stopped
// as the type asks (total: it ended by itself, partial: SIGTERM, terminal: SIGKILL).
auto stopped_as_asked = [](ff_fixture& f, asio::cancellation_type type, asio::io_context& ctx) {
  CHECK(f.ff->cancelled());
  std::optional<std::error_code> ec;
  exit_status st;
  f.ff->async_wait([&](std::error_code e, exit_status s) {
    ec = e;
    st = s;
  });
  const auto limit = std::chrono::steady_clock::now() + 20s;
  while (!ec && std::chrono::steady_clock::now() < limit)
    ctx.run_one_for(100ms);
  REQUIRE(ec);
  CHECK(*ec == errc::cancelled);
  if (type == asio::cancellation_type::terminal) CHECK(st.signal == SIGKILL);
  if (type == asio::cancellation_type::partial) CHECK_FALSE(st.success());
  if (type == asio::cancellation_type::total) CHECK(st.signal == 0);
};

struct child_fixture {
  ex_t ex;
  std::optional<child> c;
};
// A child of `program args...`, stdin /dev/null, ended by SIGTERM.
auto child_of(std::string program, std::vector<std::string> args, stop_ladder ladder = {}) {
  return [program, args, ladder](ex_t ex) {
    auto f = std::make_shared<child_fixture>(child_fixture{ex, std::nullopt});
    auto o = spawn_options::to_read(program, args);
    o.ladder = ladder;
    auto c = child::spawn(ex, std::move(o));
    REQUIRE(c);
    f->c.emplace(std::move(*c));
    return f;
  };
}

struct ex_fixture {
  ex_t ex;
};
auto just_executor = [](ex_t ex) { return std::make_shared<ex_fixture>(ex_fixture{ex}); };

// A pipe whose read end holds "hello" and then the end (or, open, waits for more).
struct pipe_fixture {
  asio::readable_pipe r;
  asio::writable_pipe w;
  asio::readable_pipe sink_reader;
  asio::writable_pipe sink;
  asio::readable_pipe sink2_reader;
  asio::writable_pipe sink2;
  std::array<char, 16> buf{};
  explicit pipe_fixture(ex_t ex)
      : r(ex), w(ex), sink_reader(ex), sink(ex), sink2_reader(ex), sink2(ex) {
    asio::connect_pipe(r, w);
    asio::connect_pipe(sink_reader, sink);
    asio::connect_pipe(sink2_reader, sink2);
  }
};
auto hello_pipe(bool close_writer) {
  return [close_writer](ex_t ex) {
    auto f = std::make_shared<pipe_fixture>(ex);
    if (close_writer) {
      asio::write(f->w, asio::buffer("hello", 5));
      f->w.close();
    }
    return f;
  };
}

struct fifo_fixture {
  std::optional<named_pipe> reader, writer;
  int raw_writer = -1;
  std::array<char, 16> buf{};
  ~fifo_fixture() {
    if (raw_writer != -1) ::close(raw_writer);
  }
};
// A FIFO whose read end is open; with `hello`, a writer has written "hello" into it.
auto fifo(bool hello) {
  return [hello](ex_t ex) {
    auto f = std::make_shared<fifo_fixture>();
    auto r = named_pipe::create(ex);
    REQUIRE(r);
    f->reader.emplace(std::move(*r));
    REQUIRE(f->reader->open_read());
    auto w = named_pipe::create_at(ex, f->reader->path());
    REQUIRE(w);
    f->writer.emplace(std::move(*w));
    if (hello) {
      f->raw_writer = ::open(f->reader->path().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      REQUIRE(f->raw_writer != -1);
      REQUIRE(::write(f->raw_writer, "hello", 5) == 5);
    }
    return f;
  };
}
// A FIFO with both ends open: the write end through async_open_write, run here on the
// context (not yet running: each way makes its fixture first).
auto fifo_both_ends = [](ex_t ex) {
  auto f = fifo(false)(ex);
  auto& ctx = static_cast<asio::io_context&>(asio::query(ex, asio::execution::context));
  std::optional<std::error_code> opened;
  f->writer->async_open_write(5000ms, [&](std::error_code ec) { opened = ec; });
  while (!opened)
    ctx.run_one();
  ctx.restart();
  REQUIRE_FALSE(*opened);
  return f;
};
// A FIFO nobody reads: opening its write end waits.
auto lonely_fifo = [](ex_t ex) {
  auto f = std::make_shared<fifo_fixture>();
  auto w = named_pipe::create(ex);
  REQUIRE(w);
  f->writer.emplace(std::move(*w));
  return f;
};

struct file_fixture {
  temp_dir dir;
  std::optional<file_stream> s;
  std::array<char, 16> buf{};
};
auto file_with_hello(file_stream::mode m) {
  return [m](ex_t ex) {
    auto f = std::make_shared<file_fixture>();
    std::ofstream(f->dir / "in.txt") << "hello";
    auto s = file_stream::open(ex, f->dir / "in.txt", m);
    REQUIRE(s);
    f->s.emplace(std::move(*s));
    return f;
  };
}

struct ingest_fixture {
  std::optional<tcp_ingest> in;
  std::optional<ffmpeg_child> ff;
};
// An ingest and an ffmpeg that writes five frames to its output 0.
auto ingest_with_ffmpeg(bool with_ffmpeg) {
  return [with_ffmpeg](ex_t ex) {
    auto f = std::make_shared<ingest_fixture>();
    auto in = tcp_ingest::open(ex);
    REQUIRE(in);
    f->in.emplace(std::move(*in));
    auto cmd = command{}.format("lavfi").input("testsrc=size=64x48:rate=25").frames(5);
    cmd.format("rawvideo").pix_fmt("rgb24").output(*f->in, 0);
    if (!with_ffmpeg) return f;
    auto c = cmd.spawn(ex);
    REQUIRE(c);
    f->ff.emplace(std::move(*c));
    return f;
  };
}

struct listener_fixture {
  ex_t ex;
  asio::ip::tcp::acceptor acceptor;
  std::optional<child> server;
  unsigned short port = 0;
};
auto listening_acceptor = [](ex_t ex) {
  auto f = std::make_shared<listener_fixture>(listener_fixture{
      ex, asio::ip::tcp::acceptor(ex, {asio::ip::address_v4::loopback(), 0}), std::nullopt});
  f->port = f->acceptor.local_endpoint().port();
  return f;
};
// A server process that listens on a free port (or, with listen false, never does).
auto server_process(bool listen) {
  return [listen](ex_t ex) {
    auto port = free_loopback_port();
    REQUIRE(port);
    auto f = std::make_shared<listener_fixture>(
        listener_fixture{ex, asio::ip::tcp::acceptor(ex), std::nullopt, *port});
    std::string script = listen ? "import socket,time\n"
                                  "s=socket.socket()\n"
                                  "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                                  "s.bind(('127.0.0.1'," +
                                      std::to_string(*port) +
                                      "))\n"
                                      "s.listen()\n"
                                      "time.sleep(30)\n"
                                : "import time\ntime.sleep(30)\n";
    auto c = child::spawn(ex, spawn_options::to_read("python3", strings("-c", script)));
    REQUIRE(c);
    f->server.emplace(std::move(*c));
    return f;
  };
}

probe_options lavfi() {
  probe_options o;
  o.extra_args = strings("-f", "lavfi");
  return o;
}

auto no_error = [](std::error_code ec, auto&&...) { return !ec; };

} // namespace

// --- the event stream ----------------------------------------------------------------------

TEST_CASE("ffmpeg_child::async_next_event every way", "[every_way]") {
  every_way(
      "async_next_event", spawning(five_frames()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_next_event(token); }, no_error);
}
TEST_CASE("ffmpeg_child::async_next_frame every way", "[every_way]") {
  every_way(
      "async_next_frame", spawning(five_frames()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_next_frame(token); },
      [](std::error_code ec, const frame& fr) { return !ec && fr.data().size() == 64 * 48 * 3; });
}
TEST_CASE("ffmpeg_child::async_next_chunk every way", "[every_way]") {
  every_way(
      "async_next_chunk", spawning(five_chunks()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_next_chunk(token); },
      [](std::error_code ec, const chunk& c) { return !ec && !c.data().empty(); });
}
TEST_CASE("ffmpeg_child::async_next_progress every way", "[every_way]") {
  every_way(
      "async_next_progress", spawning(five_frames()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_next_progress(token); }, no_error);
}
TEST_CASE("ffmpeg_child::async_metadata every way", "[every_way]") {
  every_way(
      "async_metadata", spawning(five_frames()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_metadata(token); },
      [](std::error_code ec, const metadata& m) { return !ec && !m.outputs.empty(); });
}
TEST_CASE("ffmpeg_child::async_errors every way", "[every_way]") {
  every_way(
      "async_errors", spawning(missing_input()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_errors(token); },
      [](std::error_code ec, const std::vector<log_line>& e) { return !ec && !e.empty(); });
}
TEST_CASE("ffmpeg_child::async_stderr_lines every way", "[every_way]") {
  every_way(
      "async_stderr_lines", spawning(five_frames()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_stderr_lines(token); },
      [](std::error_code ec, const std::vector<std::string>& l) { return !ec && !l.empty(); });
}
TEST_CASE("ffmpeg_child::async_wait every way", "[every_way]") {
  every_way(
      "async_wait", spawning(five_frames()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_wait(token); },
      [](std::error_code ec, exit_status st) { return !ec && st.success(); });
}
TEST_CASE("ffmpeg_child::async_write every way", "[every_way]") {
  every_way(
      "async_write", spawning(frames_from_stdin()),
      [](ff_fixture& f, auto&& token) { return f.ff->async_write(asio::buffer(f.data), token); },
      [](std::error_code ec, std::size_t n) { return !ec && n == 64 * 48 * 3; });
}

TEST_CASE("async_with_timeout every way", "[every_way]") {
  every_way(
      "async_with_timeout", spawning(five_frames()),
      [](ff_fixture& f, auto&& token) {
        return async_with_timeout(f.ff->get_executor(), f.ff->async_wait(deferred), 30s, token);
      },
      [](std::error_code ec, exit_status st) { return !ec && st.success(); });
}

TEST_CASE("each cancellation type cuts each event-stream operation short: operation_aborted, "
          "the child stopped as the type asks",
          "[every_way][cancel]") {
  // Nothing arrives: each operation waits until it is cancelled.
  auto quiet = spawning(starved("quiet")); // not even a log line for next_event
  auto info = spawning(starved());
  const auto aborted = std::error_code(asio::error::operation_aborted);
  each_cancellation(
      "async_next_event", all_types, quiet,
      [](ff_fixture& f, auto&& t) { return f.ff->async_next_event(t); }, aborted, stopped_as_asked);
  each_cancellation(
      "async_next_frame", all_types, info,
      [](ff_fixture& f, auto&& t) { return f.ff->async_next_frame(t); }, aborted, stopped_as_asked);
  each_cancellation(
      "async_next_chunk", all_types, info,
      [](ff_fixture& f, auto&& t) { return f.ff->async_next_chunk(t); }, aborted, stopped_as_asked);
  each_cancellation(
      "async_next_progress", all_types, info,
      [](ff_fixture& f, auto&& t) { return f.ff->async_next_progress(t); }, aborted,
      stopped_as_asked);
  each_cancellation(
      "async_metadata", all_types, info,
      [](ff_fixture& f, auto&& t) { return f.ff->async_metadata(t); }, aborted, stopped_as_asked);
  each_cancellation(
      "async_errors", all_types, info,
      [](ff_fixture& f, auto&& t) { return f.ff->async_errors(t); }, aborted, stopped_as_asked);
  each_cancellation(
      "async_stderr_lines", all_types, info,
      [](ff_fixture& f, auto&& t) { return f.ff->async_stderr_lines(t); }, aborted,
      stopped_as_asked);
  // wait: errc::cancelled itself, with the exit status.
  each_cancellation(
      "async_wait", all_types, info, [](ff_fixture& f, auto&& t) { return f.ff->async_wait(t); },
      std::error_code(errc::cancelled), nothing_more);
  // with_timeout passes the handler's cancellation to the operation: the wait's own result.
  each_cancellation(
      "async_with_timeout", all_types, info,
      [](ff_fixture& f, auto&& t) {
        return async_with_timeout(f.ff->get_executor(), f.ff->async_wait(deferred), 30s,
                                  asio::cancellation_type::total, t);
      },
      std::error_code(errc::cancelled), nothing_more);
}

// --- processes and tools -------------------------------------------------------------------

TEST_CASE("child::async_wait and async_stop every way", "[every_way]") {
  every_way(
      "child::async_wait", child_of("true", {}),
      [](child_fixture& f, auto&& token) { return f.c->async_wait(token); },
      [](std::error_code ec, exit_status st) { return !ec && st.success(); });
  every_way(
      "child::async_stop", child_of("sleep", strings("30")),
      [](child_fixture& f, auto&& token) { return f.c->async_stop(token); },
      [](std::error_code ec, exit_status st) { return !ec && st.signal == SIGTERM; });
}

TEST_CASE("async_wait_reaped, async_run_to_end, async_ffmpeg_version, async_probe every way",
          "[every_way]") {
  every_way(
      "async_wait_reaped", just_executor,
      [](ex_fixture& f, auto&& token) { return async_wait_reaped(f.ex, token); },
      [](std::error_code ec) { return !ec; });
  every_way(
      "async_run_to_end", just_executor,
      [](ex_fixture& f, auto&& token) {
        return async_run_to_end(f.ex, spawn_options::to_read("echo", strings("hi")), run_limits{},
                                token);
      },
      [](std::error_code ec, const program_output& o) { return !ec && o.out == "hi\n"; });
  every_way(
      "async_ffmpeg_version", just_executor,
      [](ex_fixture& f, auto&& token) { return async_ffmpeg_version(f.ex, tool::ffmpeg, token); },
      [](std::error_code ec, const version_info& v) { return !ec && v.major >= 4; });
  every_way(
      "async_probe", just_executor,
      [](ex_fixture& f, auto&& token) {
        return async_probe(f.ex, "testsrc=size=32x16:rate=5:duration=1", lavfi(), token);
      },
      [](std::error_code ec, const media_info& m) {
        return !ec && m.streams.size() == 1 && m.streams.front().width == 32;
      });
}

TEST_CASE("each cancellation type ends the process operations: operation_aborted",
          "[every_way][cancel]") {
  const auto aborted = std::error_code(asio::error::operation_aborted);
  // child::async_wait: the wait ends, the child runs on.
  each_cancellation(
      "child::async_wait", all_types, child_of("sleep", strings("30")),
      [](child_fixture& f, auto&& t) { return f.c->async_wait(t); }, aborted,
      [](child_fixture& f, asio::cancellation_type, asio::io_context&) {
        CHECK(::kill(f.c->id(), 0) == 0); // still running
      });
  // async_wait_reaped: a dropped child that ignores SIGTERM is still held.
  auto held = [](ex_t ex) {
    auto o = spawn_options::to_read("sh", strings("-c", "trap '' TERM; echo ready; exec sleep 30"));
    o.ladder = stop_ladder{std::chrono::milliseconds(1500), std::chrono::milliseconds(100)};
    auto c = child::spawn(ex, std::move(o));
    REQUIRE(c);
    std::array<char, 6> ready{}; // SIGTERM is ignored from now on
    asio::read(c->stdout_pipe(), asio::buffer(ready));
    { auto dropped = std::move(*c); } // to the reaper: SIGTERM (ignored), SIGKILL 1.6 s later
    return std::make_shared<ex_fixture>(ex_fixture{ex});
  };
  each_cancellation(
      "async_wait_reaped", all_types, held,
      [](ex_fixture& f, auto&& t) { return async_wait_reaped(f.ex, t); }, aborted, nothing_more);
  // run_to_end: the program's group is killed and reaped.
  each_cancellation(
      "async_run_to_end", all_types, just_executor,
      [](ex_fixture& f, auto&& t) {
        return async_run_to_end(f.ex, spawn_options::to_read("sleep", strings("30")), run_limits{},
                                t);
      },
      aborted, nothing_more);
  // ffmpeg -version ends too fast to be cancelled midway: emitted before it began.
  each_cancellation(
      "async_ffmpeg_version", all_types, just_executor,
      [](ex_fixture& f, auto&& t) { return async_ffmpeg_version(f.ex, tool::ffmpeg, t); }, aborted,
      nothing_more, 0ms);
}

// --- io ------------------------------------------------------------------------------------

TEST_CASE("stream helpers every way: read_all, count_bytes, relay, tee", "[every_way]") {
  every_way(
      "async_read_all", hello_pipe(true),
      [](pipe_fixture& f, auto&& token) { return async_read_all(f.r, 1024, token); },
      [](std::error_code ec, const std::string& s) { return !ec && s == "hello"; });
  every_way(
      "async_count_bytes", hello_pipe(true),
      [](pipe_fixture& f, auto&& token) { return async_count_bytes(f.r, token); },
      [](std::error_code ec, std::uint64_t n) { return !ec && n == 5; });
  every_way(
      "async_relay", hello_pipe(true),
      [](pipe_fixture& f, auto&& token) {
        return async_relay(f.r, f.sink, relay_options{}, token);
      },
      [](std::error_code ec, std::uint64_t n) { return !ec && n == 5; });
  every_way(
      "async_tee", hello_pipe(true),
      [](pipe_fixture& f, auto&& token) {
        return async_tee(f.r, std::tie(f.sink, f.sink2), tee_options{}, token);
      },
      [](std::error_code ec, const tee_result&) { return !ec; });
}

TEST_CASE("each cancellation type ends read_all and count_bytes on an open pipe",
          "[every_way][cancel]") {
  const auto aborted = std::error_code(asio::error::operation_aborted);
  each_cancellation(
      "async_read_all", all_types, hello_pipe(false),
      [](pipe_fixture& f, auto&& t) { return async_read_all(f.r, 1024, t); }, aborted,
      nothing_more);
  each_cancellation(
      "async_count_bytes", all_types, hello_pipe(false),
      [](pipe_fixture& f, auto&& t) { return async_count_bytes(f.r, t); }, aborted, nothing_more);
}

TEST_CASE("named_pipe and file_stream operations every way", "[every_way]") {
  every_way(
      "named_pipe::async_open_write", fifo(false),
      [](fifo_fixture& f, auto&& token) { return f.writer->async_open_write(5000ms, token); },
      [](std::error_code ec) { return !ec; });
  every_way(
      "named_pipe::async_read_some", fifo(true),
      [](fifo_fixture& f, auto&& token) {
        return f.reader->async_read_some(asio::buffer(f.buf), token);
      },
      [](std::error_code ec, std::size_t n) { return !ec && n == 5; });
  every_way(
      "named_pipe::async_write_some", fifo_both_ends,
      [](fifo_fixture& f, auto&& token) {
        return f.writer->async_write_some(asio::buffer("hello", 5), token);
      },
      [](std::error_code ec, std::size_t n) { return !ec && n == 5; });
  every_way(
      "file_stream::async_read_some", file_with_hello(file_stream::mode::read),
      [](file_fixture& f, auto&& token) {
        return f.s->async_read_some(asio::buffer(f.buf), token);
      },
      [](std::error_code ec, std::size_t n) { return !ec && n == 5; });
  every_way(
      "file_stream::async_write_some", file_with_hello(file_stream::mode::write_append),
      [](file_fixture& f, auto&& token) {
        return f.s->async_write_some(asio::buffer("hello", 5), token);
      },
      [](std::error_code ec, std::size_t n) { return !ec && n == 5; });
}

TEST_CASE("each cancellation type ends open_write on a FIFO nobody reads", "[every_way][cancel]") {
  each_cancellation(
      "named_pipe::async_open_write", all_types, lonely_fifo,
      [](fifo_fixture& f, auto&& t) { return f.writer->async_open_write(30000ms, t); },
      std::error_code(asio::error::operation_aborted), nothing_more);
}

TEST_CASE("TCP operations every way: accept, connect_with_retry, wait_listening", "[every_way]") {
  every_way(
      "tcp_ingest::async_accept(output)", ingest_with_ffmpeg(true),
      [](ingest_fixture& f, auto&& token) { return f.in->async_accept(0, token); },
      [](std::error_code ec, const asio::ip::tcp::socket& s) { return !ec && s.is_open(); });
  every_way(
      "tcp_ingest::async_accept(output, group)", ingest_with_ffmpeg(true),
      [](ingest_fixture& f, auto&& token) { return f.in->async_accept(0, f.ff->id(), token); },
      [](std::error_code ec, const asio::ip::tcp::socket& s) { return !ec && s.is_open(); });
  every_way(
      "async_connect_with_retry", listening_acceptor,
      [](listener_fixture& f, auto&& token) {
        return async_connect_with_retry(f.ex, f.acceptor.local_endpoint(), 5000ms, token);
      },
      [](std::error_code ec, const asio::ip::tcp::socket& s) { return !ec && s.is_open(); });
  every_way(
      "async_wait_listening", server_process(true),
      [](listener_fixture& f, auto&& token) {
        return async_wait_listening(f.ex, f.server->id(), f.port, 10000ms, token);
      },
      [](std::error_code ec) { return !ec; });
}

TEST_CASE("each cancellation type ends accept, connect_with_retry and wait_listening",
          "[every_way][cancel]") {
  const auto aborted = std::error_code(asio::error::operation_aborted);
  each_cancellation(
      "tcp_ingest::async_accept(output)", all_types, ingest_with_ffmpeg(false),
      [](ingest_fixture& f, auto&& t) { return f.in->async_accept(0, t); }, aborted, nothing_more);
  auto quiet_group = [](ex_t ex) {
    auto f = ingest_with_ffmpeg(false)(ex);
    auto c = starved("quiet").spawn(ex); // a group that never connects
    REQUIRE(c);
    f->ff.emplace(std::move(*c));
    return f;
  };
  each_cancellation(
      "tcp_ingest::async_accept(output, group)", all_types, quiet_group,
      [](ingest_fixture& f, auto&& t) { return f.in->async_accept(0, f.ff->id(), t); }, aborted,
      nothing_more);
  each_cancellation(
      "async_connect_with_retry", all_types,
      [](ex_t ex) {
        auto port = free_loopback_port();
        REQUIRE(port);
        return std::make_shared<listener_fixture>(
            listener_fixture{ex, asio::ip::tcp::acceptor(ex), std::nullopt, *port});
      },
      [](listener_fixture& f, auto&& t) {
        return async_connect_with_retry(
            f.ex, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), f.port), 30000ms, t);
      },
      aborted, nothing_more);
  each_cancellation(
      "async_wait_listening", all_types, server_process(false),
      [](listener_fixture& f, auto&& t) {
        return async_wait_listening(f.ex, f.server->id(), f.port, 30000ms, t);
      },
      aborted, nothing_more);
}
