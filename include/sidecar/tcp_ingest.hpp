// TCP on loopback for ffmpeg's network outputs: an ingest that tells which ffmpeg output each
// accepted connection carries, and a connect-with-retry for ffmpeg listening as a server.
//
// How outputs are told apart: order of connection is not enough (outputs open at different
// times) and ffmpeg's tcp:// client cannot choose its source port or send a tag. So each
// output k gets its own destination address, 127.0.0.(k+1), all on one port number: Linux
// routes the whole of 127.0.0.0/8 to the loopback interface, and the acceptor a connection
// arrives at says which output it is. `url(k)` is what to give ffmpeg for output k.
//
// Whose connection it is: any local user can connect to a loopback port, so a connection is
// handed out only when its peer is ours. TCP has no SO_PEERCRED, but the kernel lists every
// socket of this network namespace in /proc/net/tcp (and tcp6) with its owner's uid and its
// inode. The ingest accepts in the background from open() on and checks each connection as
// it arrives, while its peer most likely still holds its socket (the entry whose local end
// is the connection's remote end):
//  - a peer socket of another uid: refused, at once;
//  - a peer in none of the tables (another host, or a reset): refused, at once;
//  - a peer socket of our effective uid: identified, with the process groups of our session
//    whose processes hold it (its inode among /proc/<pid>/fd). accept(k) takes it;
//    accept(k, process_group) takes it when one of them is that group, else refuses it;
//  - a peer socket already closed (inode 0: a short output that ffmpeg wrote and closed
//    before the io_context got to look, or a stranger that closed at once): whose it was
//    cannot be known. accept() holds it until nothing that could still connect runs — the
//    process group for accept(k, group), every child of this process for accept(k) — and
//    then takes it only if it is the only one; two or more are all refused (errc::protocol).
//    An identified connection that arrives meanwhile is taken at once, the rest refused.
// A refused connection is closed, and accepting goes on until the right peer comes or
// accept_timeout passes; the timeout's error says how many were refused and why.
// Not caught: root; a process of our uid that holds the child's socket or joins its process
// group (it could ptrace the child anyway); with accept(k), any other process of our uid;
// a stranger whose connection closes before it is checked, when the child itself never
// connects (the child failed: its wait() says so); a child that leaves our session (setsid)
// is not waited for.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/async.hpp>
#include <sidecar/error.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include <sys/types.h>

namespace sidecar {

namespace detail {
struct ingest_state;

/// A failed accept or connect passes a closed socket on the operation's executor.
template <> struct failed_value<asio::ip::tcp::socket> {
  template <class Executor> static asio::ip::tcp::socket make(const Executor& ex, const error*) {
    return asio::ip::tcp::socket(ex);
  }
};
} // namespace detail

/// What tcp_ingest::open() listens on.
struct SIDECAR_API tcp_ingest_options {
  std::size_t outputs = 1; ///< how many of ffmpeg's outputs (one address each)
  /// The first address; output k listens on this address + k. Loopback unless the program
  /// asks otherwise (then only one output can be told apart per address, and only local
  /// peers can be identified: connections from other hosts are refused).
  asio::ip::address_v4 base = asio::ip::address_v4::loopback();
  unsigned short port = 0; ///< 0: a free one
  /// How long accept() waits for ffmpeg to connect.
  std::chrono::milliseconds accept_timeout{30000};
};

template <class Executor> class basic_tcp_ingest;

/// Loopback acceptors for ffmpeg's `tcp://` outputs (see the top of this file): url(k) for
/// output k, accept(k) for the connection that carries it, only from a peer of ours.
class SIDECAR_API tcp_ingest {
public:
  /// The executor of the acceptors and of the sockets handed out.
  using executor_type = asio::any_io_executor;
  /// The same tcp_ingest with another executor type, whose default completion token its
  /// operations take (Asio's `as_default_on`): basic_tcp_ingest<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_tcp_ingest<Executor1>; ///< the rebound type
  };

