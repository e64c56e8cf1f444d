// Spawns `sidecar-test-helper sleep 60` through sidecar, prints its pid, then calls
// std::exit() with the io_context and the child object still alive: the child must not
// outlive this program.
#include <sidecar/child.hpp>

#include <asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  asio::io_context ctx;
  sidecar::spawn_options o;
  o.program = argv[1];
  o.args = {"sleep", "60"};
  o.in = sidecar::stdio::null();
  o.out = sidecar::stdio::null();
  if (argc > 2) o.kill_on_exit = false; // `keep`: the old behaviour, for the test's contrast
  auto c = sidecar::child::spawn(ctx.get_executor(), std::move(o));
  if (!c) return 3;
  std::printf("%d\n", static_cast<int>(c->id()));
  std::fflush(stdout);
  std::exit(0);
}
