// ffprobe: the JSON mapping on recorded output and on malformed input, and live runs on media
// the test makes, a missing file, a file that is not media, and a probe that must time out.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/probe.hpp>

#include "support.hpp"

#include <fstream>

#include <sys/stat.h>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(source_root() / "tests/probe/fixtures" / name, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Makes a 2 s 320x240@25 h264 + mono aac (language eng) mp4 with the real ffmpeg.
awaitable<void> make_mp4(std::filesystem::path path) {
  auto ff = command{}
                .format("lavfi")
                .input("testsrc=duration=2:size=320x240:rate=25")
                .format("lavfi")
                .input("sine=frequency=440:duration=2")
                .codec_video("libx264")
                .pix_fmt("yuv420p")
                .codec_audio("aac")
                .arg("-metadata:s:a:0")
                .arg("language=eng")
                .arg("-shortest")
                .overwrite()
                .output(path.string())
                .spawn(co_await asio::this_coro::executor);
  REQUIRE(ff);
  auto st = co_await ff->wait();
  REQUIRE(st);
}

} // namespace

TEST_CASE("recorded mp4: format, duration, video and audio streams", "[probe]") {
  auto m = parse_probe_json(fixture("mp4.json"));
  REQUIRE(m);
  CHECK(m->format == "mov,mp4,m4a,3gp,3g2,mj2");
  CHECK_FALSE(m->format_long_name.empty());
  REQUIRE(m->duration);
  CHECK(m->duration->count() == Approx(2e6).margin(5e4));
  REQUIRE(m->bit_rate);
  CHECK(*m->bit_rate > 0);
  REQUIRE(m->size);
  CHECK(*m->size > 1000);
  CHECK(m->tags.count("encoder") == 1);
  REQUIRE(m->streams.size() == 2);
  const auto* v = m->first("video");
  REQUIRE(v);
  CHECK(v->codec == "h264");
  CHECK(v->width == 320);
  CHECK(v->height == 240);
  REQUIRE(v->frame_rate);
  CHECK(*v->frame_rate == Approx(25.0));
  REQUIRE(v->frames);
  CHECK(*v->frames == 50);
  CHECK(v->is_default);
  const auto* a = m->first("audio");
  REQUIRE(a);
  CHECK(a->codec == "aac");
  CHECK(a->sample_rate == 44100);
  CHECK(a->channels == 1);
  CHECK(a->language == "eng");
  CHECK(a->sample_format == "fltp");
  CHECK(m->first("subtitle") == nullptr);
}

TEST_CASE("recorded wav and mkv: audio only; NTSC rate, subtitle language", "[probe]") {
  auto wav = parse_probe_json(fixture("wav.json"));
  REQUIRE(wav);
  REQUIRE(wav->streams.size() == 1);
  CHECK(wav->streams[0].codec == "pcm_s16le");
  CHECK_FALSE(wav->streams[0].frame_rate); // "0/0"
  auto mkv = parse_probe_json(fixture("mkv.json"));
  REQUIRE(mkv);
  const auto* v = mkv->first("video");
  REQUIRE(v);
  CHECK(*v->frame_rate == Approx(29.97).margin(0.01));
  const auto* s = mkv->first("subtitle");
  REQUIRE(s);
  CHECK(s->codec == "subrip");
  CHECK(s->language == "fre");
}

TEST_CASE("malformed JSON is an error, never an exception", "[probe]") {
  for (const char* bad :
       {"", "not json", "[1,2,3]", "{\"streams\": {}}", "{\"format\": 3}", "{\"streams\": [1]}",
        "{\"streams\": [{\"index\": \"x\", \"width\": []}]}",
        "{\"format\": {\"duration\": \"1e999\"}}", "{\"format\": {\"tags\": [1]}}", "{"}) {
    INFO(bad);
    expected<media_info> m = fail(errc::protocol, "unset");
    REQUIRE_NOTHROW(m = parse_probe_json(bad));
    if (!m) CHECK(m.error() == errc::protocol);
  }
  CHECK_FALSE(parse_probe_json("not json"));
  CHECK_FALSE(parse_probe_json("{\"streams\": {}}"));
  auto empty = parse_probe_json("{}");
  REQUIRE(empty);
  CHECK(empty->streams.empty());
  auto odd = parse_probe_json("{\"streams\": [{\"index\": \"x\", \"width\": []}]}");
  REQUIRE(odd); // wrong types are left empty
  CHECK(odd->streams[0].width == 0);
}

