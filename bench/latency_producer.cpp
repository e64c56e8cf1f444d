// A stand-in for ffmpeg in bench-latency (run through SIDECAR_FFMPEG): ffmpeg 5.1's stderr
// for `-f lavfi -i testsrc -f rawvideo -pix_fmt rgb24 -`, then rgb24 frames on stdout at a
// fixed rate, each stamped with the CLOCK_MONOTONIC nanosecond at which it was written, and
// after each frame an ffmpeg-shaped stats line whose frame= field is the nanosecond at which
// that line was written (a consumer recovers both send times exactly; nothing is shared).
//
// argv is ignored (it gets ffmpeg's). The environment sets the run, all optional:
//   SIDECAR_LATENCY_WIDTH, _HEIGHT   frame size (64x48)
//   SIDECAR_LATENCY_FPS              frames per second (50)
//   SIDECAR_LATENCY_FRAMES           frames to write, then exit 0 (250)
//   SIDECAR_LATENCY_START_NS         CLOCK_MONOTONIC ns of frame 0 (now)
//   SIDECAR_LATENCY_PHASE_NS         added to it, to spread many producers over a period (0)
// It stops early on `q` or end of stdin when stdin is a pipe or a terminal (exit 0) and, as
// ffmpeg does, on SIGINT or SIGTERM (exit 255). No dependency on sidecar: plain POSIX.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  g_signal = sig;
}

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

long long env_or(const char* name, long long fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  return end && *end == '\0' ? n : fallback;
}

// false when the reader has gone (EPIPE) or a signal asks us to stop.
bool write_all(int fd, const void* data, std::size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) {
      if (g_signal) return false;
      continue;
    }
    if (n <= 0) return false;
    p += n;
    size -= std::size_t(n);
  }
  return true;
}

bool write_text(int fd, const char* text) {
  return write_all(fd, text, std::strlen(text));
}

enum class wake { deadline, quit, signal };

// Waits until `deadline` (CLOCK_MONOTONIC ns), watching stdin for `q` or its end.
wake wait_until(std::int64_t deadline, bool& stdin_open) {
  for (;;) {
    if (g_signal) return wake::signal;
    const std::int64_t left = deadline - now_ns();
    if (left <= 0) return wake::deadline;
    const timespec timeout{time_t(left / 1000000000), long(left % 1000000000)};
    pollfd p{stdin_open ? 0 : -1, POLLIN, 0};
    const int n = ::ppoll(&p, 1, &timeout, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      return wake::quit;
    }
    if (n == 0) continue;
    if (p.revents & POLLNVAL) { // no stdin at all: nothing to watch
      stdin_open = false;
      continue;
    }
    char buf[256];
    const ssize_t got = ::read(0, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return wake::quit; // end of stdin, as ffmpeg's `-i …` run takes it
    if (std::memchr(buf, 'q', std::size_t(got))) return wake::quit;
  }
}

// "HH:MM:SS.cc" as ffmpeg prints time=.
void clock_text(char* out, std::size_t size, double seconds) {
  const long long cs = (long long)(seconds * 100 + 0.5);
  std::snprintf(out, size, "%02lld:%02lld:%02lld.%02lld", cs / 360000, cs / 6000 % 60,
                cs / 100 % 60, cs % 100);
}

} // namespace

