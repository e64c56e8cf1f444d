// RTMP faults against a real nginx-rtmp: a server killed under a live push, and a server that
// refuses the publish. Each ends with ffmpeg's own error, within a limit, nothing left behind.
// Skips (77) without nginx or its module.
#include <sidecar/presets.hpp>
#include <sidecar/with_timeout.hpp>

#include "nginx_rtmp.hpp"
#include "rtmp_support.hpp"

#include <csignal>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

bool says(const error& e, std::string_view what) {
  return e.message().find(what) != std::string::npos;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

TEST_CASE("an RTMP server killed mid-push: the push fails with ffmpeg's status and lines",
          "[rtmp][fault]") {
  leaves_nothing_behind guard;
  struct outcome {
    expected<exit_status> push;
    double seconds = 0;     // from the kill to the end of the push
    bool published = false; // nginx had taken the stream before it was killed
    expected<exit_status> server;
  };
  auto r = run(
      []() -> awaitable<outcome> {
        auto ex = co_await asio::this_coro::executor;
        auto srv = co_await nginx_rtmp_server::start();
        REQUIRE(srv);
        // 30 s of testsrc + sine with -re: still pushing when the server goes.
        auto ff = publisher(srv->url("doomed"), "30").spawn(ex);
        REQUIRE(ff);
        outcome o;
        o.published = co_await logged(*srv, "publish: name='doomed'");
        co_await ff->next_progress(); // pushing: it has sent media since
        // master_process off: nginx is this one process, master and worker in one.
        REQUIRE(::kill(srv->pid(), SIGKILL) == 0);
        auto t0 = std::chrono::steady_clock::now();
        o.push = co_await with_timeout(ff->wait(), 15s);
        o.seconds = seconds_since(t0);
        o.server = co_await srv->stop(); // reaps the killed nginx
        co_return o;
      }(),
      60s);
  CHECK(r.published);
  REQUIRE_FALSE(r.push);
  INFO(r.push.error().message());
  CHECK(r.push.error() == errc::process_failed); // ffmpeg noticed by itself, no timeout
  REQUIRE(r.push.error().status());
  CHECK(r.push.error().status()->code > 0); // 1 up to 5.1; 7.x: 224, 251
  REQUIRE_FALSE(r.push.error().lines().empty());
  CHECK((says(r.push.error(), "Broken pipe") || says(r.push.error(), "Connection reset")));
  CHECK(r.seconds < 10.0);
  REQUIRE(r.server);
  CHECK(r.server->signal == SIGKILL);
  guard.check();
}

TEST_CASE("an RTMP server that refuses the publish (no such application): a clear error",
          "[rtmp][fault]") {
  leaves_nothing_behind guard;
  struct outcome {
    expected<exit_status> push;
    double seconds = 0;
    bool still_up = false; // the refusal cost the server nothing
    std::string log;
  };
  auto r = run(
      []() -> awaitable<outcome> {
        auto ex = co_await asio::this_coro::executor;
        auto srv = co_await nginx_rtmp_server::start();
        REQUIRE(srv);
        auto url = "rtmp://127.0.0.1:" + std::to_string(srv->port()) + "/nosuchapp/key";
        auto ff = publisher(url, "30").spawn(ex);
        REQUIRE(ff);
        auto t0 = std::chrono::steady_clock::now();
        outcome o;
        o.push = co_await with_timeout(ff->wait(), 15s);
        o.seconds = seconds_since(t0);
        o.still_up = srv->running();
        o.log = srv->error_log();
        auto st = co_await srv->stop();
        CHECK(st);
        co_return o;
      }(),
      60s);
  REQUIRE_FALSE(r.push);
  INFO(r.push.error().message());
  CHECK(r.push.error() == errc::process_failed);
  REQUIRE(r.push.error().status());
  CHECK(r.push.error().status()->code > 0); // 1 up to 5.1; 7.x: 224, 251
  REQUIRE_FALSE(r.push.error().lines().empty());
  // ffmpeg names the URL it could not open (the key masked) and the reason it got.
  CHECK(says(r.push.error(), "nosuchapp"));
  CHECK(says(r.push.error(), "Input/output error"));
  CHECK(r.seconds < 10.0);
  CHECK(r.still_up);
  INFO(r.log);
  CHECK(r.log.find("application not found") != std::string::npos);
  guard.check();
}
