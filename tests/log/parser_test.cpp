// The stderr parser and the -progress reader on recorded (5.1) and documented (4.x, 6.x, 7.x)
// fixtures, split feeds, long lines, bad bytes and every stats-line variant.
#include <sidecar/detail/error_record.hpp>
#include <sidecar/log.hpp>

#include "catch.hpp"
#include "log_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

using namespace sidecar;
using namespace std::chrono_literals;
using namespace log_support;

namespace {

// The documented and 5.1 fixtures, then every version's recorded stderr (versions/TAG/*.log).
const std::vector<std::string> all_fixtures = [] {
  std::vector<std::string> names = {
      "4.x-documented.log",     "5.1-audio-only.log",      "5.1-image.log",
      "5.1-invalid-filter.log", "5.1-missing-input.log",   "5.1-multi-output.log",
      "5.1-rawvideo-pipe.log",  "5.1-unknown-encoder.log", "5.1-verbose-copy.log",
      "6.x-documented.log",     "7.x-documented.log"};
  for (const auto& tag : version_tags())
    for (const auto& entry : std::filesystem::directory_iterator(fixtures() / "versions" / tag))
      if (entry.path().extension() == ".log")
        names.push_back("versions/" + tag + "/" + entry.path().filename().string());
  std::sort(names.begin() + 11, names.end());
  return names;
}();

} // namespace

TEST_CASE("5.1 rawvideo to a pipe: banner, metadata, progress", "[log]") {
  auto ev = parse_all(fixture("5.1-rawvideo-pipe.log"));
  auto versions = all_of<version_info>(ev);
  REQUIRE(versions.size() == 1);
  CHECK(versions[0].version == "5.1.9-0+deb12u1");
  CHECK(versions[0].major == 5);
  CHECK(versions[0].minor == 1);
  CHECK(versions[0].micro == 9);
  REQUIRE(all_of<configuration_info>(ev).size() == 1);
  CHECK(all_of<configuration_info>(ev)[0].flags.size() > 10);
  auto libs = all_of<library_version>(ev);
  REQUIRE(libs.size() == 8);
  CHECK(libs[0].name == "libavutil");
  CHECK(libs[0].compiled == "57.28.100");
  CHECK(libs[3].name == "libavdevice");
  CHECK(libs[3].runtime == "59.7.100");

  auto inputs = all_of<input_info>(ev);
  REQUIRE(inputs.size() == 1);
  CHECK(inputs[0].format == "lavfi");
  CHECK(inputs[0].url == "testsrc=duration=2:size=320x240:rate=25");
  auto durations = all_of<duration_info>(ev);
  REQUIRE(durations.size() == 1);
  CHECK_FALSE(durations[0].duration);
  REQUIRE(durations[0].start);
  CHECK(*durations[0].start == 0us);
  CHECK_FALSE(durations[0].bitrate_kbps);

  auto streams = all_of<stream_info>(ev);
  REQUIRE(streams.size() == 2);
  CHECK_FALSE(streams[0].is_output);
  CHECK(streams[0].codec == "rawvideo");
  CHECK(streams[0].pix_fmt == "rgb24");
  CHECK(streams[0].width == 320);
  CHECK(streams[0].height == 240);
  REQUIRE(streams[0].fps);
  CHECK(*streams[0].fps == 25.0); // from "25 tbr"
  CHECK(streams[1].is_output);
  CHECK(streams[1].file_index == 0);
  CHECK(streams[1].pix_fmt == "rgb24");
  REQUIRE(streams[1].fps);
  CHECK(*streams[1].fps == 25.0);

  auto map = all_of<stream_mapping_entry>(ev);
  REQUIRE(map.size() == 1);
  CHECK(map[0].input_file == 0);
  CHECK(map[0].output_stream == 0);
  CHECK_FALSE(map[0].copy);
  auto outputs = all_of<output_info>(ev);
  REQUIRE(outputs.size() == 1);
  CHECK(outputs[0].format == "rawvideo");
  CHECK(outputs[0].url == "pipe:1");
  CHECK(outputs[0].to_stdout);

  auto ps = all_of<progress>(ev);
  REQUIRE(ps.size() == 2);
  CHECK_FALSE(ps[0].speed); // speed=N/A
  CHECK_FALSE(ps[0].bitrate_kbps);
  CHECK(ps[1].final);
  CHECK(*ps[1].frame == 50);
  CHECK(*ps[1].size_bytes == 11250u * 1024);
  CHECK(*ps[1].time == 2s);
  CHECK(*ps[1].bitrate_kbps == Approx(46080.0));
  CHECK(*ps[1].speed == Approx(80.6));
  CHECK(*ps[1].q == Approx(-0.0));
  // "Press [q]" and the summary are plain info lines.
  auto lines = all_of<log_line>(ev);
  CHECK(std::any_of(lines.begin(), lines.end(), [](auto& l) {
    return l.level == log_level::info && l.text.starts_with("Press [q] to stop");
  }));
}

