// The process layer: spawn, exit codes, signals, stop verbs, the reaper, fds and zombies.
#include <sidecar/binary.hpp>
#include <sidecar/child.hpp>
#include <sidecar/find_executable.hpp>

#include "support.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <fcntl.h>
#include <signal.h>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;
using asio::use_awaitable;

namespace {

std::string helper() {
  const char* h = std::getenv("SIDECAR_TEST_HELPER");
  REQUIRE(h != nullptr);
  return h;
}

spawn_options helper_opts(std::vector<std::string> args) {
  spawn_options o;
  o.program = helper();
  o.args = std::move(args);
  return o;
}

awaitable<std::string> read_all(asio::readable_pipe& p) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto [ec, n] =
        co_await p.async_read_some(asio::buffer(buf), asio::experimental::as_tuple(use_awaitable));
    out.append(buf, n);
    if (ec) break;
  }
  co_return out;
}

awaitable<exit_status> run_to_exit(spawn_options o) {
  auto ex = co_await asio::this_coro::executor;
  auto c = child::spawn(ex, std::move(o));
  REQUIRE(c);
  co_return co_await c->async_wait(asio::use_awaitable);
}

// Sets an environment variable for one scope, and removes it after.
struct scoped_env {
  std::string name, value;
  scoped_env(std::string n, std::string v) : name(std::move(n)), value(std::move(v)) {
    REQUIRE(std::getenv(name.c_str()) == nullptr);
    REQUIRE(::setenv(name.c_str(), value.c_str(), 1) == 0);
  }
  ~scoped_env() { ::unsetenv(name.c_str()); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;
};

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) == -1) return true;
  // A zombie re-parented to init still answers kill(0): read its state.
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return true;
  char buf[512] = {};
  auto n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string s(buf, n);
  auto close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() && s[close + 2] == 'Z';
}

} // namespace

TEST_CASE("exit codes come back", "[process]") {
  CHECK(run(run_to_exit(helper_opts(strings("exit", "0")))) == exit_status::exited(0));
  auto st = run(run_to_exit(helper_opts(strings("exit", "3"))));
  CHECK(st.code == 3);
  CHECK_FALSE(st.success());
  CHECK(st.to_string() == "exit code 3");
}

awaitable<exit_status> stop_sleeper(std::error_code (child::*verb)()) {
  auto c = child::spawn(co_await asio::this_coro::executor, helper_opts(strings("sleep", "30")));
  REQUIRE(c);
  std::error_code ec = ((*c).*verb)();
  CHECK_FALSE(ec);
  co_return co_await c->async_wait(asio::use_awaitable);
}

TEST_CASE("death by signal, each stop verb", "[process]") {
  auto st = run(stop_sleeper(&child::kill));
  CHECK(st.signal == SIGKILL);
  st = run(stop_sleeper(&child::terminate));
  CHECK(st.signal == SIGTERM);
  st = run(stop_sleeper(&child::interrupt));
  CHECK(st.signal == SIGINT);
  CHECK(st.was_signaled());
  CHECK(exit_status::killed_by(SIGKILL).to_string() == "killed by SIGKILL");
}

awaitable<exit_status> quit_on_q(bool send_q) {
  auto c = child::spawn(co_await asio::this_coro::executor, helper_opts(strings("quit-on-q")));
  REQUIRE(c);
  if (send_q)
    CHECK_FALSE(c->request_exit());
  else
    c->stdin_pipe().close();
  co_return co_await c->async_wait(asio::use_awaitable);
}

TEST_CASE("request_exit sends q and closes stdin", "[process]") {
  // Without a q the helper sees end of input: 7. With request_exit, the q: 0.
  CHECK(run(quit_on_q(false)).code == 7);
  CHECK(run(quit_on_q(true)) == exit_status::exited(0));
}

