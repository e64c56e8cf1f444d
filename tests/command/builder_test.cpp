// The command builder: each alias's exact arguments, the guards, display quoting and masking.
#include <sidecar/capabilities.hpp>
#include <sidecar/command.hpp>

#include "catch.hpp"

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace sidecar;
using namespace std::chrono_literals;
using strings = std::vector<std::string>;

namespace {

strings raw(const command& c) {
  return c.args();
}

// Sets an environment variable for one scope and puts the old value back.
class scoped_env {
public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~scoped_env() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

private:
  std::string name_;
  std::optional<std::string> old_;
};

} // namespace

TEST_CASE("each alias emits ffmpeg's flag", "[command]") {
  CHECK(raw(command().hide_banner()) == strings{"-hide_banner"});
  CHECK(raw(command().loglevel("error")) == strings{"-loglevel", "error"});
  CHECK(raw(command().nostdin()) == strings{"-nostdin"});
  CHECK(raw(command().format("mp4")) == strings{"-f", "mp4"});
  CHECK(raw(command().input("in.mp4")) == strings{"-i", "in.mp4"});
  CHECK(raw(command().output("out.mp4")) == strings{"out.mp4"});
  CHECK(raw(command().overwrite()) == strings{"-y"});
  CHECK(raw(command().no_overwrite()) == strings{"-n"});
  CHECK(raw(command().codec_video("libx264")) == strings{"-c:v", "libx264"});
  CHECK(raw(command().codec_audio("aac")) == strings{"-c:a", "aac"});
  CHECK(raw(command().codec_subtitle("mov_text")) == strings{"-c:s", "mov_text"});
  CHECK(raw(command().limit_file_size(5'000'000'000)) == strings{"-fs", "5000000000"});
  CHECK(raw(command().filter("scale=640:-1")) == strings{"-filter", "scale=640:-1"});
  CHECK(raw(command().progress_url("pipe:3")) == strings{"-progress", "pipe:3"});
  CHECK(raw(command().duration("00:00:12.5")) == strings{"-t", "00:00:12.5"});
  CHECK(raw(command().to("30")) == strings{"-to", "30"});
  CHECK(raw(command().seek("5")) == strings{"-ss", "5"});
  CHECK(raw(command().seek_eof("-3")) == strings{"-sseof", "-3"});
  CHECK(raw(command().stats_period("0.5")) == strings{"-stats_period", "0.5"});
  CHECK(raw(command().crf(23)) == strings{"-crf:v", "23"});
  CHECK(raw(command().frames(100)) == strings{"-frames:v", "100"});
  CHECK(raw(command().preset("veryfast")) == strings{"-preset:v", "veryfast"});
  CHECK(raw(command().rate(30)) == strings{"-r", "30"});
  CHECK(raw(command().rate(29.97)) == strings{"-r", "29.97"});
  CHECK(raw(command().rate("30000/1001")) == strings{"-r", "30000/1001"});
  CHECK(raw(command().size(1920, 1080)) == strings{"-s", "1920x1080"});
  CHECK(raw(command().no_video()) == strings{"-vn"});
  CHECK(raw(command().pix_fmt("yuv420p")) == strings{"-pix_fmt", "yuv420p"});
  CHECK(raw(command().hwaccel("vaapi")) == strings{"-hwaccel", "vaapi"});
  CHECK(raw(command().no_audio()) == strings{"-an"});
  CHECK(raw(command().map("0:v:0")) == strings{"-map", "0:v:0"});
  CHECK(raw(command().readrate(1.5)) == strings{"-readrate", "1.5"});
  CHECK(raw(command().realtime()) == strings{"-re"});
  CHECK(raw(command().fps_mode("passthrough")) == strings{"-fps_mode", "passthrough"});
  CHECK(raw(command().bitstream_filter_video("h264_mp4toannexb")) ==
        strings{"-bsf:v", "h264_mp4toannexb"});
  CHECK(raw(command().filter_complex("[0:v][1:v]overlay")) ==
        strings{"-filter_complex", "[0:v][1:v]overlay"});
  CHECK(raw(command().testsrc()) == strings{"-f", "lavfi", "-i", "testsrc=duration=10"});
  CHECK(raw(command().rawvideo()) == strings{"-f", "rawvideo", "-pix_fmt", "rgb24", "-"});
  CHECK(raw(command().pipe_stdout()) == strings{"-"});
  CHECK(raw(command().arg("-nostats")) == strings{"-nostats"});
  CHECK(raw(command().args({"-an", "-sn"})) == strings{"-an", "-sn"});
  CHECK(raw(command().args(strings{"-a", "b"})) == strings{"-a", "b"});
}

TEST_CASE("times given as std::chrono durations are written as seconds", "[command]") {
  CHECK(raw(command().duration(12500ms)) == strings{"-t", "12.5"});
  CHECK(raw(command().duration(10s)) == strings{"-t", "10"});
  CHECK(raw(command().to(2min)) == strings{"-to", "120"});
  CHECK(raw(command().seek(1ms)) == strings{"-ss", "0.001"});
  CHECK(raw(command().seek(std::chrono::duration<double>(0.25))) == strings{"-ss", "0.25"});
  CHECK(raw(command().seek_eof(-3500ms)) == strings{"-sseof", "-3.5"});
  CHECK(raw(command().stats_period(250ms)) == strings{"-stats_period", "0.25"});
  CHECK(raw(command().seek(1us)) == strings{"-ss", "0.000001"});
}

TEST_CASE("tools and constructors", "[command]") {
  CHECK(command().which() == tool::ffmpeg);
  CHECK(command::ffmpeg().which() == tool::ffmpeg);
  CHECK(command::ffplay().which() == tool::ffplay);
  CHECK(command::ffprobe().which() == tool::ffprobe);
  CHECK(command(tool::ffprobe).which() == tool::ffprobe);
  CHECK(command().args().empty());
}

TEST_CASE("chained arguments keep the order they were given in", "[command]") {
  auto c = command()
               .hide_banner()
               .seek("1")
               .input("in.mkv")
               .map("0:v")
               .codec_video("copy")
               .duration("5")
               .overwrite()
               .output("out.mkv");
  CHECK(c.args() == strings{"-hide_banner", "-ss", "1", "-i", "in.mkv", "-map", "0:v", "-c:v",
                            "copy", "-t", "5", "-y", "out.mkv"});
  CHECK(c.argv() == strings{"-loglevel", "level+info", "-hide_banner", "-ss", "1", "-i", "in.mkv",
                            "-map", "0:v", "-c:v", "copy", "-t", "5", "-y", "out.mkv"});
}

TEST_CASE("the overwrite prompt guard", "[command]") {
  SECTION("added in front for ffmpeg") {
    auto c = command().testsrc().output("out.mp4");
    CHECK(c.argv() == strings{"-loglevel", "level+info", "-n", "-f", "lavfi", "-i",
                              "testsrc=duration=10", "out.mp4"});
    CHECK(c.args() == strings{"-f", "lavfi", "-i", "testsrc=duration=10", "out.mp4"});
  }
  SECTION("not added with -y") {
    CHECK(command().overwrite().argv() == strings{"-loglevel", "level+info", "-y"});
  }
  SECTION("not added with -n") {
    CHECK(command().no_overwrite().argv() == strings{"-loglevel", "level+info", "-n"});
  }
  SECTION("not added with -nostdin") {
    CHECK(command().nostdin().argv() == strings{"-loglevel", "level+info", "-nostdin"});
  }
  SECTION("never for ffplay or ffprobe") {
    CHECK(command::ffplay().input("a.mp4").argv() ==
          strings{"-loglevel", "level+info", "-i", "a.mp4"});
    CHECK(command::ffprobe().input("a.mp4").argv() ==
          strings{"-loglevel", "level+info", "-i", "a.mp4"});
  }
}

TEST_CASE("the log level guard", "[command]") {
  SECTION("added when none given") {
    CHECK(command().overwrite().argv() == strings{"-loglevel", "level+info", "-y"});
    CHECK(command::ffprobe().argv() == strings{"-loglevel", "level+info"});
  }
  SECTION("left alone when -loglevel is given, even without level+") {
    CHECK(command().loglevel("error").overwrite().argv() == strings{"-loglevel", "error", "-y"});
    CHECK(command::ffplay().loglevel("quiet").argv() == strings{"-loglevel", "quiet"});
  }
  SECTION("left alone when -v is given") {
    CHECK(command().args({"-v", "warning"}).argv() == strings{"-n", "-v", "warning"});
  }
}

TEST_CASE("to_string quotes for a POSIX shell only where needed", "[command]") {
  CHECK(command().overwrite().input("in.mp4").output("out.mp4").to_string() ==
        "ffmpeg -loglevel level+info -y -i in.mp4 out.mp4");
  CHECK(command().overwrite().output("my file.mp4").to_string() ==
        "ffmpeg -loglevel level+info -y 'my file.mp4'");
  CHECK(command().overwrite().output("it's.mp4").to_string() ==
        "ffmpeg -loglevel level+info -y 'it'\\''s.mp4'");
  CHECK(command().overwrite().output("$(rm -rf ~)").to_string() ==
        "ffmpeg -loglevel level+info -y '$(rm -rf ~)'");
  CHECK(command().overwrite().output("a;b").to_string() == "ffmpeg -loglevel level+info -y 'a;b'");
  CHECK(command().overwrite().arg("").to_string() == "ffmpeg -loglevel level+info -y ''");
  CHECK(command().overwrite().filter("[in]scale=2*iw:-1[out]").to_string() ==
        "ffmpeg -loglevel level+info -y -filter '[in]scale=2*iw:-1[out]'");
  CHECK(command::ffprobe().input("a.mp4").to_string() == "ffprobe -loglevel level+info -i a.mp4");

  std::ostringstream os;
  os << command::ffplay().input("x");
  CHECK(os.str() == "ffplay -loglevel level+info -i x");
  std::ostringstream printed;
  auto c = command().overwrite().print_command(printed).output("o.mp4");
  CHECK(printed.str() == "ffmpeg -loglevel level+info -y\n");
  CHECK(c.args() == strings{"-y", "o.mp4"});
}

TEST_CASE("mask_secrets hides credentials in URLs", "[command]") {
  CHECK(mask_secrets("rtmp://live.example.com/live/sk_abc123") ==
        "rtmp://live.example.com/live/***");
  CHECK(mask_secrets("rtmps://a.rtmp.youtube.com:443/live2/abcd-efgh-ijkl") ==
        "rtmps://a.rtmp.youtube.com:443/live2/***");
  CHECK(mask_secrets("RTMP://host/app/key/with/slashes") == "RTMP://host/app/***");
  CHECK(mask_secrets("rtmp://host/live") == "rtmp://host/live");
  CHECK(mask_secrets("rtmp://host/live/") == "rtmp://host/live/");
  CHECK(mask_secrets("rtmp://user:hunter2@host/live/key") == "rtmp://user:***@host/live/***");
  CHECK(mask_secrets("rtsp://admin:p%40ss@10.0.0.5:554/stream1") ==
        "rtsp://admin:***@10.0.0.5:554/stream1");
  CHECK(mask_secrets("http://user@host/x") == "http://user@host/x");
  CHECK(mask_secrets("srt://host:9000?mode=caller&passphrase=verysecret123&pbkeylen=16") ==
        "srt://host:9000?mode=caller&passphrase=***&pbkeylen=16");
  CHECK(mask_secrets("srt://host:9000?streamid=#!::r=live/key,m=publish&latency=200") ==
        "srt://host:9000?streamid=***&latency=200");
  CHECK(mask_secrets("https://cdn.example.com/v.m3u8?token=abc&x=1") ==
        "https://cdn.example.com/v.m3u8?token=***&x=1");
  CHECK(mask_secrets("https://s3/b/o?X-Amz-Signature=ff00&X-Amz-Date=1&api_key=k&auth=a") ==
        "https://s3/b/o?X-Amz-Signature=***&X-Amz-Date=1&api_key=***&auth=***");
  CHECK(mask_secrets("https://h/p?secret=s&password=p&sig=z&empty=") ==
        "https://h/p?secret=***&password=***&sig=***&empty=");
  CHECK(mask_secrets("https://example.com/video.mp4") == "https://example.com/video.mp4");
  CHECK(mask_secrets("no url here: just text") == "no url here: just text");
  // ffmpeg's "URL: reason" lines keep their colon.
  CHECK(mask_secrets("rtmp://127.0.0.1:1935/app/key: Input/output error") ==
        "rtmp://127.0.0.1:1935/app/***: Input/output error");
  CHECK(mask_secrets("Error opening output rtmp://h/app/key.") ==
        "Error opening output rtmp://h/app/***.");
  CHECK(mask_secrets("") == "");
}

TEST_CASE("mask_secrets finds URLs inside a longer line", "[command]") {
  CHECK(mask_secrets("[error] rtmp://host/live/KEY: Connection refused") ==
        "[error] rtmp://host/live/***: Connection refused");
  CHECK(mask_secrets("Output #0, flv, to 'rtmp://host/live/KEY':") ==
        "Output #0, flv, to 'rtmp://host/live/***':");
  CHECK(mask_secrets("a rtmp://h/app/k1 and srt://h:1?passphrase=p b") ==
        "a rtmp://h/app/*** and srt://h:1?passphrase=*** b");
  CHECK(mask_secrets("[f=flv]rtmp://a/live/k1|[f=flv]rtmp://b/live/k2") ==
        "[f=flv]rtmp://a/live/***|[f=flv]rtmp://b/live/***");
}

TEST_CASE("to_string masks secrets", "[command]") {
  auto c = command().overwrite().testsrc().format("flv").output("rtmp://h/live/KEY");
  CHECK(c.to_string() == "ffmpeg -loglevel level+info -y -f lavfi -i testsrc=duration=10 -f flv "
                         "'rtmp://h/live/***'");
  // The real argument is untouched: only the display is masked.
  CHECK(c.args().back() == "rtmp://h/live/KEY");
  CHECK(command().overwrite().args({"-passphrase", "p4ss"}).output("srt://h:1").to_string() ==
        "ffmpeg -loglevel level+info -y -passphrase '***' srt://h:1");
}

TEST_CASE("resolve passes on the lookup error unchanged", "[command]") {
  scoped_env env("SIDECAR_FFMPEG", "/nonexistent/dir/ffmpeg");
  auto r = command().overwrite().resolve();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::binary_not_found);
  CHECK(r.error().message().find("SIDECAR_FFMPEG") != std::string::npos);
  CHECK(r.error().message() == find_tool(tool::ffmpeg).error().message());
}

TEST_CASE("commands compare by tool and arguments", "[command]") {
  CHECK(command().overwrite() == command::ffmpeg().arg("-y"));
  CHECK_FALSE(command::ffplay() == command::ffprobe());
}

TEST_CASE("options an older release lacks are replaced or left out, with a note", "[command]") {
  auto at = [](int major, int minor, version_origin o = version_origin::banner) {
    version_info v;
    v.version = o == version_origin::libraries ? "N-47683-g0e8eb07980-static"
                                               : std::to_string(major) + "." + std::to_string(minor);
    v.major = major;
    v.minor = minor;
    v.origin = o;
    return v;
  };
  const strings given = {"-stats_period", "0.1", "-readrate", "1",      "-fps_mode:v",
                         "cfr",           "-i",  "in.mp4",    "-fps_mode", "auto", "out.mkv"};
  SECTION("4.1, known from its libraries") {
    strings a = given;
    strings notes;
    adapt_arguments(a, at(4, 1, version_origin::libraries), notes);
    CHECK(a == strings{"-re", "-vsync", "cfr", "-i", "in.mp4", "-vsync", "-1", "out.mkv"});
    REQUIRE(notes.size() == 4);
    CHECK(notes[0].find("-stats_period") != std::string::npos);
    CHECK(notes[0].find("N-47683-g0e8eb07980-static") != std::string::npos);
    CHECK(notes[0].find("4.4") != std::string::npos); // the release that has it
    CHECK(notes[1].find("-re") != std::string::npos);
  }
  SECTION("4.4: -stats_period stays; a rate other than 1 is left out before 5.0") {
    strings a = {"-stats_period", "0.5", "-readrate", "2", "-i", "x"};
    strings notes;
    adapt_arguments(a, at(4, 4), notes);
    CHECK(a == strings{"-stats_period", "0.5", "-i", "x"});
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("full speed") != std::string::npos);
  }
  SECTION("5.1 and later, and an unknown release, are left as given") {
    for (auto v : {at(5, 1), at(7, 1), at(9, 0), version_info{}}) {
      strings a = given;
      strings notes;
      adapt_arguments(a, v, notes);
      CHECK(a == given);
      CHECK(notes.empty());
    }
  }
  SECTION("an option as the last word (no value) is passed on for ffmpeg to refuse") {
    strings a = {"-i", "x", "-stats_period"};
    strings notes;
    adapt_arguments(a, at(4, 1), notes);
    CHECK(a == strings{"-i", "x", "-stats_period"});
  }
}

TEST_CASE("inputs and outputs are kept with their own options", "[command]") {
  auto c = command()
               .hide_banner()
               .seek("2")
               .realtime()
               .format("lavfi")
               .input("testsrc=duration=10")
               .args({"-ss", "-3", "-i", "pipe:0"})
               .codec_video("libx264")
               .duration("4")
               .args({"-y", "-nostdin"})
               .output("a.mp4")
               .to("8")
               .frames(3)
               .output("-")
               .args({"-progress", "pipe:3", "-loglevel", "warning"});
  REQUIRE(c.inputs().size() == 2);
  REQUIRE(c.outputs().size() == 2);
  CHECK(c.inputs()[0].url == "testsrc=duration=10");
  CHECK(*c.inputs()[0].value({"-ss"}) == "2");
  CHECK(*c.inputs()[0].value({"-f"}) == "lavfi");
  CHECK(c.inputs()[0].options.at(1) == command_option{"-ss", "2"}); // -hide_banner first
  CHECK(c.inputs()[0].options.at(2) == command_option{"-re", std::nullopt});
  CHECK(c.inputs()[1].url == "pipe:0");
  CHECK(*c.inputs()[1].value({"-ss"}) == "-3"); // a value may start with '-'
  CHECK(c.outputs()[0].url == "a.mp4");
  CHECK(*c.outputs()[0].value({"-t"}) == "4");
  CHECK(*c.outputs()[0].value({"-c:v"}) == "libx264");
  CHECK(c.outputs()[0].value({"-to"}) == nullptr);
  CHECK(c.outputs()[1].url == "-");
  CHECK(*c.outputs()[1].value({"-to"}) == "8");
  CHECK(*c.outputs()[1].value({"-frames:v", "-vframes"}) == "3");
  CHECK(c.trailing_options().size() == 2);
  CHECK(*c.option_value({"-progress"}) == "pipe:3");
  CHECK(*c.option_value({"-loglevel", "-v"}) == "warning");
  CHECK(c.has_option("-nostdin"));
  CHECK_FALSE(c.has_option("-n"));
  // The guards read the same structure: -loglevel given, -y given: neither is added.
  CHECK(c.argv() == c.args());
}

TEST_CASE("an option this table does not know is given the next argument, but never -i",
          "[command]") {
  auto c = command().args({"-some_new_flag", "-i", "in.mkv", "-metadata", "title=x", "out.mkv"});
  REQUIRE(c.inputs().size() == 1);
  CHECK(c.inputs()[0].url == "in.mkv");
  CHECK(c.inputs()[0].options.at(0) == command_option{"-some_new_flag", std::nullopt});
  REQUIRE(c.outputs().size() == 1);
  CHECK(*c.outputs()[0].value({"-metadata"}) == "title=x");
  // ffplay and ffprobe take their input as a URL alone; ffplay's -fs is a flag there.
  auto p = command::ffplay().args({"-fs", "-autoexit", "movie.mkv"});
  REQUIRE(p.inputs().size() == 1);
  CHECK(p.inputs()[0].url == "movie.mkv");
  CHECK(p.outputs().empty());
  auto f = command().limit_file_size(1000).output("o.ts");
  REQUIRE(f.outputs().size() == 1);
  CHECK(*f.outputs()[0].value({"-fs"}) == "1000");
}

TEST_CASE("a missing ffmpeg named by SIDECAR_FFMPEG", "[command]") {
  scoped_env env("SIDECAR_FFMPEG", "/nonexistent/ffmpeg");
  auto found = find_tool(tool::ffmpeg);
  REQUIRE_FALSE(found);
  CHECK(found.error() == errc::binary_not_found);
  CHECK(found.error().message().find("SIDECAR_FFMPEG=/nonexistent/ffmpeg") != std::string::npos);
  CHECK(found.error().message().find("apt install ffmpeg") != std::string::npos);
  auto spawned = command().overwrite().resolve();
  REQUIRE_FALSE(spawned);
  CHECK(spawned.error().message() == found.error().message());
}

TEST_CASE("a path starting with '-' is passed as a path, never as an option", "[command]") {
  auto c = command().input("-in.mkv").output("-version").output("-");
  CHECK(c.args() == std::vector<std::string>{"-i", "file:-in.mkv", "file:-version", "-"});
  REQUIRE(c.outputs().size() == 2);
  CHECK(c.outputs()[0].url == "file:-version");
  CHECK(command().input("-").args() == std::vector<std::string>{"-i", "-"});
}

TEST_CASE("the guards see -y and -loglevel after a flag the table does not know",
          "[command]") {
  // -vstats takes no value; an unknown flag would read as taking one and hide what follows.
  auto c = command().args({"-some_new_flag", "-y", "-loglevel", "error"}).output("o.mkv");
  CHECK(c.argv() == c.args()); // neither guard added
  auto v = command().args({"-vstats", "-noautorotate", "-i", "in.mkv", "-y", "out.mkv"});
  REQUIRE(v.inputs().size() == 1);
  CHECK(v.inputs()[0].options.size() == 2);
  REQUIRE(v.outputs().size() == 1);
  CHECK(v.outputs()[0].url == "out.mkv");
}
