// FIFOs: creation in a private directory, non-blocking opens, removal on destruction.
#include <sidecar/named_pipe.hpp>

#include "backoff.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sidecar {

namespace {

std::string octal(mode_t mode) {
  char s[8];
  std::snprintf(s, sizeof s, "%04o", static_cast<unsigned>(mode & 07777));
  return s;
}

// What path names now, without following a symbolic link: the checks and the pinned inode
// come from that one open, not from a second look up of the name.
expected<struct stat> look_at(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1) return fail_errno("looking at " + path.string(), errno);
  struct stat st {};
  int r = ::fstat(fd, &st);
  int e = errno;
  ::close(fd);
  if (r == -1) return fail_errno("looking at " + path.string(), e);
  return st;
}

// Why the thing at `path` is not a FIFO to use, or nothing: it must be one we could have
// made, a FIFO of our effective uid without access for group or others (we make them 0600).
std::optional<error> unusable(const std::filesystem::path& path, const struct stat& st) {
  auto refuse = [&](const std::string& why) {
    return error(errc::already_exists, path.string() + " " + why + "; it was left as it is");
  };
  if (S_ISLNK(st.st_mode)) return refuse("is a symbolic link, not a FIFO");
  if (!S_ISFIFO(st.st_mode)) return refuse("exists and is not a FIFO");
  std::string why;
  if (st.st_uid != ::geteuid())
    why = "is owned by uid " + std::to_string(st.st_uid) + ", not by us (uid " +
          std::to_string(::geteuid()) + ")";
  if (st.st_mode & 077)
    why += (why.empty() ? "has" : ", and has") + std::string(" mode ") + octal(st.st_mode) +
           ": group or others may read or write it (ours are 0600)";
  if (why.empty()) return std::nullopt;
  return refuse("is a FIFO we cannot trust: it " + why);
}

} // namespace

named_pipe::named_pipe(const executor_type& ex, std::filesystem::path path, bool remove_fifo,
                       std::filesystem::path private_dir)
    : stream_(ex), path_(std::move(path)), private_dir_(std::move(private_dir)),
      remove_fifo_(remove_fifo) {}

named_pipe::named_pipe(named_pipe&& o) noexcept
    : stream_(std::move(o.stream_)), path_(std::move(o.path_)),
      private_dir_(std::move(o.private_dir_)), remove_fifo_(std::exchange(o.remove_fifo_, false)),
      writer_seen_(o.writer_seen_), dev_(o.dev_), ino_(o.ino_) {
  o.path_.clear();
  o.private_dir_.clear();
}

named_pipe& named_pipe::operator=(named_pipe&& o) noexcept {
  if (this != &o) {
    cleanup();
    stream_ = std::move(o.stream_);
    path_ = std::move(o.path_);
    private_dir_ = std::move(o.private_dir_);
    remove_fifo_ = std::exchange(o.remove_fifo_, false);
    writer_seen_ = o.writer_seen_;
    dev_ = o.dev_;
    ino_ = o.ino_;
    o.path_.clear();
    o.private_dir_.clear();
  }
  return *this;
}

named_pipe::~named_pipe() {
  cleanup();
}

void named_pipe::cleanup() noexcept {
  std::error_code ignored;
  stream_.close(ignored);
  if (remove_fifo_ && !path_.empty()) ::unlink(path_.c_str());
  if (!private_dir_.empty()) ::rmdir(private_dir_.c_str());
  remove_fifo_ = false;
  private_dir_.clear();
}

expected<named_pipe> named_pipe::create(const executor_type& ex, std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..")
    return fail(errc::bad_argument,
                "a FIFO name is one path component, not '" + std::string(name) + "'");
  std::error_code ec;
  auto base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string tmpl = (base / "sidecar-fifo-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))
    return fail_errno("making a private directory in " + base.string(), errno);
  std::filesystem::path dir = tmpl; // mkdtemp makes it 0700
  auto path = dir / std::string(name);
  if (::mkfifo(path.c_str(), 0600) == -1) {
    int e = errno;
    ::rmdir(dir.c_str());
    return fail_errno("making the FIFO " + path.string(), e);
  }
  named_pipe p(ex, path, true, dir); // removes both if the look below fails
  auto st = look_at(path);
  if (!st) return tl::unexpected(st.error());
  p.dev_ = st->st_dev;
  p.ino_ = st->st_ino;
  return p;
}

expected<named_pipe> named_pipe::create_at(const executor_type& ex, std::filesystem::path path) {
  // Make it, or learn that something is there (EEXIST also for a dangling symbolic link).
  bool made = ::mkfifo(path.c_str(), 0600) == 0;
  if (!made && errno != EEXIST) return fail_errno("making the FIFO " + path.string(), errno);
  auto st = look_at(path);
  if (!st) {
    if (made) ::unlink(path.c_str());
    return tl::unexpected(st.error());
  }
  // Also when we made it: another user may have swapped it in since (a shared directory).
  if (auto why = unusable(path, *st)) return tl::unexpected(*why);
  named_pipe p(ex, path, made, {});
  p.dev_ = st->st_dev;
  p.ino_ = st->st_ino;
  return p;
}

expected<void> named_pipe::adopt(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) == -1) {
    int e = errno;
    ::close(fd);
    return fail_errno("looking at " + path_.string(), e);
  }
  std::optional<error> why;
  if (st.st_dev != dev_ || st.st_ino != ino_)
    why = error(errc::already_exists, path_.string() +
                                          " is no longer the FIFO that was made or checked; it was "
                                          "left as it is");
  else
    why = unusable(path_, st);
  if (why) {
    ::close(fd);
    return tl::unexpected(*why);
  }
  std::error_code ec;
  stream_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return fail(ec, "watching " + path_.string());
  }
  return {};
}

expected<void> named_pipe::open_read() {
  if (stream_.is_open()) return fail(errc::bad_argument, path_.string() + " is already open");
  int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd == -1) return fail_errno("opening " + path_.string() + " for reading", errno);
  return adopt(fd);
}

asio::awaitable<expected<void>> named_pipe::open_write(std::chrono::milliseconds timeout) {
  if (stream_.is_open()) co_return fail(errc::bad_argument, path_.string() + " is already open");
  detail::backoff retry(co_await asio::this_coro::executor, timeout, std::chrono::milliseconds(2));
  for (;;) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) co_return adopt(fd);
    if (errno != ENXIO && errno != EINTR)
      co_return fail_errno("opening " + path_.string() + " for writing", errno);
    if (retry.expired())
      co_return fail(errc::timed_out, "no reader opened " + path_.string() + " within " +
                                          std::to_string(timeout.count()) + " ms");
    if (auto ec = co_await retry.pause())
      co_return fail(ec, "waiting for a reader of " + path_.string()); // cancelled
  }
}

} // namespace sidecar
