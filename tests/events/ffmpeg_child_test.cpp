// ffmpeg_child with the real ffmpeg: success, failures with ffmpeg's own lines, the guards,
// secrets, a cancelled event stream, the total behind percent, stdin frames and commands.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/probe.hpp>
#include <sidecar/with_timeout.hpp>

#include "support.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <type_traits>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

awaitable<expected<exit_status>> run_command(command cmd) {
  auto ff = cmd.spawn(co_await asio::this_coro::executor);
  REQUIRE(ff);
  co_return co_await ff->wait();
}

bool any_line_has(const std::vector<std::string>& lines, std::string_view text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

// An ffmpeg that runs until stopped, at the input's pace.
command endless() {
  command c;
  c.realtime().format("lavfi").input("testsrc=size=64x48:rate=25").format("null").output("-");
  return c;
}

using std::chrono::milliseconds;

// What wait() said after a cancelled event stream, and how long it took.
struct stopped_run {
  expected<exit_status> status = fail(errc::protocol, "not run");
  milliseconds waited{0};
  int events = 0;
};

const char* const secret_url = "rtmp://user:PASSWD@127.0.0.1:1/live/SECRETKEY";

// Runs op(ff) in a coroutine that a cancellation of `type` reaches through its own slot after
// `after`, with Asio's throw at the next co_await turned off, so that what op returns when it
// is cut short is seen; then wait(). Anything thrown is recorded.
template <class Op> struct cut_short_run {
  using value_type = typename std::invoke_result_t<Op, ffmpeg_child&>::value_type;
  std::optional<value_type> value;
  bool cancelled = false;
  expected<exit_status> status = fail(errc::protocol, "not run");
  std::string thrown;
};
template <class Op>
cut_short_run<Op> cut_short(command cmd, asio::cancellation_type type, milliseconds after, Op op) {
  asio::io_context ctx;
  asio::cancellation_signal signal;
  cut_short_run<Op> out;
  asio::co_spawn(
      ctx,
      [](command cmd, Op op, cut_short_run<Op>& out) -> awaitable<void> {
        co_await asio::this_coro::throw_if_cancelled(false);
        auto ff = cmd.spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        try {
          out.value.emplace(co_await op(*ff));
          out.cancelled = ff->cancelled();
          out.status = co_await ff->wait();
        } catch (const std::exception& e) {
          out.thrown = e.what();
        }
      }(std::move(cmd), op, out),
      asio::bind_cancellation_slot(signal.slot(), asio::detached));
  asio::steady_timer timer(ctx, after);
  timer.async_wait([&](std::error_code) { signal.emit(type); });
  ctx.run_for(20s);
  CHECK(ctx.stopped()); // else it hung
  return out;
}

// An ffmpeg that waits for raw audio on stdin, which never comes: it describes no input.
command starved() {
  command c;
  c.format("s16le").arg("-ar").arg("8000").input("-").format("null").output("-");
  return c;
}

bool leaks(std::string_view text) {
  return text.find("SECRETKEY") != std::string::npos || text.find("PASSWD") != std::string::npos;
}

// A script run in place of ffmpeg or ffprobe (SIDECAR_FFMPEG, SIDECAR_FFPROBE) while it
// lives: a "#!/bin/sh" file run as the program, never a shell given arguments.
class fake_tool {
public:
  fake_tool(const char* variable, const std::string& body) : variable_(variable) {
    path_ = dir_ / "fake";
    {
      std::ofstream script(path_);
      script << "#!/bin/sh\n" << body;
    }
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all);
    if (const char* old = std::getenv(variable)) saved_ = old;
    ::setenv(variable, path_.c_str(), 1);
  }
  ~fake_tool() {
    if (saved_)
      ::setenv(variable_, saved_->c_str(), 1);
    else
      ::unsetenv(variable_);
  }
  fake_tool(const fake_tool&) = delete;
  fake_tool& operator=(const fake_tool&) = delete;

private:
  const char* variable_;
  temp_dir dir_;
  std::filesystem::path path_;
  std::optional<std::string> saved_;
};

