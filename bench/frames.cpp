// Frames: rgb24 frames read through ffmpeg_child::next_frame() against the limit (a bare
// blocking read() loop on a 1 MiB pipe) and against the usual design (a thread per stream
// copying each frame into a new vector and handing it through a channel), all fed by the same
// ffmpeg command. Also counts heap allocations per frame in sidecar's steady state.
#include "bench.hpp"

#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

// A counting global operator new: allocations in sidecar's frame loop are counted, not guessed.
namespace {
std::atomic<std::uint64_t> g_allocations{0};
}
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p =
          std::aligned_alloc(std::size_t(a), (n + std::size_t(a) - 1) & ~(std::size_t(a) - 1)))
    return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return operator new(n, a);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace {

struct producer {
  std::string name;
  sidecar::command cmd;
  sidecar::command quiet; // the same with -nostats: no stderr at all in steady state
  std::uint64_t frames;
  std::size_t frame_bytes;
  int rounds; // measured rounds: more where runs are short and their spread wide
};

struct run_result {
  std::uint64_t frames = 0;
  bench::clocks cost;
  double allocs_per_frame = -1;
};

// (a) the limit: posix_spawn, a 1 MiB pipe, read() until a frame is whole, repeat.
run_result bare_read(const producer& p) {
  const auto argv = bench::ffmpeg_argv(p.cmd);
  const auto start = bench::clocks::now();
  bench::raw_pipe out(std::size_t{1} << 20);
  const pid_t pid = bench::spawn_raw(argv, -1, out.write, -1);
  out.close_write();
  std::vector<std::byte> buf(p.frame_bytes);
  run_result r;
  std::size_t filled = 0;
  for (;;) {
    const ssize_t n = ::read(out.read, buf.data() + filled, buf.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    filled += std::size_t(n);
    if (filled == buf.size()) {
      ++r.frames;
      filled = 0;
    }
  }
  bench::wait_raw(pid);
  r.cost = bench::clocks::now() - start;
  return r;
}

// (b) the usual design: a blocking reader thread per stream, a new vector per frame, a
// channel (mutex + condition variable, bounded at 8 frames) to the consumer.
run_result thread_per_stream(const producer& p) {
  const auto argv = bench::ffmpeg_argv(p.cmd);
  const auto start = bench::clocks::now();
  bench::raw_pipe out(std::size_t{1} << 20);
  const pid_t pid = bench::spawn_raw(argv, -1, out.write, -1);
  out.close_write();
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::vector<std::byte>> channel;
  bool ended = false;
  std::thread reader([&] {
    for (;;) {
      std::vector<std::byte> f(p.frame_bytes);
      std::size_t filled = 0;
      while (filled < f.size()) {
        const ssize_t n = ::read(out.read, f.data() + filled, f.size() - filled);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        filled += std::size_t(n);
      }
      std::unique_lock lock(m);
      if (filled < f.size()) {
        ended = true;
        cv.notify_all();
        return;
      }
      cv.wait(lock, [&] { return channel.size() < 8; });
      channel.push_back(std::move(f));
      cv.notify_all();
    }
  });
  run_result r;
  for (;;) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return !channel.empty() || ended; });
    if (channel.empty()) break;
    auto f = std::move(channel.front());
    channel.pop_front();
    cv.notify_all();
    lock.unlock();
    ++r.frames; // f freed here, as a consumer that is done with it would
  }
  reader.join();
  bench::wait_raw(pid);
  r.cost = bench::clocks::now() - start;
  return r;
}

// sidecar: one io_context on this thread, next_frame() until the end, then wait().
run_result with_sidecar(const producer& p, bool quiet = false) {
  run_result r;
  const auto start = bench::clocks::now();
  asio::io_context ctx;
  std::string failure;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto ff = (quiet ? p.quiet : p.cmd).spawn(co_await asio::this_coro::executor);
        if (!ff) {
          failure = ff.error().message();
          co_return;
        }
        // Steady state: skip the first and last 10% of frames (pools filling, the end).
        const std::uint64_t from = p.frames / 10, to = p.frames - p.frames / 10;
        std::uint64_t allocs_from = 0;
        for (;;) {
          auto f = co_await ff->next_frame();
          if (!f) break;
          ++r.frames;
          if (r.frames == from) allocs_from = g_allocations.load();
          if (r.frames == to)
            r.allocs_per_frame = double(g_allocations.load() - allocs_from) / double(to - from);
        }
        auto st = co_await ff->wait();
        if (!st) failure = st.error().message();
      },
      asio::detached);
  ctx.run();
  r.cost = bench::clocks::now() - start;
  if (!failure.empty()) throw std::runtime_error(failure);
  return r;
}

} // namespace

