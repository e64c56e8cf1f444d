// The command builder: each alias's exact arguments, the guards, display quoting and masking.
#include <sidecar/capabilities.hpp>
#include <sidecar/command.hpp>

#include "catch.hpp"

#include <cstdlib>
#include <optional>
#include <set>
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
  // ffmpeg reads 0 as "not given" (0.5 s): no burst goes as 1 µs.
  CHECK(raw(command().readrate_initial_burst(0)) == strings{"-readrate_initial_burst", "0.000001"});
  CHECK(raw(command().readrate_initial_burst(2)) == strings{"-readrate_initial_burst", "2"});
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
  CHECK(mask_secrets("http://user@host/x") == "http://***@host/x"); // a lone userinfo: a token
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

// Issue #14 item 4: every secret the command carries is masked in the command line, by the
// option that carries it and wherever its value reappears.
TEST_CASE("command_line masks the values of secret-bearing options by name", "[command]") {
  struct row {
    const char* option;
    const char* value;
  };
  for (auto [option, value] : {
           row{"-rtmp_playpath", "PLAYPATHKEY"},
           row{"-rtmp_conn", "S:CONNTOKEN O:1"},
           row{"-headers", "Authorization: Bearer BEARERTOKEN\r\n"},
           row{"-cookies", "session=COOKIEVALUE; path=/; domain=example.com\n"},
           row{"-decryption_key", "00112233445566778899aabbccddeeff"},
           row{"-encryption_key", "ffeeddccbbaa99887766554433221100"},
           row{"-hls_enc_key", "0123456789abcdef0123456789abcdef"},
           row{"-key", "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"},
           row{"-activation_bytes", "1CEB00DA"},
           row{"-audible_key", "77214d4b196a87cd520045fd20a51d67"},
           row{"-passphrase", "SRTPASSPHRASE"},
           row{"-streamid", "#!::r=live/SRTSTREAMKEY,m=publish"},
           row{"-srt_streamid", "#!::r=live/SRTSTREAMKEY,m=publish"},
           row{"-srtp_out_params", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
           row{"-password", "FTPPASSWORD"},
           row{"-authorization", "WHIPBEARERTOKEN"},
       }) {
    INFO(option);
    auto c = command().overwrite().arg(option).arg(value).input("in.mp4").output("out.mp4");
    auto shown = c.to_string();
    INFO(shown);
    CHECK(shown.find(std::string(option) + " '***' -i in.mp4") != std::string::npos);
    CHECK(c.args()[2] == value); // the argument itself is untouched
  }
}

TEST_CASE("command_line masks every URL shape that carries a secret", "[command]") {
  auto shown = [](std::string_view url) {
    return command().overwrite().input("in.mp4").output(url).to_string();
  };
  const std::string head = "ffmpeg -loglevel level+info -y -i in.mp4 ";
  // A userinfo without ':' is a token (GitHub, some CDNs), not a user name.
  CHECK(shown("https://GHTOKEN123@example.com/x.m3u8") ==
        head + "'https://***@example.com/x.m3u8'");
  CHECK(shown("https://user:PASSWORD1@example.com/x") == head + "'https://user:***@example.com/x'");
  // YouTube's HLS ingest carries the stream key as cid=.
  CHECK(shown("https://a.upload.youtube.com/http_upload_hls?cid=abcd-efgh-ijkl&copy=0&file=") ==
        head + "'https://a.upload.youtube.com/http_upload_hls?cid=***&copy=0&file='");
  CHECK(shown("https://h/p.m3u8?access_token=ACCESS123&x=1") ==
        head + "'https://h/p.m3u8?access_token=***&x=1'");
  CHECK(shown("rtmps://live.example.com:443/app/KEY/WITH/SLASHES?bw=1") ==
        head + "'rtmps://live.example.com:443/app/***?bw=1'");
  CHECK(shown("[f=flv]rtmp://a/live/KEYONE|[f=flv]rtmp://b/live/KEYTWO") ==
        head + "'[f=flv]rtmp://a/live/***|[f=flv]rtmp://b/live/***'");
}

TEST_CASE("command_line masks a secret wherever its value reappears", "[command]") {
  // The key of the output URL, repeated in an option that is not secret by itself.
  auto c = command()
               .overwrite()
               .input("in.mp4")
               .args({"-metadata", "comment=sent to STREAMKEY9"})
               .format("flv")
               .output("rtmp://h/live/STREAMKEY9");
  CHECK(c.to_string().find("STREAMKEY9") == std::string::npos);
  CHECK(c.to_string().find("'comment=sent to ***'") != std::string::npos);
  // A query token of the input, repeated in an option of the output.
  auto d = command()
               .overwrite()
               .input("https://h/x.m3u8?token=QUERYTOKEN1")
               .args({"-metadata", "title=QUERYTOKEN1"})
               .output("out.mp4");
  CHECK(d.to_string().find("QUERYTOKEN1") == std::string::npos);
}

TEST_CASE("the command remembers the secrets it carries, to mask them wherever they reappear",
          "[command]") {
  using set = std::set<std::string>;
  auto learned = [](const command& c) { return set(c.secrets().begin(), c.secrets().end()); };
  // The stream key as rtmpproto prints it: after the application, its last segment, and
  // without the ".flv" it strips.
  CHECK(learned(command().output("rtmp://h/live/STREAMKEY")) == set{"STREAMKEY"});
  CHECK(learned(command().output("rtmp://h/app/inst/KEY1.flv?bw=1")) ==
        set{"inst/KEY1.flv", "inst/KEY1", "KEY1.flv", "KEY1"});
  // Userinfo: the password, a lone token, and the Basic credentials http derives from them.
  CHECK(learned(command().input("https://user:PASSWORD1@h/x")) ==
        set{"PASSWORD1", "dXNlcjpQQVNTV09SRDE="});
  CHECK(learned(command().input("https://GHTOKEN123@h/x")) ==
        set{"GHTOKEN123", "R0hUT0tFTjEyMw=="});
  // Query values of credential names, as written and percent-decoded.
  CHECK(learned(command().input("https://h/x?cid=abcd-efgh&token=a%2Bb%3Dc&keyint=250&q=1")) ==
        set{"abcd-efgh", "a%2Bb%3Dc", "a+b=c"});
  CHECK(learned(
            command().input("srt://h:9000?streamid=#!::r=live/k,m=publish&passphrase=hunter22")) ==
        set{"#!::r=live/k,m=publish", "hunter22"});
  // Secret options: the whole value, or for a value of several parts, the secret parts as
  // ffmpeg prints them on their own.
  CHECK(learned(
            command().args({"-headers", "Authorization: Bearer BEARER1\r\nX-Trace: 12345\r\n"})) ==
        set{"BEARER1"});
  CHECK(learned(command().args(
            {"-headers", "X-Api-Key: APIKEY1\r\nCookie: a=COOKIE1; b=COOKIE2\r\n"})) ==
        set{"APIKEY1", "COOKIE1", "COOKIE2"});
  CHECK(
      learned(command().args({"-cookies", "s=COOKIE3; path=/; domain=h\ntk=COOKIE4; path=/\n"})) ==
      set{"COOKIE3", "COOKIE4"});
  CHECK(learned(command().args({"-rtmp_conn", "S:CONN1 NS:user:CONN2 B:1"})) ==
        set{"CONN1", "user:CONN2", "CONN2"});
  CHECK(learned(command().args({"-rtmp_playpath", "PLAYPATH1"})) == set{"PLAYPATH1"});
  CHECK(learned(command().args({"-passphrase", "  PASSPHRASE1\n"})) == set{"PASSPHRASE1"});
  // Values too short to mask in every line are not remembered (but still hidden in the
  // command line, by the option that carries them).
  auto short_one = command().overwrite().args({"-passphrase", "abc"}).output("rtmp://h/live/k");
  CHECK(short_one.secrets().empty());
  CHECK(short_one.to_string() ==
        "ffmpeg -loglevel level+info -y -passphrase '***' 'rtmp://h/live/***'");
  // A command without secrets has none, so its lines are searched for "://" only.
  CHECK(command().testsrc().codec_video("libx264").output("out.mp4").secrets().empty());
  // By hand; longest first, each once.
  auto c = command().secret("ABCD").secret("LONGERSECRET").secret("ABCD").secret("xyz");
  CHECK(c.secrets() == strings{"LONGERSECRET", "ABCD"});
  CHECK(c.args().empty());
  c.args({"-metadata", "title=LONGERSECRET and ABCD"}).output("out.mp4");
  CHECK(c.to_string() == "ffmpeg -loglevel level+info -n -metadata 'title=*** and ***' out.mp4");
}

TEST_CASE("mask_secrets with a command's secrets masks them in any text", "[command]") {
  auto c = command().input("https://h/x.m3u8?token=QUERYTOKEN1").output("rtmp://h/live/STREAMKEY1");
  CHECK(mask_secrets("Sending publish command for 'STREAMKEY1'", c.secrets()) ==
        "Sending publish command for '***'");
  CHECK(mask_secrets("request: GET /x.m3u8?token=QUERYTOKEN1 HTTP/1.1", c.secrets()) ==
        "request: GET /x.m3u8?token=*** HTTP/1.1");
  // Values first, then URLs: both in one line.
  CHECK(mask_secrets("STREAMKEY1 at rtmp://u:pw12@h/live/other", c.secrets()) ==
        "*** at rtmp://u:***@h/live/***");
  std::string line = "frame=  100 fps= 25 q=28.0 size=  256kB time=00:00:04.00";
  CHECK_FALSE(mask_secrets_in_place(line, c.secrets()));
  CHECK(line == "frame=  100 fps= 25 q=28.0 size=  256kB time=00:00:04.00");
  line = "fname = STREAMKEY1";
  CHECK(mask_secrets_in_place(line, c.secrets()));
  CHECK(line == "fname = ***");
  // The longer secret first: a key that contains another is masked whole.
  CHECK(mask_secrets("KEY12345 KEY1234567", strings{"KEY1234567", "KEY12345"}) == "*** ***");
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
    v.version = o == version_origin::libraries
                    ? "N-47683-g0e8eb07980-static"
                    : std::to_string(major) + "." + std::to_string(minor);
    v.major = major;
    v.minor = minor;
    v.origin = o;
    return v;
  };
  const strings given = {"-stats_period", "0.1",  "-readrate", "1",
                         "-fps_mode:v",   "cfr",  "-i",        "in.mp4",
                         "-fps_mode",     "auto", "out.mkv"};
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
  SECTION("before 6.1 there is no initial burst: 0 is left out silently, more with a note") {
    for (auto v : {at(4, 1, version_origin::libraries), at(5, 1), at(6, 0)}) {
      strings a = {"-readrate_initial_burst", "0.000001", "-re", "-i", "x", "out.mkv"};
      strings notes;
      adapt_arguments(a, v, notes);
      CHECK(a == strings{"-re", "-i", "x", "out.mkv"});
      CHECK(notes.empty());
      strings b = {"-readrate_initial_burst", "2", "-re", "-i", "x", "out.mkv"};
      adapt_arguments(b, v, notes);
      CHECK(b == strings{"-re", "-i", "x", "out.mkv"});
      REQUIRE(notes.size() == 1);
      CHECK(notes[0].find("-readrate_initial_burst 2") != std::string::npos);
      CHECK(notes[0].find("6.1") != std::string::npos);
    }
    for (auto v : {at(6, 1), at(7, 1), at(9, 0)}) {
      strings a = {"-readrate_initial_burst", "0", "-re", "-i", "x", "out.mkv"};
      const strings kept = a;
      strings notes;
      adapt_arguments(a, v, notes);
      CHECK(a == kept);
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

TEST_CASE("the guards see -y and -loglevel after a flag the table does not know", "[command]") {
  // -vstats takes no value; an unknown flag would read as taking one and hide what follows.
  auto c = command().args({"-some_new_flag", "-y", "-loglevel", "error"}).output("o.mkv");
  CHECK(c.argv() == c.args()); // neither guard added
  auto v = command().args({"-vstats", "-noautorotate", "-i", "in.mkv", "-y", "out.mkv"});
  REQUIRE(v.inputs().size() == 1);
  CHECK(v.inputs()[0].options.size() == 2);
  REQUIRE(v.outputs().size() == 1);
  CHECK(v.outputs()[0].url == "out.mkv");
}
