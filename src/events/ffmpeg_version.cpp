// `<tool> -version`, run and parsed.
#include <sidecar/ffmpeg_child.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <array>

namespace sidecar {

namespace {
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
}

asio::awaitable<expected<version_info>> ffmpeg_version(tool which) {
  auto ex = co_await asio::this_coro::executor;
  auto program = find_tool(which);
  if (!program) co_return tl::unexpected(program.error());
  spawn_options o;
  o.program = *program;
  o.args = {"-hide_banner", "-version"};
  o.in = stdio::null();
  o.err = stdio::null();
  o.stdout_pipe_size = 0;
  o.exit_how = exit_request::sigterm;
  auto c = child::spawn(ex, std::move(o));
  if (!c) co_return tl::unexpected(c.error());
  std::string text;
  std::array<char, 4096> buf;
  for (;;) {
    auto [ec, n] = co_await c->stdout_pipe().async_read_some(asio::buffer(buf), use_tuple);
    if (text.size() < 64 * 1024) text.append(buf.data(), n);
    if (ec) break;
  }
  auto [ec, st] = co_await c->async_wait(use_tuple);
  std::string name(tool_name(which));
  if (ec) co_return fail(ec, "waiting for " + name + " -version");
  auto first = std::string_view(text).substr(0, text.find('\n'));
  if (!st.success())
    co_return tl::unexpected(
        error::process_failed(name + " -version failed", st, {std::string(first)}));
  auto v = parse_version_output(text);
  if (!v)
    co_return fail(errc::protocol, name + " -version printed no version line: '" +
                                       std::string(first.substr(0, 200)) + "'");
  co_return *v;
}

} // namespace sidecar
