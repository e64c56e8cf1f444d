// resolve() against the ffmpeg that is installed: a path to an executable, then the guarded argv.
#include <sidecar/capabilities.hpp>
#include <sidecar/command.hpp>

#include "catch.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <unistd.h>

using namespace sidecar;

TEST_CASE("resolve finds the real ffmpeg", "[command][ffmpeg]") {
  auto c = command().hide_banner().testsrc().frames(1).format("null").output("-");
  auto r = c.resolve();
  REQUIRE(r);
  CHECK(::access(r->program.c_str(), X_OK) == 0);
  REQUIRE(!r->argv.empty());
  CHECK(r->argv.front() == r->program.string());
  std::vector<std::string> rest(r->argv.begin() + 1, r->argv.end());
  CHECK(rest == c.argv());
}

TEST_CASE("the binary's version decides the options that need a newer release",
          "[command][ffmpeg][versions]") {
  auto program = find_tool(tool::ffmpeg);
  REQUIRE(program);
  auto v = describe_binary(*program);
  REQUIRE(v);
  INFO("ffmpeg " << v->version << " taken as " << v->major << "." << v->minor << " from its "
                 << to_string(v->origin));
  CHECK(v->origin != version_origin::unknown);
  CHECK(v->major >= 4);
  auto again = describe_binary(*program); // cached
  REQUIRE(again);
  CHECK(again->version == v->version);

  auto c = command()
               .stats_period("0.1")
               .fps_mode("passthrough")
               .readrate(1.0)
               .readrate_initial_burst(0)
               .testsrc()
               .frames(1)
               .format("null")
               .output("-");
  auto r = c.resolve();
  REQUIRE(r);
  auto has = [&](std::string_view a) {
    return std::find(r->argv.begin(), r->argv.end(), a) != r->argv.end();
  };
  CHECK(has("-stats_period") == v->at_least(4, 4));
  CHECK(has("-fps_mode") == v->at_least(5, 1));
  CHECK(has("-vsync") == !v->at_least(5, 1));
  CHECK(has("-readrate") == v->at_least(5, 0));
  CHECK(has("-re") == !v->at_least(5, 0));
  CHECK(has("-readrate_initial_burst") == v->at_least(6, 1)); // left out silently: 0 is no burst
  std::size_t gated = 0;
  for (auto [maj, min] : {std::pair{4, 4}, std::pair{5, 1}, std::pair{5, 0}})
    gated += v->at_least(maj, min) ? 0 : 1;
  CHECK(r->notes.size() == gated);
  for (const auto& n : r->notes)
    CHECK(n.find(v->version) != std::string::npos);
  // A command with none of them does not need the version at all: argv as built.
  auto plain = command().testsrc().frames(1).format("null").output("-").resolve();
  REQUIRE(plain);
  CHECK(plain->notes.empty());
}
