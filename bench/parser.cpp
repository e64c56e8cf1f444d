// Parser: MB/s and lines/s of log_parser, single core, on recorded stderr — the info-level
// fixtures with progress lines, the verbose fixture, and a debug log recorded from a real
// ffmpeg at the start of the run — fed in 4 KiB reads as a pipe delivers them. The limit it
// is held against: splitting the same bytes into lines with memchr, the least any line
// parser does; and the absolute target of 500 MB/s.
#include "bench.hpp"

#include <sidecar/binary.hpp>
#include <sidecar/log.hpp>

#include <cstring>
#include <filesystem>
#include <sstream>

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path fixtures() {
  const char* root = std::getenv("SIDECAR_SOURCE_ROOT");
  return std::filesystem::path(root ? root : SIDECAR_SOURCE_ROOT_DEFAULT) / "tests/log/fixtures";
}

// A real debug-level log: ffmpeg encodes a short clip with -loglevel level+debug.
std::string record_debug_log() {
  auto ffmpeg = sidecar::find_tool(sidecar::tool::ffmpeg);
  if (!ffmpeg) throw std::runtime_error(ffmpeg.error().message());
  bench::raw_pipe err;
  const pid_t pid = bench::spawn_raw({ffmpeg->string(),
                                      "-hide_banner",
                                      "-nostdin",
                                      "-loglevel",
                                      "level+debug",
                                      "-f",
                                      "lavfi",
                                      "-i",
                                      "testsrc=size=320x240:rate=25:duration=4",
                                      "-f",
                                      "lavfi",
                                      "-i",
                                      "sine=frequency=440:duration=4",
                                      "-c:v",
                                      "mpeg4",
                                      "-c:a",
                                      "pcm_s16le",
                                      "-f",
                                      "matroska",
                                      "-y",
                                      "/dev/null"},
                                     -1, -1, err.write);
  err.close_write();
  std::string log;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(err.read, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    log.append(buf, std::size_t(n));
  }
  bench::wait_raw(pid);
  return log;
}

// Repeats `corpus` until at least `bytes`, as one buffer fed in 4 KiB pieces.
std::string repeated(const std::string& corpus, std::size_t bytes) {
  std::string s;
  s.reserve(bytes + corpus.size());
  while (s.size() < bytes)
    s += corpus;
  return s;
}

constexpr std::size_t piece = 4096;

struct outcome {
  double seconds = 0;
  std::uint64_t lines = 0;
};

outcome parse(const std::string& input) {
  sidecar::log_parser parser;
  std::uint64_t events = 0, kinds = 0;
  auto sink = [&](sidecar::log_event&& e) {
    ++events;
    kinds += e.index(); // touch the event so nothing is optimized away
  };
  const double t0 = bench::thread_cpu();
  for (std::size_t at = 0; at < input.size(); at += piece)
    parser.feed(std::string_view(input).substr(at, piece), sink);
  parser.finish(sink);
  const double t1 = bench::thread_cpu();
  if (kinds == ~0ull) std::puts("");
  return {t1 - t0, events};
}

// The floor: find every line end ('\n' or '\r') in the same pieces, carrying partial lines.
outcome split_lines(const std::string& input) {
  std::uint64_t lines = 0;
  std::size_t longest = 0, partial = 0;
  const double t0 = bench::thread_cpu();
  for (std::size_t at = 0; at < input.size(); at += piece) {
    const char* p = input.data() + at;
    const char* end = p + std::min(piece, input.size() - at);
    while (p < end) {
      const auto* nl = static_cast<const char*>(std::memchr(p, '\n', std::size_t(end - p)));
      const char* stop = nl ? nl : end;
      const auto* cr = static_cast<const char*>(std::memchr(p, '\r', std::size_t(stop - p)));
      const char* e = cr ? cr : nl;
      if (!e) {
        partial += std::size_t(end - p);
        break;
      }
      const std::size_t len = partial + std::size_t(e - p);
      partial = 0;
      longest = std::max(longest, len);
      lines += len > 0;
      p = e + 1;
    }
  }
  const double t1 = bench::thread_cpu();
  if (longest == ~std::size_t{0}) std::puts("");
  return {t1 - t0, lines};
}

} // namespace

int main() {
  const std::size_t volume = bench::quick() ? (std::size_t{8} << 20) : (std::size_t{128} << 20);
  std::string info;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures())) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() == ".log" && name.find("verbose") == std::string::npos)
      info += slurp(entry.path());
  }
  const std::string verbose = slurp(fixtures() / "5.1-verbose-copy.log");
  if (info.empty() || verbose.empty())
    throw std::runtime_error("no fixtures under " + fixtures().string());
  const std::string debug = record_debug_log();

  bench::report rep("parser");
  std::printf("parser: log_parser on %zu MiB per run, 4 KiB feeds, one core; %d runs\n",
              volume >> 20, bench::runs());
  const std::pair<const char*, const std::string*> corpora[] = {
      {"info+progress fixtures", &info},
      {"verbose fixture", &verbose},
      {"debug recorded now", &debug},
  };
  for (auto [name, corpus] : corpora) {
    const std::string input = repeated(*corpus, volume);
    const double mb = double(input.size()) / 1e6;
    std::vector<double> mbs, lps, split_mbs;
    bench::interleave({
        [&](bool m) {
          auto o = parse(input);
          if (m) {
            mbs.push_back(mb / o.seconds);
            lps.push_back(double(o.lines) / o.seconds);
          }
        },
        [&](bool m) {
          auto o = split_lines(input);
          if (m) split_mbs.push_back(mb / o.seconds);
        },
    });
    rep.measure(name, "log_parser", "throughput", "MB/s", mbs);
    rep.measure(name, "log_parser", "lines", "lines/s", lps);
    rep.measure(name, "memchr split", "throughput", "MB/s", split_mbs);
    rep.ratio(name, "log_parser/memchr split", "", 0, bench::ratios(mbs, split_mbs));
    std::vector<double> vs_target;
    for (double v : mbs)
      vs_target.push_back(v / 500.0);
    rep.ratio(name, "log_parser/(500 MB/s target)", ">=", 1.0, vs_target);
  }
}