TEST_CASE("stdin to stdout round trip through cat", "[process]") {
  using namespace asio::experimental::awaitable_operators;
  std::string data;
  for (int i = 0; i < 300000; ++i)
    data += static_cast<char>('a' + i % 26);
  auto [out, st] = run([&]() -> awaitable<std::pair<std::string, exit_status>> {
    spawn_options o;
    o.program = "cat";
    o.exit_how = exit_request::close_stdin;
    auto c = child::spawn(co_await asio::this_coro::executor, std::move(o));
    REQUIRE(c);
    auto writer = [&]() -> awaitable<void> {
      co_await asio::async_write(c->stdin_pipe(), asio::buffer(data), use_awaitable);
      c->stdin_pipe().close();
    };
    // Both at once: cat blocks when its stdout pipe is full.
    auto got = co_await (writer() && read_all(c->stdout_pipe()));
    co_return std::pair{got, co_await c->async_wait(asio::use_awaitable)};
  }());
  CHECK(out.size() == data.size());
  CHECK(out == data);
  CHECK(st.success());
}

TEST_CASE("a missing program fails at spawn, with the reason", "[process]") {
  asio::io_context ctx;
  spawn_options o;
  o.program = "/nonexistent/dir/prog";
  auto c = child::spawn(ctx.get_executor(), o);
  REQUIRE_FALSE(c);
  CHECK(c.error().code() == std::errc::no_such_file_or_directory);
  CHECK(c.error().message().find("/nonexistent/dir/prog") != std::string::npos);

  o.program = "sidecar-no-such-program";
  c = child::spawn(ctx.get_executor(), o);
  REQUIRE_FALSE(c);
  CHECK(c.error() == errc::binary_not_found);
  CHECK(c.error().message().find("PATH=") != std::string::npos);

  // Not executable.
  temp_dir dir;
  auto file = dir / "not-exec";
  std::FILE* f = std::fopen(file.c_str(), "w");
  std::fputs("data", f);
  std::fclose(f);
  o.program = file;
  c = child::spawn(ctx.get_executor(), o);
  REQUIRE_FALSE(c);
  CHECK(c.error().code() == std::errc::permission_denied);

  o.program = helper();
  o.cwd = dir / "missing";
  c = child::spawn(ctx.get_executor(), o);
  REQUIRE_FALSE(c);
  CHECK(c.error().message().find("working directory") != std::string::npos);
  CHECK_FALSE(has_children());
}

TEST_CASE("a bare program name is searched on PATH only: ffmpeg's variables are not ours",
          "[process]") {
  // The process layer knows nothing of ffmpeg: SIDECAR_FFMPEG is the command layer's
  // (find_tool, tested with the builder); a bare "ffmpeg" here is what PATH holds.
  const char* old = std::getenv("SIDECAR_FFMPEG");
  std::string saved = old ? old : "";
  ::setenv("SIDECAR_FFMPEG", "/nonexistent/ffmpeg", 1);
  auto on_path = find_executable("ffmpeg");
  auto via_tool = find_tool(tool::ffmpeg);
  auto [spawned, st] = run([]() -> awaitable<std::pair<bool, exit_status>> {
    spawn_options o;
    o.program = "ffmpeg";
    o.args = strings("-hide_banner", "-version");
    o.out = stdio::null();
    auto c = child::spawn(co_await asio::this_coro::executor, o);
    if (!c) co_return std::pair{false, exit_status{}};
    auto [ec, s] = co_await c->async_wait(asio::experimental::as_tuple(use_awaitable));
    co_return std::pair{true, s};
  }());
  if (old)
    ::setenv("SIDECAR_FFMPEG", saved.c_str(), 1);
  else
    ::unsetenv("SIDECAR_FFMPEG");
  CHECK(spawned == bool(on_path));
  if (spawned) CHECK(st.success());
  REQUIRE_FALSE(via_tool);
  CHECK(via_tool.error() == errc::binary_not_found);
  CHECK(via_tool.error().message().find("SIDECAR_FFMPEG=/nonexistent/ffmpeg") != std::string::npos);
  CHECK(via_tool.error().message().find("apt install ffmpeg") != std::string::npos);
  CHECK_FALSE(has_children());
}

