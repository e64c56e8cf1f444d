// The event stream of a running ffmpeg, live: frames, chunks, interleaved outputs, metadata
// (also of endless runs), progress with percent and ETA, the -progress fd, stdin frames,
// stderr_lines(), quit, bad input, a slow consumer. Runs that differ only in their command and
// in what they promise are rows of a table, one DYNAMIC_SECTION each (Catch2 v2 and v3 alike);
// drain(), progress_of() and reaped() are the shared run-to-the-end tails.
#include <sidecar/capabilities.hpp>
#include <sidecar/ffmpeg_child.hpp>

#include "support.hpp"

#include <asio/steady_timer.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <string_view>
#include <thread>

#include <sys/wait.h>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;
using std::chrono::milliseconds;

namespace {

std::array<int, 3> pixel(const frame& f, int x, int y) {
  auto d = f.data();
  auto at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(f.width) +
             static_cast<std::size_t>(x)) *
            3;
  return {static_cast<int>(d[at]), static_cast<int>(d[at + 1]), static_cast<int>(d[at + 2])};
}

command testsrc_frames(int frames, std::string size = "320x240", int rate = 25) {
  command c;
  c.hide_banner()
      .format("lavfi")
      .input("testsrc=size=" + size + ":rate=" + std::to_string(rate))
      .frames(static_cast<std::uint64_t>(frames))
      .rawvideo();
  return c;
}

struct tally {
  std::map<std::string, int> kinds;
  std::vector<std::string> order;
  void add(const event& e) {
    std::string k = std::visit(
        [](const auto& v) -> std::string {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, version_info>)
            return "version";
          else if constexpr (std::is_same_v<T, configuration_info>)
            return "configuration";
          else if constexpr (std::is_same_v<T, library_version>)
            return "library";
          else if constexpr (std::is_same_v<T, input_info>)
            return "input";
          else if constexpr (std::is_same_v<T, duration_info>)
            return "duration";
          else if constexpr (std::is_same_v<T, stream_info>)
            return v.is_output ? "output_stream" : "input_stream";
          else if constexpr (std::is_same_v<T, stream_mapping_entry>)
            return "mapping";
          else if constexpr (std::is_same_v<T, output_info>)
            return "output";
          else if constexpr (std::is_same_v<T, progress>)
            return "progress";
          else if constexpr (std::is_same_v<T, log_line>)
            return "log";
          else if constexpr (std::is_same_v<T, frame>)
            return "frame";
          else if constexpr (std::is_same_v<T, chunk>)
            return "chunk";
          else
            return "error";
        },
        e);
    if (order.empty() || order.back() != k) order.push_back(k);
    ++kinds[k];
  }
  std::size_t first(const std::string& k) const {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), k) - order.begin());
  }
};

bool any_mentions(const std::vector<log_line>& lines, const std::string& what) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const log_line& l) { return l.text.find(what) != std::string::npos; });
}

// --- one run, to its end ---------------------------------------------------------------------

// The tail of every run: wait() drains and reaps, so no child of this process is left.
awaitable<expected<exit_status>> reaped(ffmpeg_child& ff) {
  auto st = co_await ff.wait();
  CHECK_FALSE(has_children());
  co_return st;
}

// What a run said and produced, read with next_event() to the end, and how it ended.
struct drained {
  tally seen;
  std::map<int, int> frames; // per output index
  std::size_t chunk_bytes = 0;
  std::vector<error> errors;         // error events
  std::vector<log_line> error_lines; // error- and fatal-level lines
  std::vector<progress> ps;
  std::vector<log_line> notes; // sidecar's own lines
  expected<exit_status> status;
};

// Spawns cmd and reads its event stream to the end. on_frame sees each frame while it still
// holds its pooled buffer. Frames are numbered from 0 on each output.
awaitable<drained> drain(command cmd, std::function<void(const frame&)> on_frame = {}) {
  auto ff = cmd.spawn(co_await asio::this_coro::executor);
  REQUIRE(ff);
  drained d;
  while (auto e = co_await ff->next_event()) {
    d.seen.add(*e);
    if (auto* f = std::get_if<frame>(&*e)) {
      auto& n = d.frames[f->output_index];
      CHECK(f->number == static_cast<std::uint64_t>(n));
      ++n;
      if (on_frame) on_frame(*f);
    }
    if (auto* c = std::get_if<chunk>(&*e)) d.chunk_bytes += c->size();
    if (auto* x = std::get_if<error_event>(&*e)) d.errors.push_back(x->error);
    if (auto* p = std::get_if<progress>(&*e)) d.ps.push_back(*p);
    if (auto* l = std::get_if<log_line>(&*e)) {
      if (l->level == log_level::error || l->level == log_level::fatal) d.error_lines.push_back(*l);
      if (l->component == "sidecar") d.notes.push_back(*l);
    }
  }
  d.status = co_await reaped(*ff);
  co_return d;
}