  /// Binds and listens on every output's address, and starts checking connections as they
  /// arrive. A port in use is errc-free: the system's EADDRINUSE, with the address in the
  /// message.
  static expected<tcp_ingest> open(const executor_type& ex, tcp_ingest_options options = {});

  tcp_ingest(tcp_ingest&&) noexcept = default; ///< Moves, also while an accept is pending.
  /// Closes ours, then takes the other's.
  tcp_ingest& operator=(tcp_ingest&&) noexcept;
  /// Stops listening and closes every connection not handed out yet.
  ~tcp_ingest();

  /// The executor given to open().
  executor_type get_executor() const noexcept { return ex_; }
  /// The port every output listens on.
  unsigned short port() const noexcept { return port_; }
  /// How many outputs it listens for.
  std::size_t outputs() const noexcept { return outputs_; }
  /// Output `output`'s address and port.
  asio::ip::tcp::endpoint endpoint(std::size_t output) const;
  /// "tcp://127.0.0.2:40123" for output 1: pass it to ffmpeg as that output's URL.
  std::string url(std::size_t output) const;

  /// The connection ffmpeg made for `output`, from a process of our effective uid (see the top
  /// of this file); errc::timed_out past accept_timeout, asio::error::operation_aborted when
  /// cancelled (any type) or when the tcp_ingest is closed, errc::protocol when several
  /// unidentifiable connections leave it unknown which is ffmpeg's.
  asio::awaitable<expected<asio::ip::tcp::socket>> accept(std::size_t output);
  /// The same, from a process of `process_group`: the child's id() (sidecar's children lead
  /// their own process group). The preferred form: another program of our uid is refused too,
  /// and only the group's end, not every child's, decides about a connection closed early.
  asio::awaitable<expected<asio::ip::tcp::socket>> accept(std::size_t output, pid_t process_group);

  /// accept(output) through any completion token: void(std::error_code,
  /// asio::ip::tcp::socket), a closed socket with the error (see <sidecar/async.hpp>). The
  /// operation holds the ingest's shared state, not the object: moving the tcp_ingest
  /// meanwhile is safe, and destroying it ends the operation (operation_aborted).
  template <class Token = asio::default_completion_token_t<executor_type>>
  requires(!std::is_integral_v<std::remove_cvref_t<Token>>) auto async_accept(
      std::size_t output, Token&& token = asio::default_completion_token_t<executor_type>()) {
    return detail::async_spawned<expected<asio::ip::tcp::socket>>(
        ex_,
        [st = state_, timeout = timeout_, output] {
          return accept_from(st, timeout, output, std::nullopt);
        },
        std::forward<Token>(token));
  }
  /// accept(output, process_group) through any completion token (as above).
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_accept(std::size_t output, pid_t process_group,
                    Token&& token = asio::default_completion_token_t<executor_type>()) {
    return detail::async_spawned<expected<asio::ip::tcp::socket>>(
        ex_,
        [st = state_, timeout = timeout_, output, process_group] {
          return accept_from(st, timeout, output, process_group);
        },
        std::forward<Token>(token));
  }

private:
  tcp_ingest(executor_type ex, std::shared_ptr<detail::ingest_state> s, unsigned short port,
             std::size_t outputs, std::chrono::milliseconds timeout)
      : ex_(std::move(ex)), state_(std::move(s)), port_(port), outputs_(outputs),
        timeout_(timeout) {}
  /// accept() for a process of `process_group`, or of our uid without one. Static: a pending
  /// accept holds the shared state, never the object.
  static asio::awaitable<expected<asio::ip::tcp::socket>>
  accept_from(std::shared_ptr<detail::ingest_state> st, std::chrono::milliseconds timeout,
              std::size_t output, std::optional<pid_t> process_group);

  executor_type ex_;
  /// Shared with the background accepts and the pending accept() calls, so that neither
  /// depends on where this object is (it may move).
  std::shared_ptr<detail::ingest_state> state_;
  unsigned short port_ = 0;
  std::size_t outputs_ = 0;
  std::chrono::milliseconds timeout_;
};