TEST_CASE("environment, working directory and extra output pipes", "[process]") {
  temp_dir dir;
  auto [env_out, cwd_out, fd3_out, fds_out] =
      run([&]() -> awaitable<std::tuple<std::string, std::string, std::string, std::string>> {
        auto ex = co_await asio::this_coro::executor;
        auto o = helper_opts(strings("env", "SIDECAR_X"));
        o.env = strings("SIDECAR_X=hello world");
        auto a = child::spawn(ex, o);
        REQUIRE(a);
        auto env_text = co_await read_all(a->stdout_pipe());
        co_await a->async_wait(asio::use_awaitable);

        o = helper_opts(strings("cwd"));
        o.cwd = dir.path();
        auto b = child::spawn(ex, o);
        REQUIRE(b);
        auto cwd_text = co_await read_all(b->stdout_pipe());
        co_await b->async_wait(asio::use_awaitable);

        o = helper_opts(strings("write-fd", "3", "progress=end"));
        o.output_pipes = {3};
        auto c = child::spawn(ex, o);
        REQUIRE(c);
        auto fd3_text = co_await read_all(c->output_pipe(3));
        auto st = co_await c->async_wait(asio::use_awaitable);
        CHECK(st == exit_status::exited(0));

        // The child has stdin, stdout, stderr and nothing else of ours.
        o = helper_opts(strings("fds"));
        auto d = child::spawn(ex, o);
        REQUIRE(d);
        auto fds_text = co_await read_all(d->stdout_pipe());
        co_await d->async_wait(asio::use_awaitable);
        co_return std::tuple{env_text, cwd_text, fd3_text, fds_text};
      }());
  CHECK(env_out == "hello world\n");
  CHECK(cwd_out == std::filesystem::canonical(dir.path()).string() + "\n");
  CHECK(fd3_out == "progress=end");
  CHECK(fds_out == "3\n");
}

TEST_CASE("stdio to /dev/null, inherited, or a given fd", "[process]") {
  temp_dir dir;
  auto path = dir / "out.txt";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  // What the child prints must come from us: a variable only this process has.
  const scoped_env var("SIDECAR_TEST_STDIO_" + std::to_string(::getpid()), "to the given fd");
  auto st = run([&]() -> awaitable<exit_status> {
    auto o = helper_opts(strings("env", var.name));
    o.in = stdio::null();
    o.out = stdio::from_fd(fd);
    o.err = stdio::inherit();
    auto c = child::spawn(co_await asio::this_coro::executor, o);
    REQUIRE(c);
    CHECK_FALSE(c->stdin_pipe().is_open());
    CHECK_FALSE(c->stdout_pipe().is_open());
    co_return co_await c->async_wait(asio::use_awaitable);
  }());
  ::close(fd);
  CHECK(st.success());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "to the given fd\n");
}

TEST_CASE("the child gets the program's environment unless spawn_options::env is given",
          "[process]") {
  // A name and a value no other process has, with spaces, '=' and quotes in the value.
  const scoped_env var("SIDECAR_TEST_INHERITED_" + std::to_string(::getpid()),
                       "pid " + std::to_string(::getpid()) + " = 'yes' \"really\"");
  auto before = open_fds();
  auto [inherited, replaced] =
      run([&]() -> awaitable<std::pair<std::pair<std::string, exit_status>,
                                       std::pair<std::string, exit_status>>> {
        auto ex = co_await asio::this_coro::executor;
        auto o = helper_opts(strings("env", var.name)); // env not given: ours
        auto a = child::spawn(ex, o);
        REQUIRE(a);
        auto a_text = co_await read_all(a->stdout_pipe());
        auto a_st = co_await a->async_wait(asio::use_awaitable);

        o.env = strings("SIDECAR_X=only this"); // given: that and nothing else
        auto b = child::spawn(ex, o);
        REQUIRE(b);
        auto b_text = co_await read_all(b->stdout_pipe());
        auto b_st = co_await b->async_wait(asio::use_awaitable);
        co_return std::pair{std::pair{a_text, a_st}, std::pair{b_text, b_st}};
      }());
  CHECK(inherited.second == exit_status::exited(0));
  CHECK(inherited.first == var.value + "\n");
  CHECK(replaced.second == exit_status::exited(3)); // the helper's "unset"
  CHECK(replaced.first.empty());
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("stdout pipe is raised to 1 MiB", "[process]") {
  asio::io_context ctx;
  auto c = child::spawn(ctx.get_executor(), helper_opts(strings("exit", "0")));
  REQUIRE(c);
  int size = ::fcntl(c->stdout_pipe().native_handle(), F_GETPIPE_SZ);
  int max = 0;
  if (std::FILE* f = std::fopen("/proc/sys/fs/pipe-max-size", "r")) {
    if (std::fscanf(f, "%d", &max) != 1) max = 0;
    std::fclose(f);
  }
  CHECK(size == std::min(1 << 20, max > 0 ? max : 1 << 20));
}

TEST_CASE("the SIGCHLD fallback waits as the pidfd does", "[process]") {
  auto o = helper_opts(strings("exit", "5"));
  o.watch = exit_watch::sigchld;
  CHECK(run(run_to_exit(o)).code == 5);
  // Several at once, all reaped.
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<child> kids;
    for (int i = 0; i < 8; ++i) {
      auto o = helper_opts(strings("sleep", i % 2 ? "0.05" : "0.01"));
      o.watch = exit_watch::sigchld;
      auto c = child::spawn(ex, o);
      REQUIRE(c);
      kids.push_back(std::move(*c));
    }
    for (auto& k : kids)
      CHECK((co_await k.async_wait(asio::use_awaitable)).success());
  }());
  CHECK_FALSE(has_children());
}

