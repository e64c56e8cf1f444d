// A hostile or buggy ffmpeg (a script run through SIDECAR_FFMPEG): floods of header lines
// and of tiny frames keep memory bounded and the stream whole.
#include <sidecar/ffmpeg_child.hpp>

#include "support.hpp"

#include <cstdlib>
#include <fstream>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

// Points SIDECAR_FFMPEG at a shell script for one scope.
class fake_ffmpeg {
public:
  explicit fake_ffmpeg(const std::string& body) {
    path_ = dir_ / "ffmpeg";
    {
      std::ofstream script(path_);
      script << "#!/bin/sh\n" << body;
    }
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all);
    if (const char* old = std::getenv("SIDECAR_FFMPEG")) saved_ = old;
    ::setenv("SIDECAR_FFMPEG", path_.c_str(), 1);
  }
  ~fake_ffmpeg() {
    if (saved_)
      ::setenv("SIDECAR_FFMPEG", saved_->c_str(), 1);
    else
      ::unsetenv("SIDECAR_FFMPEG");
  }

private:
  temp_dir dir_;
  std::filesystem::path path_;
  std::optional<std::string> saved_;
};

command any_command() {
  return command{}.format("lavfi").input("testsrc").format("rawvideo").output("-");
}

} // namespace

TEST_CASE("two million Stream lines keep metadata and memory bounded", "[events][hostile]") {
  // A mapping that names an output never described keeps metadata() waiting, so every
  // Stream line would test the whole header again: each test must stay cheap.
  fake_ffmpeg fake(R"sh(echo "Input #0, lavfi, from 'x':" >&2
echo "Stream mapping:" >&2
echo "  Stream #0:0 -> #1:0 (rawvideo (native) -> rawvideo (native))" >&2
yes "  Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 1x1, 25 fps, 25 tbr" |
  head -n 2000000 >&2
exit 0
)sh");
  auto before = rss_kib();
  auto [streams, peak, status] = run(
      []() -> awaitable<std::tuple<std::size_t, std::size_t, expected<exit_status>>> {
        auto ff = any_command().spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        auto meta = co_await ff->metadata();
        std::size_t peak = rss_kib();
        std::size_t n = 0;
        while (auto e = co_await ff->next_event()) {
          if (std::holds_alternative<stream_info>(*e)) ++n;
          if (n % 4096 == 0) peak = std::max(peak, rss_kib());
        }
        auto st = co_await ff->wait();
        co_return std::tuple{meta.streams.size(), std::max(peak, rss_kib()), std::move(st)};
      }(),
      120s);
  INFO("RSS " << before << " KiB before, " << peak << " KiB at most after");
  REQUIRE(status);
  CHECK(streams <= 1024);
  if (rss_is_meaningful) CHECK(peak < before + 64 * 1024);
  CHECK_FALSE(has_children());
}

TEST_CASE("a megabyte staged before the header is whole gives one-byte frames one at a time",
          "[events][hostile]") {
  // Output #0 is 1x1 gray rawvideo on stdout (1-byte frames), but the mapping also names an
  // output never described: stdout is staged until its end, then framed. A million frames
  // come as the program pulls them, not as a burst of a million queued events.
  fake_ffmpeg fake(R"sh(echo "Output #0, rawvideo, to 'pipe:':" >&2
echo "  Stream #0:0: Video: rawvideo, gray, 1x1, 25 fps, 25 tbn" >&2
echo "Stream mapping:" >&2
echo "  Stream #0:0 -> #0:0 (rawvideo (native) -> rawvideo (native))" >&2
echo "  Stream #0:0 -> #1:0 (rawvideo (native) -> rawvideo (native))" >&2
head -c 1048576 /dev/zero
exit 0
)sh");
  auto before = rss_kib();
  auto [frames, peak, status] = run(
      []() -> awaitable<std::tuple<std::size_t, std::size_t, expected<exit_status>>> {
        auto ff = any_command().spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        std::size_t n = 0, peak = 0;
        while (auto f = co_await ff->next_frame()) {
          if (f->size() != 1) break;
          if (++n % 65536 == 1) peak = std::max(peak, rss_kib());
        }
        auto st = co_await ff->wait();
        co_return std::tuple{n, peak, std::move(st)};
      }(),
      120s);
  INFO("RSS " << before << " KiB before, " << peak << " KiB at most while reading");
  REQUIRE(status);
  CHECK(frames == 1048576);
  if (rss_is_meaningful) CHECK(peak < before + 64 * 1024);
  CHECK_FALSE(has_children());
}

