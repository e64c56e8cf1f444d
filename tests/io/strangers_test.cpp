// Issue #14: other local users and other processes cannot take over a tcp_ingest output or
// slip their own FIFO into named_pipe::create_at(). Strangers are real processes forked from
// this test (as uid 65534 when the test runs as root); the outputs come from the real ffmpeg.
#include <sidecar/named_pipe.hpp>
#include <sidecar/tcp_ingest.hpp>

#include <sidecar/ffmpeg_child.hpp>

#include "support.hpp"

#include <asio/experimental/as_tuple.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;
using asio::ip::tcp;

namespace {

constexpr uid_t nobody = 65534;

// Changing a process's uid, or a file's owner, needs root: without it those tests say why
// and pass (Catch2 v2 has no SKIP).
bool is_root() {
  return ::geteuid() == 0;
}

// A process forked from this test that connects to `to`, sends "BOGUS…" and then either
// closes at once or half-closes and waits until the other side closes the connection. It has
// connected and written when connect() returns. wait() gives its exit code: 0 when the
// connection ended as expected (closed at once by itself, or closed or reset by us).
class stranger {
public:
  enum class ending { close_at_once, wait_for_close };

  static stranger connect(const tcp::endpoint& to, std::optional<uid_t> as_uid, ending how) {
    sockaddr_in sa{};
    REQUIRE(to.size() == sizeof sa);
    std::memcpy(&sa, to.data(), sizeof sa);
    int ready[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid != -1);
    if (pid == 0) run_child(sa, ready[1], as_uid, how); // never returns
    ::close(ready[1]);
    char c = 0;
    auto n = ::read(ready[0], &c, 1); // its connection is in the backlog when this returns
    ::close(ready[0]);
    stranger s;
    s.pid_ = pid;
    if (n != 1) {
      FAIL("the stranger did not connect (exit code " << s.wait() << ")");
    }
    return s;
  }

  stranger(stranger&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  ~stranger() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  int wait() {
    int raw = 0;
    pid_t r;
    do
      r = ::waitpid(pid_, &raw, 0);
    while (r == -1 && errno == EINTR);
    pid_ = -1;
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  }

private:
  stranger() = default;

  // Only system calls from here on: the test process may have other threads.
  [[noreturn]] static void run_child(const sockaddr_in& to, int ready, std::optional<uid_t> uid,
                                     ending how) {
    ::alarm(20); // never outlives a broken test
    if (ready != 3 && ::dup2(ready, 3) == -1) ::_exit(10);
    if (::syscall(SYS_close_range, 4u, ~0u, 0u) == -1)
      for (int fd = 4; fd < 1024; ++fd)
        ::close(fd);
    if (uid && (::syscall(SYS_setgroups, 0, nullptr) == -1 ||
                ::syscall(SYS_setresgid, *uid, *uid, *uid) == -1 ||
                ::syscall(SYS_setresuid, *uid, *uid, *uid) == -1))
      ::_exit(11);
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (s == -1 || ::connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) == -1)
      ::_exit(12);
    static const char bogus[] = "BOGUS BYTES FROM A STRANGER";
    if (::write(s, bogus, sizeof bogus - 1) != static_cast<ssize_t>(sizeof bogus - 1)) ::_exit(13);
    if (how == ending::close_at_once) {
      ::close(s);
      if (::write(3, "r", 1) != 1) ::_exit(14);
      ::_exit(0);
    }
    ::shutdown(s, SHUT_WR); // a reader that got this connection sees its end
    if (::write(3, "r", 1) != 1) ::_exit(14);
    char buf[256];
    auto n = ::read(s, buf, sizeof buf); // until the ingest closes it
    if (n == 0 || (n == -1 && errno == ECONNRESET)) ::_exit(0);
    ::_exit(15);
  }

