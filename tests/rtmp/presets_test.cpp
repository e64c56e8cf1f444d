// The streaming presets alone (no ffmpeg): the exact arguments each emits, and their knobs.
#include <sidecar/presets.hpp>

#include "catch.hpp"

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

using namespace sidecar;
using namespace std::chrono_literals;
using strings = std::vector<std::string>;

namespace {

command lavfi_inputs() {
  command c;
  c.format("lavfi").input("testsrc=size=320x240:rate=25").format("lavfi").input("sine");
  return c;
}

} // namespace

TEST_CASE("rtmp_push emits the low-latency guide's flags", "[presets]") {
  command c;
  c.input("in.mp4");
  rtmp_push(c, "rtmp://example.com/live/stream");
  CHECK(c.args() == strings{"-re",      "-i",        "in.mp4",
                            "-c:v",     "libx264",   "-preset",
                            "veryfast", "-tune",     "zerolatency",
                            "-b:v",     "3M",        "-g",
                            "50",       "-pix_fmt",  "yuv420p",
                            "-c:a",     "aac",       "-b:a",
                            "128k",     "-flvflags", "no_duration_filesize",
                            "-f",       "flv",       "rtmp://example.com/live/stream"});
}

TEST_CASE("rtmp_push puts -re in front of every input that has no rate limit", "[presets]") {
  auto c = lavfi_inputs();
  rtmp_push(c, "rtmp://h/live/s");
  strings head(c.args().begin(), c.args().begin() + 10);
  CHECK(head == strings{"-f", "lavfi", "-re", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi",
                        "-re", "-i", "sine"});

  command limited;
  limited.realtime().input("a.mp4").readrate(2.0).input("b.mp4").input("c.mp4");
  rtmp_push(limited, "rtmp://h/live/s");
  strings in(limited.args().begin(), limited.args().begin() + 10);
  CHECK(in == strings{"-re", "-i", "a.mp4", "-readrate", "2", "-i", "b.mp4", "-re", "-i", "c.mp4"});

  // Already a -re each: nothing added, whatever the order of the other input options.
  command twice;
  twice.realtime().format("lavfi").input("x").format("lavfi").realtime().input("y");
  auto before = twice.args();
  rtmp_push(twice, "rtmp://h/live/s",
            {.realtime = true,
             .video_codec = "copy",
             .audio_codec = "copy",
             .no_duration_filesize = false});
  strings expect = before;
  for (auto a : {"-c:v", "copy", "-c:a", "copy", "-f", "flv", "rtmp://h/live/s"})
    expect.push_back(a);
  CHECK(twice.args() == expect);
}

TEST_CASE("rtmp_push options: off, empty and copy leave their flags out", "[presets]") {
  command c;
  c.input("in.mp4");
  rtmp_push(c, "rtmp://h/app/key",
            {.realtime = false,
             .video_codec = "libx264",
             .preset = "",
             .tune = "",
             .video_bitrate = "1M",
             .gop = std::nullopt,
             .pix_fmt = "",
             .audio_codec = "",
             .audio_bitrate = "",
             .no_duration_filesize = false});
  CHECK(c.args() ==
        strings{"-i", "in.mp4", "-c:v", "libx264", "-b:v", "1M", "-f", "flv", "rtmp://h/app/key"});

  command copy;
  copy.input("in.flv");
  rtmp_push(copy, "rtmp://h/app/key",
            {.realtime = false, .video_codec = "copy", .gop = 25, .audio_codec = "copy"});
  CHECK(copy.args() == strings{"-i", "in.flv", "-c:v", "copy", "-c:a", "copy", "-flvflags",
                               "no_duration_filesize", "-f", "flv", "rtmp://h/app/key"});

  command gop;
  gop.input("in.mp4");
  rtmp_push(gop, "rtmp://h/live/s", {.gop = 25});
  auto& a = gop.args();
  auto g = std::find(a.begin(), a.end(), "-g");
  REQUIRE(g != a.end());
  CHECK(*(g + 1) == "25");
}

TEST_CASE("rtmp_push: the stream key is masked when the command is shown", "[presets]") {
  command c;
  c.input("in.mp4");
  rtmp_push(c, "rtmp://live.example.com/app/secret-key-123");
  auto shown = c.to_string();
  CHECK(shown.find("secret-key-123") == std::string::npos);
  CHECK(shown.find("rtmp://live.example.com/app/") != std::string::npos);
  // The argument itself is intact: only the display is masked.
  CHECK(c.args().back() == "rtmp://live.example.com/app/secret-key-123");
}

