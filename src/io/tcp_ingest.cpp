// Loopback acceptors, one address per ffmpeg output on a shared port, handing out only
// connections whose peer is ours (the checks are described in tcp_ingest.hpp).
#include <sidecar/detail/wakeup.hpp>
#include <sidecar/tcp_ingest.hpp>

#include "backoff.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <vector>

#include <dirent.h>
#include <signal.h>
#include <strings.h>
#include <unistd.h>

namespace sidecar {

namespace detail {

// A connection that passed the checks made on arrival, waiting for accept().
struct ingest_arrival {
  asio::ip::tcp::socket socket;
  std::string from; // "a connection from 127.0.0.1:41234"
  // Its peer's socket was still open when it arrived: of our uid, and held by `groups` (the
  // process groups of our session holding it). Else the peer had closed it already: whose
  // it was cannot be known.
  bool identified = false;
  std::vector<pid_t> groups;
};

struct ingest_output {
  explicit ingest_output(asio::ip::tcp::acceptor a)
      : acceptor(std::move(a)), local(acceptor.local_endpoint()), news(acceptor.get_executor()) {}

  asio::ip::tcp::acceptor acceptor;
  asio::ip::tcp::endpoint local;
  std::deque<ingest_arrival> waiting;
  wakeup news;             // a connection queued, an accept error, or the ingest closed
  std::error_code failure; // from the background accept, for the next accept() to report
  bool armed = false;      // a background accept is pending
  std::size_t refused = 0;
  std::string last_refusal;
  // Unidentifiable connections closed on arrival because one already waited: accept() counts
  // them (two or more leave it unknown which was the child's), and holds one at most.
  std::size_t unknown_dropped = 0;
};

struct ingest_state {
  std::vector<std::unique_ptr<ingest_output>> outputs;
  bool closed = false;