// What real ffmpeg prints at -loglevel debug while it publishes, with every secret of
// leaky_push() echoed without a URL around it: the RTMP key as rtmpproto prints it (path,
// fname, the publish command), the HTTP request line with its query token and the header
// it sent, then an error naming the key, and a failed exit.
const char* const leaky_stderr =
    R"sh(echo "[info] Input #0, hls, from 'in.m3u8?token=QUERYTOKEN1':" >&2
echo "[http @ 0x5601] [debug] request: GET /in.m3u8?token=QUERYTOKEN1 HTTP/1.1" >&2
echo "Authorization: Bearer BEARERTOKEN1" >&2
echo "[rtmp @ 0x5602] [debug] Proto = rtmp, path = /live/STREAMKEY1, app = live, fname = STREAMKEY1" >&2
echo "[rtmp @ 0x5602] [debug] Sending publish command for 'STREAMKEY1'" >&2
echo "[rtmp @ 0x5602] [error] Server error: publish STREAMKEY1 denied" >&2
exit 1
)sh";

command leaky_push() {
  command c;
  c.loglevel("level+debug")
      .args({"-headers", "User-Agent: sidecar-test\r\nAuthorization: Bearer BEARERTOKEN1\r\n"})
      .input("https://cdn.example.com/in.m3u8?token=QUERYTOKEN1")
      .format("flv")
      .output("rtmp://127.0.0.1:1935/live/STREAMKEY1");
  return c;
}

bool leaks_pushed(std::string_view text) {
  for (std::string_view secret : {"QUERYTOKEN1", "BEARERTOKEN1", "STREAMKEY1"})
    if (text.find(secret) != std::string_view::npos) return true;
  return false;
}

} // namespace

TEST_CASE("a short ffmpeg run exits 0", "[ffmpeg]") {
  auto st =
      run(run_command(command{}.hide_banner().testsrc().frames(5).format("null").output("-")));
  REQUIRE(st);
  CHECK(st->success());
}

TEST_CASE("a missing input gives the exit status and ffmpeg's error lines", "[ffmpeg]") {
  auto st = run(run_command(command{}.input("/nonexistent/input.mp4").format("null").output("-")));
  REQUIRE_FALSE(st);
  CHECK(st.error() == errc::process_failed);
  REQUIRE(st.error().status());
  CHECK(st.error().status()->code > 0); // 1 up to 5.1, 254 on 7.x
  CHECK(any_line_has(st.error().lines(), "No such file or directory"));
  CHECK(st.error().message().find("ffmpeg failed (exit code " +
                                  std::to_string(st.error().status()->code) + ")") == 0);
  CHECK(st.error().message().find("/nonexistent/input.mp4") != std::string::npos);
}

TEST_CASE("an unknown encoder and an invalid filter fail with the reason", "[ffmpeg]") {
  auto st = run(run_command(
      command{}.testsrc().frames(1).codec_video("no_such_codec").format("null").output("-")));
  REQUIRE_FALSE(st);
  CHECK(any_line_has(st.error().lines(), "no_such_codec"));
  st = run(run_command(
      command{}.testsrc().frames(1).filter("no_such_filter=1").format("null").output("-")));
  REQUIRE_FALSE(st);
  CHECK(any_line_has(st.error().lines(), "no_such_filter"));
}

TEST_CASE("an existing output never hangs on the overwrite prompt", "[ffmpeg]") {
  temp_dir dir;
  auto out = dir / "exists.nut";
  std::ofstream(out) << "x";
  // No -y: the builder adds -n, ffmpeg refuses at once instead of asking on stdin.
  auto st = run(run_command(command{}.testsrc().frames(1).output(out.string())), 20s);
  REQUIRE_FALSE(st);
  // A failure on every release: 4.x and 5.1 exit 1, 7.x and later print the same fatal line
  // and exit 0.
  CHECK(st.error().code() == errc::process_failed);
  CHECK(any_line_has(st.error().lines(), "already exists"));
  CHECK(st.error().message().find("exists.nut") != std::string::npos);
  CHECK(std::filesystem::file_size(out) == 1);
  // With overwrite() it writes.
  st = run(run_command(command{}.overwrite().testsrc().frames(1).output(out.string())), 20s);
  REQUIRE(st);
  CHECK(std::filesystem::file_size(out) > 1);
}

