// The same checks on the stderr that every release of the matrix printed for the same jobs
// (tests/log/fixtures/versions/TAG/, recorded by tests/log/record-fixtures): the parser must
// find the same facts in each, whatever the words and layout of that release.
#include <sidecar/log.hpp>

#include "catch.hpp"
#include "log_support.hpp"

#include <algorithm>
#include <string>

using namespace sidecar;
using namespace std::chrono_literals;
using namespace log_support;

namespace {

std::string job(const std::string& tag, const std::string& name) {
  return fixture("versions/" + tag + "/" + name);
}

// Lines at error level or worse that mention every one of `words`.
bool has_error_line(const std::vector<log_event>& ev, std::initializer_list<std::string> words,
                    bool fatal_only = false) {
  for (const auto& l : all_of<log_line>(ev)) {
    bool bad = l.level == log_level::fatal || l.level == log_level::panic ||
               (!fatal_only && l.level == log_level::error);
    if (!bad) continue;
    auto text = l.component + " " + l.text;
    if (std::all_of(words.begin(), words.end(),
                    [&](const std::string& w) { return text.find(w) != std::string::npos; }))
      return true;
  }
  return false;
}

// "7.1" → {7, 1}
std::pair<int, int> release_of(const std::string& tag) {
  auto dot = tag.find('.');
  return {std::stoi(tag.substr(0, dot)), std::stoi(tag.substr(dot + 1))};
}

} // namespace

TEST_CASE("every release's recorded stderr gives the same facts", "[log][versions]") {
  auto tags = version_tags();
  REQUIRE(tags.size() >= 4); // 4.x, 5.1, 7.1, 9.x at least
  for (const auto& tag : tags) {
    INFO("ffmpeg " << tag);
    auto [major, minor] = release_of(tag);

    SECTION("rawvideo to a pipe: " + tag) {
      auto text = job(tag, "rawvideo-pipe.log");
      auto ev = parse_all(text);
      auto versions = all_of<version_info>(ev);
      REQUIRE(versions.size() == 1);
      // The banner's number, or for a static/git build the release of its libavutil.
      auto v = parse_version_output(text);
      REQUIRE(v);
      CHECK(v->major == major);
      CHECK(v->minor == minor);
      CHECK(v->origin != version_origin::unknown);
      auto libs = all_of<library_version>(ev);
      REQUIRE(libs.size() >= 7);
      CHECK(libs[0].name == "libavutil");

      auto inputs = all_of<input_info>(ev);
      REQUIRE(inputs.size() == 1);
      CHECK(inputs[0].format == "lavfi");
      CHECK(inputs[0].url == "testsrc=duration=2:size=320x240:rate=25");
      auto streams = all_of<stream_info>(ev);
      REQUIRE(streams.size() == 2);
      CHECK_FALSE(streams[0].is_output);
      CHECK(streams[0].type == stream_type::video);
      CHECK(streams[0].pix_fmt == "rgb24");
      CHECK(streams[0].width == 320);
      CHECK(streams[0].height == 240);
      REQUIRE(streams[0].fps);
      CHECK(*streams[0].fps == 25.0);
      CHECK(streams[1].is_output);
      CHECK(streams[1].codec == "rawvideo");
      CHECK(streams[1].pix_fmt == "rgb24");
      CHECK(streams[1].width == 320);
      auto map = all_of<stream_mapping_entry>(ev);
      REQUIRE(map.size() == 1);
      CHECK(map[0].output_file == 0);
      auto outputs = all_of<output_info>(ev);
      REQUIRE(outputs.size() == 1);
      CHECK(outputs[0].format == "rawvideo");
      CHECK(outputs[0].url == "pipe:1");
      CHECK(outputs[0].to_stdout);

      auto ps = all_of<progress>(ev);
      REQUIRE_FALSE(ps.empty());
      auto last = std::find_if(ps.begin(), ps.end(), [](auto& p) { return p.final; });
      REQUIRE(last != ps.end()); // the Lsize= line
      CHECK(*last->frame == 50);
      CHECK(*last->time == 2s);
      CHECK(*last->size_bytes == 11250u * 1024);
      CHECK(last->speed);
      // No stats line is taken for a log line or the other way round.
      for (const auto& l : all_of<log_line>(ev)) {
        CHECK(l.text.find("frame=") == std::string::npos);
        CHECK(l.level != log_level::unknown);
      }
    }

    SECTION("audio only: " + tag) {
      auto ev = parse_all(job(tag, "audio-only.log"));
      auto streams = all_of<stream_info>(ev);
      REQUIRE(streams.size() == 2);
      CHECK(streams[0].type == stream_type::audio);
      CHECK(streams[0].sample_rate == 44100);
      CHECK(streams[1].is_output);
      CHECK(streams[1].codec == "pcm_s16le");
      auto ps = all_of<progress>(ev);
      REQUIRE_FALSE(ps.empty());
      CHECK(ps.back().final);
      CHECK(*ps.back().time == 3s);
    }

    SECTION("the final stats line, with and without the banner (-hide_banner): " + tag) {
      // Up to 6.x the summary follows the last stats line; from 7.0 it comes before it.
      for (std::string name : {"audio-only.log", "rawvideo-pipe.log", "multi-output.log"}) {
        INFO(name);
        auto text = job(tag, name);
        auto body = text.substr(text.find("[info] Input #0"));
        for (const auto& bytes : {text, body}) {
          auto ps = all_of<progress>(parse_all(bytes));
          REQUIRE_FALSE(ps.empty());
          CHECK(ps.back().final);
          CHECK(std::count_if(ps.begin(), ps.end(), [](auto& p) { return p.final; }) == 1);
          auto longest = std::max_element(ps.begin(), ps.end(), [](auto& a, auto& b) {
            return a.time.value_or(0us) < b.time.value_or(0us);
          });
          CHECK(ps.back().time == longest->time);
        }
      }
    }

    SECTION("two outputs: " + tag) {
      auto ev = parse_all(job(tag, "multi-output.log"));
      CHECK(all_of<input_info>(ev).size() == 2);
      auto outputs = all_of<output_info>(ev);
      REQUIRE(outputs.size() == 2);
      std::vector<std::string> urls = {outputs[0].url, outputs[1].url};
      std::sort(urls.begin(), urls.end());
      CHECK(urls == std::vector<std::string>{"out1.mkv", "out2.wav"});
      CHECK(all_of<stream_mapping_entry>(ev).size() == 3);
      auto streams = all_of<stream_info>(ev);
      CHECK(std::count_if(streams.begin(), streams.end(), [](auto& s) { return s.is_output; }) ==
            3);
    }

    SECTION("failures name their cause at error level or worse: " + tag) {
      auto missing = parse_all(job(tag, "missing-input.log"));
      CHECK(has_error_line(missing, {"/nonexistent/input.mp4"}));
      CHECK(has_error_line(missing, {"No such file or directory"}));
      CHECK(has_error_line(parse_all(job(tag, "unknown-encoder.log")), {"no_such_encoder"}));
      CHECK(has_error_line(parse_all(job(tag, "invalid-filter.log")), {"no_such_filter"}));
      // A refused overwrite is fatal on every release (7.x and later then exit 0).
      CHECK(has_error_line(parse_all(job(tag, "exists.log")), {"exists.wav"}, true));
    }

    SECTION("-progress output: " + tag) {
      auto bytes = job(tag, "progress-pipe.txt");
      progress_reader r;
      std::vector<progress> out;
      for (std::size_t at = 0; at < bytes.size(); at += 5)
        r.feed(std::string_view(bytes).substr(at, 5), [&](progress&& p) { out.push_back(p); });
      REQUIRE_FALSE(out.empty());
      CHECK(out.back().final);
      CHECK(*out.back().frame == 50);
      CHECK(*out.back().time == 2s);
      CHECK(out.back().speed);
    }
  }
}