  void close() noexcept {
    closed = true;
    for (auto& o : outputs) {
      std::error_code ignored;
      o->acceptor.close(ignored);
      for (auto& w : o->waiting)
        w.socket.close(ignored);
      o->waiting.clear();
      o->news.notify();
    }
  }
};

} // namespace detail

namespace {

using asio::ip::tcp;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// Identified connections waiting for accept(); more are refused (only a process of our own
// uid can fill it). Besides them, one unidentifiable connection at most waits.
constexpr std::size_t max_waiting = 64;
// How often accept() looks whether the child has ended, while connections whose peer could not
// be identified wait for that.
constexpr std::chrono::milliseconds poll_children{20};

asio::ip::address_v4 nth(asio::ip::address_v4 base, std::size_t k) {
  return asio::ip::address_v4(base.to_uint() + static_cast<asio::ip::address_v4::uint_type>(k));
}

std::string to_string(const tcp::endpoint& e) {
  return e.address().to_string() + ":" + std::to_string(e.port());
}

// The kernel prints an address as the 32-bit words of its network-order bytes, each read in
// host order, "%08X" (/proc/net/tcp: one word; tcp6: four).
std::string proc_hex(const unsigned char* bytes, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; i += 4) {
    std::uint32_t word = 0;
    std::memcpy(&word, bytes + i, 4);
    char s[9];
    std::snprintf(s, sizeof s, "%08X", static_cast<unsigned>(word));
    out += s;
  }
  return out;
}

std::string proc_hex(const asio::ip::address& a, bool in_tcp6) {
  if (a.is_v6()) {
    auto b = a.to_v6().to_bytes();
    return in_tcp6 ? proc_hex(b.data(), b.size()) : std::string();
  }
  auto b4 = a.to_v4().to_bytes();
  if (!in_tcp6) return proc_hex(b4.data(), b4.size());
  std::array<unsigned char, 16> mapped{}; // ::ffff:a.b.c.d, how a v6 socket reaches a v4 one
  mapped[10] = mapped[11] = 0xff;
  std::copy(b4.begin(), b4.end(), mapped.begin() + 12);
  return proc_hex(mapped.data(), mapped.size());
}

// One row of /proc/self/net/tcp or tcp6 (this network namespace's TCP sockets).
struct tcp_row {
  char local[33], remote[33]; // addresses as the kernel prints them (see proc_hex)
  unsigned local_port = 0, remote_port = 0, state = 0, uid = 0;
  unsigned long inode = 0; // 0: no process holds it any more (closing, TIME_WAIT)
};

// Calls f(row, in_tcp6) for each row of /proc/self/net/tcp, then tcp6 (skipped when the
// kernel has no IPv6). Fails only when the IPv4 table cannot be read.
template <class F> expected<void> for_each_tcp_row(F f) {
  for (bool v6 : {false, true}) {
    const char* table = v6 ? "/proc/self/net/tcp6" : "/proc/self/net/tcp";
    std::ifstream in(table);
    if (!in) {
      if (v6) continue;
      return fail_errno(std::string("reading ") + table, errno);
    }
    std::string line;
    std::getline(in, line); // the header
    while (std::getline(in, line)) {
      tcp_row r;
      if (std::sscanf(line.c_str(),
                      " %*u: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %u %*d %lu",
                      r.local, &r.local_port, r.remote, &r.remote_port, &r.state, &r.uid,
                      &r.inode) == 7)
        f(r, v6);
    }
  }
  return {};
}

struct socket_entry {
  uid_t uid = 0;
  unsigned long inode = 0; // 0: no process holds it any more (closing, TIME_WAIT)
};

// The socket whose local end is `local` and remote end `remote`; an entry still held by a
// process wins over a closing one.
expected<std::optional<socket_entry>> find_socket(const tcp::endpoint& local,
                                                  const tcp::endpoint& remote) {
  std::optional<socket_entry> found;
  const std::string want[2][2] = {
      {proc_hex(local.address(), false), proc_hex(remote.address(), false)},
      {proc_hex(local.address(), true), proc_hex(remote.address(), true)}};
  auto scanned = for_each_tcp_row([&](const tcp_row& r, bool v6) {
    const auto& [want_local, want_remote] = want[v6];
    if (want_local.empty() || want_remote.empty() || r.local_port != local.port() ||
        r.remote_port != remote.port() || ::strcasecmp(r.local, want_local.c_str()) != 0 ||
        ::strcasecmp(r.remote, want_remote.c_str()) != 0)
      return;
    if (!found || found->inode == 0) found = socket_entry{static_cast<uid_t>(r.uid), r.inode};
  });
  if (!scanned) return tl::make_unexpected(scanned.error());
  return found;
}

struct dir_closer {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};
using dir_ptr = std::unique_ptr<DIR, dir_closer>;

// Calls f(pid, name) for each process of our session, until f returns true. A process group
// lives inside one session, and sidecar's children stay in ours, so the processes of other
// sessions need not be read.
template <class F> void for_each_session_process(F f) {
  const pid_t session = ::getsid(0);
  dir_ptr proc(::opendir("/proc"));
  if (!proc) return;
  while (auto* e = ::readdir(proc.get())) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || ::getsid(static_cast<pid_t>(pid)) != session) continue;
    if (f(static_cast<pid_t>(pid), std::string(e->d_name))) return;
  }
}

// The process groups of the processes of our session that hold socket `inode` open.
std::vector<pid_t> groups_holding(unsigned long inode) {
  std::vector<pid_t> groups;
  char target[48];
  std::snprintf(target, sizeof target, "socket:[%lu]", inode);
  for_each_session_process([&](pid_t pid, const std::string& name) {
    dir_ptr fds(::opendir(("/proc/" + name + "/fd").c_str()));
    if (!fds) return false; // gone, or not ours to read
    while (auto* f = ::readdir(fds.get())) {
      char link[48];
      auto n = ::readlinkat(::dirfd(fds.get()), f->d_name, link, sizeof link - 1);
      if (n <= 0) continue;
      link[n] = '\0';
      if (std::strcmp(link, target) != 0) continue;
      pid_t group = ::getpgid(pid);
      if (group > 0 && std::find(groups.begin(), groups.end(), group) == groups.end())
        groups.push_back(group);
      break;
    }
    return false;
  });
  return groups;
}