// Found by the 10 M-execution fuzz run (build-fuzz-undefined/crashes/probe_json-crash-171d…):
// a size of 3e108 was converted to an integer, undefined behaviour.
TEST_CASE("absurd counts are no counts", "[probe]") {
  auto m = parse_probe_json(
      "{\"format\": {\"size\": \"3077777777777777777777777777777777777777777777777777777777\"},"
      " \"streams\": [{\"nb_frames\": 1e30}, {\"nb_frames\": \"-5\"}, {\"nb_frames\": "
      "\"18446744073709551616\"},"
      " {\"nb_frames\": \"250\"}]}");
  REQUIRE(m);
  CHECK_FALSE(m->size);
  REQUIRE(m->streams.size() == 4);
  CHECK_FALSE(m->streams[0].frames);
  CHECK_FALSE(m->streams[1].frames);
  CHECK_FALSE(m->streams[2].frames); // 2^64: one past the largest count
  REQUIRE(m->streams[3].frames);
  CHECK(*m->streams[3].frames == 250);
  auto big = parse_probe_json("{\"format\": {\"size\": \"18446744073709549568\"}}"); // < 2^64
  REQUIRE(big);
  REQUIRE(big->size);
  CHECK(*big->size == 18446744073709549568ull);
}

TEST_CASE("probe a file made with ffmpeg", "[probe]") {
  temp_dir dir;
  auto path = dir / "made.mp4";
  auto m = run([](std::filesystem::path p) -> awaitable<expected<media_info>> {
    co_await make_mp4(p);
    co_return co_await probe(p.string());
  }(path));
  REQUIRE(m);
  CHECK(m->format.find("mp4") != std::string::npos);
  CHECK(m->duration->count() == Approx(2e6).margin(1e5));
  const auto* v = m->first("video");
  REQUIRE(v);
  CHECK(v->codec == "h264");
  CHECK(v->pix_fmt == "yuv420p");
  CHECK(*v->frame_rate == Approx(25.0));
  const auto* a = m->first("audio");
  REQUIRE(a);
  CHECK(a->language == "eng");
  CHECK(a->channels == 1);
}

TEST_CASE("a missing file and a file that is not media are clear errors", "[probe]") {
  temp_dir dir;
  auto text = dir / "notes.txt";
  std::ofstream(text) << "this is not a video, just some words\n";
  auto before = open_fds();
  auto missing = run(probe((dir / "missing.mp4").string()));
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == errc::process_failed);
  REQUIRE(missing.error().status());
  CHECK(missing.error().status()->code > 0); // 1 up to 5.1, 254 on 7.x
  CHECK(missing.error().message().find("No such file or directory") != std::string::npos);
  auto garbage = run(probe(text.string()));
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().message().find("Invalid data found") != std::string::npos);
  CHECK(open_fds() == before);
  CHECK_FALSE(has_children());
}

TEST_CASE("a probe that cannot finish times out and leaves nothing behind", "[probe]") {
  temp_dir dir;
  auto fifo = dir / "never";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0); // no writer: ffprobe blocks opening it
  auto before = open_fds();
  probe_options o;
  o.timeout = std::chrono::milliseconds(800);
  auto started = std::chrono::steady_clock::now();
  auto r = run(probe(fifo.string(), o), 20s);
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::timed_out);
  CHECK(took < 10s);
  CHECK(open_fds() == before);
  CHECK_FALSE(has_children());
}

TEST_CASE("a missing ffprobe is a clear error", "[probe]") {
  ::setenv("SIDECAR_FFPROBE", "/nonexistent/ffprobe", 1);
  auto r = run(probe("whatever.mp4"));
  ::unsetenv("SIDECAR_FFPROBE");
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::binary_not_found);
}