TEST_CASE("completion tokens: callback and use_future work too", "[process]") {
  asio::io_context ctx;
  auto c = child::spawn(ctx.get_executor(), helper_opts(strings("exit", "4")));
  REQUIRE(c);
  exit_status got;
  bool called = false;
  c->async_wait([&](std::error_code ec, exit_status st) {
    CHECK_FALSE(ec);
    got = st;
    called = true;
  });
  CHECK_FALSE(called); // never completes inside the initiating call
  ctx.run_for(10s);
  CHECK(called);
  CHECK(got.code == 4);

  // use_future's executor posts to the system thread pool: the operation's steps must still
  // run on the context's thread (they touch the child), so nothing completes, not even for a
  // child that has already exited, until the context runs. (Its first step used to be posted
  // there: the future became ready with the context idle, and the operation was destroyed on
  // a pool thread, racing the test's context and child: a crash under load.)
  auto d = child::spawn(ctx.get_executor(), helper_opts(strings("exit", "6")));
  REQUIRE(d);
  ::usleep(300000); // it has exited
  auto fut = d->async_wait(asio::use_future);
  CHECK(fut.wait_for(300ms) == std::future_status::timeout);
  ctx.restart();
  ctx.run_for(10s);
  REQUIRE(fut.wait_for(0s) == std::future_status::ready);
  CHECK(fut.get().code == 6);
}

// Handlers bound to a strand of a context run by two threads run on that strand: also when
// the child had exited before the wait began (the first check is posted), for async_stop and
// async_wait_reaped (spawned operations) too. The children live on a strand of their own, as
// README's rule for several threads asks (a child's own work, its stop ladder beside the wait
// that reports its end, runs on the executor it was made with).
TEST_CASE("child's operations run a strand-bound handler on its strand", "[process][tokens]") {
  asio::io_context ctx(2);
  auto strand = asio::make_strand(ctx);
  auto home = asio::make_strand(ctx);
  std::atomic<int> on_strand{0}, called{0};
  auto check = [&] {
    on_strand += strand.running_in_this_thread() ? 1 : 0;
    ++called;
  };
  auto quick = helper_opts(strings("sleep", "30"));
  quick.ladder = {std::chrono::milliseconds(100), std::chrono::milliseconds(100)};
  auto exited = child::spawn(home, helper_opts(strings("exit", "3")));
  auto sleeper = child::spawn(home, quick);
  REQUIRE(exited);
  REQUIRE(sleeper);
  ::usleep(300000); // exited: the wait's first look finds it so
  exit_status got_exit, got_stop;
  exited->async_wait(asio::bind_executor(strand, [&](std::error_code ec, exit_status st) {
    CHECK_FALSE(ec);
    got_exit = st;
    check();
  }));
  sleeper->async_stop(asio::bind_executor(strand, [&](std::error_code ec, exit_status st) {
    CHECK_FALSE(ec);
    got_stop = st;
    check();
  }));
  {
    auto dropped = child::spawn(home, quick);
    REQUIRE(dropped);
  } // the reaper's
  async_wait_reaped(ctx.get_executor(), asio::bind_executor(strand, [&](std::error_code ec) {
                      CHECK_FALSE(ec);
                      check();
                    }));
  std::thread other([&] { ctx.run_for(20s); });
  ctx.run_for(20s);
  other.join();
  CHECK(called == 3);
  CHECK(on_strand == 3);
  CHECK(got_exit.code == 3);
  CHECK(got_stop.signal != 0);
  CHECK_FALSE(has_children());
}

