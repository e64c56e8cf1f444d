// ffprobe: run to its end with JSON output under a deadline (run_to_end), the JSON mapped with
// nlohmann::json, a failure explained by its stderr read as a log.
#include <sidecar/probe.hpp>

#include <sidecar/binary.hpp>
#include <sidecar/child.hpp>
#include <sidecar/command.hpp>
#include <sidecar/detail/error_record.hpp>
#include <sidecar/log.hpp>

#include <charconv>
#include <cmath>

namespace sidecar {

namespace {

// What explains a failed probe: ffprobe's stderr tail, parsed as a log, with `secrets` (the
// input's, and its options') and secrets in URLs masked.
std::vector<std::string> failure_lines(std::string_view err, std::span<const std::string> secrets) {
  log_parser parser;
  detail::error_record record;
  auto note = [&](log_event&& e) {
    if (auto* l = std::get_if<log_line>(&e)) {
      mask_secrets_in_place(l->text, secrets);
      mask_secrets_in_place(l->component, secrets);
      record.note(*l);
    }
  };
  parser.feed(err, note);
  parser.finish(note);
  return record.lines();
}

} // namespace

asio::awaitable<expected<media_info>> probe(std::string input, probe_options options) {
  auto ex = co_await asio::this_coro::executor;
  auto program = find_tool(tool::ffprobe);
  if (!program) co_return tl::unexpected(program.error());
  std::vector<std::string> args; // (a braced list of literals trips g++ 12 in a coroutine)
  for (const char* a :
       {"-hide_banner", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"})
    args.emplace_back(a);
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  args.push_back("-i");
  args.push_back(input);
  // The secrets the input and the extra options carry, learned as a command learns them.
  command as_command(tool::ffprobe);
  as_command.args(args);
  const auto& secrets = as_command.secrets();
  auto what = "ffprobe " + mask_secrets(input, secrets);
  auto run = co_await run_to_end(spawn_options::to_read(*program, std::move(args), true),
                                 run_limits{options.timeout, std::size_t{64} << 20});
  if (!run) {
    if (run.error() == errc::timed_out)
      co_return fail(errc::timed_out, what + " did not finish within " +
                                          std::to_string(options.timeout.count()) + " ms");
    co_return tl::unexpected(run.error().prefix("starting ffprobe"));
  }
  if (!run->status.success())
    co_return tl::unexpected(
        error::process_failed(what + " failed", run->status, failure_lines(run->err, secrets)));
  if (run->out_truncated) co_return fail(errc::protocol, "ffprobe printed more than 64 MiB");
  auto m = parse_probe_json(run->out);
  if (!m) co_return tl::unexpected(m.error().prefix("probing " + mask_secrets(input, secrets)));
  co_return m;
}

} // namespace sidecar