TEST_CASE("5.1 audio only: stats without frame=, the summary marks the last one final", "[log]") {
  auto ev = parse_all(fixture("5.1-audio-only.log"));
  auto streams = all_of<stream_info>(ev);
  REQUIRE(streams.size() == 2);
  CHECK(streams[0].type == stream_type::audio);
  CHECK(streams[0].codec == "pcm_s16le");
  CHECK(streams[0].sample_rate == 44100);
  CHECK(streams[0].channel_layout == "mono");
  CHECK(streams[0].sample_format == "s16");
  CHECK(streams[1].codec == "mp3");
  CHECK(streams[1].sample_format == "s16p");
  CHECK(all_of<duration_info>(ev)[0].bitrate_kbps == 705.0);
  auto ps = all_of<progress>(ev);
  REQUIRE(ps.size() == 3); // two stats lines, the last repeated as final
  CHECK_FALSE(ps[0].frame);
  CHECK(*ps[1].size_bytes == 24u * 1024);
  CHECK(*ps[1].time == 3s);
  CHECK_FALSE(ps[1].final);
  CHECK(ps[2].final);
  CHECK(*ps[2].time == 3s);
  CHECK(std::count_if(ps.begin(), ps.end(), [](auto& p) { return p.final; }) == 1);
}

TEST_CASE("5.1 multi-output: files, stream ids, languages, copy, stdout", "[log]") {
  auto ev = parse_all(fixture("5.1-multi-output.log"));
  auto outputs = all_of<output_info>(ev);
  REQUIRE(outputs.size() == 3);
  CHECK(outputs[0].index == 1); // ffmpeg printed Output #1 first
  CHECK(outputs[0].format == "ipod");
  CHECK_FALSE(outputs[0].to_stdout);
  CHECK(outputs[2].index == 2);
  CHECK(outputs[2].to_stdout);
  auto streams = all_of<stream_info>(ev);
  REQUIRE(streams.size() == 5);
  const auto& v = streams[0];
  CHECK(v.id == "0x1");
  CHECK(v.language == "und");
  CHECK(v.codec == "h264");
  CHECK(v.pix_fmt == "yuv444p");
  CHECK(v.width == 320);
  CHECK(*v.fps == 25.0);
  const auto& a = streams[1];
  CHECK(a.id == "0x2");
  CHECK(a.language == "eng");
  CHECK(a.type == stream_type::audio);
  CHECK(a.sample_format == "fltp");
  // Output streams carry their output's index.
  CHECK(streams[2].is_output);
  CHECK(streams[2].file_index == 1);
  CHECK(streams[3].file_index == 0);
  CHECK(streams[3].pix_fmt == "yuv420p");
  CHECK(streams[4].file_index == 2);
  CHECK(streams[4].pix_fmt == "gray");
  CHECK(streams[4].width == 160);
  auto map = all_of<stream_mapping_entry>(ev);
  REQUIRE(map.size() == 3);
  CHECK(map[1].copy);
  CHECK(map[1].output_file == 1);
  CHECK(map[2].output_file == 2);
  auto durations = all_of<duration_info>(ev);
  REQUIRE(durations.size() == 1);
  CHECK(*durations[0].duration == 5s);
  CHECK(*durations[0].bitrate_kbps == 119.0);
  auto ps = all_of<progress>(ev);
  REQUIRE_FALSE(ps.empty());
  CHECK(ps.back().final); // `Lq=` on the last line
  CHECK(*ps.back().frame == 125);
  CHECK(*ps.front().q == Approx(4.7)); // the first of two q=
}

