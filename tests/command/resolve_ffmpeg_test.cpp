// resolve() against the ffmpeg that is installed: a path to an executable, then the guarded argv.
#include <sidecar/command.hpp>

#include "catch.hpp"

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
