// ffprobe: run it with JSON output, read stdout and stderr to the end under a deadline, map
// the JSON with nlohmann::json.
#include <sidecar/probe.hpp>

#include <sidecar/binary.hpp>
#include <sidecar/child.hpp>
#include <sidecar/command.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <deque>

namespace sidecar {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

} // namespace

namespace {

// Reads ffprobe's stdout and stderr to the end under the deadline, then reaps it.
asio::awaitable<expected<media_info>> finish_probe(child c, std::string input,
                                                   std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  std::string out;
  std::deque<std::string> lines; // the last lines of stderr, for the error
  bool too_big = false;
  auto read_out = [&]() -> asio::awaitable<void> {
    std::array<char, 16384> buf;
    for (;;) {
      auto [ec, n] = co_await c.stdout_pipe().async_read_some(asio::buffer(buf), use_tuple);
      if (out.size() + n > (std::size_t{64} << 20)) too_big = true;
      else out.append(buf.data(), n);
      if (ec) break;
    }
  };
  auto read_err = [&]() -> asio::awaitable<void> {
    std::array<char, 4096> buf;
    std::string partial;
    for (;;) {
      auto [ec, n] = co_await c.stderr_pipe().async_read_some(asio::buffer(buf), use_tuple);
      partial.append(buf.data(), n);
      std::size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        if (nl > 0) lines.push_back(mask_secrets(partial.substr(0, nl)));
        if (lines.size() > 32) lines.pop_front();
        partial.erase(0, nl + 1);
      }
      if (partial.size() > 4096) partial.resize(4096);
      if (ec) break;
    }
    if (!partial.empty()) lines.push_back(mask_secrets(partial));
  };
  asio::steady_timer deadline(ex, timeout);
  auto outcome = co_await ((read_out() && read_err()) ||
                           deadline.async_wait(use_tuple));
  if (outcome.index() == 1) {
    // The deadline won: the readers were cancelled; end ffprobe and reap it.
    co_await asio::this_coro::reset_cancellation_state();
    c.kill();
    co_await c.async_wait(use_tuple);
    co_return fail(errc::timed_out,
                   "ffprobe " + mask_secrets(input) + " did not finish within " +
                       std::to_string(timeout.count()) + " ms");
  }
  auto [ec, st] = co_await c.async_wait(use_tuple);
  if (ec) co_return fail(ec, "waiting for ffprobe");
  if (!st.success())
    co_return tl::unexpected(error::process_failed("ffprobe " + mask_secrets(input) + " failed",
                                                   st, {lines.begin(), lines.end()}));
  if (too_big) co_return fail(errc::protocol, "ffprobe printed more than 64 MiB");
  auto m = parse_probe_json(out);
  if (!m) co_return tl::unexpected(m.error().prefix("probing " + mask_secrets(input)));
  co_return m;
}

} // namespace

asio::awaitable<expected<media_info>> probe(std::string input, probe_options options) {
  auto ex = co_await asio::this_coro::executor;
  auto program = find_tool(tool::ffprobe);
  if (!program) co_return tl::unexpected(program.error());
  spawn_options o;
  o.program = *program;
  o.args = {"-hide_banner", "-v", "error", "-print_format", "json", "-show_format",
            "-show_streams"};
  o.args.insert(o.args.end(), options.extra_args.begin(), options.extra_args.end());
  o.args.push_back("-i");
  o.args.push_back(input);
  o.in = stdio::null();
  o.stdout_pipe_size = 0;
  o.exit_how = exit_request::sigterm;
  auto c = child::spawn(ex, std::move(o));
  if (!c) co_return tl::unexpected(c.error().prefix("starting ffprobe"));
  co_return co_await finish_probe(std::move(*c), std::move(input), options.timeout);
}

} // namespace sidecar