// Spawns cmd and collects its progress with next_progress(); the run succeeds.
awaitable<std::vector<progress>> progress_of(command cmd) {
  auto ff = cmd.spawn(co_await asio::this_coro::executor);
  REQUIRE(ff);
  std::vector<progress> out;
  while (auto p = co_await ff->next_progress())
    out.push_back(*p);
  auto st = co_await reaped(*ff);
  CHECK(st);
  co_return out;
}

struct errors_and_status {
  std::vector<log_line> errors;
  expected<exit_status> status;
};

// Spawns cmd and runs it to the end with errors().
awaitable<errors_and_status> errors_of(command cmd) {
  auto ff = cmd.spawn(co_await asio::this_coro::executor);
  REQUIRE(ff);
  errors_and_status r;
  r.errors = co_await ff->errors();
  r.status = co_await reaped(*ff);
  co_return r;
}

struct endless_metadata {
  sidecar::metadata meta;
  milliseconds took{0};
  bool running = false; // ffmpeg still ran when metadata() returned
};

// metadata() of an endless realtime ffmpeg, how long it took; then `q` and a clean exit.
awaitable<endless_metadata> metadata_of_endless(command cmd) {
  auto ff = cmd.spawn(co_await asio::this_coro::executor);
  REQUIRE(ff);
  auto t0 = std::chrono::steady_clock::now();
  endless_metadata r;
  r.meta = co_await ff->metadata();
  r.took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
  siginfo_t info{};
  r.running =
      ::waitid(P_PID, static_cast<id_t>(ff->id()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == 0;
  CHECK_FALSE(ff->quit());
  auto st = co_await reaped(*ff);
  CHECK(st);
  co_return r;
}

} // namespace

TEST_CASE("ffmpeg_version parses the installed ffmpeg", "[events]") {
  auto v =
      run([]() -> awaitable<expected<version_info>> { co_return co_await ffmpeg_version(); }());
  REQUIRE(v);
  CHECK_FALSE(v->version.empty());
  CHECK(v->major >= 4);
  CHECK(v->minor >= 0);
  // A release says its number; a static or git build gets the release of its libavutil.
  CHECK(v->origin != version_origin::unknown);
  if (v->version.rfind("N-", 0) == 0) CHECK(v->origin == version_origin::libraries);
}

TEST_CASE("rawvideo on stdout arrives as frames, in order, with the right pixels", "[events]") {
  // drain() checks the order: frame numbers 0, 1, 2, …
  auto d = run(drain(testsrc_frames(30), [](const frame& f) {
    CHECK(f.width == 320);
    CHECK(f.height == 240);
    CHECK(f.pix_fmt == "rgb24");
    CHECK(f.size() == 320u * 240 * 3);
    CHECK(f.output_index == 0);
    CHECK(f.timestamp == std::chrono::microseconds(40000 * static_cast<long>(f.number)));
    // testsrc: black grid corner, red and white bars along the top.
    CHECK(pixel(f, 0, 0) == std::array<int, 3>{0, 0, 0});
    CHECK(pixel(f, 300, 0) == std::array<int, 3>{255, 255, 255});
    if (f.number == 0) CHECK(pixel(f, 40, 0) == std::array<int, 3>{255, 0, 0});
  }));
  REQUIRE(d.status);
  CHECK(d.status->success());
  auto& t = d.seen;
  CHECK(t.kinds["frame"] == 30);
  CHECK(t.kinds["input"] == 1);
  CHECK(t.kinds["output"] == 1);
  CHECK(t.kinds["input_stream"] == 1);
  CHECK(t.kinds["output_stream"] == 1);
  CHECK(t.kinds["mapping"] == 1);
  CHECK(t.kinds["progress"] >= 1);
  CHECK(t.kinds["chunk"] == 0);
  CHECK(t.kinds["error"] == 0);
  // Metadata comes first, then frames.
  CHECK(t.first("input") < t.first("output"));
  CHECK(t.first("output") < t.first("frame"));
}

TEST_CASE("frames larger than the pipe arrive byte for byte as ffmpeg wrote them", "[events]") {
  // 1280x720 rgb24 is 2.6 MiB a frame, more than the 1 MiB stdout pipe holds: each frame is
  // read in many pieces. The same frames go to a file in the same run, to compare with.
  temp_dir dir;
  const auto file = dir / "frames.raw";
  command c;
  c.hide_banner()
      .format("lavfi")
      .input("testsrc=size=1280x720:rate=25")
      .frames(12)
      .rawvideo()
      .frames(12)
      .format("rawvideo")
      .pix_fmt("rgb24")
      .output(file.string());
  auto got = run([](command cmd) -> awaitable<std::pair<std::string, expected<exit_status>>> {
    auto ff = cmd.spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::string bytes;
    std::uint64_t n = 0;
    while (auto f = co_await ff->next_frame()) {
      CHECK(f->number == n++);
      CHECK(f->size() == 1280u * 720 * 3);
      bytes.append(reinterpret_cast<const char*>(f->data().data()), f->size());
    }
    co_return std::pair{std::move(bytes), co_await reaped(*ff)};
  }(c));
  REQUIRE(got.second);
  CHECK(got.second->success());
  std::ifstream in(file, std::ios::binary);
  const std::string written{std::istreambuf_iterator<char>(in), {}};
  CHECK(written.size() == 12u * 1280 * 720 * 3);
  CHECK(got.first.size() == written.size());
  const bool same = got.first == written; // a bool: Catch would print 33 MB otherwise
  CHECK(same);
}

TEST_CASE("stdout arrives whole: as frames of each output where they can be cut, else as chunks",
          "[events]") {
  // One output's frames: how many, of what size and pixel format.
  struct output_frames {
    int count;
    std::size_t bytes;
    std::string pix_fmt;
  };

  // A run whose stdout carries one output or several, and what of it arrives.
  struct stdout_case {
    std::string name;
    command cmd;
    std::vector<output_frames> frames{}; // by output index; empty: no frame at all
    std::size_t chunk_bytes_min = 0;     // chunks carry at least this; 0: no chunk at all
    std::size_t chunk_unit = 1;          // and add up to a whole number of these
    std::string error{};                 // said by every error event; empty: no error event
  };

  constexpr std::size_t rgb_64x48 = 64u * 48 * 3;
  const std::vector<stdout_case> cases = {
      {.name = "an encoded stream on stdout arrives as chunks with every byte",
       .cmd = command{}
                  .hide_banner()
                  .format("lavfi")
                  .input("testsrc=size=160x120:rate=25")
                  .frames(50)
                  .codec_video("mpeg4")
                  .format("nut")
                  .output("-"),
       .chunk_bytes_min = 1001}, // more than 1000
      {.name = "interleaved rawvideo outputs come with their output index",
       .cmd = command{}
                  .hide_banner()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=10:duration=2")
                  .map("0:v")
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .output("pipe:1")
                  .map("0:v")
                  .size(32, 24)
                  .format("rawvideo")
                  .pix_fmt("gray")
                  .output("pipe:1"),
       .frames = {{20, rgb_64x48, "rgb24"}, {20, 32u * 24, "gray"}}},
      // Every byte of both outputs arrives: whole frames, at least 10 + 5 of them.
      {.name = "interleaved outputs at different rates: an error event, then chunks",
       .cmd = command{}
                  .hide_banner()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=10:duration=1")
                  .map("0:v")
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .output("pipe:1")
                  .map("0:v")
                  .rate(5.0)
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .output("pipe:1"),
       .chunk_bytes_min = rgb_64x48 * (10 + 5),
       .chunk_unit = rgb_64x48,
       .error = "frame rates"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto d = run(drain(c.cmd, [&c](const frame& f) {
        REQUIRE(f.output_index >= 0);
        REQUIRE(static_cast<std::size_t>(f.output_index) < c.frames.size());
        const auto& want = c.frames[static_cast<std::size_t>(f.output_index)];
        CHECK(f.size() == want.bytes);
        CHECK(f.pix_fmt == want.pix_fmt);
      }));
      REQUIRE(d.status);
      int frames = 0;
      for (std::size_t i = 0; i < c.frames.size(); ++i) {
        INFO("output " << i);
        CHECK(d.frames[static_cast<int>(i)] == c.frames[i].count);
        frames += c.frames[i].count;
      }
      CHECK(d.seen.kinds["frame"] == frames);
      if (c.chunk_bytes_min == 0) {
        CHECK(d.chunk_bytes == 0);
      } else {
        CHECK(d.chunk_bytes >= c.chunk_bytes_min);
        CHECK(d.chunk_bytes % c.chunk_unit == 0);
      }
      if (c.error.empty()) {
        CHECK(d.errors.empty());
      } else {
        CHECK_FALSE(d.errors.empty());
        for (const auto& x : d.errors)
          CHECK(x.message().find(c.error) != std::string::npos);
      }
    }
  }
}

TEST_CASE("metadata() collects inputs, outputs and streams, and frames still follow", "[events]") {
  run([]() -> awaitable<void> {
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=320x240:rate=25:duration=1")
                  .format("lavfi")
                  .input("sine=frequency=440:sample_rate=48000:duration=1")
                  .map("0:v")
                  .map("1:a")
                  .codec_audio("pcm_s16le")
                  .format("nut")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto m = co_await ff->metadata();
    CHECK(m.complete);
    REQUIRE(m.version);
    CHECK(m.version->major >= 4);
    REQUIRE(m.inputs.size() == 2);
    CHECK(m.inputs[0].format == "lavfi");
    REQUIRE(m.outputs.size() == 1);
    CHECK(m.outputs[0].format == "nut");
    CHECK(m.outputs[0].to_stdout);
    auto in0 = m.input_streams(0);
    REQUIRE(in0.size() == 1);
    CHECK(in0[0]->type == stream_type::video);
    CHECK(in0[0]->width == 320);
    CHECK(in0[0]->height == 240);
    REQUIRE(in0[0]->fps);
    CHECK(*in0[0]->fps == Approx(25.0));
    auto in1 = m.input_streams(1);
    REQUIRE(in1.size() == 1);
    CHECK(in1[0]->type == stream_type::audio);
    CHECK(in1[0]->sample_rate == 48000);
    auto out = m.output_streams(0);
    REQUIRE(out.size() == 2);
    CHECK(out[1]->codec == "pcm_s16le");
    CHECK(m.mapping.size() == 2);
    // Nothing was lost to metadata(): the events are all still in the stream.
    int inputs = 0, chunks = 0;
    while (auto e = co_await ff->next_event()) {
      inputs += std::holds_alternative<input_info>(*e);
      chunks += std::holds_alternative<chunk>(*e);
    }
    CHECK(inputs == 2);
    CHECK(chunks > 0);
    auto st = co_await reaped(*ff);
    CHECK(st);
  }());
}

TEST_CASE("metadata() completes when the log level hides it", "[events]") {
  run([]() -> awaitable<void> {
    auto ff = command{}
                  .loglevel("error")
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25:duration=1")
                  .format("null")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto m = co_await ff->metadata();
    CHECK(m.inputs.empty());
    CHECK(m.outputs.empty());
    auto st = co_await reaped(*ff);
    CHECK(st);
  }());
}

TEST_CASE("progress events carry frame, time, speed and a percent of the known total; one is final",
          "[events]") {
  // A run whose total is known, and where its last progress event must land.
  struct progress_case {
    std::string name;
    command cmd;
    std::uint64_t frames;
    double seconds;
  };

  const std::vector<progress_case> cases = {
      {.name = "stats lines on stderr",
       .cmd = command{}
                  .format("lavfi")
                  .input("testsrc=size=320x240:rate=25")
                  .duration("4")
                  .stats_period("0.1")
                  .codec_video("mpeg4")
                  .format("null")
                  .output("-"),
       .frames = 100,
       .seconds = 4},
      // stderr's stats lines are then left out of the stream.
      {.name = "-progress pipe:3, read from its own fd as the source of progress",
       .cmd = command{}
                  .format("lavfi")
                  .input("testsrc=size=320x240:rate=25")
                  .frames(50)
                  .progress_url("pipe:3")
                  .stats_period("0.1")
                  .codec_video("mpeg4")
                  .format("null")
                  .output("-"),
       .frames = 50,
       .seconds = 2},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto ps = run(progress_of(c.cmd));
      REQUIRE_FALSE(ps.empty());
      const auto& last = ps.back();
      CHECK(last.final);
      REQUIRE(last.frame);
      CHECK(*last.frame == c.frames);
      REQUIRE(last.time);
      CHECK(last.time->count() == Approx(c.seconds * 1e6).margin(1e5));
      REQUIRE(last.percent);
      CHECK(*last.percent == Approx(100.0));
      for (const auto& p : ps) {
        if (!p.percent) continue;
        CHECK(*p.percent >= 0.0);
        CHECK(*p.percent <= 100.0);
      }
      CHECK(last.speed.has_value());
      // Each block of stats ends in one event (with -progress: at progress=continue/end);
      // there is one end.
      CHECK(std::count_if(ps.begin(), ps.end(), [](auto& p) { return p.final; }) == 1);
    }
  }
}