TEST_CASE("a fatal line fails a run that exits 0", "[ffmpeg][versions]") {
  // 7.x and later refuse an overwrite with a fatal line and exit 0; a stand-in ffmpeg says
  // the same on every release.
  const char* helper = std::getenv("SIDECAR_TEST_HELPER");
  REQUIRE(helper);
  const char* was = std::getenv("SIDECAR_FFMPEG");
  std::string saved = was ? was : "";
  ::setenv("SIDECAR_FFMPEG", helper, 1);
  auto st = run(run_command(
      command{}.args({"stderr", "0", "[info] ffmpeg version 7.1.5 Copyright (c) 2000-2026",
                      "[fatal] File 'out.mkv' already exists. Exiting.",
                      "[error] Error opening output file out.mkv."})));
  auto fine = run(run_command(command{}.args({"stderr", "0", "[warning] only a warning"})));
  if (was)
    ::setenv("SIDECAR_FFMPEG", saved.c_str(), 1);
  else
    ::unsetenv("SIDECAR_FFMPEG");
  REQUIRE_FALSE(st);
  CHECK(st.error() == errc::process_failed);
  REQUIRE(st.error().status());
  CHECK(st.error().status()->success()); // it did exit 0
  CHECK(any_line_has(st.error().lines(), "File 'out.mkv' already exists"));
  CHECK(st.error().message().find("fatal") != std::string::npos);
  CHECK(fine); // a warning is not a failure
}

TEST_CASE("quit() ends an endless ffmpeg cleanly; reading stdin, it closes stdin", "[ffmpeg]") {
  auto st = run([]() -> awaitable<expected<exit_status>> {
    auto ex = co_await asio::this_coro::executor;
    auto ff = command{}
                  .realtime()
                  .format("lavfi")
                  .input("testsrc=size=64x64")
                  .format("null")
                  .output("-")
                  .spawn(ex);
    REQUIRE(ff);
    asio::steady_timer t(ex, 300ms);
    co_await t.async_wait(asio::use_awaitable);
    CHECK_FALSE(ff->quit());
    co_return co_await ff->wait();
  }());
  REQUIRE(st);
  CHECK(st->success());

  st = run([]() -> awaitable<expected<exit_status>> {
    auto ex = co_await asio::this_coro::executor;
    auto ff = command{}
                  .format("s16le")
                  .arg("-ar")
                  .arg("8000")
                  .input("-")
                  .format("null")
                  .output("-")
                  .spawn(ex);
    REQUIRE(ff);
    CHECK_FALSE(ff->quit()); // input from stdin: no q in the data, end of input instead
    co_return co_await ff->wait();
  }());
  REQUIRE(st);
  CHECK(st->success());
}

TEST_CASE("the command line is kept for messages, secrets masked", "[ffmpeg]") {
  auto st = run([]() -> awaitable<expected<exit_status>> {
    auto ff = command{}
                  .testsrc()
                  .frames(1)
                  .format("flv")
                  .output("rtmp://127.0.0.1:1/live/SECRETKEY")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    CHECK(ff->command_line().find("SECRETKEY") == std::string::npos);
    CHECK(ff->command_line().find("rtmp://127.0.0.1:1/live/") != std::string::npos);
    co_return co_await ff->wait();
  }());
  REQUIRE_FALSE(st); // nothing listens on port 1
  CHECK_FALSE(st.error().lines().empty());
  for (const auto& l : st.error().lines())
    CHECK(l.find("SECRETKEY") == std::string::npos);
}

