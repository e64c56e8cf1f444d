// The event stream of a running ffmpeg, live: frames, chunks, interleaved outputs, metadata
// (also of endless runs), progress with percent and ETA, the -progress fd, stdin frames,
// stderr_lines(), quit, bad input, a slow consumer.
#include <sidecar/capabilities.hpp>
#include <sidecar/ffmpeg_child.hpp>

#include "support.hpp"

#include <asio/steady_timer.hpp>

#include <algorithm>
#include <fstream>
#include <map>

#include <sys/wait.h>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

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
  auto t = run([]() -> awaitable<tally> {
    auto ff = testsrc_frames(30).spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    tally seen;
    std::uint64_t next = 0;
    while (auto e = co_await ff->next_event()) {
      seen.add(*e);
      if (auto* f = std::get_if<frame>(&*e)) {
        CHECK(f->width == 320);
        CHECK(f->height == 240);
        CHECK(f->pix_fmt == "rgb24");
        CHECK(f->size() == 320u * 240 * 3);
        CHECK(f->output_index == 0);
        CHECK(f->number == next++);
        CHECK(f->timestamp == std::chrono::microseconds(40000 * static_cast<long>(f->number)));
        // testsrc: black grid corner, red and white bars along the top.
        CHECK(pixel(*f, 0, 0) == std::array<int, 3>{0, 0, 0});
        CHECK(pixel(*f, 300, 0) == std::array<int, 3>{255, 255, 255});
        if (f->number == 0) CHECK(pixel(*f, 40, 0) == std::array<int, 3>{255, 0, 0});
      }
    }
    auto st = co_await ff->wait();
    REQUIRE(st);
    CHECK(st->success());
    co_return seen;
  }());
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

TEST_CASE("an encoded stream on stdout arrives as chunks with every byte", "[events]") {
  auto bytes = run([]() -> awaitable<std::size_t> {
    auto ff = command{}
                  .hide_banner()
                  .format("lavfi")
                  .input("testsrc=size=160x120:rate=25")
                  .frames(50)
                  .codec_video("mpeg4")
                  .format("nut")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::size_t total = 0;
    int frames = 0;
    while (auto e = co_await ff->next_event()) {
      if (auto* c = std::get_if<chunk>(&*e)) total += c->size();
      if (std::holds_alternative<frame>(*e)) ++frames;
    }
    CHECK(frames == 0);
    auto st = co_await ff->wait();
    REQUIRE(st);
    co_return total;
  }());
  CHECK(bytes > 1000);
}

TEST_CASE("interleaved rawvideo outputs come with their output index", "[events]") {
  auto counts = run([]() -> awaitable<std::map<int, int>> {
    auto ff = command{}
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
                  .output("pipe:1")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::map<int, int> n;
    while (auto f = co_await ff->next_frame()) {
      if (f->output_index == 0) {
        CHECK(f->size() == 64u * 48 * 3);
        CHECK(f->pix_fmt == "rgb24");
      } else {
        CHECK(f->size() == 32u * 24);
        CHECK(f->pix_fmt == "gray");
      }
      CHECK(f->number == static_cast<std::uint64_t>(n[f->output_index]));
      ++n[f->output_index];
    }
    auto st = co_await ff->wait();
    REQUIRE(st);
    co_return n;
  }());
  CHECK(counts[0] == 20);
  CHECK(counts[1] == 20);
}

TEST_CASE("interleaved outputs at different rates: an error event, then chunks", "[events]") {
  auto r = run([]() -> awaitable<std::pair<std::size_t, bool>> {
    auto ff = command{}
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
                  .output("pipe:1")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::size_t bytes = 0;
    bool error_seen = false;
    while (auto e = co_await ff->next_event()) {
      if (auto* c = std::get_if<chunk>(&*e)) bytes += c->size();
      if (auto* x = std::get_if<error_event>(&*e)) {
        error_seen = true;
        CHECK(x->error.message().find("frame rates") != std::string::npos);
      }
      CHECK_FALSE(std::holds_alternative<frame>(*e));
    }
    auto st = co_await ff->wait();
    REQUIRE(st);
    co_return std::pair{bytes, error_seen};
  }());
  CHECK(r.second);
  // Every byte of both outputs arrives: whole frames, at least 10 + 5 of them.
  CHECK(r.first % (64u * 48 * 3) == 0);
  CHECK(r.first >= 64u * 48 * 3 * (10 + 5));
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
    {
      auto status = co_await ff->wait();
      CHECK(status);
    }
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
    {
      auto status = co_await ff->wait();
      CHECK(status);
    }
  }());
}

