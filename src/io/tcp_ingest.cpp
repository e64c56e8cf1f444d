// Loopback acceptors, one address per ffmpeg output on a shared port.
#include <sidecar/tcp_ingest.hpp>

#include "backoff.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace sidecar {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

asio::ip::address_v4 nth(asio::ip::address_v4 base, std::size_t k) {
  return asio::ip::address_v4(base.to_uint() + static_cast<asio::ip::address_v4::uint_type>(k));
}

} // namespace

expected<tcp_ingest> tcp_ingest::open(const executor_type& ex, tcp_ingest_options o) {
  using asio::ip::tcp;
  if (o.outputs == 0 || o.outputs > 250)
    return fail(errc::bad_argument, "tcp_ingest: between 1 and 250 outputs, not " +
                                        std::to_string(o.outputs));
  // With port 0 the first bind picks the port; another program may hold it on the other
  // addresses, so try a few ports before giving up.
  error last(errc::bad_argument, "tcp_ingest: no attempt made");
  for (int attempt = 0; attempt < (o.port == 0 ? 20 : 1); ++attempt) {
    std::vector<tcp::acceptor> acceptors;
    unsigned short port = o.port;
    bool ok = true;
    for (std::size_t k = 0; k < o.outputs && ok; ++k) {
      tcp::endpoint at(nth(o.base, k), port);
      tcp::acceptor a(ex);
      std::error_code ec;
      a.open(at.protocol(), ec);
      if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) a.bind(at, ec);
      if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        last = error(ec, "tcp_ingest: listening on " + at.address().to_string() + ":" +
                             std::to_string(at.port()));
        ok = false;
        break;
      }
      if (port == 0) port = a.local_endpoint().port();
      acceptors.push_back(std::move(a));
    }
    if (ok) return tcp_ingest(std::move(acceptors), port, o.accept_timeout);
  }
  return tl::unexpected(last);
}

asio::ip::tcp::endpoint tcp_ingest::endpoint(std::size_t output) const {
  return acceptors_.at(output).local_endpoint();
}

std::string tcp_ingest::url(std::size_t output) const {
  auto e = endpoint(output);
  return "tcp://" + e.address().to_string() + ":" + std::to_string(e.port());
}

asio::awaitable<expected<asio::ip::tcp::socket>> tcp_ingest::accept(std::size_t output) {
  using namespace asio::experimental::awaitable_operators;
  if (output >= acceptors_.size())
    co_return fail(errc::bad_argument, "tcp_ingest: no output " + std::to_string(output));
  auto& a = acceptors_[output];
  asio::steady_timer timer(a.get_executor(), timeout_);
  auto r = co_await (a.async_accept(use_tuple) || timer.async_wait(use_tuple));
  if (r.index() == 1)
    co_return fail(errc::timed_out, "tcp_ingest: nothing connected to " + url(output) +
                                        " within " + std::to_string(timeout_.count()) + " ms");
  auto [ec, socket] = std::get<0>(std::move(r));
  if (ec) co_return fail(ec, "tcp_ingest: accepting on " + url(output));
  co_return std::move(socket);
}

expected<unsigned short> free_loopback_port() {
  asio::io_context ctx;
  asio::ip::tcp::acceptor a(ctx);
  std::error_code ec;
  asio::ip::tcp::endpoint at(asio::ip::address_v4::loopback(), 0);
  a.open(at.protocol(), ec);
  if (!ec) a.bind(at, ec);
  if (ec) return fail(ec, "finding a free port on 127.0.0.1");
  return a.local_endpoint().port();
}

asio::awaitable<expected<asio::ip::tcp::socket>> connect_with_retry(
    asio::ip::tcp::endpoint to, std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  detail::backoff retry(ex, timeout, std::chrono::milliseconds(5));
  for (;;) {
    asio::ip::tcp::socket s(ex);
    auto [ec] = co_await s.async_connect(to, use_tuple);
    if (!ec) co_return std::move(s);
    if (ec != asio::error::connection_refused || retry.expired())
      co_return fail(ec, "connecting to " + to.address().to_string() + ":" +
                             std::to_string(to.port()) +
                             (ec == asio::error::connection_refused
                                  ? " (nothing listened within " +
                                        std::to_string(timeout.count()) + " ms)"
                                  : std::string()));
    co_await retry.pause();
  }
}

} // namespace sidecar