// Whether a process of our session for which matches(parent, group) holds still runs (a
// zombie does not: it connects to nothing more).
template <class Match> bool any_runs(Match matches) {
  bool runs = false;
  for_each_session_process([&](pid_t, const std::string& name) {
    std::ifstream in("/proc/" + name + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto paren = stat.rfind(')'); // the command name may hold spaces and parentheses
    if (paren == std::string::npos) return false;
    char state = 0;
    int parent = 0, group = 0;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %d %d", &state, &parent, &group) != 3)
      return false;
    runs = state != 'Z' && state != 'X' && matches(pid_t(parent), pid_t(group));
    return runs;
  });
  return runs;
}

// Whether some process of `group` still runs.
bool group_runs(pid_t group) {
  if (::kill(-group, 0) == -1 && errno == ESRCH) return false;
  return any_runs([group](pid_t, pid_t g) { return g == group; });
}

// Whether some child of this process still runs.
bool children_run() {
  const pid_t self = ::getpid();
  return any_runs([self](pid_t parent, pid_t) { return parent == self; });
}

// The inodes of the TCP sockets listening on `port` (any local address, IPv4 and IPv6).
std::vector<unsigned long> listening_inodes(unsigned short port) {
  std::vector<unsigned long> out;
  (void)for_each_tcp_row([&](const tcp_row& r, bool) {
    if (r.local_port == port && r.state == 0x0A && r.inode != 0) out.push_back(r.inode); // LISTEN
  });
  return out;
}

void refuse(detail::ingest_output& out, tcp::socket& s, const std::string& from,
            const std::string& why) {
  std::error_code ignored;
  s.close(ignored);
  ++out.refused;
  out.last_refusal = from + " " + why;
}

const char* const closed_before_checked =
    "could not be identified (its peer had closed it before it was checked), and another such "
    "connection came";

// Checks a connection the moment it is accepted, while its peer most likely still holds its
// socket: refused and closed (another uid), or queued with what is known of its peer.
void check_arrival(detail::ingest_output& out, tcp::socket s) {
  std::error_code ec;
  auto remote = s.remote_endpoint(ec);
  if (ec) return refuse(out, s, "a connection", "was gone before it could be checked");
  std::string from = "a connection from " + to_string(remote);
  auto local = s.local_endpoint(ec);
  if (ec) return refuse(out, s, from, "was gone before it could be checked");
  // The other end: its local end is our remote one.
  auto peer = find_socket(remote, local);
  if (!peer) return refuse(out, s, from, "could not be checked: " + peer.error().message());
  detail::ingest_arrival a{std::move(s), std::move(from), false, {}};
  if (*peer && (*peer)->inode != 0) {
    if ((*peer)->uid != ::geteuid())
      return refuse(out, a.socket, a.from,
                    "belongs to uid " + std::to_string((*peer)->uid) + ", not to us (uid " +
                        std::to_string(::geteuid()) + ")");
    a.groups = groups_holding((*peer)->inode);
    // Held by none of our session: either closed meanwhile (unknown), or a stranger's.
    if (!a.groups.empty()) {
      a.identified = true;
    } else if (auto again = find_socket(remote, local); again && *again && (*again)->inode) {
      a.identified = true;
    }
  } else if (!*peer) {
    // In none of this network namespace's tables: a peer on another host, or one that reset
    // its connection; whose it is cannot be known, and ffmpeg's would be there.
    return refuse(out, a.socket, a.from,
                  "could not be identified: its peer is not on this host, or reset it");
  }
  if (!a.identified) {
    auto held = [](const detail::ingest_arrival& w) { return !w.identified; };
    if (std::any_of(out.waiting.begin(), out.waiting.end(), held)) {
      ++out.unknown_dropped;
      return refuse(out, a.socket, a.from, closed_before_checked);
    }
  } else if (std::count_if(out.waiting.begin(), out.waiting.end(), [](const auto& w) {
               return w.identified;
             }) >= static_cast<std::ptrdiff_t>(max_waiting)) {
    return refuse(out, a.socket, a.from,
                  "came while " + std::to_string(max_waiting) + " others were waiting");
  }
  out.waiting.push_back(std::move(a));
  out.news.notify();
}

// Takes every connection already queued by the kernel, now (the background accept may not
// have run yet): used before deciding that no more can come. The acceptor stays non-blocking:
// clearing that would also make the pending background accept's descriptor blocking.
void drain(detail::ingest_output& out) {
  std::error_code ec;
  out.acceptor.non_blocking(true, ec);
  while (!ec) {
    auto s = out.acceptor.accept(ec);
    if (!ec) check_arrival(out, std::move(s));
  }
}

// Accepts on output k in the background, each connection checked as it arrives, until the
// ingest closes or accepting fails (then the next accept() reports it and starts again).
void arm(const std::shared_ptr<detail::ingest_state>& st, std::size_t k) {
  auto& out = *st->outputs[k];
  if (st->closed || out.armed) return;
  out.armed = true;
  out.acceptor.async_accept([st, k](std::error_code ec, tcp::socket s) {
    auto& out = *st->outputs[k];
    out.armed = false;
    if (st->closed || ec == asio::error::operation_aborted) return;
    if (ec) {
      out.failure = ec;
      out.news.notify();
      return;
    }
    check_arrival(out, std::move(s));
    arm(st, k);
  });
}

std::string describe(const std::vector<pid_t>& groups) {
  if (groups.empty()) return "no process of our session holds its socket";
  std::string s = "its socket is held by process group";
  s += groups.size() > 1 ? "s " : " ";
  for (std::size_t i = 0; i < groups.size(); ++i)
    s += (i ? ", " : "") + std::to_string(groups[i]);
  return s;
}

// Goes through the connections queued for `out` in order: returns the first identified one
// held by `group` (by any process of ours for 0) and refuses the others; an unidentified one
// is counted, the first kept in `unknown` (refused once an identified one is taken).
std::optional<tcp::socket> take_arrival(detail::ingest_output& out, pid_t group,
                                        std::optional<detail::ingest_arrival>& unknown,
                                        std::size_t& unknowns) {
  while (!out.waiting.empty()) {
    auto next = std::move(out.waiting.front());
    out.waiting.pop_front();
    if (!next.identified) {
      if (++unknowns == 1)
        unknown = std::move(next);
      else
        refuse(out, next.socket, next.from, closed_before_checked);
      continue;
    }
    if (!group || std::find(next.groups.begin(), next.groups.end(), group) != next.groups.end()) {
      if (unknown)
        refuse(out, unknown->socket, unknown->from,
               "could not be identified (its peer had closed it before it was checked), and " +
                   next.from + " was");
      out.unknown_dropped = 0;
      return std::move(next.socket);
    }
    refuse(out, next.socket, next.from,
           "is not from process group " + std::to_string(group) + " (" + describe(next.groups) +
               ")");
  }
  return std::nullopt;
}

// "; refused N connections, the last: …" for a timeout's message, or nothing.
std::string refusals(const detail::ingest_output& out) {
  if (!out.refused) return {};
  return "; refused " + std::to_string(out.refused) + " connection" + (out.refused > 1 ? "s" : "") +
         ", the last: " + out.last_refusal;
}

} // namespace