TEST_CASE("stream keys and URL passwords never show in events, lines, errors or messages",
          "[ffmpeg][security]") {
  // Every event of a failing push, at debug level (ffmpeg repeats the URL there).
  auto r = run([]() -> awaitable<std::pair<int, expected<exit_status>>> {
    auto ff = command{}
                  .loglevel("level+debug")
                  .testsrc()
                  .frames(1)
                  .format("flv")
                  .output(secret_url)
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    int urls = 0; // lines that name the (masked) URL: the check below is not vacuous
    for (;;) {
      auto e = co_await ff->next_event();
      if (!e) break;
      if (auto* l = std::get_if<log_line>(&*e)) {
        INFO(l->text);
        CHECK_FALSE(leaks(l->text));
        CHECK_FALSE(leaks(l->component));
        urls += l->text.find("rtmp://user:***@127.0.0.1:1/live/") != std::string::npos;
      } else if (auto* o = std::get_if<output_info>(&*e)) {
        CHECK_FALSE(leaks(o->url));
      } else if (auto* x = std::get_if<error_event>(&*e)) {
        CHECK_FALSE(leaks(x->error.message()));
      }
    }
    auto st = co_await ff->wait();
    co_return std::pair{urls, st};
  }());
  CHECK(r.first >= 2);
  REQUIRE_FALSE(r.second);
  CHECK_FALSE(leaks(r.second.error().message()));
  CHECK(r.second.error().message().find("Connection refused") != std::string::npos);

  // stderr_lines() and errors(), and the error after them.
  auto lines = run([]() -> awaitable<std::vector<std::string>> {
    auto ff = command{}
                  .testsrc()
                  .frames(1)
                  .format("flv")
                  .output(secret_url)
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto all = co_await ff->stderr_lines();
    auto st = co_await ff->wait();
    REQUIRE_FALSE(st);
    CHECK_FALSE(leaks(st.error().message()));
    co_return all;
  }());
  REQUIRE_FALSE(lines.empty());
  CHECK(any_line_has(lines, "rtmp://user:***@127.0.0.1:1/live/***"));
  for (const auto& l : lines)
    CHECK_FALSE(leaks(l));

  auto errs = run([]() -> awaitable<std::vector<log_line>> {
    auto ff = command{}
                  .testsrc()
                  .frames(1)
                  .format("flv")
                  .output(secret_url)
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto e = co_await ff->errors();
    auto st = co_await ff->wait();
    REQUIRE_FALSE(st);
    for (const auto& l : st.error().lines())
      CHECK_FALSE(leaks(l));
    co_return e;
  }());
  REQUIRE_FALSE(errs.empty());
  for (const auto& l : errs)
    CHECK_FALSE(leaks(l.text));

  // An output that is described (the null muxer opens no URL): its url in metadata and events.
  auto url = run([]() -> awaitable<std::string> {
    auto ff = command{}
                  .testsrc()
                  .frames(1)
                  .format("null")
                  .output(secret_url)
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto m = co_await ff->metadata();
    auto st = co_await ff->wait();
    CHECK(st);
    REQUIRE(m.outputs.size() == 1);
    co_return m.outputs[0].url;
  }());
  CHECK(url == "rtmp://user:***@127.0.0.1:1/live/***");
}