int main() {
  struct sigaction sa {};
  sa.sa_handler = on_signal; // no SA_RESTART: a blocked write or wait returns at once
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const int width = int(env_or("SIDECAR_LATENCY_WIDTH", 64));
  const int height = int(env_or("SIDECAR_LATENCY_HEIGHT", 48));
  const long long fps = std::max(1LL, env_or("SIDECAR_LATENCY_FPS", 50));
  const long long frames = env_or("SIDECAR_LATENCY_FRAMES", 250);
  const std::int64_t start =
      env_or("SIDECAR_LATENCY_START_NS", now_ns()) + env_or("SIDECAR_LATENCY_PHASE_NS", 0);
  if (width < 4 || height < 1 || frames < 0) {
    std::fprintf(stderr, "latency-producer: bad SIDECAR_LATENCY_* settings\n");
    return 1;
  }
  const std::size_t frame_bytes = std::size_t(width) * std::size_t(height) * 3;
  const double kbits = double(frame_bytes) * 8 * double(fps) / 1000;

  // What ffmpeg 5.1 prints with `-loglevel level+info` (as sidecar asks) before its first
  // frame, in one write: sidecar frames stdout as rawvideo of this size from it.
  char header[2048];
  std::snprintf(
      header, sizeof header,
      "[info] Input #0, lavfi, from 'testsrc=size=%dx%d:rate=%lld':\n"
      "[info]   Duration: N/A, start: 0.000000, bitrate: N/A\n"
      "[info]   Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, %dx%d, %lld tbr, "
      "%lld tbn\n"
      "[info] Stream mapping:\n"
      "[info]   Stream #0:0 -> #0:0 (rawvideo (native) -> rawvideo (native))\n"
      "[info] Press [q] to stop, [?] for help\n"
      "[info] Output #0, rawvideo, to 'pipe:':\n"
      "[info]   Metadata:\n"
      "[info]     encoder         : Lavf59.27.100\n"
      "[info]   Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24(progressive), "
      "%dx%d, q=2-31, %.0f kb/s, %lld fps, %lld tbn\n"
      "[info]     Metadata:\n"
      "[info]       encoder         : Lavc59.37.100 rawvideo\n",
      width, height, fps, width, height, fps, fps, width, height, kbits, fps, fps);
  if (!write_text(2, header)) return 1;

  std::vector<unsigned char> frame(frame_bytes);
  for (std::size_t i = 0; i < frame_bytes; ++i)
    frame[i] = static_cast<unsigned char>(i * 7);
  const std::int64_t period = 1000000000 / fps;
  // stdin is watched when it can carry `q` or end: a pipe (sidecar's, the C loop's), a socket
  // or a terminal. /dev/null or a file would end it at once: those are not watched.
  struct stat in {};
  bool stdin_open =
      ::fstat(0, &in) == 0 && (S_ISFIFO(in.st_mode) || S_ISSOCK(in.st_mode) || ::isatty(0));
  long long written = 0;
  char line[512], time_text[32];
  for (; written < frames; ++written) {
    const wake w = wait_until(start + written * period, stdin_open);
    if (w == wake::signal) break;
    if (w == wake::quit) break;
    // Bytes 0-7: when this write began; 8-15: the frame's number.
    const std::int64_t sent = now_ns();
    std::memcpy(frame.data(), &sent, sizeof sent);
    std::memcpy(frame.data() + 8, &written, sizeof written);
    if (!write_all(1, frame.data(), frame.size())) break;
    const std::int64_t said = now_ns();
    clock_text(time_text, sizeof time_text, double(written + 1) / double(fps));
    std::snprintf(line, sizeof line,
                  "[info] frame=%5lld fps=%3lld q=-0.0 size=%8.0fkB time=%s bitrate=%6.1fkbits/s "
                  "speed=1.00x    \r",
                  (long long)said, fps, double(written + 1) * double(frame_bytes) / 1024, time_text,
                  kbits);
    if (!write_text(2, line)) break;
  }
  if (g_signal) return 255; // as ffmpeg exits when a signal stops it
  if (written > 0) {
    // The closing stats line (frame= a count here, as ffmpeg's; `Lsize=` marks it final).
    clock_text(time_text, sizeof time_text, double(written) / double(fps));
    std::snprintf(line, sizeof line,
                  "[info] frame=%5lld fps=%3lld q=-0.0 Lsize=%8.0fkB time=%s "
                  "bitrate=%6.1fkbits/s speed=1.00x    \n"
                  "[info] video:%.0fkB audio:0kB subtitle:0kB other streams:0kB global "
                  "headers:0kB muxing overhead: 0.000000%%\n",
                  written, fps, double(written) * double(frame_bytes) / 1024, time_text, kbits,
                  double(written) * double(frame_bytes) / 1024);
    write_text(2, line);
  }
  return 0;
}
