// RTMP without a server: ffmpeg as the listener (-listen 1) recording what another ffmpeg
// publishes to it, the listener's timeout, and publishing to a server that is down.
#include <sidecar/presets.hpp>

#include "rtmp_support.hpp"

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

// Publishes `seconds` of the test source to a listening ffmpeg. ffmpeg says nothing when it
// starts listening, and a probe connection would be taken as its one publisher, so: try,
// and try again while the connection is refused.
awaitable<expected<exit_status>> publish_when_listening(std::string url, std::string seconds) {
  auto ex = co_await asio::this_coro::executor;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    auto pub = publisher(url, seconds).spawn(ex);
    if (!pub) co_return tl::unexpected(pub.error());
    auto st = co_await pub->wait();
    if (st || std::chrono::steady_clock::now() > deadline ||
        st.error().message().find("Connection refused") == std::string::npos)
      co_return st;
    co_await sleep_for(100ms);
  }
}

} // namespace

TEST_CASE("ffmpeg listens with -listen 1 and records what a publisher sends", "[rtmp]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  run(
      [&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto port = free_loopback_port(ex);
        REQUIRE(port);
        auto url = "rtmp://127.0.0.1:" + std::to_string(*port) + "/live/x";
        command listen;
        listen.hide_banner();
        rtmp_listen(listen, url, {.timeout = 20s});
        listen.codec_video("copy").codec_audio("copy").output((tmp / "received.flv").string());
        auto server = listen.spawn(ex);
        REQUIRE(server);
        auto sent = co_await publish_when_listening(url, "3");
        REQUIRE(sent);
        CHECK(sent->success());
        // The listener's input ends when its publisher disconnects.
        auto got = co_await server->wait();
        REQUIRE(got);
        CHECK(got->success());

        auto m = co_await inspect(tmp / "received.flv");
        REQUIRE(m);
        CHECK(m->video == 1);
        CHECK(m->audio == 1);
        CHECK(m->codecs == strings("h264", "aac"));
        CHECK(m->seconds == Approx(3.0).margin(0.25));
        CHECK(m->bytes > 10000);
      }(),
      60s);
  guard.check();
}

TEST_CASE("a listener nobody publishes to gives up after its -timeout", "[rtmp]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  auto started = std::chrono::steady_clock::now();
  run(
      [&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto port = free_loopback_port(ex);
        REQUIRE(port);
        command listen;
        listen.hide_banner();
        rtmp_listen(listen, "rtmp://127.0.0.1:" + std::to_string(*port) + "/live/x",
                    {.timeout = 1s});
        listen.codec_video("copy").output((tmp / "never.flv").string());
        auto server = listen.spawn(ex);
        REQUIRE(server);
        auto st = co_await server->wait();
        REQUIRE_FALSE(st);
        CHECK(st.error() == errc::process_failed);
        CHECK(st.error().message().find("timed out") != std::string::npos);
      }(),
      30s);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK_FALSE(std::filesystem::exists(tmp / "never.flv"));
  guard.check();
}

TEST_CASE("publishing to an RTMP server that is down fails at once: Connection refused", "[rtmp]") {
  leaves_nothing_behind guard;
  auto started = std::chrono::steady_clock::now();
  run(
      []() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto port = free_loopback_port(ex); // free: nothing listens there
        REQUIRE(port);
        auto pub =
            publisher("rtmp://127.0.0.1:" + std::to_string(*port) + "/live/key", "3").spawn(ex);
        REQUIRE(pub);
        auto st = co_await pub->wait();
        REQUIRE_FALSE(st);
        CHECK(st.error() == errc::process_failed);
        REQUIRE(st.error().status());
        CHECK(st.error().status()->code > 0); // 1 up to 5.1, 145 on 7.x
        auto msg = st.error().message();
        CHECK(msg.find("Connection refused") != std::string::npos);
        CHECK(msg.find("exit code " + std::to_string(st.error().status()->code)) !=
              std::string::npos);
      }(),
      30s);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  guard.check();
}

TEST_CASE("at -loglevel debug the key ffmpeg prints without a URL is masked", "[rtmp][security]") {
  // Issue #14 item 4: publishing, rtmpproto prints "path = /live/KEY, ... fname = KEY" and
  // "Sending publish command for 'KEY'": no "://" around them, the key all the same.
  leaves_nothing_behind guard;
  temp_dir tmp;
  struct seen {
    int masked = 0; // the lines that name the key, masked: the checks below are not vacuous
    std::vector<std::string> leaked;
  };
  auto r = run(
      [&]() -> awaitable<seen> {
        auto ex = co_await asio::this_coro::executor;
        auto port = free_loopback_port(ex);
        REQUIRE(port);
        const std::string key = "SECRETKEY42";
        auto url = "rtmp://127.0.0.1:" + std::to_string(*port) + "/live/" + key;
        command listen;
        listen.hide_banner();
        rtmp_listen(listen, url, {.timeout = 20s});
        listen.codec_video("copy").codec_audio("copy").output((tmp / "received.flv").string());
        auto server = listen.spawn(ex);
        REQUIRE(server);
        seen out;
        // As publish_when_listening: try again while the listener is not up yet.
        auto deadline = std::chrono::steady_clock::now() + 10s;
        for (;;) {
          command c;
          c.loglevel("level+debug");
          av_source(c, "1");
          rtmp_push(c, url, {.gop = 25});
          auto pub = c.spawn(ex);
          REQUIRE(pub);
          for (;;) {
            auto e = co_await pub->next_event();
            if (!e) break;
            auto* l = std::get_if<log_line>(&*e);
            if (!l) continue;
            for (const auto* text : {&l->text, &l->component})
              if (text->find(key) != std::string::npos) out.leaked.push_back(*text);
            out.masked += l->text == "Sending publish command for '***'";
            out.masked +=
                l->text.find("path = /live/***, app = live, fname = ***") != std::string::npos;
          }
          auto st = co_await pub->wait();
          if (!st) {
            CHECK(st.error().message().find(key) == std::string::npos);
            if (std::chrono::steady_clock::now() < deadline &&
                st.error().message().find("Connection refused") != std::string::npos) {
              co_await sleep_for(100ms);
              continue;
            }
          }
          REQUIRE(st);
          CHECK(st->success());
          break;
        }
        auto got = co_await server->wait();
        CHECK(got);
        co_return out;
      }(),
      60s);
  CHECK(r.masked == 2);
  for (const auto& l : r.leaked)
    FAIL_CHECK("leaked: " << l);
  guard.check();
}