TEST_CASE("cancelling child::async_wait ends the wait, every type, and leaves the child running",
          "[process][tokens]") {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total}) {
    INFO("cancellation type " << static_cast<int>(type));
    asio::io_context ctx;
    auto c = child::spawn(ctx.get_executor(), helper_opts(strings("sleep", "30")));
    REQUIRE(c);
    asio::cancellation_signal cancel;
    std::optional<std::error_code> got;
    c->async_wait(asio::bind_cancellation_slot(cancel.slot(),
                                               [&](std::error_code ec, exit_status) { got = ec; }));
    asio::steady_timer later(ctx, 100ms);
    later.async_wait([&](std::error_code) { cancel.emit(type); });
    ctx.run_for(10s);
    REQUIRE(got);
    CHECK(*got == asio::error::operation_aborted);
    CHECK(c->running());
    CHECK(::kill(c->id(), 0) == 0); // still there
    // It can still be waited for.
    c->kill();
    ctx.restart();
    auto st = c->async_wait(asio::use_future);
    ctx.run_for(10s);
    REQUIRE(st.wait_for(0s) == std::future_status::ready);
    CHECK(st.get().signal == SIGKILL);
  }
  CHECK_FALSE(has_children());
}

TEST_CASE("cancelling async_stop: terminal ends the wait and not the ladder; partial and total "
          "are not honoured",
          "[process][tokens]") {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total}) {
    INFO("cancellation type " << static_cast<int>(type));
    asio::io_context ctx;
    auto o = helper_opts(strings("ignore-term", "30"));
    o.ladder = {std::chrono::milliseconds(300), std::chrono::milliseconds(300)};
    auto c = child::spawn(ctx.get_executor(), o);
    REQUIRE(c);
    char ready[6]; // its handlers are installed
    asio::read(c->stdout_pipe(), asio::buffer(ready));
    asio::cancellation_signal cancel;
    std::optional<std::error_code> got;
    exit_status st;
    c->async_stop(
        asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, exit_status s) {
          got = ec;
          st = s;
        }));
    asio::steady_timer later(ctx, 100ms);
    later.async_wait([&](std::error_code) { cancel.emit(type); });
    ctx.run_for(10s);
    REQUIRE(got);
    if (type == asio::cancellation_type::terminal) {
      CHECK(*got == asio::error::operation_aborted);
      // The ladder climbs on to SIGKILL by itself; a wait reaps.
      ctx.restart();
      auto w = c->async_wait(asio::use_future);
      ctx.run_for(10s);
      REQUIRE(w.wait_for(0s) == std::future_status::ready);
      CHECK(w.get().signal == SIGKILL);
    } else {
      CHECK_FALSE(*got);
      CHECK(st.signal == SIGKILL);
    }
  }
  CHECK_FALSE(has_children());
}

TEST_CASE("the destructor's ladder ends a child that ignores SIGTERM", "[process]") {
  auto before = open_fds();
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    pid_t pid;
    {
      auto o = helper_opts(strings("ignore-term", "30"));
      o.ladder = {std::chrono::milliseconds(100), std::chrono::milliseconds(100)};
      auto c = child::spawn(ex, o);
      REQUIRE(c);
      pid = c->id();
      // Let it install its handlers before the ladder starts.
      char buf[6];
      co_await asio::async_read(c->stdout_pipe(), asio::buffer(buf), use_awaitable);
    } // destroyed while running: the reaper takes over
    for (int i = 0; i < 100 && has_children(); ++i)
      co_await sleep_for(20ms);
    CHECK_FALSE(has_children());
    CHECK(process_gone(pid));
  }());
  CHECK(open_fds() == before);
}