TEST_CASE("frames written to stdin are encoded; close_stdin ends the input", "[events]") {
  auto frames = run([]() -> awaitable<std::uint64_t> {
    auto ex = co_await asio::this_coro::executor;
    auto ff = command{}
                  .format("rawvideo")
                  .pix_fmt("rgb24")
                  .size(64, 48)
                  .rate(25.0)
                  .input("-")
                  .codec_video("mpeg4")
                  .format("null")
                  .output("-")
                  .spawn(ex);
    REQUIRE(ff);
    std::vector<std::byte> img(64 * 48 * 3, std::byte{0x80});
    for (int i = 0; i < 40; ++i) {
      auto w = co_await ff->write(std::span<const std::byte>(img));
      REQUIRE(w);
    }
    ff->close_stdin();
    std::uint64_t last = 0;
    while (auto p = co_await ff->next_progress())
      if (p->frame) last = *p->frame;
    auto st = co_await reaped(*ff);
    REQUIRE(st);
    co_return last;
  }());
  CHECK(frames == 40);
}

TEST_CASE("quit() while reading frames: the stream ends cleanly", "[events]") {
  auto n = run([]() -> awaitable<int> {
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25")
                  .rawvideo()
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    int n = 0;
    while (auto f = co_await ff->next_frame()) {
      if (++n == 10) CHECK_FALSE(ff->quit());
    }
    auto st = co_await reaped(*ff);
    CHECK(st);
    co_return n;
  }());
  CHECK(n >= 10);
}

