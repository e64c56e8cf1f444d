// `<tool> -version`, run and parsed.
#include <sidecar/ffmpeg_child.hpp>

#include <sidecar/capabilities.hpp>

namespace sidecar {

asio::awaitable<expected<version_info>> ffmpeg_version(tool which) {
  auto program = find_tool(which);
  if (!program) co_return tl::unexpected(program.error());
  std::vector<std::string> args; // (a braced list of literals trips g++ 12 in a coroutine)
  args.emplace_back("-hide_banner");
  args.emplace_back("-version");
  auto run = co_await run_to_end(spawn_options::to_read(*program, std::move(args)),
                                 run_limits{std::chrono::seconds(10)});
  if (!run) co_return tl::unexpected(run.error());
  co_return version_from_output(tool_name(which), run->status, run->out);
}

} // namespace sidecar
