// What every benchmark shares: clocks (wall, this process's CPU, this thread's CPU, reaped
// children's CPU), repetition with warm-up, median and min–max, CSV rows, and a plain
// posix_spawn for the baselines written in C style.
#pragma once

#include <sidecar/binary.hpp>
#include <sidecar/command.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace bench {

inline double seconds(const timeval& t) {
  return double(t.tv_sec) + double(t.tv_usec) / 1e6;
}

inline double thread_cpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

inline double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A snapshot of the clocks; the difference of two is what a run cost.
struct clocks {
  double wall = 0;     // steady clock
  double self = 0;     // this process, user + system, all threads
  double thread = 0;   // the calling thread, user + system
  double children = 0; // children reaped so far, user + system

  static clocks now() {
    clocks c;
    c.wall = wall_now();
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    c.self = seconds(ru.ru_utime) + seconds(ru.ru_stime);
    ::getrusage(RUSAGE_CHILDREN, &ru);
    c.children = seconds(ru.ru_utime) + seconds(ru.ru_stime);
    c.thread = thread_cpu();
    return c;
  }
  clocks operator-(const clocks& o) const {
    return {wall - o.wall, self - o.self, thread - o.thread, children - o.children};
  }
};

// How many measured runs (after one warm-up) each benchmark makes: SIDECAR_BENCH_RUNS, 5 by
// default and never fewer.
inline int runs() {
  const char* v = std::getenv("SIDECAR_BENCH_RUNS");
  int n = v ? std::atoi(v) : 5;
  return std::max(n, 5);
}
// SIDECAR_BENCH_QUICK=1 shrinks the workloads (a smoke run, not figures to quote).
inline bool quick() {
  const char* v = std::getenv("SIDECAR_BENCH_QUICK");
  return v && *v && *v != '0';
}

struct summary {
  double median = 0, min = 0, max = 0;
};
inline summary summarize(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {med, v.front(), v.back()};
}

// Rows go to stdout as a table and to the CSV file named by SIDECAR_BENCH_CSV (appended).
//   measure: benchmark, case, variant, metric, unit, median, min, max, runs
//   ratio:   benchmark, case, "ratio", name, op target, median, min, max, runs, verdict
// A CSV field: quoted when it holds a comma or a quote.
inline std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v)
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

class report {
public:
  explicit report(std::string benchmark) : benchmark_(std::move(benchmark)) {
    if (const char* p = std::getenv("SIDECAR_BENCH_CSV")) csv_.open(p, std::ios::app);
  }

  void measure(const std::string& kase, const std::string& variant, const std::string& metric,
               const std::string& unit, const std::vector<double>& values) {
    const auto s = summarize(values);
    std::printf("  %-22s %-18s %-16s %12.4g %-8s [%.4g – %.4g]\n", kase.c_str(), variant.c_str(),
                metric.c_str(), s.median, unit.c_str(), s.min, s.max);
    if (csv_)
      csv_ << "measure," << csv_field(benchmark_) << ',' << csv_field(kase) << ','
           << csv_field(variant) << ',' << csv_field(metric) << ',' << csv_field(unit) << ','
           << s.median << ',' << s.min << ',' << s.max << ',' << values.size() << ",,\n";
    std::fflush(stdout);
  }

  // A ratio whose target is `op target` (op: ">=", "<=", "<"): the verdict is printed too.
  void ratio(const std::string& kase, const std::string& name, const std::string& op, double target,
             const std::vector<double>& values) {
    const auto s = summarize(values);
    const bool ok = op == ">="   ? s.median >= target
                    : op == "<=" ? s.median <= target
                    : op == "<"  ? s.median < target
                    : op == ">"  ? s.median > target
                                 : true;
    const std::string verdict = op.empty() ? "info" : ok ? "met" : "MISSED";
    std::printf("  %-22s ratio %-30s %8.4f  target %s %-6g %-6s [%.4f – %.4f]\n", kase.c_str(),
                name.c_str(), s.median, op.empty() ? "-" : op.c_str(), target, verdict.c_str(),
                s.min, s.max);
    if (csv_)
      csv_ << "ratio," << csv_field(benchmark_) << ',' << csv_field(kase) << ',' << csv_field(name)
           << ',' << op << ',' << target << ',' << s.median << ',' << s.min << ',' << s.max << ','
           << values.size() << ',' << verdict << ",\n";
    std::fflush(stdout);
  }

private:
  std::string benchmark_;
  std::ofstream csv_;
};

// Element-wise a / b of two series measured in the same runs.
inline std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    r.push_back(b[i] ? a[i] / b[i] : 0);
  return r;
}

// Runs each variant once as a warm-up, then `rounds` (runs() unless said) rounds that take
// the variants in turn, so that drift of a noisy machine hits them alike.
inline void interleave(const std::vector<std::function<void(bool measured)>>& variants,
                       int rounds = runs()) {
  for (auto& v : variants)
    v(false);
  for (int r = 0; r < rounds; ++r)
    for (auto& v : variants)
      v(true);
}

// --- C-style baselines ---------------------------------------------------------------------

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

// The whole argv of cmd (ffmpeg's path first), for the baselines that spawn it themselves.
inline std::vector<std::string> ffmpeg_argv(const sidecar::command& cmd) {
  auto program = sidecar::find_tool(sidecar::tool::ffmpeg);
  if (!program) throw std::runtime_error(program.error().message());
  std::vector<std::string> argv{program->string()};
  for (auto& a : cmd.argv())
    argv.push_back(a);
  return argv;
}

// posix_spawn with fds 0, 1, 2 taken from `fds` (-1: /dev/null); returns the pid.
inline pid_t spawn_raw(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd) {
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  const int fds[3] = {in_fd, out_fd, err_fd};
  for (int i = 0; i < 3; ++i) {
    if (fds[i] >= 0)
      ::posix_spawn_file_actions_adddup2(&fa, fds[i], i);
    else
      ::posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    check(false, "posix_spawn");
  }
  return pid;
}

inline int wait_raw(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// A close-on-exec pipe; the write end's buffer raised to `size` when non-zero.
struct raw_pipe {
  int read = -1, write = -1;
  explicit raw_pipe(std::size_t size = 0) {
    int fds[2];
    check(::pipe2(fds, O_CLOEXEC) == 0, "pipe2");
    read = fds[0];
    write = fds[1];
    if (size) ::fcntl(write, F_SETPIPE_SZ, int(size));
  }
  raw_pipe(const raw_pipe&) = delete;
  ~raw_pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

} // namespace bench