  pid_t pid_ = -1;
};

// accept(k, group), or accept(k) for group 0. (Not `c ? co_await a : co_await b`: g++ 12
// destroys the result of a co_await inside ?: twice.)
awaitable<expected<tcp::socket>> accept_from(tcp_ingest& in, std::size_t k, pid_t group) {
  if (group > 0) co_return co_await in.accept(k, group);
  co_return co_await in.accept(k);
}

constexpr std::size_t frame_bytes = 16 * 16 * 3, frames = 10;

// An ffmpeg sending ten 16x16 rgb24 frames of testsrc to `url` at once (a few ms).
expected<ffmpeg_child> spawn_sender(const asio::any_io_executor& ex, const std::string& url) {
  return command{}
      .format("lavfi")
      .input("testsrc=size=16x16:rate=25")
      .frames(frames)
      .format("rawvideo")
      .pix_fmt("rgb24")
      .output(url)
      .spawn(ex);
}

// An ffmpeg sending the rgb24 16x16 frames it reads on stdin to `url`. Its connection stays
// open until stdin ends, however long the ingest takes to look at it: no timing in the test.
expected<ffmpeg_child> spawn_stdin_sender(const asio::any_io_executor& ex, const std::string& url) {
  return command{}
      .format("rawvideo")
      .args({"-pixel_format", "rgb24", "-video_size", "16x16", "-framerate", "25"})
      .input("pipe:0")
      .format("rawvideo")
      .pix_fmt("rgb24")
      .output(url)
      .spawn(ex);
}

// Strangers connect to output 0 first; then ffmpeg does. Returns what accept() gave.
awaitable<std::string> take_over_attempt(std::optional<uid_t> as_uid, bool by_group,
                                         std::vector<stranger>& strangers) {
  auto ex = co_await asio::this_coro::executor;
  auto in = tcp_ingest::open(ex, {.accept_timeout = 20s});
  REQUIRE(in);
  // One keeps its connection open, one closes it before the ingest can look at it (this
  // coroutine does not yield meanwhile): neither may be taken for ffmpeg's.
  strangers.push_back(stranger::connect(in->endpoint(0), as_uid, stranger::ending::wait_for_close));
  strangers.push_back(stranger::connect(in->endpoint(0), as_uid, stranger::ending::close_at_once));
  auto ff = spawn_stdin_sender(ex, in->url(0));
  REQUIRE(ff);
  // Every frame now (they fit the stdin pipe): ffmpeg connects once it has probed its input,
  // and holds the connection open while it waits for more.
  const std::string frames_in(frame_bytes * frames, 'x');
  auto wrote = co_await ff->write(frames_in); // (not inside REQUIRE: g++ 12 ran it 3 times)
  REQUIRE(wrote);
  auto c = co_await accept_from(*in, 0, by_group ? ff->id() : 0);
  ff->close_stdin();
  if (!c) FAIL(c.error().message());
  auto data = co_await read_text(*c);
  auto st = co_await ff->wait();
  CHECK(st);
  CHECK(data == frames_in);
  co_return data;
}

} // namespace