/// A tcp_ingest whose executor type is Executor (constructible from the tcp_ingest's executor): its
/// asynchronous operations take Executor's default completion token, as Asio's own I/O
/// objects do (`asio::use_awaitable.as_default_on(std::move(*x))`). Everything else is the
/// tcp_ingest's.
template <class Executor> class basic_tcp_ingest : public tcp_ingest {
public:
  /// The executor type whose default token the operations take.
  using executor_type = Executor;
  /// basic_tcp_ingest<Executor1>.
  template <class Executor1> struct rebind_executor {
    using other = basic_tcp_ingest<Executor1>; ///< the rebound type
  };
  /// Takes over a tcp_ingest (any basic_tcp_ingest converts to one); `x` must hold one (not a
  /// moved-from object).
  explicit basic_tcp_ingest(tcp_ingest&& x)
      : tcp_ingest(std::move(x)), ex_(tcp_ingest::get_executor()) {}

  /// The tcp_ingest's executor, as Executor.
  executor_type get_executor() const noexcept { return ex_; }
  /// tcp_ingest::async_accept(output), Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  requires(!std::is_integral_v<std::remove_cvref_t<Token>>) auto async_accept(
      std::size_t output, Token&& token = asio::default_completion_token_t<executor_type>()) {
    return tcp_ingest::async_accept(output, std::forward<Token>(token));
  }
  /// tcp_ingest::async_accept(output, process_group), Executor's default token.
  template <class Token = asio::default_completion_token_t<executor_type>>
  auto async_accept(std::size_t output, pid_t process_group,
                    Token&& token = asio::default_completion_token_t<executor_type>()) {
    return tcp_ingest::async_accept(output, process_group, std::forward<Token>(token));
  }

private:
  Executor ex_;
};

/// A port that is free on 127.0.0.1 right now (for `tcp://127.0.0.1:PORT?listen`).
SIDECAR_API expected<unsigned short> free_loopback_port();

/// Connects to a server that may not be listening yet (ffmpeg with `?listen`), retrying with
/// a short backoff until `timeout`. Cancelled (any type): asio::error::operation_aborted.
SIDECAR_API asio::awaitable<expected<asio::ip::tcp::socket>>
connect_with_retry(asio::ip::tcp::endpoint to,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// The same through any completion token, on `ex`: void(std::error_code, asio::ip::tcp::socket).
template <detail::executor_like Executor, class Token = asio::default_completion_token_t<Executor>>
auto async_connect_with_retry(const Executor& ex, asio::ip::tcp::endpoint to,
                              std::chrono::milliseconds timeout,
                              Token&& token = asio::default_completion_token_t<Executor>()) {
  return detail::async_spawned<expected<asio::ip::tcp::socket>>(
      ex, [to, timeout] { return connect_with_retry(to, timeout); }, std::forward<Token>(token));
}

/// Waits until a process of `process_group` (a child's id(): sidecar's children lead their
/// own group) listens on TCP `port`, any address: the moment a server that ffmpeg runs
/// (`-listen 1` for RTMP, `tcp://HOST:PORT?listen`) can take its client. It reads the
/// kernel's socket tables and never connects (a `-listen 1` server takes one client only).
/// errc::timed_out past `timeout`; errc::process_failed when no process of the group runs any
/// more (the server ended first: its wait() has the reason); cancelled:
/// asio::error::operation_aborted.
SIDECAR_API asio::awaitable<expected<void>>
wait_listening(pid_t process_group, unsigned short port,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// The same through any completion token, on `ex`: void(std::error_code).
template <detail::executor_like Executor, class Token = asio::default_completion_token_t<Executor>>
auto async_wait_listening(const Executor& ex, pid_t process_group, unsigned short port,
                          std::chrono::milliseconds timeout,
                          Token&& token = asio::default_completion_token_t<Executor>()) {
  return detail::async_spawned<expected<void>>(
      ex, [process_group, port, timeout] { return wait_listening(process_group, port, timeout); },
      std::forward<Token>(token));
}

} // namespace sidecar