TEST_CASE("progress events carry time, speed and a percent of the known total", "[events]") {
  auto ps = run([]() -> awaitable<std::vector<progress>> {
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=320x240:rate=25")
                  .duration("4")
                  .stats_period("0.1")
                  .codec_video("mpeg4")
                  .format("null")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::vector<progress> out;
    while (auto p = co_await ff->next_progress())
      out.push_back(*p);
    {
      auto status = co_await ff->wait();
      CHECK(status);
    }
    co_return out;
  }());
  REQUIRE_FALSE(ps.empty());
  const auto& last = ps.back();
  CHECK(last.final);
  REQUIRE(last.frame);
  CHECK(*last.frame == 100);
  REQUIRE(last.time);
  CHECK(last.time->count() == Approx(4e6).margin(1e5));
  REQUIRE(last.percent);
  CHECK(*last.percent == Approx(100.0));
  for (const auto& p : ps) {
    if (!p.percent) continue;
    CHECK(*p.percent >= 0.0);
    CHECK(*p.percent <= 100.0);
  }
  CHECK(last.speed.has_value());
}

TEST_CASE("-progress pipe:3 is read from its own fd as the source of progress", "[events]") {
  auto ps = run([]() -> awaitable<std::vector<progress>> {
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=size=320x240:rate=25")
                  .frames(50)
                  .progress_url("pipe:3")
                  .stats_period("0.1")
                  .codec_video("mpeg4")
                  .format("null")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::vector<progress> out;
    while (auto p = co_await ff->next_progress())
      out.push_back(*p);
    {
      auto status = co_await ff->wait();
      CHECK(status);
    }
    co_return out;
  }());
  REQUIRE_FALSE(ps.empty());
  CHECK(ps.back().final);
  REQUIRE(ps.back().frame);
  CHECK(*ps.back().frame == 50);
  REQUIRE(ps.back().percent);
  CHECK(*ps.back().percent == Approx(100.0));
  // Only the pipe's blocks: every one of them ends at progress=continue/end; there is one end.
  CHECK(std::count_if(ps.begin(), ps.end(), [](auto& p) { return p.final; }) == 1);
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
    auto st = co_await ff->wait();
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
    auto st = co_await ff->wait();
    CHECK(st);
    co_return n;
  }());
  CHECK(n >= 10);
}

TEST_CASE("a missing input ends the stream with an error event and a failed wait", "[events]") {
  run([]() -> awaitable<void> {
    auto ff = command{}
                  .input("/nonexistent/sidecar.mp4")
                  .rawvideo()
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::optional<error> seen;
    std::vector<log_line> errors;
    while (auto e = co_await ff->next_event()) {
      if (auto* x = std::get_if<error_event>(&*e)) seen = x->error;
      if (auto* l = std::get_if<log_line>(&*e);
          l && (l->level == log_level::error || l->level == log_level::fatal))
        errors.push_back(*l);
    }
    REQUIRE(seen);
    CHECK(*seen == errc::process_failed);
    REQUIRE(seen->status());
    CHECK(seen->status()->code > 0); // 1 up to 5.1, 254 on 7.x
    CHECK(seen->message().find("No such file or directory") != std::string::npos);
    REQUIRE_FALSE(errors.empty());
    // 5.1: "path: No such file or directory"; 7.x: the reason and the path on separate lines.
    CHECK(std::any_of(errors.begin(), errors.end(), [](auto& l) {
      return l.text.find("No such file or directory") != std::string::npos;
    }));
    CHECK(std::any_of(errors.begin(), errors.end(), [](auto& l) {
      return l.text.find("/nonexistent/sidecar.mp4") != std::string::npos;
    }));
    auto st = co_await ff->wait();
    REQUIRE_FALSE(st);
    CHECK(st.error() == errc::process_failed);
  }());
}

TEST_CASE("an unwritable output fails with ffmpeg's reason", "[events]") {
  run([]() -> awaitable<void> {
    auto ff = command{}
                  .format("lavfi")
                  .input("testsrc=duration=1")
                  .output("/nonexistent-dir/out.mp4")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    auto errs = co_await ff->errors();
    REQUIRE_FALSE(errs.empty());
    auto st = co_await ff->wait();
    REQUIRE_FALSE(st);
    CHECK(st.error().message().find("No such file or directory") != std::string::npos);
  }());
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
    {
      auto status = co_await ff->wait();
      CHECK(status);
    }
    co_return n;
  }());
  CHECK(n == 500);
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
        {
          auto status = co_await ff->wait();
          CHECK(status);
        }
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