TEST_CASE("the ladder drains a child that blocks on a full stderr", "[process]") {
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    {
      // 1 MiB of stderr nobody reads: the child blocks until the reaper drains it, then
      // sees `q` and exits 0 on its own, well inside the generous grace period.
      auto o = helper_opts(strings("spam-stderr", "256"));
      o.ladder = {std::chrono::milliseconds(5000), std::chrono::milliseconds(100)};
      auto c = child::spawn(ex, o);
      REQUIRE(c);
    }
    for (int i = 0; i < 200 && has_children(); ++i)
      co_await sleep_for(10ms);
    CHECK_FALSE(has_children());
  }());
}

TEST_CASE("async_stop runs the ladder and reports how the child ended", "[process]") {
  auto st = run([]() -> awaitable<exit_status> {
    auto o = helper_opts(strings("ignore-term", "30"));
    o.ladder = {std::chrono::milliseconds(50), std::chrono::milliseconds(50)};
    auto c = child::spawn(co_await asio::this_coro::executor, o);
    REQUIRE(c);
    char buf[6];
    co_await asio::async_read(c->stdout_pipe(), asio::buffer(buf), use_awaitable);
    co_return co_await c->async_stop(asio::use_awaitable);
  }());
  CHECK(st.signal == SIGKILL);
  st = run([]() -> awaitable<exit_status> {
    auto c = child::spawn(co_await asio::this_coro::executor, helper_opts(strings("quit-on-q")));
    REQUIRE(c);
    co_return co_await c->async_stop(asio::use_awaitable);
  }());
  CHECK(st == exit_status::exited(0));
}

TEST_CASE("the whole process group goes", "[process]") {
  pid_t grandchild = run([]() -> awaitable<pid_t> {
    auto c = child::spawn(co_await asio::this_coro::executor, helper_opts(strings("grandchild")));
    REQUIRE(c);
    char buf[32] = {};
    std::size_t n = 0;
    while (n == 0 || buf[n - 1] != '\n')
      n += co_await c->stdout_pipe().async_read_some(asio::buffer(buf + n, sizeof buf - 1 - n),
                                                     use_awaitable);
    CHECK_FALSE(c->kill());
    co_await c->async_wait(asio::use_awaitable);
    co_return static_cast<pid_t>(std::atoi(buf));
  }());
  REQUIRE(grandchild > 0);
  for (int i = 0; i < 100 && !process_gone(grandchild); ++i)
    ::usleep(10000);
  CHECK(process_gone(grandchild));
}

TEST_CASE("destroying the context kills and reaps what is left, synchronously", "[process]") {
  auto before = open_fds();
  pid_t pid = -1;
  {
    asio::io_context ctx;
    auto o = helper_opts(strings("ignore-term", "30"));
    auto c = child::spawn(ctx.get_executor(), o);
    REQUIRE(c);
    pid = c->id();
    // A coroutine that owns a child and never finishes: its frame dies with the context.
    asio::co_spawn(
        ctx,
        [&]() -> awaitable<void> {
          auto d =
              child::spawn(co_await asio::this_coro::executor, helper_opts(strings("sleep", "30")));
          REQUIRE(d);
          co_await d->async_wait(asio::use_awaitable);
        },
        asio::detached);
    ctx.run_for(50ms);
    { auto dropped = std::move(*c); } // handed to the reaper, whose ladder has just begun
  }
  CHECK_FALSE(has_children());
  CHECK(process_gone(pid));
  CHECK(open_fds() == before);
}

TEST_CASE("no zombie and no leaked fd after many runs", "[process]") {
  auto before = open_fds();
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    for (int round = 0; round < 5; ++round) {
      std::vector<child> kids;
      for (int i = 0; i < 10; ++i) {
        auto o = helper_opts(strings("exit", "0"));
        o.output_pipes = {3};
        auto c = child::spawn(ex, o);
        REQUIRE(c);
        kids.push_back(std::move(*c));
      }
      for (auto& k : kids)
        co_await k.async_wait(asio::use_awaitable);
    }
  }());
  CHECK(open_fds() == before);
  CHECK_FALSE(has_children());
}

