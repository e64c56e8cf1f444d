// Out of descriptors (EMFILE): spawn returns errors as values and nothing is poisoned for
// later. Its own program, so that the first spawn of the process (and its pidfd probe) runs
// at EMFILE.
#include <sidecar/child.hpp>

#include "support.hpp"

#include <asio/io_context.hpp>

#include <sys/resource.h>
#include <unistd.h>

using namespace sidecar;
using namespace sidecar::test;

namespace {

std::string helper() {
  const char* h = std::getenv("SIDECAR_TEST_HELPER");
  REQUIRE(h != nullptr);
  return h;
}

// Takes every free descriptor (up to a lowered limit) until released.
class fd_hog {
public:
  fd_hog() {
    ::getrlimit(RLIMIT_NOFILE, &old_);
    rlimit low = old_;
    low.rlim_cur = std::min<rlim_t>(old_.rlim_cur, 256);
    ::setrlimit(RLIMIT_NOFILE, &low);
    fill();
  }
  ~fd_hog() {
    free(held_.size());
    ::setrlimit(RLIMIT_NOFILE, &old_);
  }
  void fill() {
    for (int fd; (fd = ::dup(2)) >= 0;)
      held_.push_back(fd);
  }
  void free(std::size_t n) {
    for (; n > 0 && !held_.empty(); --n) {
      ::close(held_.back());
      held_.pop_back();
    }
  }

private:
  rlimit old_{};
  std::vector<int> held_;
};

// Runs ctx until c has exited (at most 10 s) and checks it exited cleanly.
void wait_clean_exit(asio::io_context& ctx, child& c) {
  std::optional<std::error_code> done;
  c.async_wait([&](std::error_code ec, exit_status) { done = ec; });
  ctx.restart();
  ctx.run_for(std::chrono::seconds(10));
  REQUIRE(done);
  CHECK_FALSE(*done);
}

} // namespace

TEST_CASE("at EMFILE a spawn is an error value, and pidfd is still used afterwards", "[process]") {
  asio::io_context ctx;
  int errors = 0, spawned = 0;
  {
    fd_hog hog;
    // With 0 to 8 descriptors free, each step of spawn meets EMFILE in turn: the pipes, the
    // pidfd probe, the child's pidfd, the SIGCHLD fallback's signal pipe.
    for (std::size_t free = 0; free <= 8; ++free) {
      INFO(free << " descriptors free");
      hog.free(free);
      expected<child> c = fail(errc::protocol, "not run");
      REQUIRE_NOTHROW(
          c = child::spawn(ctx.get_executor(), spawn_options::to_read(helper(), {"exit", "0"})));
      if (c) {
        ++spawned;
        wait_clean_exit(ctx, *c);
      } else {
        ++errors;
        INFO(c.error().message());
        CHECK(c.error().message().find("sidecar-test-helper") != std::string::npos);
      }
      hog.fill();
    }
  }
  CHECK(errors > 0);
  CHECK(spawned > 0);
  CHECK_FALSE(has_children());
  // The probe that met EMFILE was not taken as "no pidfd on this kernel".
  auto o = spawn_options::to_read(helper(), {"exit", "0"});
  o.watch = exit_watch::pidfd;
  auto c = child::spawn(ctx.get_executor(), std::move(o));
  REQUIRE(c);
  wait_clean_exit(ctx, *c);
  CHECK_FALSE(has_children());
}