TEST_CASE("5.1 failures: error and fatal lines keep their level and component", "[log]") {
  auto missing = all_of<log_line>(parse_all(fixture("5.1-missing-input.log")));
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].level == log_level::error);
  CHECK(missing[0].text == "/nonexistent/input.mp4: No such file or directory");

  auto encoder = all_of<log_line>(parse_all(fixture("5.1-unknown-encoder.log")));
  REQUIRE_FALSE(encoder.empty());
  CHECK(encoder.back().level == log_level::fatal);
  CHECK(encoder.back().text == "Unknown encoder 'no_such_codec'");

  auto filter = all_of<log_line>(parse_all(fixture("5.1-invalid-filter.log")));
  auto it = std::find_if(filter.begin(), filter.end(), [](auto& l) {
    return l.text.find("No such filter") != std::string::npos;
  });
  REQUIRE(it != filter.end());
  CHECK(it->level == log_level::error);
  CHECK(it->component.starts_with("AVFilterGraph @ 0x"));
  CHECK(it->text == "No such filter: 'no_such_filter'");

  auto image = all_of<log_line>(parse_all(fixture("5.1-image.log")));
  CHECK(std::count_if(image.begin(), image.end(), [](auto& l) {
          return l.level == log_level::warning && l.component.starts_with("image2 @");
        }) == 2);
}

TEST_CASE("5.1 verbose: every line parses, levels include verbose", "[log]") {
  auto ev = parse_all(fixture("5.1-verbose-copy.log"));
  auto lines = all_of<log_line>(ev);
  CHECK(std::any_of(lines.begin(), lines.end(),
                    [](auto& l) { return l.level == log_level::verbose; }));
  CHECK(all_of<input_info>(ev).size() == 1);
  CHECK(all_of<output_info>(ev).size() == 1);
  auto map = all_of<stream_mapping_entry>(ev);
  REQUIRE(map.size() == 2);
  CHECK(map[0].copy);
  CHECK(map[1].copy);
  for (const auto& l : lines)
    CHECK(l.level != log_level::unknown);
}

TEST_CASE("ffmpeg 4.x: component tags, filter graph mapping, kB, dup/drop", "[log]") {
  auto ev = parse_all(fixture("4.x-documented.log"));
  auto v = all_of<version_info>(ev);
  REQUIRE(v.size() == 1);
  CHECK(v[0].version == "4.3.1-static");
  CHECK(v[0].major == 4);
  CHECK(v[0].micro == 1);
  auto in = all_of<input_info>(ev);
  REQUIRE(in.size() == 1);
  CHECK(in[0].format == "rtsp");
  auto streams = all_of<stream_info>(ev);
  REQUIRE(streams.size() == 3);
  CHECK(streams[0].type == stream_type::audio);
  CHECK(streams[0].sample_rate == 48000);
  CHECK(streams[1].pix_fmt == "yuvj420p");
  CHECK(streams[1].width == 1280);
  CHECK(streams[1].height == 720);
  CHECK(*streams[1].fps == 15.0);
  CHECK(streams[2].is_output);
  CHECK(streams[2].pix_fmt == "pal8");
  auto map = all_of<stream_mapping_entry>(ev);
  REQUIRE(map.size() == 2);
  CHECK(map[0].input_stream == 1);
  CHECK(map[0].output_file == -1); // into a filter graph
  CHECK(map[1].text == "paletteuse -> Stream #0:0 (gif)");
  auto lines = all_of<log_line>(ev);
  auto pg = std::find_if(lines.begin(), lines.end(),
                         [](auto& l) { return l.component.starts_with("Parsed_palettegen_0"); });
  REQUIRE(pg != lines.end());
  CHECK(pg->level == log_level::info);
  auto ps = all_of<progress>(ev);
  REQUIRE(ps.size() == 3);
  CHECK(*ps[0].speed == Approx(0.00222));
  CHECK(*ps[1].dup == 1);
  CHECK(*ps[1].drop == 2);
  CHECK(ps[2].final);
  CHECK(*ps[2].size_bytes == 300u * 1024);
}

