// Test fixture: a private nginx-rtmp server on a free loopback port (see
// samples/nginx_rtmp_server.hpp, the one implementation, shared with the samples), and a skip
// (exit 77) for test programs that include this when nginx or its RTMP module is missing.
#pragma once

#include "../samples/nginx_rtmp_server.hpp"

#include <cstdlib>
#include <iostream>

namespace sidecar::test {

using sidecar_samples::nginx_rtmp_options;
using sidecar_samples::nginx_rtmp_server;

namespace detail {
// Runs before main(): tests/main.cpp's `needs` looks on PATH only, and nginx lives in
// /usr/sbin (not on a user's PATH on Debian), and the module is a file, not a program.
inline const bool nginx_rtmp_present = [] {
  auto nginx = nginx_rtmp_server::find_nginx();
  auto module = nginx ? nginx_rtmp_server::find_rtmp_module() : nginx;
  if (!nginx || !module) {
    std::cerr << "skipped: " << (nginx ? module : nginx).error().message() << '\n';
    std::exit(77);
  }
  return true;
}();
} // namespace detail

} // namespace sidecar::test
