// A named pipe (FIFO) as an Asio stream: made in a private directory (0700, the FIFO 0600) or
// at a given path, opened without ever blocking the io_context, removed on destruction.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/async.hpp>
#include <sidecar/error.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/compose.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <string_view>

#include <sys/types.h>

namespace sidecar {

template <class Executor> class basic_named_pipe;

/// A FIFO for one of ffmpeg's inputs or outputs, and the program's end of it as an Asio
/// stream (AsyncReadStream / AsyncWriteStream: relay(), tee(), asio::async_read ...).
/// Removed, with its private directory, on destruction.
class SIDECAR_API named_pipe {
public:
  /// The executor of the stream's operations.
  using executor_type = asio::any_io_executor;
  /// The same named_pipe with another executor type, whose default completion token its
  /// operations take (Asio's `as_default_on`): basic_named_pipe<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_named_pipe<Executor1>; ///< the rebound type
  };

  /// A new FIFO `name` in a new private directory under the temp dir; both are removed when
  /// the named_pipe is destroyed.
  static expected<named_pipe> create(const executor_type& ex, std::string_view name = "fifo");
  /// A FIFO at `path`: made if missing (0600, and then removed on destruction), used as it is
  /// if it is already a FIFO that we could have made: owned by our effective uid, with no
  /// access for group or others. Anything else there — not a FIFO, a symbolic link, another
  /// user's FIFO, a FIFO that others may read or write — is errc::already_exists, with the
  /// reason (owner uid, mode in octal), and is left alone. The checks are made on what an
  /// O_PATH|O_NOFOLLOW open finds, and open_read()/open_write() refuse anything but that very
  /// FIFO (same device and inode, checked on the opened descriptor).
  static expected<named_pipe> create_at(const executor_type& ex, std::filesystem::path path);

  named_pipe(named_pipe&&) noexcept; ///< Moves; the moved-from object removes nothing.
  /// Removes this FIFO (when it is ours), then takes the other's.
  named_pipe& operator=(named_pipe&&) noexcept;
  ~named_pipe(); ///< Closes the end, removes the FIFO and the private directory we made.

  /// The executor given to create().
  executor_type get_executor() noexcept { return stream_.get_executor(); }
  /// Where to point ffmpeg (`-y` as input or output: the FIFO exists).
  const std::filesystem::path& path() const noexcept { return path_; }
  /// The open end's descriptor, -1 before open_read()/open_write().
  int native_handle() noexcept { return stream_.native_handle(); }
  /// An end is open.
  bool is_open() const noexcept { return stream_.is_open(); }
  /// Closes the end (the FIFO stays until destruction): a reader of ours sees EOF.
  void close() {
    std::error_code ignored;
    stream_.close(ignored);
  }
  void close(std::error_code& ec) { stream_.close(ec); } ///< close(), reporting an error

  /// Opens the reading end at once (O_NONBLOCK). Reads then wait for a writer: a reader that
  /// opened before any writer does not see a false end of stream. Like open_write(), fails
  /// (errc::already_exists) when path() no longer names the FIFO that was made or checked.
  expected<void> open_read();
  /// Opens the writing end once a reader has the FIFO open, retrying with a short backoff
  /// (ENXIO means "no reader yet"); errc::timed_out after `timeout`; cancelled (any type):
  /// asio::error::operation_aborted. Never blocks the thread.
  asio::awaitable<expected<void>>
  open_write(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// The same through any completion token: void(std::error_code) (see <sidecar/async.hpp>).
  /// The named_pipe must outlive the operation.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_open_write(std::chrono::milliseconds timeout,
                        Token&& token = asio::default_completion_token_t<executor_type>()) {
    return detail::async_spawned<expected<void>>(
        get_executor(), [this, timeout] { return open_write(timeout); },
        std::forward<Token>(token));
  }

  /// Reads some bytes (AsyncReadStream): void(std::error_code, std::size_t); eof once every
  /// writer has closed, never before the first writer came.
  template <class MutableBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& buffers,
                       Token&& token = asio::default_completion_token_t<executor_type>()) {
    return asio::async_compose<Token, void(std::error_code, std::size_t)>(
        [this, buffers, step = 0](auto& self, std::error_code ec = {}, std::size_t n = 0) mutable {
          if (step == 0) {
            step = 1;
            if (!writer_seen_) { // before the first writer, read() would say EOF: wait
              stream_.async_wait(asio::posix::descriptor_base::wait_read, std::move(self));
              return;
            }
          }
          if (step == 1) {
            if (ec) return self.complete(ec, 0);
            writer_seen_ = true;
            step = 2;
            return stream_.async_read_some(buffers, std::move(self));
          }
          self.complete(ec, n);
        },
        token, stream_);
  }

  /// Writes some bytes (AsyncWriteStream): void(std::error_code, std::size_t).
  template <class ConstBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& buffers,
                        Token&& token = asio::default_completion_token_t<executor_type>()) {
    return stream_.async_write_some(buffers, std::forward<Token>(token));
  }

private:
  named_pipe(const executor_type& ex, std::filesystem::path path, bool remove_fifo,
             std::filesystem::path private_dir);
  void cleanup() noexcept;
  /// Takes an opened descriptor of path_ as the stream, if it is the pinned FIFO (else closes
  /// it and says why).
  expected<void> adopt(int fd);

  asio::posix::stream_descriptor stream_;
  std::filesystem::path path_;
  std::filesystem::path private_dir_; ///< removed with the FIFO, when we made it
  bool remove_fifo_ = false;
  bool writer_seen_ = false;
  /// The FIFO that was made or checked: an open must find this one at path_.
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

/// A named_pipe whose executor type is Executor (constructible from the named_pipe's executor): its
/// asynchronous operations take Executor's default completion token, as Asio's own I/O
/// objects do (`asio::use_awaitable.as_default_on(std::move(*x))`). Everything else is the
/// named_pipe's.
template <class Executor> class basic_named_pipe : public named_pipe {
public:
  /// The executor type whose default token the operations take.
  using executor_type = Executor;
  /// basic_named_pipe<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_named_pipe<Executor1>; ///< the rebound type
  };
  /// Takes over a named_pipe (any basic_named_pipe converts to one); `x` must hold one (not a
  /// moved-from object).
  explicit basic_named_pipe(named_pipe&& x)
      : named_pipe(std::move(x)), ex_(named_pipe::get_executor()) {}

  /// The named_pipe's executor, as Executor.
  executor_type get_executor() const noexcept { return ex_; }
  /// named_pipe::async_open_write, Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_open_write(std::chrono::milliseconds timeout,
                        Token&& token = asio::default_completion_token_t<executor_type>()) {
    return named_pipe::async_open_write(timeout, std::forward<Token>(token));
  }
  /// named_pipe::async_read_some, Executor's default token.
  template <class MutableBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& buffers,
                       Token&& token = asio::default_completion_token_t<executor_type>()) {
    return named_pipe::async_read_some(buffers, std::forward<Token>(token));
  }
  /// named_pipe::async_write_some, Executor's default token.
  template <class ConstBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& buffers,
                        Token&& token = asio::default_completion_token_t<executor_type>()) {
    return named_pipe::async_write_some(buffers, std::forward<Token>(token));
  }

private:
  Executor ex_;
};

} // namespace sidecar