TEST_CASE("ffmpeg 6.x: KiB, exponent speed, negative time, subtitle and attachment", "[log]") {
  auto ev = parse_all(fixture("6.x-documented.log"));
  auto v = all_of<version_info>(ev);
  REQUIRE(v.size() == 1);
  CHECK(v[0].major == 6);
  CHECK(v[0].minor == 1);
  auto d = all_of<duration_info>(ev);
  REQUIRE(d.size() == 1);
  CHECK(*d[0].duration == std::chrono::microseconds(5614900000));
  CHECK(*d[0].start == -7000us);
  auto streams = all_of<stream_info>(ev);
  REQUIRE(streams.size() == 5);
  CHECK(*streams[0].fps == Approx(23.98));
  CHECK(streams[1].channel_layout == "5.1(side)");
  CHECK(streams[1].language == "jpn");
  CHECK(streams[2].type == stream_type::subtitle);
  CHECK(streams[2].codec == "subrip");
  CHECK(streams[3].type == stream_type::attachment);
  CHECK(streams[4].is_output);
  CHECK(streams[4].sample_format == "s16");
  auto out = all_of<output_info>(ev);
  REQUIRE(out.size() == 1);
  CHECK(out[0].to_stdout); // 'pipe:'
  auto ps = all_of<progress>(ev);
  REQUIRE(ps.size() == 4);
  CHECK(*ps[0].size_bytes == 1024u * 1024);
  CHECK(*ps[0].speed == Approx(2290.0));
  CHECK(*ps[1].time == -40000us);
  CHECK_FALSE(ps[1].size_bytes);
  CHECK_FALSE(ps[2].final);
  CHECK(ps[3].final); // repeated from the [out#0/wav] summary
  auto lines = all_of<log_line>(ev);
  CHECK(std::any_of(lines.begin(), lines.end(),
                    [](auto& l) { return l.component.starts_with("out#0/wav @"); }));
}

TEST_CASE("ffmpeg 7.x: elapsed=, KiB, 59.94 fps, stream keys stay in the url", "[log]") {
  auto ev = parse_all(fixture("7.x-documented.log"));
  auto v = all_of<version_info>(ev);
  REQUIRE(v.size() == 1);
  CHECK(v[0].major == 7);
  CHECK(v[0].micro == 2);
  CHECK(all_of<library_version>(ev).size() == 3);
  auto streams = all_of<stream_info>(ev);
  REQUIRE(streams.size() == 4);
  CHECK(*streams[0].fps == Approx(59.94));
  CHECK(streams[0].width == 1920);
  auto ps = all_of<progress>(ev);
  REQUIRE(ps.size() == 3);
  CHECK(*ps[0].elapsed == 10150000us);
  CHECK(*ps[0].size_bytes == 16640u * 1024);
  CHECK(*ps[0].fps == 235.0);
  CHECK(*ps[1].drop == 3);
  CHECK(ps[2].final);
  CHECK(*ps[2].frame == 7193);
  CHECK(*ps[2].time == 120s);
  CHECK(*ps[2].q == Approx(-1.0));
  auto lines = all_of<log_line>(ev);
  auto vist = std::find_if(lines.begin(), lines.end(),
                           [](auto& l) { return l.component.starts_with("vist#0:0/h264 @"); });
  REQUIRE(vist != lines.end());
  CHECK(vist->level == log_level::warning);
}

TEST_CASE("every fixture parses the same whole, byte by byte and in random slices", "[log]") {
  std::mt19937 rng(1234);
  for (const auto& name : all_fixtures) {
    INFO(name);
    auto bytes = fixture(name);
    auto whole = serialize_all(parse_all(bytes));
    REQUIRE_FALSE(whole.empty());

    log_parser one;
    std::vector<log_event> got;
    auto sink = [&](log_event&& e) { got.push_back(std::move(e)); };
    for (char c : bytes)
      one.feed(std::string_view(&c, 1), sink);
    one.finish(sink);
    CHECK(serialize_all(got) == whole);

    for (int round = 0; round < 5; ++round) {
      log_parser sliced;
      got.clear();
      std::size_t at = 0;
      while (at < bytes.size()) {
        auto n = std::uniform_int_distribution<std::size_t>(1, 97)(rng);
        sliced.feed(std::string_view(bytes).substr(at, n), sink);
        at += n;
      }
      sliced.finish(sink);
      CHECK(serialize_all(got) == whole);
    }
  }
}

TEST_CASE("line endings: \\n, \\r, \\r\\n and a last line without one", "[log]") {
  auto ev = parse_all("[info] a\r\n[info] b\r[info] c\n\n\n[warning] d");
  auto lines = all_of<log_line>(ev);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].text == "a");
  CHECK(lines[1].text == "b");
  CHECK(lines[2].text == "c");
  CHECK(lines[3].text == "d");
  CHECK(lines[3].level == log_level::warning);
  // \r\n split across feeds is still one line ending.
  log_parser p;
  std::vector<log_event> got;
  auto sink = [&](log_event&& e) { got.push_back(std::move(e)); };
  p.feed("x\r", sink);
  p.feed("\ny\n", sink);
  CHECK(got.size() == 2);
}

