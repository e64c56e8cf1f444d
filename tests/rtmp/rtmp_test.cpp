// RTMP through a real nginx-rtmp server started by the fixture: publish and play back, RTMP
// ingest to HLS, and the fixture's own lifecycle. Skips (77) without nginx or its module.
#include <sidecar/presets.hpp>

#include "nginx_rtmp.hpp"
#include "rtmp_support.hpp"

#include <cstdlib>
#include <fstream>
#include <optional>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

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

TEST_CASE("the nginx fixture starts on a free port, answers, stops, and cleans up", "[rtmp]") {
  leaves_nothing_behind guard;
  std::filesystem::path dir;
  run(
      [&]() -> awaitable<void> {
        auto srv = co_await nginx_rtmp_server::start();
        REQUIRE(srv);
        dir = srv->directory();
        CHECK(srv->running());
        CHECK(srv->port() != 0);
        CHECK(srv->url("s") == "rtmp://127.0.0.1:" + std::to_string(srv->port()) + "/live/s");
        // Everything nginx writes is in its own dir.
        CHECK(std::filesystem::exists(dir / "nginx.conf"));
        CHECK(std::filesystem::exists(dir / "nginx.pid"));
        CHECK(std::filesystem::exists(dir / "error.log"));
        auto st = co_await srv->stop();
        REQUIRE(st);
        CHECK(st->success());
        CHECK_FALSE(srv->running());
        CHECK(srv->error_log().find("exit") != std::string::npos);
      }(),
      30s);
  CHECK_FALSE(dir.empty());
  CHECK_FALSE(std::filesystem::exists(dir));
  guard.check();
}

TEST_CASE("a fixture dropped without stop() still leaves nothing behind", "[rtmp]") {
  leaves_nothing_behind guard;
  run(
      []() -> awaitable<void> {
        auto a = co_await nginx_rtmp_server::start();
        auto b = co_await nginx_rtmp_server::start();
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->port() != b->port()); // two at once, each on its own port
      }(),
      30s);
  guard.check();
}

TEST_CASE("a module nginx cannot load: start fails with nginx's own reason", "[rtmp]") {
  leaves_nothing_behind guard;
  auto conf = std::filesystem::temp_directory_path() / "sidecar-rtmp-not-a-module.so";
  { std::ofstream(conf) << "not a shared object\n"; }
  {
    scoped_env env("SIDECAR_NGINX_RTMP_MODULE", conf.c_str());
    run(
        []() -> awaitable<void> {
          auto srv = co_await nginx_rtmp_server::start();
          REQUIRE_FALSE(srv);
          CHECK(srv.error() == errc::process_failed);
          REQUIRE(srv.error().status());
          CHECK_FALSE(srv.error().status()->success());
          auto msg = srv.error().message();
          CHECK(msg.find("nginx exited while starting") != std::string::npos);
          CHECK(msg.find("[emerg]") != std::string::npos);
          CHECK(msg.find("dlopen") != std::string::npos);
        }(),
        30s);
  }
  std::filesystem::remove(conf);
  guard.check();
}

TEST_CASE("a port another server holds: start fails, never takes the other for its own", "[rtmp]") {
  leaves_nothing_behind guard;
  auto started = std::chrono::steady_clock::now();
  run(
      []() -> awaitable<void> {
        auto first = co_await nginx_rtmp_server::start();
        REQUIRE(first);
        // The first nginx answers RTMP handshakes on that port while the second one retries its
        // bind (nginx tries for 2.5 s): the handshake alone would call the second one up.
        nginx_rtmp_options o;
        o.port = first->port();
        auto second = co_await nginx_rtmp_server::start(o);
        REQUIRE_FALSE(second);
        CHECK(second.error() == errc::process_failed);
        CHECK(second.error().message().find("Address already in use") != std::string::npos);
        CHECK(first->running());
        CHECK((co_await first->stop()).has_value());
      }(),
      30s);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  guard.check();
}