TEST_CASE("secrets ffmpeg prints without a URL are masked in events, lines, metadata and errors",
          "[ffmpeg][security]") {
  // Issue #14 item 4: at -loglevel debug ffmpeg names the stream key, the query token and the
  // header it sent with no "://" around them.
  fake_tool fake("SIDECAR_FFMPEG", leaky_stderr);
  struct seen {
    std::vector<std::string> texts; // every log_line's text
    std::string command_line, input_url;
    expected<exit_status> status = fail(errc::protocol, "not run");
  };
  auto r = run([]() -> awaitable<seen> {
    seen out;
    auto ff = leaky_push().spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    out.command_line = ff->command_line();
    for (;;) {
      auto e = co_await ff->next_event();
      if (!e) break;
      if (auto* l = std::get_if<log_line>(&*e)) {
        INFO(l->text);
        CHECK_FALSE(leaks_pushed(l->text));
        CHECK_FALSE(leaks_pushed(l->component));
        out.texts.push_back(l->text);
      } else if (auto* i = std::get_if<input_info>(&*e)) {
        out.input_url = i->url;
      } else if (auto* x = std::get_if<error_event>(&*e)) {
        CHECK_FALSE(leaks_pushed(x->error.message()));
      }
    }
    out.status = co_await ff->wait();
    for (const auto& l : ff->error_lines())
      CHECK_FALSE(leaks_pushed(l));
    co_return out;
  }());
  // Each line that named a secret is there, masked: the checks above are not vacuous.
  CHECK(r.texts == strings("request: GET /in.m3u8?token=*** HTTP/1.1", "Authorization: Bearer ***",
                           "Proto = rtmp, path = /live/***, app = live, fname = ***",
                           "Sending publish command for '***'",
                           "Server error: publish *** denied"));
  INFO(r.command_line);
  CHECK_FALSE(leaks_pushed(r.command_line));
  CHECK(r.input_url == "in.m3u8?token=***");
  REQUIRE_FALSE(r.status);
  INFO(r.status.error().message());
  CHECK_FALSE(leaks_pushed(r.status.error().message()));
  CHECK(r.status.error().message().find("Server error: publish *** denied") != std::string::npos);

  auto lines = run([]() -> awaitable<std::vector<std::string>> {
    auto ff = leaky_push().spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto all = co_await ff->stderr_lines();
    auto st = co_await ff->wait();
    REQUIRE_FALSE(st);
    CHECK_FALSE(leaks_pushed(st.error().message()));
    co_return all;
  }());
  CHECK(lines.size() == 6);
  CHECK(any_line_has(lines, "Sending publish command for '***'"));
  for (const auto& l : lines) {
    INFO(l);
    CHECK_FALSE(leaks_pushed(l));
  }

  auto meta = run([]() -> awaitable<metadata> {
    auto ff = leaky_push().spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto m = co_await ff->metadata();
    auto st = co_await ff->wait();
    CHECK_FALSE(st);
    co_return m;
  }());
  REQUIRE(meta.inputs.size() == 1);
  CHECK(meta.inputs[0].url == "in.m3u8?token=***");
}

TEST_CASE("a secret registered by hand is masked in the stream too", "[ffmpeg][security]") {
  fake_tool fake("SIDECAR_FFMPEG", R"sh(echo "[info] drawtext: HANDSECRET9 shown" >&2
exit 1
)sh");
  auto r = run([]() -> awaitable<std::pair<std::vector<std::string>, expected<exit_status>>> {
    auto ff = command{}
                  .secret("HANDSECRET9")
                  .testsrc()
                  .format("null")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto lines = co_await ff->stderr_lines();
    co_return std::pair{lines, co_await ff->wait()};
  }());
  CHECK(r.first == strings("drawtext: *** shown"));
  REQUIRE_FALSE(r.second);
  CHECK(r.second.error().message().find("HANDSECRET9") == std::string::npos);
}

TEST_CASE("probe(): its input's secrets are masked in failure lines too", "[ffmpeg][security]") {
  fake_tool fake("SIDECAR_FFPROBE",
                 R"sh(echo "[rtmp @ 0x5602] Server error: play STREAMKEY2 denied" >&2
echo "rtmp://127.0.0.1:1935/live/STREAMKEY2: Operation not permitted" >&2
exit 1
)sh");
  auto r = run(probe("rtmp://127.0.0.1:1935/live/STREAMKEY2"));
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::process_failed);
  INFO(r.error().message());
  CHECK(r.error().message().find("STREAMKEY2") == std::string::npos);
  CHECK(r.error().message().find("play *** denied") != std::string::npos);
  for (const auto& l : r.error().lines())
    CHECK(l.find("STREAMKEY2") == std::string::npos);
}

