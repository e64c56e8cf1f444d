// FIFOs: creation in a private directory, non-blocking opens, removal on destruction.
#include <sidecar/named_pipe.hpp>

#include "backoff.hpp"

#include <asio/this_coro.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sidecar {

named_pipe::named_pipe(const executor_type& ex, std::filesystem::path path, bool remove_fifo,
                       std::filesystem::path private_dir)
    : stream_(ex), path_(std::move(path)), private_dir_(std::move(private_dir)),
      remove_fifo_(remove_fifo) {}

named_pipe::named_pipe(named_pipe&& o) noexcept
    : stream_(std::move(o.stream_)), path_(std::move(o.path_)),
      private_dir_(std::move(o.private_dir_)), remove_fifo_(std::exchange(o.remove_fifo_, false)),
      writer_seen_(o.writer_seen_) {
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
    o.path_.clear();
    o.private_dir_.clear();
  }
  return *this;
}

named_pipe::~named_pipe() { cleanup(); }

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
    return fail(errc::bad_argument, "a FIFO name is one path component, not '" +
                                        std::string(name) + "'");
  std::error_code ec;
  auto base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string tmpl = (base / "sidecar-fifo-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return fail_errno("making a private directory in " + base.string(), errno);
  std::filesystem::path dir = tmpl; // mkdtemp makes it 0700
  auto path = dir / std::string(name);
  if (::mkfifo(path.c_str(), 0600) == -1) {
    int e = errno;
    ::rmdir(dir.c_str());
    return fail_errno("making the FIFO " + path.string(), e);
  }
  return named_pipe(ex, path, true, dir);
}

expected<named_pipe> named_pipe::create_at(const executor_type& ex, std::filesystem::path path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISFIFO(st.st_mode))
      return fail(errc::already_exists,
                  path.string() + " exists and is not a FIFO; it was left as it is");
    return named_pipe(ex, path, false, {});
  }
  if (errno != ENOENT) return fail_errno("looking at " + path.string(), errno);
  if (::mkfifo(path.c_str(), 0600) == -1) return fail_errno("making the FIFO " + path.string(), errno);
  return named_pipe(ex, path, true, {});
}

expected<void> named_pipe::open_read() {
  if (stream_.is_open()) return fail(errc::bad_argument, path_.string() + " is already open");
  int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1) return fail_errno("opening " + path_.string() + " for reading", errno);
  std::error_code ec;
  stream_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return fail(ec, "watching " + path_.string());
  }
  return {};
}

asio::awaitable<expected<void>> named_pipe::open_write(std::chrono::milliseconds timeout) {
  if (stream_.is_open()) co_return fail(errc::bad_argument, path_.string() + " is already open");
  detail::backoff retry(co_await asio::this_coro::executor, timeout, std::chrono::milliseconds(2));
  for (;;) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      std::error_code ec;
      stream_.assign(fd, ec);
      if (ec) {
        ::close(fd);
        co_return fail(ec, "watching " + path_.string());
      }
      co_return expected<void>{};
    }
    if (errno != ENXIO && errno != EINTR)
      co_return fail_errno("opening " + path_.string() + " for writing", errno);
    if (retry.expired())
      co_return fail(errc::timed_out, "no reader opened " + path_.string() + " within " +
                                          std::to_string(timeout.count()) + " ms");
    co_await retry.pause();
  }
}

} // namespace sidecar