TEST_CASE("rtmp_listen makes the input a one-publisher RTMP server", "[presets]") {
  command c;
  rtmp_listen(c, "rtmp://127.0.0.1:1935/live/x");
  c.codec_video("copy").output("out.flv");
  CHECK(c.args() ==
        strings{"-listen", "1", "-i", "rtmp://127.0.0.1:1935/live/x", "-c:v", "copy", "out.flv"});

  command t;
  rtmp_listen(t, "rtmp://127.0.0.1/live/x", {.timeout = 10s});
  CHECK(t.args() == strings{"-listen", "1", "-timeout", "10", "-i", "rtmp://127.0.0.1/live/x"});
  // ffmpeg takes whole seconds: rounded up, never down to 0.
  command r;
  rtmp_listen(r, "rtmp://127.0.0.1/live/x", {.timeout = 1500ms});
  CHECK(r.args()[3] == "2");
  command z;
  rtmp_listen(z, "rtmp://127.0.0.1/live/x", {.timeout = 0ms});
  CHECK(z.args()[3] == "1");
}

TEST_CASE("hls_output emits the guide's HLS settings", "[presets]") {
  command c;
  c.input("in.mp4");
  hls_output(c, "/srv/hls");
  CHECK(c.args() == strings{"-i", "in.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                            "-force_key_frames", "expr:gte(t,n_forced*4)", "-c:a", "aac", "-f",
                            "hls", "-hls_time", "4", "-hls_list_size", "0", "-hls_segment_filename",
                            "/srv/hls/segment%03d.ts", "/srv/hls/playlist.m3u8"});
}

TEST_CASE("hls_output options", "[presets]") {
  command c;
  hls_output(c, "out",
             {.segment_seconds = 2.5,
              .list_size = 6,
              .segment_pattern = "s%05d.ts",
              .playlist = "index.m3u8",
              .gop = 25,
              .playlist_type = "event"});
  CHECK(c.args() == strings{"-c:v",
                            "libx264",
                            "-pix_fmt",
                            "yuv420p",
                            "-g",
                            "25",
                            "-force_key_frames",
                            "expr:gte(t,n_forced*2.5)",
                            "-c:a",
                            "aac",
                            "-f",
                            "hls",
                            "-hls_time",
                            "2.5",
                            "-hls_list_size",
                            "6",
                            "-hls_playlist_type",
                            "event",
                            "-hls_segment_filename",
                            "out/s%05d.ts",
                            "out/index.m3u8"});

  // copy: no encoder, so no encoder options; the cuts fall on the input's keyframes.
  command copy;
  hls_output(copy, "d",
             {.segment_seconds = 2, .video_codec = "copy", .gop = 25, .audio_codec = "copy"});
  CHECK(copy.args() == strings{"-c:v", "copy", "-c:a", "copy", "-f", "hls", "-hls_time", "2",
                               "-hls_list_size", "0", "-hls_segment_filename", "d/segment%03d.ts",
                               "d/playlist.m3u8"});

  command nokeys;
  hls_output(nokeys, "d", {.keyframes_at_segments = false});
  CHECK(std::find(nokeys.args().begin(), nokeys.args().end(), "-force_key_frames") ==
        nokeys.args().end());
}

TEST_CASE("hls_output: the directory goes into the segment pattern as it is", "[presets]") {
  // ffmpeg's hls muxer has no escape for '%' (it copies "%%" as is), so none is added.
  command c;
  hls_output(c, "/tmp/100% live/hls");
  auto& a = c.args();
  auto seg = std::find(a.begin(), a.end(), "-hls_segment_filename");
  REQUIRE(seg != a.end());
  CHECK(*(seg + 1) == "/tmp/100% live/hls/segment%03d.ts");
  CHECK(a.back() == "/tmp/100% live/hls/playlist.m3u8");
}

TEST_CASE("presets chain with the builder", "[presets]") {
  command c;
  c.hide_banner().format("lavfi").input("testsrc").duration("3");
  std::ostringstream shown;
  auto& same = rtmp_push(c, "rtmp://h/live/s").print_command(shown);
  CHECK(&same == &c);
  CHECK(shown.str().find("-f flv 'rtmp://h/live/***'") != std::string::npos);
  auto argv = c.argv();
  CHECK(argv.front() == "-loglevel");
  CHECK(argv.back() == "rtmp://h/live/s");
}