TEST_CASE("a command ffmpeg cannot run fails with its reason: an error event, error lines, a "
          "failed wait",
          "[events]") {
  // A command ffmpeg cannot run, and its words for why.
  struct failing_case {
    std::string name;
    command cmd;
    std::string reason; // in the error, and in one of its error lines
    std::string path{}; // in one of its error lines too, unless empty
  };

  const std::vector<failing_case> cases = {
      {.name = "a missing input",
       .cmd = command{}.input("/nonexistent/sidecar.mp4").rawvideo(),
       .reason = "No such file or directory",
       .path = "/nonexistent/sidecar.mp4"},
      {.name = "an unwritable output",
       .cmd =
           command{}.format("lavfi").input("testsrc=duration=1").output("/nonexistent-dir/out.mp4"),
       .reason = "No such file or directory",
       .path = "/nonexistent-dir/out.mp4"},
      {.name = "invalid arguments",
       .cmd = command{}
                  .arg("-no_such_option")
                  .arg("1")
                  .format("lavfi")
                  .input("testsrc")
                  .format("null")
                  .output("-"),
       .reason = "no_such_option"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      SECTION("read with next_event()") {
        auto d = run(drain(c.cmd));
        REQUIRE_FALSE(d.errors.empty());
        const auto& seen = d.errors.back();
        CHECK(seen == errc::process_failed);
        REQUIRE(seen.status());
        CHECK(seen.status()->code > 0); // 1 up to 5.1, 254 on 7.x
        CHECK(seen.message().find(c.reason) != std::string::npos);
        REQUIRE_FALSE(d.error_lines.empty());
        // 5.1: "path: No such file or directory"; 7.x: the reason and the path on separate
        // lines.
        CHECK(any_mentions(d.error_lines, c.reason));
        if (!c.path.empty()) CHECK(any_mentions(d.error_lines, c.path));
        REQUIRE_FALSE(d.status);
        CHECK(d.status.error() == errc::process_failed);
        REQUIRE(d.status.error().status());
        CHECK_FALSE(d.status.error().status()->success());
        CHECK(d.status.error().message().find(c.reason) != std::string::npos);
      }
      SECTION("read with errors()") {
        auto r = run(errors_of(c.cmd));
        REQUIRE_FALSE(r.errors.empty());
        CHECK(any_mentions(r.errors, c.reason));
        if (!c.path.empty()) CHECK(any_mentions(r.errors, c.path));
        REQUIRE_FALSE(r.status);
        CHECK(r.status.error().message().find(c.reason) != std::string::npos);
      }
    }
  }
}

