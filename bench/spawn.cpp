// Spawn latency: spawn → first event and spawn → exit for a trivial ffmpeg, through
// command::spawn() and the event stream, against posix_spawn + read + waitpid in C with the
// same argv. Each run is the mean of a batch of spawns; the table shows medians of runs.
#include "bench.hpp"

#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

namespace {

sidecar::command trivial() {
  sidecar::command c;
  c.hide_banner().format("lavfi").input("nullsrc=s=16x16:r=25:d=0.2").format("null").output("-");
  return c;
}

struct latency {
  double first = 0, exit = 0; // seconds, mean over the batch
};

latency posix_batch(int count) {
  const auto argv = bench::ffmpeg_argv(trivial());
  latency sum;
  char buf[65536];
  for (int i = 0; i < count; ++i) {
    const double t0 = bench::wall_now();
    bench::raw_pipe err;
    const pid_t pid = bench::spawn_raw(argv, -1, -1, err.write);
    err.close_write();
    bool first = true;
    for (;;) {
      const ssize_t n = ::read(err.read, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (first) sum.first += bench::wall_now() - t0;
      first = false;
    }
    const int st = bench::wait_raw(pid);
    sum.exit += bench::wall_now() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw std::runtime_error("ffmpeg failed");
  }
  return {sum.first / count, sum.exit / count};
}

latency sidecar_batch(int count) {
  latency sum;
  std::string failure;
  asio::io_context ctx;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        const auto cmd = trivial();
        for (int i = 0; i < count && failure.empty(); ++i) {
          const double t0 = bench::wall_now();
          auto ff = cmd.spawn(ex);
          if (!ff) {
            failure = ff.error().message();
            co_return;
          }
          bool first = true;
          for (;;) {
            auto e = co_await ff->next_event();
            if (!e) break;
            if (first) sum.first += bench::wall_now() - t0;
            first = false;
          }
          auto st = co_await ff->wait();
          sum.exit += bench::wall_now() - t0;
          if (!st) failure = st.error().message();
        }
      },
      asio::detached);
  ctx.run();
  if (!failure.empty()) throw std::runtime_error(failure);
  return {sum.first / count, sum.exit / count};
}

} // namespace

int main() {
  const int batch = bench::quick() ? 4 : 10;
  bench::report rep("spawn");
  std::printf("spawn: a trivial ffmpeg (nullsrc, 0.2 s), %d spawns per run; %d runs\n", batch,
              bench::runs());
  std::vector<double> first_c, exit_c, first_sc, exit_sc;
  bench::interleave({
      [&](bool m) {
        auto l = posix_batch(batch);
        if (m) {
          first_c.push_back(l.first * 1e3);
          exit_c.push_back(l.exit * 1e3);
        }
      },
      [&](bool m) {
        auto l = sidecar_batch(batch);
        if (m) {
          first_sc.push_back(l.first * 1e3);
          exit_sc.push_back(l.exit * 1e3);
        }
      },
  });
  rep.measure("trivial ffmpeg", "posix_spawn+read", "to first output", "ms", first_c);
  rep.measure("trivial ffmpeg", "sidecar", "to first event", "ms", first_sc);
  rep.measure("trivial ffmpeg", "posix_spawn+waitpid", "to exit", "ms", exit_c);
  rep.measure("trivial ffmpeg", "sidecar", "to exit", "ms", exit_sc);
  rep.ratio("trivial ffmpeg", "sidecar/C first event", "<=", 1.05,
            bench::ratios(first_sc, first_c));
  rep.ratio("trivial ffmpeg", "sidecar/C exit", "<=", 1.05, bench::ratios(exit_sc, exit_c));
}
