// The error model: what message() says for each kind of failure, prefixes, comparisons with
// errc, exit statuses decoded from wait(2) words, and Asio's error codes passing through.
#include <sidecar/error.hpp>

#include "catch.hpp"

#include <asio/error.hpp>

#include <csignal>
#include <sys/wait.h>

using namespace sidecar;

TEST_CASE("exit_status decodes wait(2) status words", "[core]") {
  // Exit code 3 and SIGKILL, encoded as the kernel encodes them (see <bits/waitstatus.h>).
  const auto exited = exit_status::from_wait_status(3 << 8);
  CHECK(exited == exit_status::exited(3));
  CHECK(exited.has_exited());
  CHECK_FALSE(exited.success());
  CHECK(exited.to_string() == "exit code 3");
  const auto killed = exit_status::from_wait_status(SIGKILL);
  CHECK(killed == exit_status::killed_by(SIGKILL));
  CHECK(killed.was_signaled());
  CHECK(killed.to_string() == "killed by SIGKILL");
  CHECK(exit_status::exited(0).success());
  CHECK(exit_status{}.to_string() == "still running");
}

TEST_CASE("a failed ffmpeg says its exit status and the lines it printed", "[core]") {
  auto e = error::process_failed("ffmpeg failed", exit_status::exited(1),
                                 {"/nonexistent/input.mp4: No such file or directory"});
  CHECK(e == errc::process_failed);
  CHECK(e.status() == exit_status::exited(1));
  CHECK(e.lines().size() == 1);
  CHECK(e.message() ==
        "ffmpeg failed (exit code 1)\n  /nonexistent/input.mp4: No such file or directory");
}

TEST_CASE("a stopped child says why it was stopped", "[core]") {
  auto e = error::stopped(errc::timed_out, "ffmpeg stopped", exit_status::exited(0), {});
  CHECK(e == errc::timed_out);
  CHECK(e.message().find("ffmpeg stopped") == 0);
  CHECK(e.message().find("exit code 0") != std::string::npos);
}

TEST_CASE("context, reason and prefixes read as one sentence", "[core]") {
  error e(std::error_code(ENOENT, std::system_category()), "opening /tmp/x");
  CHECK(e.message() == "opening /tmp/x: No such file or directory");
  e.prefix("named_pipe");
  CHECK(e.context() == "named_pipe: opening /tmp/x");
  CHECK(e.message() == "named_pipe: opening /tmp/x: No such file or directory");
  // No context: the reason alone; a context that already says the reason is not repeated.
  CHECK(error(std::error_code(EPIPE, std::system_category())).message() == "Broken pipe");
  CHECK(error(std::error_code(EPIPE, std::system_category()), "write: Broken pipe").message() ==
        "write: Broken pipe");
}

TEST_CASE("Asio's error codes pass through unchanged", "[core]") {
  auto r = []() -> expected<int> { return fail(asio::error::operation_aborted, "reading"); }();
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == asio::error::operation_aborted);
  CHECK_FALSE(r.error() == errc::cancelled);
  auto f = fail_errno("bind 127.0.0.1:80", EADDRINUSE);
  CHECK(f.value().code() == std::errc::address_in_use);
  CHECK(f.value().message().find("bind 127.0.0.1:80") == 0);
  CHECK(make_error_code(errc::binary_not_found).category().name() == std::string("sidecar"));
}