TEST_CASE("a line longer than the bound is cut, memory stays bounded", "[log]") {
  log_parser p;
  std::size_t events = 0, longest = 0;
  auto sink = [&](log_event&& e) {
    ++events;
    if (auto* l = std::get_if<log_line>(&e)) longest = std::max(longest, l->text.size());
  };
  std::string chunk(4096, 'a');
  for (int i = 0; i < 256; ++i)
    p.feed(chunk, sink); // 1 MiB without a newline
  p.feed("\n", sink);
  p.finish(sink);
  CHECK(p.cut_lines() >= 15);
  CHECK(longest <= log_parser::max_line);
  CHECK(events == 16);
  // The same line arriving whole is cut the same way.
  std::string big(1 << 20, 'b');
  big += '\n';
  auto whole = parse_all(big);
  CHECK(whole.size() == 16);
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD, valid UTF-8 stays", "[log]") {
  auto ev = parse_all("[error] bad \xff\xfe name \xc3\x28 \xe2\x82\xac ok \xed\xa0\x80\n");
  auto lines = all_of<log_line>(ev);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].text == "bad \xEF\xBF\xBD\xEF\xBF\xBD name \xEF\xBF\xBD( \xE2\x82\xAC ok "
                         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  auto in = all_of<input_info>(parse_all("Input #0, mov, from '/tmp/\xff.mp4':\n"));
  REQUIRE(in.size() == 1);
  CHECK(in[0].url == "/tmp/\xEF\xBF\xBD.mp4");
}

TEST_CASE("every stats-line variant", "[log]") {
  struct row {
    const char* line;
    std::optional<std::uint64_t> frame;
    std::optional<std::uint64_t> size;
    std::optional<std::int64_t> time_us;
    std::optional<double> speed;
    bool final;
  };
  const row rows[] = {
      {"frame=  250 fps=0.0 q=-0.0 Lsize=N/A time=00:00:10.00 bitrate=N/A speed= 114x", 250,
       std::nullopt, 10000000, 114.0, true},
      {"frame=    1 fps=0.0 q=0.0 size=       0kB time=00:00:00.00 bitrate=N/A speed=N/A    ", 1, 0,
       0, std::nullopt, false},
      {"size=     188kB time=00:00:12.00 bitrate= 128.3kbits/s speed= 521x", std::nullopt,
       188 * 1024, 12000000, 521.0, false},
      {"size=     188KiB time=00:00:12.00 bitrate= 128.3kbits/s speed= 521x", std::nullopt,
       188 * 1024, 12000000, 521.0, false},
      {"frame=   10 fps=5.0 q=-1.0 size=N/A time=N/A bitrate=N/A speed=2.29e+03x", 10, std::nullopt,
       std::nullopt, 2290.0, false},
      {"frame= 2388 fps=235 q=21.0 size=   16640KiB time=00:00:39.75 bitrate=3429.3kbits/s "
       "speed=3.91x elapsed=0:00:10.15    ",
       2388, 16640 * 1024, 39750000, 3.91, false},
      {"frame=    3 fps=0.0 q=0.0 size=       0kB time=-00:00:00.04 bitrate=  -0.0kbits/s "
       "dup=1 drop=0 speed=N/A",
       3, 0, -40000, std::nullopt, false},
      {"frame=   42 fps= 21 q=28.0 Lsize=    512kB time=01:02:03.50 bitrate=   1.1kbits/s "
       "speed=   1x",
       42, 512 * 1024, 3723500000, 1.0, true},
  };
  for (const auto& r : rows) {
    INFO(r.line);
    auto p = parse_progress_line(r.line);
    REQUIRE(p);
    CHECK(p->frame == r.frame);
    CHECK(p->size_bytes == r.size);
    if (r.time_us) {
      REQUIRE(p->time);
      CHECK(p->time->count() == *r.time_us);
    } else {
      CHECK_FALSE(p->time);
    }
    if (r.speed) {
      REQUIRE(p->speed);
      CHECK(*p->speed == Approx(*r.speed));
    } else {
      CHECK_FALSE(p->speed);
    }
    CHECK(p->final == r.final);
    // Through the parser, with a level prefix and a \r ending, the same.
    auto ev = parse_all(std::string("[info] ") + r.line + "\r");
    REQUIRE(ev.size() == 1);
    CHECK(std::holds_alternative<progress>(ev[0]));
  }
  CHECK_FALSE(parse_progress_line("frame rate is 25"));
  CHECK_FALSE(parse_progress_line("video:300kB audio:0kB muxing overhead: 0.1%"));
}

