// Shared test main: skips (exit 77) when a program the suite needs is not installed.
#if __has_include(<catch2/catch_session.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#ifndef SIDECAR_TEST_PURE
#include <sidecar/binary.hpp>
#endif

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  // A child that dies while we write to it must give EPIPE, not kill the test.
  std::signal(SIGPIPE, SIG_IGN);
#ifndef SIDECAR_TEST_PURE // the pure suites (log) link no sidecar and need no program
  if (const char* needs = std::getenv("SIDECAR_TEST_NEEDS")) {
    std::string list = needs;
    std::size_t pos = 0;
    while (pos < list.size()) {
      auto end = list.find(',', pos);
      if (end == std::string::npos) end = list.size();
      auto name = list.substr(pos, end - pos);
      pos = end + 1;
      if (name.empty()) continue;
      if (auto found = sidecar::find_program(name); !found) {
        std::cerr << "skipped: " << found.error().message() << '\n';
        return 77;
      }
    }
  }
#endif
  return Catch::Session().run(argc, argv);
}
