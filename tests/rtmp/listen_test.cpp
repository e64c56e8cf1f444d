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
  run([&]() -> awaitable<void> {
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
  }(), 60s);
  guard.check();
}

TEST_CASE("a listener nobody publishes to gives up after its -timeout", "[rtmp]") {
  leaves_nothing_behind guard;
  temp_dir tmp;
  auto started = std::chrono::steady_clock::now();
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto port = free_loopback_port(ex);
    REQUIRE(port);
    command listen;
    listen.hide_banner();
    rtmp_listen(listen, "rtmp://127.0.0.1:" + std::to_string(*port) + "/live/x", {.timeout = 1s});
    listen.codec_video("copy").output((tmp / "never.flv").string());
    auto server = listen.spawn(ex);
    REQUIRE(server);
    auto st = co_await server->wait();
    REQUIRE_FALSE(st);
    CHECK(st.error() == errc::process_failed);
    CHECK(st.error().message().find("timed out") != std::string::npos);
  }(), 30s);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK_FALSE(std::filesystem::exists(tmp / "never.flv"));
  guard.check();
}

TEST_CASE("publishing to an RTMP server that is down fails at once: Connection refused",
          "[rtmp]") {
  leaves_nothing_behind guard;
  auto started = std::chrono::steady_clock::now();
  run([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto port = free_loopback_port(ex); // free: nothing listens there
    REQUIRE(port);
    auto pub = publisher("rtmp://127.0.0.1:" + std::to_string(*port) + "/live/key", "3").spawn(ex);
    REQUIRE(pub);
    auto st = co_await pub->wait();
    REQUIRE_FALSE(st);
    CHECK(st.error() == errc::process_failed);
    REQUIRE(st.error().status());
    CHECK(st.error().status()->code > 0); // 1 up to 5.1, 145 on 7.x
    auto msg = st.error().message();
    CHECK(msg.find("Connection refused") != std::string::npos);
    CHECK(msg.find("exit code " + std::to_string(st.error().status()->code)) != std::string::npos);
  }(), 30s);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  guard.check();
}