TEST_CASE("staged bytes that end inside a frame: the rest is read from the pipe",
          "[events][hostile]") {
  // stdout starts before stderr has described every output; once decided, the staged bytes
  // hold a frame and two thirds of the next. The rest must be read from the pipe although
  // stderr has gone quiet and the program waits on its stdin: only the third frame lets the
  // test close it.
  fake_ffmpeg fake(R"sh(echo "Output #0, rawvideo, to 'pipe:':" >&2
echo "  Stream #0:0: Video: rawvideo, rgb24, 1x1, 25 fps, 25 tbn" >&2
echo "Stream mapping:" >&2
echo "  Stream #0:0 -> #0:0 (rawvideo (native) -> rawvideo (native))" >&2
echo "  Stream #0:0 -> #1:0 (rawvideo (native) -> wrapped_avframe (native))" >&2
printf 'abcd'
sleep 0.3
echo "Output #1, null, to '/dev/null':" >&2
echo "  Stream #1:0: Video: wrapped_avframe, rgb24, 1x1, 25 fps, 25 tbn" >&2
sleep 0.3
printf 'e'
sleep 0.3
printf 'fghi'
read x
exit 0
)sh");
  auto [frames, status] = run(
      []() -> awaitable<std::pair<int, expected<exit_status>>> {
        auto ff = any_command().spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        int n = 0;
        while (auto f = co_await ff->next_frame()) {
          if (++n == 3) ff->close_stdin();
        }
        co_return std::pair{n, co_await ff->wait()};
      }(),
      20s);
  CHECK(frames == 3);
  CHECK(status);
  CHECK_FALSE(has_children());
}

TEST_CASE("metadata() waits for every output stream the mapping names, though stdout starts first",
          "[events][hostile]") {
  // As ffmpeg 4 can interleave it: the muxer's header reaches stdout while stderr has
  // described Output #0's first stream only. metadata() must not settle on half an output.
  fake_ffmpeg fake(R"sh(echo "Stream mapping:" >&2
echo "  Stream #0:0 -> #0:0 (rawvideo (native) -> mpeg4 (native))" >&2
echo "  Stream #1:0 -> #0:1 (pcm_s16le (native) -> pcm_s16le (native))" >&2
echo "Output #0, nut, to 'pipe:':" >&2
echo "  Stream #0:0: Video: mpeg4, yuv420p, 320x240, 25 fps, 25 tbn" >&2
printf 'nut header'
sleep 0.3
echo "  Stream #0:1: Audio: pcm_s16le, 44100 Hz, mono, s16, 705 kb/s" >&2
printf 'packets'
exit 0
)sh");
  auto [outs, complete, status] = run(
      []() -> awaitable<std::tuple<std::size_t, bool, expected<exit_status>>> {
        auto ff = any_command().spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        auto m = co_await ff->metadata();
        std::size_t bytes = 0;
        while (auto e = co_await ff->next_event())
          if (auto* c = std::get_if<chunk>(&*e)) bytes += c->size();
        CHECK(bytes == 17); // nothing staged was lost
        co_return std::tuple{m.output_streams(0).size(), m.complete, co_await ff->wait()};
      }(),
      20s);
  CHECK(outs == 2);
  CHECK(complete);
  CHECK(status);
  CHECK_FALSE(has_children());
}