TEST_CASE("a noisy stderr never blocks a program that only wants frames", "[events]") {
  auto n = run([]() -> awaitable<int> {
    // -loglevel debug writes megabytes of stderr; next_frame() discards it as it goes.
    auto ff = command{}
                  .loglevel("level+debug")
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25")
                  .frames(500)
                  .rawvideo()
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    int n = 0;
    while (co_await ff->next_frame())
      ++n;
    auto st = co_await reaped(*ff);
    CHECK(st);
    co_return n;
  }());
  CHECK(n == 500);
}

TEST_CASE("stderr read in bursts beside frames comes whole and in order", "[events]") {
  // showinfo logs one numbered line of ~250 bytes per frame; the program keeps its thread busy
  // 2 ms per frame, so stderr piles up: bursts of kilobytes, read by waiting for readiness
  // until the frames are decided, then by a pending 512-byte read and the rest of the burst at
  // once. Every line must come once, whole, in order: n: 0, 1, 2, ...
  constexpr int count = 300;
  struct seen {
    int frames = 0;
    std::vector<long> numbers;
    std::vector<std::string> odd; // showinfo lines without a well-formed "n:"
  };
  auto s = run([]() -> awaitable<seen> {
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25")
                  .filter("showinfo")
                  .frames(count)
                  .rawvideo()
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    seen s;
    while (auto e = co_await ff->next_event()) {
      if (std::holds_alternative<frame>(*e)) {
        ++s.frames;
        std::this_thread::sleep_for(2ms); // busy: nothing is read meanwhile
      }
      auto* l = std::get_if<log_line>(&*e);
      if (!l || l->component.find("showinfo") == std::string::npos) continue;
      if (l->text.rfind("n:", 0) != 0) continue; // its other lines (side data, colour)
      const std::string rest = l->text.substr(2);
      char* end = nullptr;
      const long n = std::strtol(rest.c_str(), &end, 10);
      if (end == rest.c_str() || std::string_view(end).rfind(" pts:", 0) != 0)
        s.odd.push_back(l->text);
      else
        s.numbers.push_back(n);
    }
    CHECK(co_await reaped(*ff));
    co_return s;
  }());
  CHECK(s.frames == count);
  CHECK(s.odd.empty());
  // 0, 1, 2, ... with none missing, repeated or out of place: at least `count` of them (ffmpeg
  // 9's filter sees one frame more than -frames:v lets through, and logs it).
  REQUIRE(s.numbers.size() >= std::size_t(count));
  CHECK(s.numbers.size() <= std::size_t(count) + 2);
  std::vector<long> want(s.numbers.size());
  std::iota(want.begin(), want.end(), 0L);
  CHECK(s.numbers == want);
}

