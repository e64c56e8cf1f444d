// A regular file as an Asio stream, so relay() and tee() take files like pipes and sockets.
// epoll cannot wait on regular files (they are always ready), so each operation is a plain
// read/write whose completion is posted to the stream's executor and run on the handler's
// associated executor (a strand it is bound to), with its associated allocator, as Asio's own
// operations complete.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/detail/unique_fd.hpp>
#include <sidecar/error.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/detail/bind_handler.hpp> // binds (ec, n), keeping the handler's associators
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <filesystem>
#include <type_traits>

#include <fcntl.h>
#include <unistd.h>

namespace sidecar {

template <class Executor> class basic_file_stream;

/// A regular file as an Asio stream (AsyncReadStream / AsyncWriteStream), for relay() and
/// tee() ends: each read or write is done at once (files are always ready) and its handler
/// runs on its associated executor, else the stream's.
class SIDECAR_API file_stream {
public:
  /// The executor handlers run on when they have none of their own.
  using executor_type = asio::any_io_executor;
  /// The same file_stream with another executor type, whose default completion token its
  /// operations take (Asio's `as_default_on`): basic_file_stream<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_file_stream<Executor1>; ///< the rebound type
  };
  /// How open() opens the file.
  enum class mode {
    read,           ///< read only
    write_truncate, ///< write, created (0644) or emptied
    write_append,   ///< write at the end, created (0644) if missing
  };

  /// Opens `path`; the error names it and errno's reason.
  static expected<file_stream> open(const executor_type& ex, const std::filesystem::path& path,
                                    mode m = mode::read) {
    int flags = O_CLOEXEC;
    if (m == mode::read)
      flags |= O_RDONLY;
    else
      flags |= O_WRONLY | O_CREAT | (m == mode::write_append ? O_APPEND : O_TRUNC);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd == -1) return fail_errno("opening " + path.string(), errno);
    return file_stream(ex, fd);
  }

  file_stream(file_stream&&) noexcept = default;            ///< Moves the descriptor.
  file_stream& operator=(file_stream&&) noexcept = default; ///< Closes ours, takes the other's.

  /// The executor given to open().
  executor_type get_executor() const noexcept { return ex_; }
  /// The file's descriptor, -1 once closed.
  int native_handle() const noexcept { return fd_.get(); }
  /// Not closed yet.
  bool is_open() const noexcept { return fd_.get() >= 0; }
  /// Closes the file (also done on destruction).
  void close() { fd_.reset(); }
  /// close(), as Asio's streams spell it (never fails).
  void close(std::error_code& ec) {
    ec.clear();
    fd_.reset();
  }

  /// Reads into the first buffer: void(std::error_code, std::size_t), eof at the end.
  template <class MutableBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& buffers,
                       Token&& token = asio::default_completion_token_t<executor_type>()) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          std::error_code ec;
          std::size_t n = 0;
          if constexpr (!is_null<MutableBufferSequence>) {
            auto first = asio::buffer_sequence_begin(b);
            asio::mutable_buffer buf = *first;
            n = transfer(true, buf.data(), buf.size(), ec);
            if (!ec && n == 0 && buf.size() > 0) ec = asio::error::eof;
          }
          asio::post(ex_, asio::detail::bind_handler(std::move(handler), ec, n));
        },
        token, buffers);
  }

  /// Writes the first buffer: void(std::error_code, std::size_t).
  template <class ConstBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& buffers,
                        Token&& token = asio::default_completion_token_t<executor_type>()) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          std::error_code ec;
          std::size_t n = 0;
          if constexpr (!is_null<ConstBufferSequence>) {
            auto first = asio::buffer_sequence_begin(b);
            asio::const_buffer buf = *first;
            n = transfer(false, const_cast<void*>(buf.data()), buf.size(), ec);
          }
          asio::post(ex_, asio::detail::bind_handler(std::move(handler), ec, n));
        },
        token, buffers);
  }

private:
  file_stream(const executor_type& ex, int fd) : ex_(ex), fd_(fd) {}

  /// null_buffers asks for readiness, which a regular file always has.
  template <class B> static constexpr bool is_null = std::is_same_v<B, asio::null_buffers>;

  std::size_t transfer(bool reading, void* data, std::size_t size, std::error_code& ec) {
    if (!is_open()) {
      ec = asio::error::bad_descriptor;
      return 0;
    }
    for (;;) {
      auto n = reading ? ::read(fd_.get(), data, size) : ::write(fd_.get(), data, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      ec = std::error_code(errno, std::system_category());
      return 0;
    }
  }

  executor_type ex_;
  detail::unique_fd fd_;
};

/// A file_stream whose executor type is Executor (constructible from the file_stream's executor):
/// its asynchronous operations take Executor's default completion token, as Asio's own I/O objects
/// do (`asio::use_awaitable.as_default_on(std::move(*x))`). Everything else is the file_stream's.
template <class Executor> class basic_file_stream : public file_stream {
public:
  /// The executor type whose default token the operations take.
  using executor_type = Executor;
  /// basic_file_stream<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_file_stream<Executor1>; ///< the rebound type
  };
  /// Takes over a file_stream (any basic_file_stream converts to one); `x` must hold one (not a
  /// moved-from object).
  explicit basic_file_stream(file_stream&& x)
      : file_stream(std::move(x)), ex_(file_stream::get_executor()) {}

  /// The file_stream's executor, as Executor.
  executor_type get_executor() const noexcept { return ex_; }
  /// file_stream::async_read_some, Executor's default token.
  template <class MutableBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& buffers,
                       Token&& token = asio::default_completion_token_t<executor_type>()) {
    return file_stream::async_read_some(buffers, std::forward<Token>(token));
  }
  /// file_stream::async_write_some, Executor's default token.
  template <class ConstBufferSequence,
            class Token = asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& buffers,
                        Token&& token = asio::default_completion_token_t<executor_type>()) {
    return file_stream::async_write_some(buffers, std::forward<Token>(token));
  }

private:
  Executor ex_;
};

} // namespace sidecar
