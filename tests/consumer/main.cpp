// The consumer program of .ci/consumer: built against the subproject and against the install
// (pkg-config with g++ and clang, CMake), each time under a strict consumer's warnings
// (-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Werror). It uses the
// templates a program instantiates (tee, relay, with_timeout, the token forms), so warnings
// inside sidecar's headers that only an instantiation shows are caught too. Runs a real
// ffmpeg; exits 0 when every step did what it should.
#include <sidecar/sidecar.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <variant>

using namespace std::chrono_literals;

namespace {

asio::awaitable<int> run() {
  auto ex = co_await asio::this_coro::executor;
  static_assert(SIDECAR_VERSION >= 100, "version.hpp");
  if (std::string_view(sidecar::linked_version()) != SIDECAR_VERSION_STRING) {
    std::cerr << "consumer: headers " << SIDECAR_VERSION_STRING << ", library "
              << sidecar::linked_version() << '\n';
    co_return 3;
  }

  // The event stream: rawvideo frames and progress.
  auto ff = sidecar::command{}.hide_banner().testsrc().size(64, 48).frames(5).rawvideo().spawn(ex);
  if (!ff) {
    std::cerr << ff.error().message() << '\n';
    co_return 2;
  }
  std::uint64_t frames = 0;
  for (;;) {
    auto e = co_await ff->next_event();
    if (!e) break;
    if (const auto* f = std::get_if<sidecar::frame>(&*e); f && !f->data().empty()) ++frames;
  }
  auto status = co_await sidecar::with_timeout(ff->wait(), 30s);
  if (!status || frames != 5) {
    std::cerr << "consumer: frames " << frames << ", "
              << (status ? status->to_string() : status.error().message()) << '\n';
    co_return 1;
  }

  // stdout as a byte stream, through tee into two files.
  auto enc =
      sidecar::command{}.hide_banner().testsrc().frames(5).format("nut").output("-").spawn(ex);
  if (!enc) {
    std::cerr << enc.error().message() << '\n';
    co_return 2;
  }
  auto& out = enc->take_stdout();
  auto a = sidecar::file_stream::open(ex, "/dev/null", sidecar::file_stream::mode::write_append);
  auto b = sidecar::file_stream::open(ex, "/dev/null", sidecar::file_stream::mode::write_append);
  if (!a || !b) {
    std::cerr << "consumer: /dev/null\n";
    co_return 1;
  }
  auto copied = co_await sidecar::tee(out, *a, *b);
  auto st2 = co_await enc->wait();
  if (!copied || !st2) {
    std::cerr << "consumer: tee " << (copied ? "ok" : copied.error().message()) << ", "
              << (st2 ? st2->to_string() : st2.error().message()) << '\n';
    co_return 1;
  }
  std::cout << "consumer: ffmpeg " << status->to_string() << ", " << frames << " frames, sidecar "
            << sidecar::linked_version() << '\n';
  co_return 0;
}

} // namespace

int main() {
  asio::io_context ctx;
  auto result = asio::co_spawn(ctx, run(), asio::use_future);
  ctx.run();
  return result.get();
}
