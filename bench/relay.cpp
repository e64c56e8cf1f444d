// Relay: ffmpeg's stdout → relay() → a consumer (a `cat` process writing to /dev/null, or a
// loopback TCP connection read by a thread), against a blocking splice(2) loop and a blocking
// read/write loop in C. Throughput from wall time; CPU is the relaying thread's own.
#include "bench.hpp"

#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>

namespace {

enum class sink_kind { process, tcp };

struct result {
  std::uint64_t bytes = 0;
  double wall = 0, cpu = 0;
};

sidecar::command producer(std::uint64_t frames) {
  sidecar::command c;
  c.hide_banner()
      .format("rawvideo")
      .size(1920, 1080)
      .pix_fmt("rgb24")
      .input("/dev/zero")
      .codec_video("copy")
      .frames(frames)
      .format("rawvideo")
      .output("pipe:1");
  return c;
}

std::string cat_path() {
  auto p = sidecar::find_program("cat");
  if (!p) throw std::runtime_error(p.error().message());
  return p->string();
}

// A loopback TCP connection: the relay writes to `out`, a thread reads and discards.
struct tcp_pair {
  int out = -1;
  std::thread reader;
  std::uint64_t received = 0;

  tcp_pair() {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bench::check(listener >= 0, "socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bench::check(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "bind");
    bench::check(::listen(listener, 1) == 0, "listen");
    socklen_t len = sizeof a;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bench::check(::connect(out, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "connect");
    const int in = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    bench::check(in >= 0, "accept");
    ::close(listener);
    reader = std::thread([this, in] {
      std::vector<char> buf(std::size_t{1} << 20);
      for (;;) {
        const ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        received += std::uint64_t(n);
      }
      ::close(in);
    });
  }
  // After the relay: end of stream for the reader, then wait for it.
  void finish() {
    if (out >= 0) {
      ::shutdown(out, SHUT_WR);
      reader.join();
      ::close(out);
      out = -1;
    }
  }
  ~tcp_pair() { finish(); }
};

// The C baselines: blocking splice or read/write between raw descriptors.
enum class c_loop { splice, read_write };

result c_relay(c_loop how, sink_kind sink, std::uint64_t frames) {
  const auto argv = bench::ffmpeg_argv(producer(frames));
  std::optional<tcp_pair> tcp;
  if (sink == sink_kind::tcp) tcp.emplace();
  const auto start = bench::clocks::now();
  bench::raw_pipe src(std::size_t{1} << 20);
  const pid_t ff = bench::spawn_raw(argv, -1, src.write, -1);
  src.close_write();
  std::optional<bench::raw_pipe> to_cat;
  pid_t cat = -1;
  int out = -1;
  if (sink == sink_kind::process) {
    to_cat.emplace();
    cat = bench::spawn_raw({cat_path()}, to_cat->read, -1, -1);
    to_cat->close_read();
    out = to_cat->write;
  } else {
    out = tcp->out;
  }
  result r;
  std::vector<char> buf;
  if (how == c_loop::read_write) buf.resize(std::size_t{1} << 20);
  for (;;) {
    ssize_t n;
    if (how == c_loop::splice) {
      n = ::splice(src.read, nullptr, out, nullptr, std::size_t{1} << 20, SPLICE_F_MOVE);
    } else {
      n = ::read(src.read, buf.data(), buf.size());
      for (ssize_t done = 0; n > 0 && done < n;) {
        const ssize_t w = ::write(out, buf.data() + done, std::size_t(n - done));
        if (w < 0 && errno == EINTR) continue;
        bench::check(w > 0, "write");
        done += w;
      }
    }
    if (n < 0 && errno == EINTR) continue;
    bench::check(n >= 0, "relay");
    if (n == 0) break;
    r.bytes += std::uint64_t(n);
  }
  const double cpu_end = bench::thread_cpu();
  if (sink == sink_kind::process) {
    to_cat->close_write();
    bench::wait_raw(cat);
  } else {
    tcp->finish();
  }
  bench::wait_raw(ff);
  r.wall = bench::wall_now() - start.wall;
  r.cpu = cpu_end - start.thread;
  return r;
}

result sidecar_relay(sink_kind sink, std::uint64_t frames,
                     sidecar::relay_method method = sidecar::relay_method::automatic) {
  std::optional<tcp_pair> tcp;
  if (sink == sink_kind::tcp) tcp.emplace();
  const auto start = bench::clocks::now();
  result r;
  double cpu_end = 0;
  std::string failure;
  asio::io_context ctx;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto ff = producer(frames).spawn(ex);
        if (!ff) {
          failure = ff.error().message();
          co_return;
        }
        auto& source = ff->take_stdout();
        sidecar::expected<std::uint64_t> moved;
        std::optional<sidecar::child> cat;
        if (sink == sink_kind::process) {
          sidecar::spawn_options o;
          o.program = "cat";
          o.out = sidecar::stdio::null();
          o.err = sidecar::stdio::null();
          o.exit_how = sidecar::exit_request::close_stdin;
          auto c = sidecar::child::spawn(ex, std::move(o));
          if (!c) {
            failure = c.error().message();
            co_return;
          }
          cat.emplace(std::move(*c));
          moved = co_await sidecar::relay(source, cat->stdin_pipe(), {.method = method});
        } else {
          asio::ip::tcp::socket s(ex);
          s.assign(asio::ip::tcp::v4(), tcp->out);
          tcp->out = -1; // the socket owns it now
          moved = co_await sidecar::relay(source, s, {.method = method});
          // relay half-closed it; the reader thread sees the end and exits.
          cpu_end = bench::thread_cpu();
          tcp->reader.join();
          s.close();
        }
        if (!cpu_end) cpu_end = bench::thread_cpu();
        if (!moved) {
          failure = moved.error().message();
          co_return;
        }
        r.bytes = *moved;
        if (cat) {
          auto st = co_await cat->async_wait(asio::use_awaitable);
          if (!st.success()) failure = "cat: " + st.to_string();
        }
        auto st = co_await ff->wait();
        if (!st) failure = st.error().message();
      },
      asio::detached);
  ctx.run();
  r.wall = bench::wall_now() - start.wall;
  r.cpu = cpu_end - start.thread;
  if (!failure.empty()) throw std::runtime_error(failure);
  return r;
}

} // namespace