TEST_CASE("parse_line and parse_version_line outside a stream", "[log]") {
  CHECK(std::holds_alternative<version_info>(
      parse_line("ffprobe version n7.1 Copyright (c) 2007-2024 the FFmpeg developers")));
  auto v = parse_version_line("ffmpeg version N-113296-g2b0a4a7 Copyright (c) 2000-2024");
  REQUIRE(v);
  CHECK(v->version == "N-113296-g2b0a4a7");
  CHECK(v->major == -1);
  auto n = parse_version_line("ffprobe version n7.1 Copyright");
  REQUIRE(n);
  CHECK(n->major == 7);
  CHECK(n->minor == 1);
  CHECK_FALSE(parse_version_line("ffmpeg: command not found"));
  auto s =
      parse_line("  Stream #0:2[0x3](fre): Subtitle: dvd_subtitle (mp4s / 0x7334706D), 720x576");
  REQUIRE(std::holds_alternative<stream_info>(s));
  CHECK(std::get<stream_info>(s).id == "0x3");
  CHECK(std::get<stream_info>(s).language == "fre");
  CHECK(std::get<stream_info>(s).stream_index == 2);
  auto l = parse_line("[panic] boom");
  REQUIRE(std::holds_alternative<log_line>(l));
  CHECK(std::get<log_line>(l).level == log_level::panic);
  CHECK(parse_log_level("trace") == log_level::trace);
  CHECK(parse_log_level("nope") == log_level::unknown);
}

TEST_CASE("-progress blocks, recorded and split anywhere", "[log]") {
  auto bytes = fixture("5.1-progress-pipe.txt");
  auto read = [](std::string_view b, std::size_t step) {
    progress_reader r;
    std::vector<progress> out;
    for (std::size_t at = 0; at < b.size(); at += step)
      r.feed(b.substr(at, step), [&](progress&& p) { out.push_back(std::move(p)); });
    return out;
  };
  auto whole = read(bytes, bytes.size());
  REQUIRE(whole.size() == 2);
  CHECK(*whole[0].frame == 1);
  CHECK(*whole[0].time == 40000us);
  CHECK_FALSE(whole[0].size_bytes); // total_size=N/A
  CHECK_FALSE(whole[0].final);
  CHECK(*whole[1].frame == 50);
  CHECK(whole[1].final);
  CHECK(*whole[1].time == 2s);
  for (std::size_t step : {1, 2, 7, 64}) {
    auto parts = read(bytes, step);
    REQUIRE(parts.size() == whole.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
      CHECK(parts[i].frame == whole[i].frame);
      CHECK(parts[i].time == whole[i].time);
      CHECK(parts[i].final == whole[i].final);
    }
  }
  // Keys of other versions: bitrate and total_size with values, out_time only.
  progress_reader r;
  std::vector<progress> out;
  r.feed("frame=5338\nfps=343.14\nstream_0_0_q=17.0\nbitrate= 195.5kbits/s\n"
         "total_size=5242928\nout_time=00:03:34.549333\nspeed=13.8x\nprogress=continue\n",
         [&](progress&& p) { out.push_back(std::move(p)); });
  REQUIRE(out.size() == 1);
  CHECK(*out[0].q == 17.0);
  CHECK(*out[0].bitrate_kbps == Approx(195.5));
  CHECK(*out[0].size_bytes == 5242928);
  CHECK(out[0].time->count() == 214549333);
  CHECK(*out[0].speed == Approx(13.8));
}

TEST_CASE("a -progress line longer than 4 KiB is dropped whole however it is sliced", "[log]") {
  // The fuzzer's finding: a feed that overflowed the line limit without a newline dropped what
  // it had and parsed the rest of that line as a new one, so `progress=continue` hidden at the
  // end of a garbage line became an event, or not, depending on where the pipe cut the bytes.
  const std::string bytes =
      "frame=3\n" + std::string(4100, 'x') + "progress=continue\nframe=7\nprogress=end\n";
  auto read = [&](std::vector<std::size_t> cuts) {
    progress_reader r;
    std::vector<progress> out;
    std::size_t at = 0;
    cuts.push_back(bytes.size());
    for (auto cut : cuts) {
      r.feed(std::string_view(bytes).substr(at, cut - at),
             [&](progress&& p) { out.push_back(std::move(p)); });
      at = cut;
    }
    return out;
  };
  const std::size_t line = 8; // where the long line starts
  for (auto cuts : std::vector<std::vector<std::size_t>>{{},
                                                         {line + 1},
                                                         {line + 4096},
                                                         {line + 4100},
                                                         {line + 4101},
                                                         {line + 4096, line + 4101},
                                                         {line + 4097, line + 4100 + 9}}) {
    CAPTURE(cuts);
    auto out = read(cuts);
    REQUIRE(out.size() == 1); // only the block that ends at progress=end
    CHECK(*out[0].frame == 7);
    CHECK(out[0].final);
  }
  std::vector<std::size_t> ones;
  for (std::size_t i = 1; i < bytes.size(); ++i)
    ones.push_back(i);
  auto out = read(ones);
  REQUIRE(out.size() == 1);
  CHECK(*out[0].frame == 7);
}