TEST_CASE("a slow consumer of 1080p frames keeps memory flat", "[events][memory]") {
  // 240 frames of 1080p rgb24 are 1.5 GB; a consumer that reads them at a quarter of
  // ffmpeg's pace must not buffer them. Memory is sampled once the pool is warm.
  auto r = run(
      []() -> awaitable<std::pair<std::size_t, std::size_t>> {
        auto ex = co_await asio::this_coro::executor;
        auto ff = command{}
                      .format("lavfi")
                      .input("testsrc=size=1920x1080:rate=25")
                      .frames(120)
                      .rawvideo()
                      .spawn(ex);
        REQUIRE(ff);
        std::size_t warm = 0, peak = 0;
        int n = 0;
        asio::steady_timer t(ex);
        while (auto f = co_await ff->next_frame()) {
          CHECK(f->size() == 1920u * 1080 * 3);
          ++n;
          if (n == 10) warm = rss_kib();
          if (n > 10) peak = std::max(peak, rss_kib());
          t.expires_after(15ms);
          co_await t.async_wait(asio::use_awaitable);
        }
        CHECK(n == 120);
        auto st = co_await reaped(*ff);
        CHECK(st);
        co_return std::pair{warm, peak};
      }(),
      60s);
  INFO("RSS after 10 frames " << r.first << " KiB, peak after " << r.second << " KiB");
  // One frame is 6 MiB; growth beyond a couple of frames would mean buffering.
  CHECK(r.second < r.first + 16 * 1024);
}

TEST_CASE("a dropped ffmpeg_child is stopped and reaped, leaving no fd", "[events]") {
  auto before = open_fds();
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    {
      auto ff = command{}.format("lavfi").input("testsrc=size=64x48:rate=25").rawvideo().spawn(ex);
      REQUIRE(ff);
      auto f = co_await ff->next_frame();
      CHECK(f);
    }
    asio::steady_timer t(ex, 200ms);
    co_await t.async_wait(asio::use_awaitable);
  }());
  CHECK_FALSE(has_children());
  CHECK(open_fds() == before);
}

