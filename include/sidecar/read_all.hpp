// read_all(stream), count_bytes(stream): a byte stream read to its end, for the loops a program
// would otherwise write (a FIFO's or a socket's whole output, a subtitle, a small file).
// Any Asio AsyncReadStream: named_pipe, tcp::socket, readable_pipe (ffmpeg's stdout),
// file_stream. The end (eof) is the normal way out; another error, or a cancellation
// (asio::error::operation_aborted, as a value), is returned with what was read so far in its
// message.
#pragma once

#include <sidecar/detail/asio_config.hpp>

#include <sidecar/async.hpp>
#include <sidecar/error.hpp>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sidecar {

/// Reads `source` to its end, discarding the bytes: how many there were. For outputs whose
/// size is what matters (a test, a meter).
template <class Source> asio::awaitable<expected<std::uint64_t>> count_bytes(Source& source) {
  co_await asio::this_coro::throw_if_cancelled(false); // cancellation comes as a value
  std::vector<char> buf(64 * 1024);
  std::uint64_t n = 0;
  for (;;) {
    auto [ec, got] = co_await source.async_read_some(
        asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    n += got;
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    if (!ec && cs.cancelled() != asio::cancellation_type::none)
      ec = asio::error::operation_aborted; // it came between the read and this resumption
    if (ec == asio::error::eof) co_return n;
    if (ec) co_return fail(ec, "reading after " + std::to_string(n) + " bytes");
  }
}

/// Reads `source` to its end into a string. More than `limit` bytes is errc::bad_argument
/// (the stream is left unread past it): a bound, so an endless stream cannot fill memory.
template <class Source>
asio::awaitable<expected<std::string>> read_all(Source& source,
                                                std::size_t limit = std::size_t{16} << 20) {
  co_await asio::this_coro::throw_if_cancelled(false); // cancellation comes as a value
  std::string out;
  std::array<char, 16 * 1024> buf;
  for (;;) {
    auto [ec, got] = co_await source.async_read_some(
        asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    if (got > limit - out.size())
      co_return fail(errc::bad_argument,
                     "read_all: the stream has more than " + std::to_string(limit) + " bytes");
    out.append(buf.data(), got);
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    if (!ec && cs.cancelled() != asio::cancellation_type::none)
      ec = asio::error::operation_aborted; // it came between the read and this resumption
    if (ec == asio::error::eof) co_return out;
    if (ec) co_return fail(ec, "reading after " + std::to_string(out.size()) + " bytes");
  }
}

/// count_bytes through any completion token, on the source's executor:
/// void(std::error_code, std::uint64_t) (see <sidecar/async.hpp>); cancelled (any type):
/// operation_aborted. The source must outlive the operation.
template <class Source,
          class Token = asio::default_completion_token_t<typename Source::executor_type>>
auto async_count_bytes(
    Source& source,
    Token&& token = asio::default_completion_token_t<typename Source::executor_type>()) {
  return detail::async_spawned<expected<std::uint64_t>>(
      source.get_executor(), [&source] { return count_bytes(source); }, std::forward<Token>(token));
}

/// read_all through any completion token, on the source's executor:
/// void(std::error_code, std::string); past `limit`, errc::bad_argument; cancelled (any type):
/// operation_aborted. The source must outlive the operation.
template <class Source,
          class Token = asio::default_completion_token_t<typename Source::executor_type>>
auto async_read_all(
    Source& source, std::size_t limit,
    Token&& token = asio::default_completion_token_t<typename Source::executor_type>()) {
  return detail::async_spawned<expected<std::string>>(
      source.get_executor(), [&source, limit] { return read_all(source, limit); },
      std::forward<Token>(token));
}

} // namespace sidecar