TEST_CASE("invalid arguments fail at once with ffmpeg's reason", "[events]") {
  run([]() -> awaitable<void> {
    auto ff = command{}
                  .arg("-no_such_option")
                  .arg("1")
                  .format("lavfi")
                  .input("testsrc")
                  .format("null")
                  .output("-")
                  .spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    std::optional<error> seen;
    for (;;) {
      auto e = co_await ff->next_event();
      if (!e) break;
      if (auto* x = std::get_if<error_event>(&*e)) seen = x->error;
    }
    REQUIRE(seen);
    CHECK(seen->message().find("no_such_option") != std::string::npos);
    auto st = co_await ff->wait();
    REQUIRE_FALSE(st);
    REQUIRE(st.error().status());
    CHECK_FALSE(st.error().status()->success());
  }());
}

namespace {

using std::chrono::milliseconds;

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
  auto st = co_await ff->wait();
  CHECK(st);
  co_return r;
}

} // namespace

TEST_CASE("metadata() of an endless -nostats run returns once the outputs are described",
          "[events]") {
  // No stats line, no stdout, no end of stderr: only the header itself can settle it.
  auto r = run(metadata_of_endless(command{}
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
                                       .output("-")),
               20s);
  CHECK(r.took < 3000ms);
  CHECK(r.running);
  CHECK(r.meta.complete);
  CHECK(r.meta.inputs.size() == 2);
  REQUIRE(r.meta.outputs.size() == 1);
  CHECK(r.meta.mapping.size() == 2);
  auto out = r.meta.output_streams(0);
  REQUIRE(out.size() == 2); // both output streams, not just the first one described
  CHECK(out[0]->type == stream_type::video);
  CHECK(out[1]->type == stream_type::audio);

  // A filter graph's mapping names its output only in text.
  auto g = run(metadata_of_endless(command{}
                                       .arg("-nostats")
                                       .realtime()
                                       .format("lavfi")
                                       .input("testsrc=size=64x48:rate=25")
                                       .filter_complex("[0:v]scale=32:24[o]")
                                       .map("[o]")
                                       .format("null")
                                       .output("-")),
               20s);
  CHECK(g.took < 3000ms);
  CHECK(g.running);
  CHECK(g.meta.complete);
  auto gout = g.meta.output_streams(0);
  REQUIRE(gout.size() == 1);
  CHECK(gout[0]->width == 32);
}

TEST_CASE("metadata() of an endless run at a lowered log level returns at once, empty",
          "[events]") {
  auto r = run(metadata_of_endless(command{}
                                       .loglevel("error")
                                       .realtime()
                                       .format("lavfi")
                                       .input("testsrc=size=64x48:rate=25")
                                       .format("null")
                                       .output("-")),
               20s);
  CHECK(r.took < 500ms);
  CHECK(r.running);
  CHECK_FALSE(r.meta.complete); // less than usual was printed: this is all there is
  CHECK(r.meta.inputs.empty());
  CHECK(r.meta.outputs.empty());

  // Flags before the level, as ffmpeg accepts them.
  auto w = run(metadata_of_endless(command{}
                                       .arg("-v")
                                       .arg("repeat+level+warning")
                                       .realtime()
                                       .format("lavfi")
                                       .input("testsrc=size=64x48:rate=25")
                                       .format("null")
                                       .output("-")),
               20s);
  CHECK(w.took < 500ms);
  CHECK(w.running);
  CHECK_FALSE(w.meta.complete);
}

TEST_CASE("progress events carry an ETA that counts down to 0 when the total is known",
          "[events]") {
  auto ps = run(
      []() -> awaitable<std::vector<progress>> {
        auto ff = command{}
                      .realtime()
                      .format("lavfi")
                      .input("testsrc=size=64x48:rate=25")
                      .duration("2")
                      .stats_period("0.2")
                      .format("null")
                      .output("-")
                      .spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        std::vector<progress> out;
        while (auto p = co_await ff->next_progress())
          out.push_back(*p);
        auto st = co_await ff->wait();
        CHECK(st);
        co_return out;
      }(),
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
    auto st = co_await ff->wait();
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
  struct seen {
    std::vector<progress> ps;
    std::vector<log_line> notes;
  };
  auto r = run(
      []() -> awaitable<seen> {
        auto ff = command{}
                      .realtime()
                      .format("lavfi")
                      .input("testsrc=size=64x48:rate=25")
                      .duration("1.6")
                      .stats_period("0.1")
                      .format("null")
                      .output("-")
                      .spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        seen s;
        while (auto e = co_await ff->next_event()) {
          if (auto* p = std::get_if<progress>(&*e)) s.ps.push_back(*p);
          if (auto* l = std::get_if<log_line>(&*e); l && l->component == "sidecar")
            s.notes.push_back(*l);
        }
        auto st = co_await ff->wait();
        CHECK(st);
        co_return s;
      }(),
      20s);
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