TEST_CASE("verbs on a reaped child say so", "[process]") {
  run([]() -> awaitable<void> {
    auto c = child::spawn(co_await asio::this_coro::executor, helper_opts(strings("exit", "0")));
    REQUIRE(c);
    co_await c->async_wait(asio::use_awaitable);
    CHECK_FALSE(c->running());
    CHECK(c->kill() == std::errc::no_such_process);
    CHECK(c->request_exit() == std::errc::no_such_process);
    // Waiting again gives the same status.
    CHECK((co_await c->async_wait(asio::use_awaitable)).success());
  }());
}

TEST_CASE("run_to_end reads stdout and stderr's tail within their limits, then the status",
          "[process]") {
  auto before = open_fds();
  auto r = run([]() -> awaitable<expected<program_output>> {
    auto o = spawn_options::to_read(helper(), strings("print", "100000", "5000", "3"), true);
    co_return co_await run_to_end(std::move(o), run_limits{10s, 65536, 1024});
  }());
  REQUIRE(r);
  CHECK(r->status.code == 3);
  CHECK(r->out.size() == 65536);
  CHECK(r->out_truncated);
  CHECK(r->err.size() == 1024);
  CHECK(r->err.find("err 4999\n") != std::string::npos); // the tail, not the head
  CHECK(r->err.find("err 0\n") == std::string::npos);
  CHECK(open_fds() == before);
  CHECK_FALSE(has_children());
}

TEST_CASE("run_to_end past its deadline kills the program and says so", "[process]") {
  auto before = open_fds();
  auto started = std::chrono::steady_clock::now();
  auto r = run([]() -> awaitable<expected<program_output>> {
    auto o = spawn_options::to_read(helper(), strings("ignore-term", "30"));
    co_return co_await run_to_end(std::move(o), run_limits{300ms});
  }());
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::timed_out);
  CHECK(r.error().message().find("did not finish within 300 ms") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(open_fds() == before);
  CHECK_FALSE(has_children());
}

TEST_CASE("run_to_end_sync runs outside any io_context, and inside a running one", "[process]") {
  auto r = run_to_end_sync(spawn_options::to_read(helper(), strings("print", "10", "0", "0")));
  REQUIRE(r);
  CHECK(r->status.success());
  CHECK(r->out == std::string(10, 'o'));
  CHECK(r->err.empty()); // stderr was /dev/null
  // On the thread of a running io_context (as describe_binary at spawn time): its own context.
  auto nested = run([]() -> awaitable<expected<program_output>> {
    co_return run_to_end_sync(spawn_options::to_read(helper(), strings("exit", "4")));
  }());
  REQUIRE(nested);
  CHECK(nested->status.code == 4);
  auto missing = run_to_end_sync(spawn_options::to_read("/nonexistent/tool", {}));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("/nonexistent/tool") != std::string::npos);
  CHECK_FALSE(has_children());
}

TEST_CASE("a program that calls std::exit() leaves no child running", "[process]") {
  const char* exiter = std::getenv("SIDECAR_EXIT_HELPER");
  REQUIRE(exiter != nullptr);
  auto grandchild_of = [&](bool keep) {
    return run([](std::string exiter, bool keep) -> awaitable<pid_t> {
      spawn_options o;
      o.program = exiter;
      o.args.push_back(helper());
      if (keep) o.args.push_back("keep");
      auto c = child::spawn(co_await asio::this_coro::executor, std::move(o));
      REQUIRE(c);
      auto out = co_await read_all(c->stdout_pipe());
      auto st = co_await c->async_wait(asio::use_awaitable);
      CHECK(st.success());
      co_return static_cast<pid_t>(std::atoi(out.c_str()));
    }(exiter, keep));
  };
  auto alive = [](pid_t p) { return ::kill(p, 0) == 0; };
  // The contrast: with kill_on_exit off, the child outlives the program (then it is ended here).
  pid_t kept = grandchild_of(true);
  REQUIRE(kept > 0);
  CHECK(alive(kept));
  ::kill(-kept, SIGKILL);
  pid_t p = grandchild_of(false);
  REQUIRE(p > 0);
  bool survived = alive(p);
  if (survived) ::kill(-p, SIGKILL);
  CHECK_FALSE(survived);
}
