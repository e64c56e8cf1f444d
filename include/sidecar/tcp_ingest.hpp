// TCP on loopback for ffmpeg's network outputs: an ingest that tells which ffmpeg output each
// accepted connection carries, and a connect-with-retry for ffmpeg listening as a server.
//
// How outputs are told apart: order of connection is not enough (outputs open at different
// times) and ffmpeg's tcp:// client cannot choose its source port or send a tag. So each
// output k gets its own destination address, 127.0.0.(k+1), all on one port number: Linux
// routes the whole of 127.0.0.0/8 to the loopback interface, and the acceptor a connection
// arrives at says which output it is. `url(k)` is what to give ffmpeg for output k.
#pragma once

#include <sidecar/error.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace sidecar {

struct tcp_ingest_options {
  std::size_t outputs = 1;
  // The first address; output k listens on this address + k. Loopback unless the program
  // asks otherwise (then only one output can be told apart per address).
  asio::ip::address_v4 base = asio::ip::address_v4::loopback();
  unsigned short port = 0; // 0: a free one
  // How long accept() waits for ffmpeg to connect.
  std::chrono::milliseconds accept_timeout{30000};
};

class tcp_ingest {
public:
  using executor_type = asio::any_io_executor;

  // Binds and listens on every output's address. A port in use is errc-free: the system's
  // EADDRINUSE, with the address in the message.
  static expected<tcp_ingest> open(const executor_type& ex, tcp_ingest_options options = {});

  unsigned short port() const noexcept { return port_; }
  std::size_t outputs() const noexcept { return acceptors_.size(); }
  asio::ip::tcp::endpoint endpoint(std::size_t output) const;
  // "tcp://127.0.0.2:40123" for output 1: pass it to ffmpeg as that output's URL.
  std::string url(std::size_t output) const;

  // The connection ffmpeg made for `output`; errc::timed_out past accept_timeout.
  asio::awaitable<expected<asio::ip::tcp::socket>> accept(std::size_t output);

private:
  tcp_ingest(std::vector<asio::ip::tcp::acceptor> a, unsigned short port,
             std::chrono::milliseconds timeout)
      : acceptors_(std::move(a)), port_(port), timeout_(timeout) {}

  std::vector<asio::ip::tcp::acceptor> acceptors_;
  unsigned short port_ = 0;
  std::chrono::milliseconds timeout_;
};

// A port that is free on 127.0.0.1 right now (for `tcp://127.0.0.1:PORT?listen`).
expected<unsigned short> free_loopback_port();

// Connects to a server that may not be listening yet (ffmpeg with `?listen`), retrying with
// a short backoff until `timeout`.
asio::awaitable<expected<asio::ip::tcp::socket>> connect_with_retry(
    asio::ip::tcp::endpoint to, std::chrono::milliseconds timeout = std::chrono::seconds(10));

} // namespace sidecar