TEST_CASE("a release from its libavutil, for git and static builds", "[log][versions]") {
  using p = std::pair<int, int>;
  CHECK(release_for_libavutil("56.22.100") == p{4, 1});
  CHECK(release_for_libavutil("56.24.101") == p{4, 1}); // between 4.1 and 4.2: the older
  CHECK(release_for_libavutil("56.70.100") == p{4, 4});
  CHECK(release_for_libavutil("57.28.100") == p{5, 1});
  CHECK(release_for_libavutil("59.39.100") == p{7, 1});
  CHECK(release_for_libavutil("61.1.102") == p{9, 0});
  CHECK(release_for_libavutil("99.0.100") == p{9, 0});
  CHECK_FALSE(release_for_libavutil("54.31.100"));
  CHECK_FALSE(release_for_libavutil("garbage"));

  auto git = parse_version_output(
      "ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/  Copyright "
      "(c) 2000-2018 the FFmpeg developers\nbuilt with gcc 6.3.0\nconfiguration: --enable-gpl\n"
      "libavutil      56. 24.101 / 56. 24.101\nlibavcodec     58. 42.100 / 58. 42.100\n");
  REQUIRE(git);
  CHECK(git->version == "N-47683-g0e8eb07980-static");
  CHECK(git->major == 4);
  CHECK(git->minor == 1);
  CHECK(git->origin == version_origin::libraries);
  CHECK(git->at_least(4, 1));
  CHECK_FALSE(git->at_least(4, 4));

  auto release = parse_version_output("ffmpeg version 7.1.5-0+deb13u1 Copyright (c) 2000-2026\n"
                                      "libavutil      59. 39.100 / 59. 39.100\n");
  REQUIRE(release);
  CHECK(release->major == 7);
  CHECK(release->micro == 5);
  CHECK(release->origin == version_origin::banner);

  auto bare = parse_version_output("ffmpeg version N-1-gabc\n");
  REQUIRE(bare);
  CHECK(bare->major == -1);
  CHECK(bare->origin == version_origin::unknown);
  CHECK_FALSE(bare->at_least(0, 0));
  CHECK_FALSE(parse_version_output("not ffmpeg\n"));
}