TEST_CASE("the log layer's helpers: ffmpeg's time syntax, -loglevel values, UTF-8 repair",
          "[log]") {
  CHECK(parse_ffmpeg_time("12.5") == 12500000us);
  CHECK(parse_ffmpeg_time("00:01:02.5") == 62500000us);
  CHECK(parse_ffmpeg_time("1:02") == 62s);
  CHECK(parse_ffmpeg_time("-00:00:00.04") == -40000us);
  CHECK_FALSE(parse_ffmpeg_time("N/A"));
  CHECK_FALSE(parse_ffmpeg_time("1:2:3:4"));
  CHECK_FALSE(parse_ffmpeg_time("-1e300")); // past int64 microseconds: no time, no UB
  CHECK_FALSE(parse_ffmpeg_time("1e300"));
  CHECK(parse_loglevel_value("info") == 32);
  CHECK(parse_loglevel_value("repeat+level+warning") == 24);
  CHECK(parse_loglevel_value("level+info") == 32);
  CHECK(parse_loglevel_value("-8") == -8);
  CHECK(parse_loglevel_value("quiet") == -8);
  CHECK_FALSE(parse_loglevel_value("+level"));
  CHECK_FALSE(parse_loglevel_value("loud"));
  CHECK(repair_utf8("caf\xe9") == "caf\xEF\xBF\xBD");
  CHECK(repair_utf8("plain") == "plain");
}

TEST_CASE("feed_line: lines split by the caller give the same events, each byte parsed once",
          "[log]") {
  for (const auto& name : all_fixtures) {
    INFO(name);
    auto bytes = fixture(name);
    log_parser whole;
    std::vector<log_event> a;
    whole.feed(bytes, [&](log_event&& e) { a.push_back(std::move(e)); });
    whole.finish([&](log_event&& e) { a.push_back(std::move(e)); });

    // Split as the event stream does: at '\n', '\r' and "\r\n".
    log_parser by_line;
    std::vector<log_event> b;
    std::uint64_t text_bytes = 0;
    std::size_t at = 0;
    while (at < bytes.size()) {
      auto end = bytes.find_first_of("\r\n", at);
      if (end == std::string::npos) end = bytes.size();
      auto line = std::string_view(bytes).substr(at, end - at);
      text_bytes += line.size();
      by_line.feed_line(line, [&](log_event&& e) { b.push_back(std::move(e)); });
      at = end + 1;
      if (end < bytes.size() && bytes[end] == '\r' && at < bytes.size() && bytes[at] == '\n') ++at;
    }
    by_line.finish([&](log_event&& e) { b.push_back(std::move(e)); });
    CHECK(serialize_all(b) == serialize_all(a));
    CHECK(by_line.bytes_parsed() == text_bytes); // every byte once, none twice
    CHECK(whole.bytes_parsed() == text_bytes);
  }
}

TEST_CASE("last_level_tag: where the [level] tag stood, after any component", "[log]") {
  log_parser p;
  auto none = [](log_event&&) {};
  p.feed_line("[info] Press [q] to stop", none);
  CHECK(p.last_level_tag() == std::pair<std::size_t, std::size_t>{0, 7});
  p.feed_line("[out#0/wav @ 0x55] [info] video:0KiB audio:258KiB", none);
  CHECK(p.last_level_tag() == std::pair<std::size_t, std::size_t>{19, 7});
  p.feed_line("no tag here", none);
  CHECK(p.last_level_tag().second == 0);
}