TEST_CASE("`next_event() || timer`: the child quits, a later wait() reaps it, cancelled",
          "[ffmpeg][cancel]") {
  using namespace asio::experimental::awaitable_operators;
  auto before = open_fds();
  auto r = run(
      []() -> awaitable<stopped_run> {
        auto ex = co_await asio::this_coro::executor;
        auto ff = endless().spawn(ex);
        REQUIRE(ff);
        stopped_run out;
        asio::steady_timer t(ex, 800ms);
        for (;;) {
          auto e = co_await (ff->next_event() || t.async_wait(asio::use_awaitable));
          if (e.index() == 1) break;
          REQUIRE(std::get<0>(e)); // an endless ffmpeg: the stream does not end by itself
          ++out.events;
        }
        auto t0 = std::chrono::steady_clock::now();
        out.status = co_await ff->wait();
        out.waited =
            std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
        co_return out;
      }(),
      20s);
  CHECK(r.events > 0);
  REQUIRE_FALSE(r.status);
  CHECK(r.status.error() == errc::cancelled);
  CHECK(r.status.error().message().find("asked to quit (next_event cancelled)") !=
        std::string::npos);
  REQUIRE(r.status.error().status());
  CHECK(r.status.error().status()->success()); // `q`: ffmpeg finished normally
  CHECK(r.waited < 3000ms);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("a cancelled next_event(): partial sends SIGTERM, terminal SIGKILL", "[ffmpeg][cancel]") {
  auto stop = [](asio::cancellation_type how) {
    return run(
        [](asio::cancellation_type how) -> awaitable<stopped_run> {
          auto ex = co_await asio::this_coro::executor;
          auto ff = endless().spawn(ex);
          REQUIRE(ff);
          stopped_run out;
          auto read_all = [](ffmpeg_child& ff, int& n) -> awaitable<expected<int>> {
            for (;;) {
              auto e = co_await ff.next_event();
              if (!e) break;
              ++n;
            }
            co_return n;
          };
          auto r = co_await with_timeout(read_all(*ff, out.events), 600ms, how);
          CHECK_FALSE(r);
          auto t0 = std::chrono::steady_clock::now();
          out.status = co_await ff->wait();
          out.waited =
              std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
          co_return out;
        }(how),
        20s);
  };
  auto term = stop(asio::cancellation_type::partial);
  CHECK(term.events > 0);
  REQUIRE_FALSE(term.status);
  CHECK(term.status.error() == errc::cancelled);
  CHECK(term.status.error().message().find("sent SIGTERM") != std::string::npos);
  REQUIRE(term.status.error().status());
  CHECK_FALSE(term.status.error().status()->success()); // ffmpeg exits 255 on SIGTERM
  CHECK(term.waited < 3000ms);

  auto kill = stop(asio::cancellation_type::terminal);
  REQUIRE_FALSE(kill.status);
  CHECK(kill.status.error() == errc::cancelled);
  CHECK(kill.status.error().message().find("sent SIGKILL") != std::string::npos);
  REQUIRE(kill.status.error().status());
  CHECK(kill.status.error().status()->signal == SIGKILL);
  CHECK(kill.waited < 3000ms);
  CHECK_FALSE(has_children());
}

TEST_CASE("cut short by a cancellation, the short forms return what they have and never throw",
          "[ffmpeg][cancel]") {
  SECTION("next_event(): nullopt, cancelled(), then wait() says how the child was stopped") {
    auto out = cut_short(endless(), asio::cancellation_type::partial, 600ms,
                         [](ffmpeg_child& ff) -> awaitable<int> {
                           int events = 0;
                           for (;;) {
                             auto e = co_await ff.next_event();
                             if (!e) break;
                             ++events;
                           }
                           co_return events;
                         });
    CHECK(out.thrown.empty());
    REQUIRE(out.value);
    CHECK(*out.value > 0); // it ran, then the loop ended at the cancellation
    CHECK(out.cancelled);
    REQUIRE_FALSE(out.status);
    CHECK(out.status.error() == errc::cancelled);
    CHECK(out.status.error().message().find("sent SIGTERM (next_event cancelled)") !=
          std::string::npos);
  }
  SECTION("metadata(): what is known so far, not complete") {
    auto out = cut_short(starved(), asio::cancellation_type::terminal, 500ms,
                         [](ffmpeg_child& ff) { return ff.metadata(); });
    CHECK(out.thrown.empty());
    REQUIRE(out.value);
    CHECK_FALSE(out.value->complete);
    CHECK(out.cancelled);
    REQUIRE_FALSE(out.status);
    CHECK(out.status.error() == errc::cancelled);
    REQUIRE(out.status.error().status());
    CHECK(out.status.error().status()->signal == SIGKILL);
  }
  SECTION("stderr_lines() and errors(): the lines so far") {
    auto lines = cut_short(starved(), asio::cancellation_type::total, 500ms,
                           [](ffmpeg_child& ff) { return ff.stderr_lines(); });
    CHECK(lines.thrown.empty());
    CHECK(lines.value);
    CHECK(lines.cancelled);
    REQUIRE_FALSE(lines.status);
    CHECK(lines.status.error() == errc::cancelled);
    auto errors = cut_short(starved(), asio::cancellation_type::total, 500ms,
                            [](ffmpeg_child& ff) { return ff.errors(); });
    CHECK(errors.thrown.empty());
    REQUIRE(errors.value);
    CHECK(errors.value->empty()); // it had said nothing wrong yet
    CHECK(errors.cancelled);
    REQUIRE_FALSE(errors.status);
    CHECK(errors.status.error() == errc::cancelled);
  }
  CHECK_FALSE(has_children());
}

TEST_CASE("-to with -ss: the total is to - ss; -t wins over -to", "[ffmpeg]") {
  struct result {
    std::optional<std::chrono::microseconds> total;
    std::optional<progress> last;
  };
  auto total_of = [](command cmd) {
    return run([](command cmd) -> awaitable<result> {
      auto ff = cmd.format("null").output("-").spawn(co_await asio::this_coro::executor);
      REQUIRE(ff);
      result r;
      r.total = ff->total_duration(); // from the command line alone: known at once
      while (auto p = co_await ff->next_progress())
        r.last = *p;
      auto st = co_await ff->wait();
      CHECK(st);
      co_return r;
    }(std::move(cmd)));
  };
  const std::string src = "testsrc=size=64x48:rate=25";
  using std::chrono::microseconds;

  // Input side: ffmpeg reads from 1 s to 3 s.
  auto in = total_of(command{}.seek("1").to("3").format("lavfi").input(src));
  REQUIRE(in.total);
  CHECK(*in.total == microseconds(2'000'000));
  REQUIRE(in.last);
  REQUIRE(in.last->time);
  CHECK(in.last->time->count() == Approx(2e6).margin(1e5)); // what ffmpeg itself did
  REQUIRE(in.last->percent);
  CHECK(*in.last->percent == Approx(100.0));

  // Output side: the same.
  auto out = total_of(command{}.format("lavfi").input(src).seek("1").to("3"));
  REQUIRE(out.total);
  CHECK(*out.total == microseconds(2'000'000));

  // -ss on the input, -to on the output: the output's clock starts at 0, so 3 s.
  auto mixed = total_of(command{}.seek("1").format("lavfi").input(src).to("3"));
  REQUIRE(mixed.total);
  CHECK(*mixed.total == microseconds(3'000'000));
  REQUIRE(mixed.last);
  REQUIRE(mixed.last->time);
  CHECK(mixed.last->time->count() == Approx(3e6).margin(1e5));

  // -t and -to together: ffmpeg takes -t.
  auto t = total_of(command{}.seek("1").to("3").duration("1.5").format("lavfi").input(src));
  REQUIRE(t.total);
  CHECK(*t.total == microseconds(1'500'000));
}

TEST_CASE("write_frame() feeds one ffmpeg's frames to another", "[ffmpeg]") {
  auto r = run([]() -> awaitable<std::pair<int, std::uint64_t>> {
    auto ex = co_await asio::this_coro::executor;
    auto producer = command{}
                        .hide_banner()
                        .format("lavfi")
                        .input("testsrc=size=64x48:rate=25")
                        .frames(30)
                        .rawvideo()
                        .spawn(ex);
    REQUIRE(producer);
    auto consumer = command{}
                        .hide_banner()
                        .format("rawvideo")
                        .pix_fmt("rgb24")
                        .size(64, 48)
                        .rate(25.0)
                        .input("-")
                        .codec_video("mpeg4")
                        .format("null")
                        .output("-")
                        .spawn(ex);
    REQUIRE(consumer);
    int written = 0;
    for (;;) {
      auto f = co_await producer->next_frame();
      if (!f) break;
      auto w = co_await consumer->write_frame(*f);
      REQUIRE(w);
      ++written;
    }
    auto ps = co_await producer->wait();
    CHECK(ps);
    consumer->close_stdin();
    std::uint64_t encoded = 0;
    while (auto p = co_await consumer->next_progress())
      if (p->frame) encoded = *p->frame;
    auto cs = co_await consumer->wait();
    CHECK(cs);
    co_return std::pair{written, encoded};
  }());
  CHECK(r.first == 30);
  CHECK(r.second == 30); // the frame count the consumer reports
}

TEST_CASE("send_command() reaches ffmpeg's console: `?` prints the help, `q` quits", "[ffmpeg]") {
  auto lines = run(
      []() -> awaitable<std::vector<std::string>> {
        auto ff = endless().spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        auto m = co_await ff->metadata(); // ffmpeg reads keys once it runs
        CHECK(m.complete);
        auto help = co_await ff->send_command("?");
        REQUIRE(help);
        auto quit = co_await ff->send_command("q");
        REQUIRE(quit);
        auto all = co_await ff->stderr_lines();
        auto st = co_await ff->wait();
        REQUIRE(st);
        CHECK(st->success());
        co_return all;
      }(),
      20s);
  CHECK(any_line_has(lines, "show this help"));
  // `q` reached it: the endless run ended with success (5.x and later also print
  // "[q] command received", 4.x does not).
}

TEST_CASE("an ffmpeg_child moved while next_event() is pending", "[ffmpeg]") {
  // The pending call holds the stream's shared state, not the object: moving the object
  // twice and destroying the moved-from ones leaves it working, and wait() after it too.
  auto [got_end, status] = run([]() -> awaitable<std::pair<bool, expected<exit_status>>> {
    auto ex = co_await asio::this_coro::executor;
    auto cmd = command{}.loglevel("error").realtime().format("lavfi").input(
        "testsrc=size=64x48:rate=25:duration=1");
    auto first = cmd.format("null").output("-").spawn(ex);
    REQUIRE(first);
    auto a = std::make_unique<ffmpeg_child>(std::move(*first));
    bool ended = false, finished = false;
    // Nothing is printed at -loglevel error: the call waits until the exit.
    asio::co_spawn(ex, a->next_event(), [&](std::exception_ptr e, std::optional<event> ev) {
      finished = true;
      ended = !e && !ev;
    });
    asio::steady_timer pause(ex, std::chrono::milliseconds(200));
    co_await pause.async_wait(asio::use_awaitable);
    CHECK_FALSE(finished); // still pending
    auto b = std::make_unique<ffmpeg_child>(std::move(*a));
    a.reset();
    ffmpeg_child c(std::move(*b));
    b.reset();
    while (!finished) { // one caller at a time: the pending call ends with the run
      pause.expires_after(std::chrono::milliseconds(20));
      co_await pause.async_wait(asio::use_awaitable);
    }
    auto st = co_await c.wait(); // the end was recorded by the moved call
    co_return std::pair{ended && finished, std::move(st)};
  }());
  CHECK(got_end);
  REQUIRE(status);
  CHECK(status->success());
  CHECK_FALSE(has_children());
}

TEST_CASE("output(\"-report\") writes a file of that name, not a report", "[ffmpeg]") {
  // Before: ffmpeg took "-report" for its option, wrote ffmpeg-*.log and no output.
  temp_dir dir;
  auto st = run([&]() -> awaitable<expected<exit_status>> {
    spawn_options base;
    base.cwd = dir.path();
    auto cmd =
        command{}.hide_banner().format("lavfi").input("testsrc=duration=0.2").format("mpegts");
    auto ff = ffmpeg_child::spawn(co_await asio::this_coro::executor, cmd.output("-report"), base);
    REQUIRE(ff);
    co_return co_await ff->wait();
  }());
  REQUIRE(st);
  CHECK(std::filesystem::file_size(dir / "-report") > 0);
  for (auto& e : std::filesystem::directory_iterator(dir.path()))
    CHECK(e.path().filename().string().rfind("ffmpeg-", 0) != 0); // no report log
}