TEST_CASE("tcp_ingest: another user's connections are refused; accept returns ffmpeg's output",
          "[net][security]") {
  if (!is_root()) {
    WARN("skipped: only root can run a stranger as another uid");
    return;
  }
  const auto before = open_fds();
  std::vector<stranger> strangers;
  for (bool by_group : {false, true}) {
    INFO((by_group ? "accept(0, ffmpeg's group)" : "accept(0)"));
    auto data = run(take_over_attempt(nobody, by_group, strangers), 60s);
    CHECK(data.size() == frame_bytes * frames);
    CHECK(data.find("BOGUS") == std::string::npos);
    for (auto& s : strangers)
      CHECK(s.wait() == 0); // refused: its connection was closed
    strangers.clear();
  }
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("tcp_ingest: accept(k, group) refuses a process of our own uid that is not the child",
          "[net][security]") {
  const auto before = open_fds();
  std::vector<stranger> strangers;
  auto data = run(take_over_attempt(std::nullopt, true, strangers), 60s);
  CHECK(data.size() == frame_bytes * frames);
  CHECK(data.find("BOGUS") == std::string::npos);
  for (auto& s : strangers)
    CHECK(s.wait() == 0);
  strangers.clear();
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("tcp_ingest: when only strangers connect, accept times out saying whom it refused",
          "[net][security]") {
  const bool root = is_root();
  const auto before = open_fds();
  std::optional<stranger> other;
  auto r = run(
      [&]() -> awaitable<expected<std::string>> {
        auto ex = co_await asio::this_coro::executor;
        auto in = tcp_ingest::open(ex, {.accept_timeout = 1s});
        REQUIRE(in);
        // As root, another uid's connection, which accept(0) refuses; else one of our own
        // uid, which accept(0, group) refuses for a group that is not its own (no process
        // has that id).
        other.emplace(stranger::connect(in->endpoint(0),
                                        root ? std::optional(nobody) : std::nullopt,
                                        stranger::ending::wait_for_close));
        auto c = co_await accept_from(*in, 0, root ? 0 : ::getpid() + 100000);
        if (!c) co_return tl::unexpected(c.error());
        co_return co_await read_text(*c);
      }(),
      30s);
  REQUIRE_FALSE(r);
  INFO(r.error().message());
  CHECK(r.error() == errc::timed_out);
  CHECK(r.error().message().find("refused 1 connection") != std::string::npos);
  if (root) CHECK(r.error().message().find("uid 65534") != std::string::npos);
  CHECK(other->wait() == 0);
  other.reset();
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("named_pipe: create_at refuses a FIFO another user owns or others may write",
          "[net][security]") {
  asio::io_context ctx;
  temp_dir dir;
  auto says = [](const error& e, const std::string& what) {
    return e.message().find(what) != std::string::npos;
  };
  // Our own 0600 FIFO is used as it is, and not removed after (it is not ours to remove).
  auto good = dir / "good";
  REQUIRE(::mkfifo(good.c_str(), 0600) == 0);
  { REQUIRE(named_pipe::create_at(ctx.get_executor(), good)); }
  CHECK(std::filesystem::exists(good));
  const auto before = open_fds(); // the io_context's own descriptors included

  // Ours, but 0666 (mkfifo's mode is masked by the umask: chmod sets it).
  auto open_fifo = dir / "open";
  REQUIRE(::mkfifo(open_fifo.c_str(), 0600) == 0);
  REQUIRE(::chmod(open_fifo.c_str(), 0666) == 0);
  auto p = named_pipe::create_at(ctx.get_executor(), open_fifo);
  REQUIRE_FALSE(p);
  INFO(p.error().message());
  CHECK(p.error() == errc::already_exists);
  CHECK(says(p.error(), open_fifo.string()));
  CHECK(says(p.error(), "0666"));
  CHECK(std::filesystem::exists(open_fifo)); // left alone

  // A symbolic link to our own good FIFO: refused, as before.
  auto link = dir / "link";
  std::filesystem::create_symlink(good, link);
  auto l = named_pipe::create_at(ctx.get_executor(), link);
  REQUIRE_FALSE(l);
  CHECK(l.error() == errc::already_exists);
  CHECK(says(l.error(), link.string()));
  CHECK(open_fds() == before); // the looks at what was refused are closed

  if (!is_root()) {
    WARN("skipped the FIFOs of another user: only root can chown");
    return;
  }
  for (mode_t mode : {mode_t(0666), mode_t(0600)}) {
    auto theirs = dir / ("theirs-" + std::to_string(mode));
    REQUIRE(::mkfifo(theirs.c_str(), 0600) == 0);
    REQUIRE(::chown(theirs.c_str(), nobody, nobody) == 0);
    REQUIRE(::chmod(theirs.c_str(), mode) == 0);
    auto t = named_pipe::create_at(ctx.get_executor(), theirs);
    REQUIRE_FALSE(t);
    INFO(t.error().message());
    CHECK(t.error() == errc::already_exists);
    CHECK(says(t.error(), theirs.string()));
    CHECK(says(t.error(), "uid 65534"));
    if (mode == 0666) CHECK(says(t.error(), "0666"));
    struct stat st {};
    REQUIRE(::stat(theirs.c_str(), &st) == 0); // left as it was
    CHECK(st.st_uid == nobody);
    CHECK((st.st_mode & 07777) == mode);
  }
  CHECK(open_fds() == before);
}

TEST_CASE("named_pipe: a FIFO swapped after create_at is not opened", "[net][security]") {
  asio::io_context ctx;
  temp_dir dir;
  auto path = dir / "fifo";
  auto p = named_pipe::create_at(ctx.get_executor(), path); // made by us
  REQUIRE(p);
  const auto before = open_fds();
  // Another FIFO (as good as ours: same owner, 0600) renamed over it, then a symbolic link.
  auto other = dir / "other";
  REQUIRE(::mkfifo(other.c_str(), 0600) == 0);
  REQUIRE(::rename(other.c_str(), path.c_str()) == 0);
  auto r = p->open_read();
  REQUIRE_FALSE(r);
  INFO(r.error().message());
  CHECK(r.error() == errc::already_exists);
  CHECK(r.error().message().find(path.string()) != std::string::npos);
  CHECK_FALSE(p->is_open());
  std::filesystem::remove(path);
  std::filesystem::create_symlink(dir / "elsewhere", path);
  REQUIRE(::mkfifo((dir / "elsewhere").c_str(), 0600) == 0);
  CHECK_FALSE(p->open_read()); // O_NOFOLLOW
  CHECK_FALSE(p->is_open());
  CHECK(open_fds() == before); // the refused descriptors are closed
}

namespace {

// Blocks this thread, and so the io_context, until the child has exited (left unreaped): the
// ingest then sees its connection only after the child closed it.
void block_until_exited(pid_t pid) {
  siginfo_t info{};
  int r;
  do
    r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
  while (r == -1 && errno == EINTR);
  REQUIRE(r == 0);
}

} // namespace

TEST_CASE("tcp_ingest: a short output closed before it was checked is taken once its child ends",
          "[net][security]") {
  const auto before = open_fds();
  for (bool by_group : {true, false}) {
    INFO((by_group ? "accept(0, ffmpeg's group)" : "accept(0)"));
    auto data = run(
        [by_group]() -> awaitable<std::string> {
          auto ex = co_await asio::this_coro::executor;
          auto in = tcp_ingest::open(ex, {.accept_timeout = 20s});
          REQUIRE(in);
          auto ff = spawn_sender(ex, in->url(0));
          REQUIRE(ff);
          block_until_exited(ff->id());
          auto c = co_await accept_from(*in, 0, by_group ? ff->id() : 0);
          if (!c) FAIL(c.error().message());
          auto got = co_await read_text(*c);
          auto st = co_await ff->wait();
          CHECK(st);
          co_return got;
        }(),
        60s);
    CHECK(data.size() == frame_bytes * frames);
  }
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("tcp_ingest: two connections closed before they were checked are both refused",
          "[net][security]") {
  // A stranger's that came first and ffmpeg's short output: which is whose cannot be told, so
  // accept fails rather than hand out the stranger's bytes, with a group or without.
  const auto before = open_fds();
  std::vector<stranger> strangers;
  auto r = run(
      [&]() -> awaitable<std::pair<expected<std::string>, expected<std::string>>> {
        auto ex = co_await asio::this_coro::executor;
        auto in = tcp_ingest::open(ex, {.outputs = 2, .accept_timeout = 1s});
        REQUIRE(in);
        std::array<expected<std::string>, 2> got;
        std::optional<ffmpeg_child> ff;
        for (std::size_t k = 0; k < 2; ++k) {
          strangers.push_back(
              stranger::connect(in->endpoint(k), std::nullopt, stranger::ending::close_at_once));
          auto spawned = spawn_sender(ex, in->url(k));
          REQUIRE(spawned);
          ff.emplace(std::move(*spawned));
          block_until_exited(ff->id());
          auto c = co_await accept_from(*in, k, k == 0 ? ff->id() : 0);
          if (c)
            got[k] = co_await read_text(*c);
          else
            got[k] = tl::unexpected(c.error());
          auto st = co_await ff->wait();
          CHECK(st);
        }
        co_return std::pair{got[0], got[1]};
      }(),
      60s);
  for (auto& s : strangers)
    CHECK(s.wait() == 0);
  strangers.clear();
  REQUIRE_FALSE(r.first); // accept(0, group)
  INFO(r.first.error().message());
  CHECK(r.first.error() == errc::protocol);
  CHECK(r.first.error().message().find("cannot be told") != std::string::npos);
  REQUIRE_FALSE(r.second); // accept(1)
  INFO(r.second.error().message());
  CHECK(r.second.error() == errc::protocol);
  CHECK(r.second.error().message().find("cannot be told") != std::string::npos);
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}
