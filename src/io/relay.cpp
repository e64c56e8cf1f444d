// The splice(2) fast path of relay(): the kernel moves pages between a pipe and another
// descriptor without a copy through user space.
#include <sidecar/relay.hpp>

#include <cerrno>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sidecar::detail {

namespace {

mode_t kind_of(int fd) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) == -1) return 0;
  return st.st_mode & S_IFMT;
}

} // namespace

bool can_splice(int source_fd, int sink_fd) noexcept {
  if (source_fd < 0 || sink_fd < 0) return false;
  auto a = kind_of(source_fd), b = kind_of(sink_fd);
  auto joinable = [](mode_t m) { return m == S_IFIFO || m == S_IFSOCK || m == S_IFREG; };
  return (a == S_IFIFO && joinable(b)) || (b == S_IFIFO && joinable(a));
}

bool splice_pays(int source_fd, int sink_fd) noexcept {
  // Into a socket, read/write moves more bytes for less CPU than splice (bench/relay).
  return can_splice(source_fd, sink_fd) && kind_of(sink_fd) != S_IFSOCK;
}

void grow_pipe(int fd, std::size_t pipe_size) noexcept {
  if (fd >= 0 && pipe_size > 0 && kind_of(fd) == S_IFIFO &&
      ::fcntl(fd, F_GETPIPE_SZ) < static_cast<int>(pipe_size))
    ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(pipe_size)); // best effort: EPERM over the max
}

void prepare_splice(int source_fd, int sink_fd, std::size_t pipe_size) noexcept {
  for (int fd : {source_fd, sink_fd}) {
    const auto kind = kind_of(fd);
    if (kind == S_IFREG) continue; // regular files are always ready
    grow_pipe(fd, pipe_size);
    int flags = ::fcntl(fd, F_GETFL);
    if (flags != -1 && !(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  }
}

splice_result splice_once(int source_fd, int sink_fd, std::size_t max) noexcept {
  for (;;) {
    auto n = ::splice(source_fd, nullptr, sink_fd, nullptr, max,
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE);
    if (n > 0) return {splice_step::moved, static_cast<std::size_t>(n), {}};
    if (n == 0) return {splice_step::end, 0, {}};
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN) {
      // Which side blocks? Ask both without waiting; a side not ready is the one to await.
      pollfd fds[2] = {{source_fd, POLLIN, 0}, {sink_fd, POLLOUT, 0}};
      ::poll(fds, 2, 0);
      if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
        return {splice_step::wait_source, 0, {}};
      if (fds[1].revents & (POLLERR | POLLHUP))
        return {splice_step::failed, 0, std::make_error_code(std::errc::broken_pipe)};
      return {splice_step::wait_sink, 0, {}};
    }
    if (e == EINVAL || e == ENOSYS) return {splice_step::unsupported, 0, {}};
    return {splice_step::failed, 0, std::error_code(e, std::system_category())};
  }
}

} // namespace sidecar::detail