TEST_CASE("publish to nginx-rtmp and play it back: video and audio arrive", "[rtmp]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  auto started = std::chrono::steady_clock::now();
  run(
      [&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto srv = co_await nginx_rtmp_server::start();
        REQUIRE(srv);
        // Up to 10 s: the player may join up to a second late and then waits up to a second for
        // a keyframe; once it has its 2 s, the publisher is told to quit.
        auto pub = publisher(srv->url("stream"), "10").spawn(ex);
        REQUIRE(pub);
        // The player starts once the publisher is sending (its first stats line).
        auto first = co_await pub->next_progress();
        REQUIRE(first);
        auto rec = recorder(srv->url("stream"), "2", tmp / "out.flv").spawn(ex);
        REQUIRE(rec);
        auto got = co_await rec->wait();
        INFO(srv->error_log());
        REQUIRE(got);
        CHECK_FALSE(pub->quit());
        auto sent = co_await pub->wait();
        REQUIRE(sent);
        CHECK(sent->success());

        auto m = co_await inspect(tmp / "out.flv");
        REQUIRE(m);
        CHECK(m->video == 1);
        CHECK(m->audio == 1);
        CHECK(m->codecs == strings("h264", "aac"));
        CHECK(m->seconds == Approx(2.0).margin(0.25));
        CHECK((co_await srv->stop()).has_value());
      }(),
      60s);
  CHECK(std::chrono::steady_clock::now() - started < 20s);
  guard.check();
}

TEST_CASE("a player that joins first waits for the publisher", "[rtmp]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  run(
      [&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto srv = co_await nginx_rtmp_server::start();
        REQUIRE(srv);
        auto rec = recorder(srv->url("later"), "2", tmp / "out.flv").spawn(ex);
        REQUIRE(rec);
        // The player is there first. (Not co_await inside CHECK: g++ 12 evaluates it 3 times.)
        const bool playing = co_await logged(*srv, "play: name='later'");
        CHECK(playing);
        auto pub = publisher(srv->url("later"), "10").spawn(ex);
        REQUIRE(pub);
        {
          auto done_ = co_await rec->wait();
          REQUIRE(done_);
        }
        CHECK_FALSE(pub->quit());
        {
          auto done_ = co_await pub->wait();
          REQUIRE(done_);
        }
        auto m = co_await inspect(tmp / "out.flv");
        REQUIRE(m);
        CHECK(m->video == 1);
        CHECK(m->audio == 1);
        CHECK(m->seconds == Approx(2.0).margin(0.25));
      }(),
      60s);
  guard.check();
}

TEST_CASE("RTMP ingest to HLS through nginx-rtmp", "[rtmp][hls]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  run(
      [&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto srv = co_await nginx_rtmp_server::start();
        REQUIRE(srv);
        auto pub = publisher(srv->url("ingest"), "10").spawn(ex); // quit once the HLS is written
        REQUIRE(pub);
        {
          auto done_ = co_await pub->next_progress();
          REQUIRE(done_);
        }
        // Segments as sent (-c copy): the publisher's keyframe each second lets the muxer cut
        // every 2 s.
        command pull;
        pull.hide_banner()
            .args(strings("-rw_timeout", "15000000"))
            .input(srv->url("ingest"))
            .duration("4");
        hls_output(pull, tmp.path(),
                   {.segment_seconds = 2, .video_codec = "copy", .audio_codec = "copy"});
        auto hls = pull.spawn(ex);
        REQUIRE(hls);
        auto done = co_await hls->wait();
        INFO(srv->error_log());
        REQUIRE(done);
        CHECK_FALSE(pub->quit());
        {
          auto done_ = co_await pub->wait();
          REQUIRE(done_);
        }

        auto playlist = tmp / "playlist.m3u8";
        REQUIRE(std::filesystem::exists(playlist));
        auto segments = extinf_seconds(playlist);
        CHECK(segments.size() == 2);
        for (double s : segments)
          CHECK(s == Approx(2.0).margin(0.25));
        CHECK(std::filesystem::exists(tmp / "segment000.ts"));
        CHECK(std::filesystem::exists(tmp / "segment001.ts"));
        auto m = co_await inspect(playlist);
        REQUIRE(m);
        CHECK(m->video == 1);
        CHECK(m->audio == 1);
        CHECK(m->seconds == Approx(4.0).margin(0.3));
      }(),
      60s);
  guard.check();
}
