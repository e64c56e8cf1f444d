// relay(source, sink): copy a byte stream to its end with backpressure, zero-copy through
// splice(2) when the kernel allows it, then half-close the sink so the next process sees EOF.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/async.hpp>
#include <sidecar/error.hpp>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/socket_base.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <vector>

namespace sidecar {

/// How relay() moves the bytes.
enum class relay_method {
  /// splice(2) where it is the faster path — a pipe into a pipe or a file, a socket or a file
  /// into a pipe — and read/write into a socket, where splice is the slower path (on loopback
  /// it moves 0.8 of read/write's bytes for more CPU: bench/relay).
  automatic,
  splice, ///< splice(2) whenever the kernel can join the two (one side a pipe), else read/write
  copy,   ///< read/write through one reused buffer, always
};

/// How relay() copies.
struct SIDECAR_API relay_options {
  /// Bytes per read/write (fallback) or per splice call.
  std::size_t chunk_size = std::size_t{1} << 20;
  /// End of the source half-closes the sink: shutdown(SHUT_WR) for a socket, close() for a
  /// pipe or FIFO. Turn off to write more into the sink afterwards.
  bool close_sink = true;
  /// splice(2) or read/write: chosen by the kinds of source and sink, or forced.
  relay_method method = relay_method::automatic;
  /// Pipes on either side are grown to this capacity (F_SETPIPE_SZ, within
  /// /proc/sys/fs/pipe-max-size) so that the relay wakes once per MiB rather than once per
  /// 64 KiB page run of a default pipe, spliced or copied. 0 leaves them as they are.
  std::size_t pipe_size = std::size_t{1} << 20;
  /// A relay that ends before the source's end — cancelled (`relay(...) || timer`), or stopped
  /// by a failing sink or source — closes the source, so that the process writing into it sees
  /// a broken pipe and ends instead of blocking on a pipe nobody reads: `ff->wait()` after a
  /// cancelled `relay(ff->take_stdout(), …)` returns. Turn off to read the rest of the source
  /// yourself (bytes the copying path had read and not written are lost either way).
  bool close_source = true;
};

namespace detail {

template <class S>
concept has_native_handle = requires(S& s) {
  { s.native_handle() } -> std::convertible_to<int>;
};

enum class splice_step { moved, end, wait_source, wait_sink, unsupported, failed };
struct SIDECAR_API splice_result {
  splice_step step;
  std::size_t bytes = 0;
  std::error_code ec;
};
/// Whether splice(2) can join these two descriptors (one must be a pipe).
SIDECAR_API bool can_splice(int source_fd, int sink_fd) noexcept;
/// Whether relay_method::automatic splices these two (can_splice, and the sink not a socket).
SIDECAR_API bool splice_pays(int source_fd, int sink_fd) noexcept;
/// Puts both descriptors in non-blocking mode (splice honours O_NONBLOCK of sockets) and grows
/// the pipes among them to pipe_size bytes (0: as they are).
SIDECAR_API void prepare_splice(int source_fd, int sink_fd, std::size_t pipe_size = 0) noexcept;
/// Grows a pipe (or FIFO) to pipe_size bytes, within /proc/sys/fs/pipe-max-size; anything
/// else is left alone.
SIDECAR_API void grow_pipe(int fd, std::size_t pipe_size) noexcept;
/// One splice call, and on EAGAIN which side to wait for.
SIDECAR_API splice_result splice_once(int source_fd, int sink_fd, std::size_t max) noexcept;

/// Half-closes a sink at end of stream.
template <class Sink> void close_sink(Sink& sink) {
  std::error_code ignored;
  if constexpr (requires { sink.shutdown(asio::socket_base::shutdown_send, ignored); })
    sink.shutdown(asio::socket_base::shutdown_send, ignored);
  else if constexpr (requires { sink.close(ignored); })
    sink.close(ignored);
  else
    sink.close();
}

/// Closes a stream, whichever close() it has.
template <class Stream> void close_stream(Stream& s) noexcept {
  std::error_code ignored;
  if constexpr (requires { s.close(ignored); })
    s.close(ignored);
  else
    try {
      s.close();
    } catch (...) {
    }
}

/// Closes the source when a relay or tee leaves before its end, however it leaves (a returned
/// error, an exception from a cancelled co_await, a frame destroyed while suspended).
template <class Source> struct source_closer {
  Source& source;
  bool armed;
  source_closer(Source& s, bool close) : source(s), armed(close) {}
  source_closer(const source_closer&) = delete;
  source_closer& operator=(const source_closer&) = delete;
  ~source_closer() {
    if (armed) close_stream(source);
  }
  void reached_end() noexcept { armed = false; }
};

/// Readiness waits, for streams of any kind: null_buffers is Asio's reactor-style wait.
template <class S> asio::awaitable<std::error_code> wait_readable(S& s) {
  auto [ec, n] = co_await s.async_read_some(asio::null_buffers(),
                                            asio::experimental::as_tuple(asio::use_awaitable));
  (void)n;
  co_return ec;
}
template <class S> asio::awaitable<std::error_code> wait_writable(S& s) {
  auto [ec, n] = co_await s.async_write_some(asio::null_buffers(),
                                             asio::experimental::as_tuple(asio::use_awaitable));
  (void)n;
  co_return ec;
}

} // namespace detail

/// Copies source to sink until the source ends; returns the byte count. A sink that stops
/// reading (EPIPE, reset) or a failing source gives an error naming the side and the bytes
/// moved so far. Both sides are Asio streams: ffmpeg's stdout or stdin pipe, a named_pipe, a
/// TCP socket, a file_stream. Cancel it like any awaitable (`relay(...) || timer`); one that
/// ends early closes its source (relay_options::close_source).
template <class Source, class Sink>
asio::awaitable<expected<std::uint64_t>> relay(Source& source, Sink& sink,
                                               relay_options options = {}) {
  constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
  detail::source_closer<Source> closer(source, options.close_source);
  std::uint64_t total = 0;
  bool fallback = true;
  if constexpr (detail::has_native_handle<Source> && detail::has_native_handle<Sink>) {
    const int in = source.native_handle(), out = sink.native_handle();
    const bool splice = options.method == relay_method::splice      ? detail::can_splice(in, out)
                        : options.method == relay_method::automatic ? detail::splice_pays(in, out)
                                                                    : false;
    if (splice) {
      fallback = false;
      detail::prepare_splice(in, out, options.pipe_size);
      for (bool done = false; !done;) {
        auto r = detail::splice_once(in, out, options.chunk_size);
        switch (r.step) {
        case detail::splice_step::moved:
          total += r.bytes;
          break;
        case detail::splice_step::end:
          done = true;
          break;
        case detail::splice_step::wait_source:
          if (auto ec = co_await detail::wait_readable(source))
            co_return fail(ec, "relay: waiting for the source after " + std::to_string(total) +
                                   " bytes");
          break;
        case detail::splice_step::wait_sink:
          if (auto ec = co_await detail::wait_writable(sink))
            co_return fail(ec,
                           "relay: waiting for the sink after " + std::to_string(total) + " bytes");
          break;
        case detail::splice_step::unsupported:
          fallback = true; // e.g. a file system without splice: copy instead
          done = true;
          break;
        case detail::splice_step::failed:
          co_return fail(r.ec, "relay: splice failed after " + std::to_string(total) + " bytes");
        }
      }
    }
  }
  if (fallback) {
    // Bigger pipes: one wake per chunk_size rather than per 64 KiB page run, as when splicing.
    if constexpr (detail::has_native_handle<Source>)
      detail::grow_pipe(source.native_handle(), options.pipe_size);
    if constexpr (detail::has_native_handle<Sink>)
      detail::grow_pipe(sink.native_handle(), options.pipe_size);
    std::vector<std::byte> buffer(options.chunk_size);
    for (;;) {
      auto [rec, n] = co_await source.async_read_some(asio::buffer(buffer), tuple);
      if (n > 0) {
        auto [wec, w] = co_await asio::async_write(sink, asio::buffer(buffer.data(), n), tuple);
        total += w;
        if (wec)
          co_return fail(wec,
                         "relay: writing to the sink after " + std::to_string(total) + " bytes");
      }
      if (rec == asio::error::eof) break;
      if (rec)
        co_return fail(rec, "relay: reading the source after " + std::to_string(total) + " bytes");
    }
  }
  closer.reached_end();
  if (options.close_sink) detail::close_sink(sink);
  co_return total;
}

/// The same through any completion token, on the source's executor:
/// void(std::error_code, std::uint64_t), the bytes moved (see <sidecar/async.hpp>). Cancelled
/// (any type): asio::error::operation_aborted. Source and sink must outlive the operation.
template <class Source, class Sink,
          class Token = asio::default_completion_token_t<typename Source::executor_type>>
auto async_relay(
    Source& source, Sink& sink, relay_options options,
    Token&& token = asio::default_completion_token_t<typename Source::executor_type>()) {
  return detail::async_spawned<expected<std::uint64_t>>(
      source.get_executor(), [&source, &sink, options] { return relay(source, sink, options); },
      std::forward<Token>(token));
}

} // namespace sidecar