expected<tcp_ingest> tcp_ingest::open(const executor_type& ex, tcp_ingest_options o) {
  if (o.outputs == 0 || o.outputs > 250)
    return fail(errc::bad_argument,
                "tcp_ingest: between 1 and 250 outputs, not " + std::to_string(o.outputs));
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
    if (!ok) continue;
    auto st = std::make_shared<detail::ingest_state>();
    for (auto& a : acceptors)
      st->outputs.push_back(std::make_unique<detail::ingest_output>(std::move(a)));
    for (std::size_t k = 0; k < st->outputs.size(); ++k)
      arm(st, k);
    return tcp_ingest(ex, std::move(st), port, o.outputs, o.accept_timeout);
  }
  return tl::unexpected(last);
}

tcp_ingest& tcp_ingest::operator=(tcp_ingest&& o) noexcept {
  if (this != &o) {
    if (state_) state_->close();
    ex_ = o.ex_;
    state_ = std::move(o.state_);
    port_ = o.port_;
    outputs_ = o.outputs_;
    timeout_ = o.timeout_;
  }
  return *this;
}

tcp_ingest::~tcp_ingest() {
  if (state_) state_->close();
}

asio::ip::tcp::endpoint tcp_ingest::endpoint(std::size_t output) const {
  if (!state_ || output >= state_->outputs.size())
    throw std::out_of_range("tcp_ingest: no output " + std::to_string(output));
  return state_->outputs[output]->local;
}