int main() {
  const bool quick = bench::quick();
  std::vector<producer> producers;
  auto add = [&](std::string name, std::uint64_t n, std::size_t bytes, int rounds, auto build) {
    sidecar::command c, q;
    build(c.hide_banner());
    build(q.hide_banner().arg("-nostats"));
    producers.push_back({std::move(name), c, q, n, bytes, rounds});
  };
  const std::uint64_t n1080 = quick ? 60 : 240, n480 = quick ? 300 : 1500,
                      ncopy = quick ? 200 : 1000;
  // The copy producer runs ~2.5 s, bound by memory bandwidth, and one run's ratio swings from
  // 0.7 to 1.6 with where the scheduler puts ffmpeg and the reader: three times the rounds.
  const int copy_rounds = 3 * bench::runs();
  add("testsrc 1920x1080", n1080, 1920 * 1080 * 3, bench::runs(), [&](sidecar::command& c) {
    c.format("lavfi").input("testsrc=size=1920x1080:rate=30").frames(n1080).rawvideo();
  });
  add("testsrc 640x480", n480, 640 * 480 * 3, bench::runs(), [&](sidecar::command& c) {
    c.format("lavfi").input("testsrc=size=640x480:rate=30").frames(n480).rawvideo();
  });
  add("copy 1920x1080", ncopy, 1920 * 1080 * 3, copy_rounds, [&](sidecar::command& c) {
    c.format("rawvideo")
        .size(1920, 1080)
        .pix_fmt("rgb24")
        .input("/dev/zero")
        .codec_video("copy")
        .frames(ncopy)
        .format("rawvideo")
        .output("pipe:1");
  });

  bench::report rep("frames");
  std::printf("frames: rgb24 frames from ffmpeg's stdout; %d runs after a warm-up (the copy "
              "producer %d)\n",
              bench::runs(), copy_rounds);
  // SIDECAR_BENCH_ONLY=copy: only the producers whose name holds it.
  const char* only = std::getenv("SIDECAR_BENCH_ONLY");
  for (auto& p : producers) {
    if (only && p.name.find(only) == std::string::npos) continue;
    std::vector<double> fps_bare, fps_thread, fps_sc, gbs_bare, gbs_thread, gbs_sc;
    std::vector<double> cpu_bare, cpu_thread, cpu_sc, wall_bare, wall_thread, wall_sc, allocs;
    const double gb = double(p.frames) * double(p.frame_bytes) / 1e9;
    auto record = [&](const run_result& r, std::vector<double>& fps, std::vector<double>& gbs,
                      std::vector<double>& cpu, std::vector<double>& wall) {
      if (r.frames != p.frames)
        throw std::runtime_error(p.name + ": got " + std::to_string(r.frames) + " frames, not " +
                                 std::to_string(p.frames));
      fps.push_back(double(r.frames) / r.cost.wall);
      gbs.push_back(gb / r.cost.wall);
      cpu.push_back(r.cost.self / gb);
      wall.push_back(r.cost.wall);
    };
    bench::interleave({
                          [&](bool m) {
                            auto r = bare_read(p);
                            if (m) record(r, fps_bare, gbs_bare, cpu_bare, wall_bare);
                          },
                          [&](bool m) {
                            auto r = thread_per_stream(p);
                            if (m) record(r, fps_thread, gbs_thread, cpu_thread, wall_thread);
                          },
                          [&](bool m) {
                            auto r = with_sidecar(p);
                            if (m) {
                              record(r, fps_sc, gbs_sc, cpu_sc, wall_sc);
                              allocs.push_back(r.allocs_per_frame);
                            }
                          },
                      },
                      p.rounds);
    // The frame path alone: with -nostats ffmpeg prints nothing while it streams, so what is
    // left to count is what reading frames costs (the stats lines above allocate their text).
    std::vector<double> allocs_quiet;
    for (int r = 0; r < bench::runs(); ++r)
      allocs_quiet.push_back(with_sidecar(p, true).allocs_per_frame);
    rep.measure(p.name, "bare read()", "frames/s", "fps", fps_bare);
    rep.measure(p.name, "thread+channel", "frames/s", "fps", fps_thread);
    rep.measure(p.name, "sidecar", "frames/s", "fps", fps_sc);
    rep.measure(p.name, "bare read()", "throughput", "GB/s", gbs_bare);
    rep.measure(p.name, "thread+channel", "throughput", "GB/s", gbs_thread);
    rep.measure(p.name, "sidecar", "throughput", "GB/s", gbs_sc);
    rep.measure(p.name, "bare read()", "wall", "s", wall_bare);
    rep.measure(p.name, "thread+channel", "wall", "s", wall_thread);
    rep.measure(p.name, "sidecar", "wall", "s", wall_sc);
    rep.measure(p.name, "bare read()", "reader CPU", "s/GB", cpu_bare);
    rep.measure(p.name, "thread+channel", "reader CPU", "s/GB", cpu_thread);
    rep.measure(p.name, "sidecar", "reader CPU", "s/GB", cpu_sc);
    rep.measure(p.name, "sidecar", "allocations", "per frame", allocs);
    rep.measure(p.name, "sidecar -nostats", "allocations", "per frame", allocs_quiet);
    rep.ratio(p.name, "sidecar/bare throughput", ">=", 0.97, bench::ratios(fps_sc, fps_bare));
    rep.ratio(p.name, "thread+channel/bare throughput", "", 0, bench::ratios(fps_thread, fps_bare));
    rep.ratio(p.name, "sidecar/thread+channel CPU per GB", "", 0,
              bench::ratios(cpu_sc, cpu_thread));
    rep.ratio(p.name, "allocations/frame (-nostats)", "<=", 0, allocs_quiet);
    rep.ratio(p.name, "allocations/frame (with stats)", "", 0, allocs);
  }
}