TEST_CASE("metadata() of an endless run returns while it runs: once the outputs are described, "
          "or at once and empty at a lowered log level",
          "[events]") {
  // An output stream as metadata() must describe it.
  struct described_stream {
    stream_type type;
    int width = 0; // checked unless 0
  };

  // An endless run, how soon metadata() must return, and what it must hold then.
  struct endless_case {
    std::string name;
    command cmd;
    milliseconds within;
    bool complete;                       // else empty: no input, output or mapping
    std::size_t inputs = 0;              // when complete: as many inputs,
    std::size_t mapping = 0;             // mapping entries
    std::vector<described_stream> out{}; // and streams of the one output
  };

  const std::vector<endless_case> cases = {
      // No stats line, no stdout, no end of stderr: only the header itself can settle it.
      {.name = "-nostats: returns once the outputs are described, every stream of them",
       .cmd = command{}
                  .arg("-nostats")
                  .realtime()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25")
                  .realtime()
                  .format("lavfi")
                  .input("sine=sample_rate=8000")
                  .map("0:v")
                  .map("1:a")
                  .format("null")
                  .output("-"),
       .within = 3000ms,
       .complete = true,
       .inputs = 2,
       .mapping = 2,
       // both output streams, not just the first one described
       .out = {{stream_type::video}, {stream_type::audio}}},
      // A filter graph's mapping names its output only in text.
      {.name = "-nostats, a filter graph: returns once its output is described",
       .cmd = command{}
                  .arg("-nostats")
                  .realtime()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25")
                  .filter_complex("[0:v]scale=32:24[o]")
                  .map("[o]")
                  .format("null")
                  .output("-"),
       .within = 3000ms,
       .complete = true,
       .inputs = 1,
       .mapping = 2,
       .out = {{stream_type::video, 32}}},
      // Less than usual is printed: what there is is all there is.
      {.name = "-loglevel error: returns at once, empty",
       .cmd = command{}
                  .loglevel("error")
                  .realtime()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25")
                  .format("null")
                  .output("-"),
       .within = 500ms,
       .complete = false},
      // Flags before the level, as ffmpeg accepts them.
      {.name = "-v repeat+level+warning: returns at once, empty",
       .cmd = command{}
                  .arg("-v")
                  .arg("repeat+level+warning")
                  .realtime()
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25")
                  .format("null")
                  .output("-"),
       .within = 500ms,
       .complete = false},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto r = run(metadata_of_endless(c.cmd), 20s);
      CHECK(r.took < c.within);
      CHECK(r.running);
      CHECK(r.meta.complete == c.complete);
      CHECK(r.meta.inputs.size() == c.inputs);
      REQUIRE(r.meta.outputs.size() == (c.complete ? 1u : 0u));
      CHECK(r.meta.mapping.size() == c.mapping);
      auto out = r.meta.output_streams(0);
      REQUIRE(out.size() == c.out.size());
      for (std::size_t i = 0; i < out.size(); ++i) {
        INFO("output stream " << i);
        CHECK(out[i]->type == c.out[i].type);
        if (c.out[i].width != 0) CHECK(out[i]->width == c.out[i].width);
      }
    }
  }
}

// Since 6.1, -re reads an input's first 0.5 s at full speed; readrate_initial_burst(0) asks
// for none (ffmpeg itself takes 0 for its default). Older releases have no burst and no such
// option: it is left out there, without a note.
TEST_CASE("realtime() with readrate_initial_burst(0) paces the input from the start on every "
          "release",
          "[events][versions]") {
  std::vector<std::chrono::steady_clock::time_point> at;
  auto d = run(drain(command{}
                         .realtime()
                         .readrate_initial_burst(0)
                         .format("lavfi")
                         .input("testsrc=size=64x48:rate=25")
                         .frames(25)
                         .rawvideo(),
                     [&](const frame&) { at.push_back(std::chrono::steady_clock::now()); }),
               20s);
  CHECK(d.status);
  CHECK(d.notes.empty());
  REQUIRE(at.size() == 25);
  // 25 frames at 25 fps are 0.96 s of input from the first frame to the last: paced from the
  // start, they cannot come faster (with a 0.5 s burst, the first 13 come at once).
  CHECK(at.back() - at.front() >= std::chrono::milliseconds(850));
}