std::string tcp_ingest::url(std::size_t output) const {
  return "tcp://" + to_string(endpoint(output));
}

asio::awaitable<expected<asio::ip::tcp::socket>> tcp_ingest::accept(std::size_t output) {
  return accept_from(state_, timeout_, output, std::nullopt);
}

asio::awaitable<expected<asio::ip::tcp::socket>> tcp_ingest::accept(std::size_t output,
                                                                    pid_t process_group) {
  return accept_from(state_, timeout_, output, process_group);
}

asio::awaitable<expected<asio::ip::tcp::socket>>
tcp_ingest::accept_from(std::shared_ptr<detail::ingest_state> st, std::chrono::milliseconds timeout,
                        std::size_t output, std::optional<pid_t> process_group) {
  using clock = std::chrono::steady_clock;
  // Only the shared state and copies: the tcp_ingest may move (or go) meanwhile.
  if (process_group && *process_group <= 0)
    co_return fail(errc::bad_argument,
                   "tcp_ingest: no process group " + std::to_string(*process_group));
  const pid_t group = process_group.value_or(0);
  if (!st || output >= st->outputs.size())
    co_return fail(errc::bad_argument, "tcp_ingest: no output " + std::to_string(output));
  auto& out = *st->outputs[output];
  const auto where = "tcp://" + to_string(out.local);
  const auto deadline = clock::now() + timeout;
  const auto whom = group ? " from process group " + std::to_string(group) : std::string();
  // Connections whose peer had closed before it could be checked: one of them may be the
  // child's (a short output). That can only be known once nothing that could still connect
  // runs — the process group for accept(k, group), every child of this process for
  // accept(k) — and then only if there is one. Closed when this returns.
  std::optional<detail::ingest_arrival> unknown;
  std::size_t unknowns = 0; // seen by this accept: two or more, and none can be taken
  const auto child_runs = [group] { return group ? group_runs(group) : children_run(); };
  const std::string who =
      group ? "process group " + std::to_string(group) : std::string("every child of this process");
  // Cancelled (any type the caller lets through): operation_aborted, as a value.
  const auto was_cancelled = [&] {
    return fail(asio::error::operation_aborted,
                "tcp_ingest: accepting on " + where + " was cancelled");
  };
  bool child_ended = false;
  arm(st, output); // again, after a failure
  asio::steady_timer timer(out.acceptor.get_executor());
  for (;;) {
    if (auto taken = take_arrival(out, group, unknown, unknowns)) co_return std::move(*taken);
    if (child_ended) {
      // Nothing that could connect runs any more, and every connection made is taken.
      unknowns += std::exchange(out.unknown_dropped, 0);
      if (unknowns == 1) co_return std::move(unknown->socket);
      refuse(out, unknown->socket, unknown->from, closed_before_checked);
      co_return fail(errc::protocol,
                     "tcp_ingest: " + std::to_string(unknowns) + " connections to " + where +
                         " had been closed by their peers before they could be checked, and " +
                         who +
                         " has ended: which one was the child's cannot be told; all "
                         "refused");
    }
    if (st->closed)
      co_return fail(asio::error::operation_aborted,
                     "tcp_ingest: closed while accepting on " + where);
    if (out.failure) {
      auto ec = std::exchange(out.failure, {});
      co_return fail(ec, "tcp_ingest: accepting on " + where);
    }
    if (out.news.take()) continue;
    if (unknown && !child_runs()) {
      drain(out); // what the kernel queued before the end, the background accept aside
      // A connection the background accept has taken already may not have reached `waiting`
      // yet: a speculative accept (arm() right after the last arrival) completes through the
      // context's queue. Let what is queued run, then look again, before deciding that
      // nothing more can come (else one of two unidentifiable connections would be handed
      // out as if it were the only one).
      if ((co_await asio::this_coro::cancellation_state).cancelled() !=
          asio::cancellation_type::none)
        co_return was_cancelled();
      co_await asio::post(out.acceptor.get_executor(), use_tuple);
      drain(out);
      child_ended = true;
      continue;
    }
    auto now = clock::now();
    if (now >= deadline) {
      std::string msg = "tcp_ingest: nothing connected to " + where + whom + " within " +
                        std::to_string(timeout.count()) + " ms" + refusals(out);
      if (unknown)
        msg += "; " + std::to_string(unknowns) +
               " whose peer had closed it before it could be checked waited for the end of " + who;
      co_return fail(errc::timed_out, msg);
    }
    // While unknown connections wait for the child's end, look at it now and then.
    timer.expires_at(unknown ? std::min(deadline, now + poll_children) : deadline);
    // One wait, on this coroutine's slot, so that every cancellation type it lets through
    // reaches it (awaitable operators would pass terminal only): the news, which the timer
    // brings too when its turn comes.
    timer.async_wait([st, output](std::error_code ec) {
      if (!ec) st->outputs[output]->news.notify(); // at worst a spurious look around
    });
    co_await out.news.async_wait(use_tuple);
    timer.cancel();
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
      co_return was_cancelled();
  }
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

asio::awaitable<expected<asio::ip::tcp::socket>>
connect_with_retry(asio::ip::tcp::endpoint to, std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  detail::backoff retry(ex, timeout, std::chrono::milliseconds(5));
  for (;;) {
    asio::ip::tcp::socket s(ex);
    auto [ec] = co_await s.async_connect(to, use_tuple);
    if (!ec) co_return std::move(s);
    if (ec != asio::error::connection_refused || retry.expired())
      co_return fail(
          ec, "connecting to " + to.address().to_string() + ":" + std::to_string(to.port()) +
                  (ec == asio::error::connection_refused
                       ? " (nothing listened within " + std::to_string(timeout.count()) + " ms)"
                       : std::string()));
    if (auto pause = co_await retry.pause()) // cancelled
      co_return fail(pause,
                     "connecting to " + to.address().to_string() + ":" + std::to_string(to.port()));
  }
}

asio::awaitable<expected<void>> wait_listening(pid_t process_group, unsigned short port,
                                               std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  const std::string what = "waiting for process group " + std::to_string(process_group) +
                           " to listen on TCP port " + std::to_string(port);
  detail::backoff retry(ex, timeout, std::chrono::milliseconds(5));
  for (;;) {
    for (auto inode : listening_inodes(port)) {
      auto groups = groups_holding(inode);
      if (std::find(groups.begin(), groups.end(), process_group) != groups.end())
        co_return expected<void>{};
    }
    if (!group_runs(process_group))
      co_return fail(errc::process_failed, what + ": the group ended first (its wait() says why)");
    if (retry.expired())
      co_return fail(errc::timed_out, what + ": nothing of it listened within " +
                                          std::to_string(timeout.count()) + " ms");
    if (auto pause = co_await retry.pause()) // cancelled
      co_return fail(pause, what);
  }
}

} // namespace sidecar