TEST_CASE("a long line gives the same events however it is sliced (a big feed ends a partial)",
          "[log]") {
  for (std::size_t length : {65535u, 65536u, 65537u, 131073u, 200000u}) {
    std::string bytes = "[info] " + std::string(length, 'x') + "\n[info] next\n";
    log_parser whole;
    std::vector<log_event> a;
    whole.feed(bytes, [&](log_event&& e) { a.push_back(std::move(e)); });
    whole.finish([&](log_event&& e) { a.push_back(std::move(e)); });
    for (std::size_t first : {1u, 7u, 1000u, 65535u, 65536u, 70000u}) {
      if (first > bytes.size()) continue;
      INFO("a line of " << length << " bytes fed as " << first << " + the rest");
      log_parser sliced;
      std::vector<log_event> b;
      auto sink = [&](log_event&& e) { b.push_back(std::move(e)); };
      sliced.feed(std::string_view(bytes).substr(0, first), sink);
      sliced.feed(std::string_view(bytes).substr(first), sink);
      sliced.finish(sink);
      CHECK(serialize_all(b) == serialize_all(a));
      CHECK(sliced.bytes_parsed() == whole.bytes_parsed());
      CHECK(sliced.bytes_parsed() == bytes.size() - 2); // all but the two '\n'
    }
  }
}

TEST_CASE("absurd numbers in a hostile stderr are no numbers, not undefined behaviour", "[log]") {
  auto ev = parse_all("[info] Input #0, lavfi, from 'x':\n"
                      "[info]   Stream #0:0: Audio: pcm_s16le, 1e50 Hz, mono, s16, 705 kb/s\n"
                      "[info] size=N/A time=-1e300 bitrate=N/A speed=N/A\n"
                      "[info] size=1e300kB time=1e300 bitrate=N/A speed=N/A\n");
  auto streams = all_of<stream_info>(ev);
  REQUIRE(streams.size() == 1);
  CHECK(streams[0].sample_rate == 0);
  auto ps = all_of<progress>(ev);
  REQUIRE(ps.size() == 2);
  for (const auto& p : ps) {
    CHECK_FALSE(p.time);
    CHECK_FALSE(p.size_bytes);
  }
}

TEST_CASE("a message's untagged next line keeps its level: a path with a newline keeps the reason",
          "[log]") {
  // ffmpeg 5.1 at -loglevel level+info, an input path with a newline in it: the reason is on
  // the untagged second line only.
  log_parser p;
  detail::error_record record;
  std::vector<log_line> lines;
  auto sink = [&](log_event&& e) {
    if (auto* l = std::get_if<log_line>(&e)) {
      record.note(*l);
      lines.push_back(*l);
    }
  };
  p.feed("[info] Press [q] to stop, [?] for help\n"
         "[error] /tmp/no\nsuch.mp4: No such file or directory\n"
         "[info] next\n",
         sink);
  p.finish(sink);
  REQUIRE(lines.size() == 4);
  CHECK(lines[1].level == log_level::error);
  CHECK(lines[2].level == log_level::error); // the continuation
  CHECK(lines[2].text == "such.mp4: No such file or directory");
  CHECK(lines[3].level == log_level::info);
  auto why = record.lines();
  REQUIRE(why.size() == 2);
  CHECK(why[1] == "such.mp4: No such file or directory");

  // A stream without tags stays without levels.
  log_parser untagged;
  std::vector<log_line> plain;
  untagged.feed("Error opening /tmp/no\nsuch.mp4\n", [&](log_event&& e) {
    if (auto* l = std::get_if<log_line>(&e)) plain.push_back(*l);
  });
  REQUIRE(plain.size() == 2);
  CHECK(plain[0].level == log_level::unknown);
  CHECK(plain[1].level == log_level::unknown);
}

TEST_CASE("the error record keeps the last error lines, else the last few lines, oldest dropped",
          "[log]") {
  using detail::error_record;
  auto line = [](log_level level, int i) {
    return log_line{level, "", "line " + std::to_string(i)};
  };
  error_record quiet;
  CHECK(quiet.lines().empty());
  for (int i = 0; i < 100; ++i)
    quiet.note(line(log_level::info, i));
  auto recent = quiet.lines();
  REQUIRE(recent.size() == error_record::recent_lines);
  CHECK(recent.front() == "line " + std::to_string(100 - int(error_record::recent_lines)));
  CHECK(recent.back() == "line 99");

  error_record failing;
  for (int i = 0; i < 100; ++i)
    failing.note(line(i % 2 ? log_level::error : log_level::info, i));
  auto why = failing.lines();
  // Error lines only: the info line before the first error was not a component's.
  REQUIRE(why.size() == error_record::max_lines);
  CHECK(why.front() == "line " + std::to_string(99 - 2 * (int(error_record::max_lines) - 1)));
  CHECK(why.back() == "line 99");
  CHECK_FALSE(failing.fatal_line());
}