TEST_CASE("progress events carry an ETA that counts down to 0 when the total is known",
          "[events]") {
  auto ps = run(progress_of(command{}
                                .realtime()
                                .format("lavfi")
                                .input("testsrc=size=64x48:rate=25")
                                .duration("2")
                                .stats_period("0.2")
                                .format("null")
                                .output("-")),
                20s);
  REQUIRE(ps.size() >= 4);
  std::string seen; // for a failure's message
  for (const auto& p : ps)
    seen += "time=" + (p.time ? std::to_string(p.time->count()) : "-") +
            " speed=" + (p.speed ? std::to_string(*p.speed) : "-") +
            " eta=" + (p.eta ? std::to_string(p.eta->count()) : "-") + "\n";
  INFO(seen);
  int with_eta = 0;
  std::optional<std::chrono::microseconds> previous;
  for (const auto& p : ps) {
    if (!p.percent || !p.speed || *p.speed <= 0) continue;
    REQUIRE(p.eta); // percent and speed known: so is the time left
    CHECK(p.eta->count() >= 0);
    if (!p.final && p.time) {
      // What is left of the 2 s at the current speed.
      double left = (2e6 - static_cast<double>(p.time->count())) / *p.speed;
      CHECK(static_cast<double>(p.eta->count()) == Approx(std::max(left, 0.0)).margin(2e4));
    }
    // Counts down, once the speed settles at -re's pace (ffmpeg's first figure can be
    // anything: 0.04 s of media over a microsecond is "speed=40000x").
    if (*p.speed > 2.0) continue;
    if (previous) CHECK(p.eta->count() <= previous->count() + 300000);
    previous = p.eta;
    ++with_eta;
  }
  CHECK(with_eta >= 3);
  REQUIRE(ps.back().final);
  REQUIRE(ps.back().eta);
  CHECK(ps.back().eta->count() == 0);
}

TEST_CASE("stderr_lines() returns every line of stderr as text", "[events]") {
  auto lines = run([]() -> awaitable<std::vector<std::string>> {
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=64x48:rate=25")
                  .frames(10)
                  .format("null")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto all = co_await ff->stderr_lines();
    auto st = co_await reaped(*ff);
    CHECK(st);
    co_return all;
  }());
  // 7.x prints the summary with its muxer's tag (`[out#0/null @ 0x…] video:…`): look past it.
  auto body = [](std::string_view l) {
    if (l.rfind("[out#", 0) == 0 && l.find("] ") != std::string_view::npos)
      l.remove_prefix(l.find("] ") + 2);
    return l;
  };
  auto starts = [&](std::string_view head) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return body(l).rfind(head, 0) == 0; });
  };
  // The banner, the header and the stats, as ffmpeg printed them (indentation kept), less the
  // `[info]` tag the builder asked for.
  CHECK(starts("ffmpeg version "));
  CHECK(starts("  configuration: "));
  CHECK(starts("  libavcodec "));
  CHECK(starts("Input #0, lavfi, from 'testsrc=size=64x48:rate=25':"));
  CHECK(starts("  Duration: "));
  // 4.x indents input streams by four; the codec is rawvideo up to 5.1, wrapped_avframe from 7.0.
  CHECK((starts("  Stream #0:0: Video: ") || starts("    Stream #0:0: Video: ")));
  CHECK(starts("Stream mapping:"));
  CHECK(starts("  Stream #0:0 -> #0:0"));
  CHECK(starts("Output #0, null, to 'pipe:':"));
  CHECK(starts("frame="));
  CHECK(starts("video:"));
  for (const auto& l : lines) {
    CHECK(l.find("[info]") == std::string::npos);
    CHECK_FALSE(l.empty());
  }
  // Each line once: the summary line is also a (final) progress event, but one line.
  CHECK(std::count_if(lines.begin(), lines.end(),
                      [&](const std::string& l) { return body(l).rfind("video:", 0) == 0; }) == 1);
}

TEST_CASE("on a release without -stats_period, progress still comes, with a note saying why",
          "[events][versions]") {
  auto program = find_tool(tool::ffmpeg);
  REQUIRE(program);
  auto version = describe_binary(*program);
  REQUIRE(version);
  auto r = run(drain(command{}
                         .realtime()
                         .format("lavfi")
                         .input("testsrc=size=64x48:rate=25")
                         .duration("1.6")
                         .stats_period("0.1")
                         .format("null")
                         .output("-")),
               20s);
  CHECK(r.status);
  INFO("ffmpeg " << version->version);
  // At 0.1 s (4.4 and later) or ffmpeg's own 0.5 s: progress before the end either way.
  CHECK(std::count_if(r.ps.begin(), r.ps.end(), [](auto& p) { return !p.final; }) >= 2);
  REQUIRE_FALSE(r.ps.empty());
  CHECK(r.ps.back().final);
  if (version->at_least(4, 4)) {
    CHECK(r.notes.empty());
  } else {
    REQUIRE(r.notes.size() == 1);
    CHECK(r.notes[0].level == log_level::warning);
    CHECK(r.notes[0].text.find("-stats_period") != std::string::npos);
  }
}
