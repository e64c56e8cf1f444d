// Many children: N short ffmpeg children (`-re` nullsrc, a couple of seconds each) at once,
// driven from one io_context thread with every event read and discarded, against the same N
// run by `xargs -P N` (no shell: xargs execs ffmpeg itself). Reports wall time, the driver's
// own CPU as a share of its children's, the driver's peak RSS per child and its thread count.
#include "bench.hpp"

#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <filesystem>
#include <malloc.h>

namespace {

long status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string k;
  while (in >> k) {
    if (k == key) {
      long v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

int threads_now() {
  int n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

// Bytes of heap in use (glibc): what the driver holds for its children, whether or not the
// pages were already resident from an earlier run.
std::size_t heap_in_use() {
  return mallinfo2().uordblks;
}

// Lets VmHWM (peak RSS) start again from the current RSS.
void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

sidecar::command child_command(std::string_view output, double seconds) {
  sidecar::command c;
  c.hide_banner()
      .arg("-re")
      .format("lavfi")
      .input("nullsrc=s=64x64:r=25:d=" + std::to_string(seconds))
      .format("null")
      .output(output);
  return c;
}

struct outcome {
  double wall = 0, driver_cpu = 0, children_cpu = 0, rss_per_child_kib = 0;
  double heap_per_child_kib = 0;
  int threads = 0;
  int ok = 0;
};

outcome with_sidecar(int n, double seconds) {
  outcome o;
  const long rss_before = status_kib("VmRSS:");
  const std::size_t heap_before = heap_in_use();
  std::size_t heap_peak = heap_before;
  reset_peak_rss();
  const auto start = bench::clocks::now();
  {
    asio::io_context ctx;
    int finished = 0;
    asio::steady_timer sampler(ctx);
    std::function<void()> sample = [&] {
      o.threads = std::max(o.threads, threads_now());
      heap_peak = std::max(heap_peak, heap_in_use());
      if (finished == n) return;
      sampler.expires_after(std::chrono::milliseconds(100));
      sampler.async_wait([&](std::error_code) { sample(); });
    };
    sample();
    const auto cmd = child_command("-", seconds);
    for (int i = 0; i < n; ++i)
      asio::co_spawn(
          ctx,
          [&]() -> asio::awaitable<void> {
            auto ff = cmd.spawn(co_await asio::this_coro::executor);
            if (ff) {
              for (;;) {
                auto e = co_await ff->next_event();
                if (!e) break;
              }
              auto st = co_await ff->wait();
              o.ok += st.has_value();
            }
            if (++finished == n) sampler.cancel();
          },
          asio::detached);
    ctx.run();
  }
  const auto cost = bench::clocks::now() - start;
  o.wall = cost.wall;
  o.driver_cpu = cost.self;
  o.children_cpu = cost.children;
  o.rss_per_child_kib = double(status_kib("VmHWM:") - rss_before) / n;
  o.heap_per_child_kib = double(heap_peak - heap_before) / 1024.0 / n;
  return o;
}

outcome with_xargs(int n, double seconds) {
  auto xargs = sidecar::find_program("xargs");
  auto ffmpeg = sidecar::find_tool(sidecar::tool::ffmpeg);
  if (!xargs || !ffmpeg) throw std::runtime_error("xargs or ffmpeg not found");
  std::vector<std::string> argv{xargs->string(), "-P", std::to_string(n), "-I", "{}",
                                ffmpeg->string()};
  for (auto& a : child_command("{}", seconds).argv())
    argv.push_back(a);
  outcome o;
  const auto start = bench::clocks::now();
  bench::raw_pipe in;
  const pid_t pid = bench::spawn_raw(argv, in.read, -1, -1);
  in.close_read();
  std::string lines;
  for (int i = 0; i < n; ++i)
    lines += "-\n";
  bench::check(::write(in.write, lines.data(), lines.size()) == ssize_t(lines.size()), "write");
  in.close_write();
  const int st = bench::wait_raw(pid);
  const auto cost = bench::clocks::now() - start;
  o.wall = cost.wall;
  o.children_cpu = cost.children;
  o.ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? n : 0;
  return o;
}

} // namespace

int main() {
  const bool quick = bench::quick();
  const double seconds = quick ? 1.0 : 2.0;
  const std::vector<int> sizes = quick ? std::vector<int>{5, 20} : std::vector<int>{10, 50, 200};
  bench::report rep("children");
  std::printf("children: N concurrent `ffmpeg -re` nullsrc of %.0f s on one io_context thread; "
              "%d runs\n",
              seconds, bench::runs());
  for (int n : sizes) {
    const std::string kase = "N=" + std::to_string(n);
    std::vector<double> wall_sc, wall_x, share, rss, heap, threads, cpu_child;
    bench::interleave({
        [&](bool m) {
          auto o = with_sidecar(n, seconds);
          if (o.ok != n)
            throw std::runtime_error(kase + ": " + std::to_string(o.ok) + " children succeeded");
          if (m) {
            wall_sc.push_back(o.wall);
            share.push_back(o.driver_cpu / o.children_cpu);
            rss.push_back(o.rss_per_child_kib);
            heap.push_back(o.heap_per_child_kib);
            threads.push_back(o.threads);
            cpu_child.push_back(o.children_cpu / n);
          }
        },
        [&](bool m) {
          auto o = with_xargs(n, seconds);
          if (o.ok != n) throw std::runtime_error(kase + ": xargs failed");
          if (m) wall_x.push_back(o.wall);
        },
    });
    rep.measure(kase, "sidecar", "wall", "s", wall_sc);
    rep.measure(kase, "xargs -P N", "wall", "s", wall_x);
    rep.measure(kase, "sidecar", "CPU per child", "s", cpu_child);
    rep.measure(kase, "sidecar", "peak heap per child", "KiB", heap);
    rep.measure(kase, "sidecar", "peak RSS growth/child", "KiB", rss);
    rep.measure(kase, "sidecar", "driver threads", "threads", threads);
    rep.ratio(kase, "sidecar/xargs wall", "", 0, bench::ratios(wall_sc, wall_x));
    rep.ratio(kase, "driver CPU/children CPU", "<", 0.05, share);
    // Heap per child against 16 KiB, stdout carrying nothing (-f null -): what the driver
    // holds for a quiet child (was ~77 KiB with a 64 KiB staging buffer from the start).
    std::vector<double> heap_share;
    for (double h : heap)
      heap_share.push_back(h / 16.0);
    rep.ratio(kase, "heap per child/16 KiB", "<=", 1.0, heap_share);
  }
}