int main() {
  const std::uint64_t frames = bench::quick() ? 100 : 500;
  const std::uint64_t expect = frames * 1920 * 1080 * 3;
  bench::report rep("relay");
  std::printf("relay: %.2f GB of 1080p rgb24 from ffmpeg's stdout; %d runs after a warm-up\n",
              double(expect) / 1e9, bench::runs());
  for (auto sink : {sink_kind::process, sink_kind::tcp}) {
    const std::string kase = sink == sink_kind::process ? "pipe -> cat" : "pipe -> tcp";
    // automatic splices into a pipe and copies into a socket; "other" is the method it did not
    // choose, forced.
    const auto other =
        sink == sink_kind::process ? sidecar::relay_method::copy : sidecar::relay_method::splice;
    std::vector<double> gbs_splice, gbs_rw, gbs_sc, cpu_splice, cpu_rw, cpu_sc, gbs_other,
        cpu_other;
    auto record = [&](const result& r, std::vector<double>& gbs, std::vector<double>& cpu) {
      if (r.bytes != expect)
        throw std::runtime_error(kase + ": moved " + std::to_string(r.bytes) + " bytes, not " +
                                 std::to_string(expect));
      gbs.push_back(double(r.bytes) / 1e9 / r.wall);
      cpu.push_back(r.cpu / (double(r.bytes) / 1e9));
    };
    bench::interleave({
        [&](bool m) {
          auto r = c_relay(c_loop::splice, sink, frames);
          if (m) record(r, gbs_splice, cpu_splice);
        },
        [&](bool m) {
          auto r = c_relay(c_loop::read_write, sink, frames);
          if (m) record(r, gbs_rw, cpu_rw);
        },
        [&](bool m) {
          auto r = sidecar_relay(sink, frames);
          if (m) record(r, gbs_sc, cpu_sc);
        },
        [&](bool m) {
          auto r = sidecar_relay(sink, frames, other);
          if (m) record(r, gbs_other, cpu_other);
        },
    });
    // Per run, the faster of the two C loops.
    std::vector<double> gbs_best(gbs_splice.size()), cpu_best(gbs_splice.size());
    for (std::size_t i = 0; i < gbs_splice.size(); ++i) {
      const bool splice_won = gbs_splice[i] >= gbs_rw[i];
      gbs_best[i] = splice_won ? gbs_splice[i] : gbs_rw[i];
      cpu_best[i] = splice_won ? cpu_splice[i] : cpu_rw[i];
    }
    const std::string other_name =
        other == sidecar::relay_method::copy ? "sidecar, copy forced" : "sidecar, splice forced";
    rep.measure(kase, "C splice loop", "throughput", "GB/s", gbs_splice);
    rep.measure(kase, "C read/write loop", "throughput", "GB/s", gbs_rw);
    rep.measure(kase, "sidecar relay", "throughput", "GB/s", gbs_sc);
    rep.measure(kase, other_name, "throughput", "GB/s", gbs_other);
    rep.measure(kase, "C splice loop", "relay CPU", "s/GB", cpu_splice);
    rep.measure(kase, "C read/write loop", "relay CPU", "s/GB", cpu_rw);
    rep.measure(kase, "sidecar relay", "relay CPU", "s/GB", cpu_sc);
    rep.measure(kase, other_name, "relay CPU", "s/GB", cpu_other);
    rep.ratio(kase, "sidecar/best C loop throughput", ">=", 0.95, bench::ratios(gbs_sc, gbs_best));
    rep.ratio(kase, "sidecar/read-write CPU per GB", "<", 1.0, bench::ratios(cpu_sc, cpu_rw));
    rep.ratio(kase, "sidecar/best C loop CPU per GB", "", 0, bench::ratios(cpu_sc, cpu_best));
    rep.ratio(kase, other_name + "/best C loop throughput", "", 0,
              bench::ratios(gbs_other, gbs_best));
  }
}
