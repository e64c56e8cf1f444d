// Which ffmpeg a path is (its `-version` output, probed once and cached) and the rewriting of
// the builder's options that an older release lacks.
#include <sidecar/capabilities.hpp>

#include <sidecar/child.hpp>
#include <sidecar/command.hpp>

#include <charconv>
#include <chrono>
#include <map>
#include <mutex>

namespace sidecar {

const std::vector<gated_option>& gated_options() {
  static const std::vector<gated_option> table = {
      {"-stats_period", 4, 4, "left out: progress comes at ffmpeg's own pace, every 0.5 s"},
      {"-readrate", 5, 0, "-re for a rate of 1, else left out: the input is read at full speed"},
      {"-fps_mode", 5, 1, "passed as -vsync (the same modes; auto as -1)"},
      {"-readrate_initial_burst", 6, 1,
       "left out: this release has no initial burst, it reads at the rate from the start"},
  };
  return table;
}

namespace {

struct cached {
  std::filesystem::file_time_type mtime;
  version_info version;
};

} // namespace

expected<version_info> describe_binary(const std::filesystem::path& program) {
  static std::mutex m;
  static std::map<std::filesystem::path, cached> cache;
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(program, ec);
  {
    std::lock_guard lock(m);
    if (auto it = cache.find(program); it != cache.end() && !ec && it->second.mtime == mtime)
      return it->second.version;
  }
  auto run = run_to_end_sync(spawn_options::to_read(program, {"-hide_banner", "-version"}),
                             run_limits{std::chrono::seconds(10)});
  if (!run) return tl::unexpected(run.error());
  auto v = version_from_output(program.native(), run->status, run->out);
  if (!v) return v;
  if (!ec) {
    std::lock_guard lock(m);
    cache[program] = cached{mtime, *v};
  }
  return *v;
}

expected<version_info> version_from_output(std::string_view program, const exit_status& status,
                                           std::string_view out) {
  auto first = out.substr(0, std::min(out.find('\n'), std::size_t{200}));
  auto what = std::string(program) + " -version";
  if (!status.success())
    return tl::unexpected(error::process_failed(what + " failed", status, {std::string(first)}));
  auto v = parse_version_output(out);
  if (!v)
    return fail(errc::protocol, what + " printed no version line: '" + std::string(first) + "'");
  return *v;
}

namespace {

std::string_view option_name(std::string_view arg) {
  return arg.substr(0, arg.find(':'));
}

std::string release_text(const version_info& v) {
  std::string r = "ffmpeg " + v.version;
  if (v.origin == version_origin::libraries)
    r += " (" + std::to_string(v.major) + "." + std::to_string(v.minor) + " by its libavutil)";
  return r;
}

bool is_rate_one(std::string_view value) {
  double d = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), d);
  return ec == std::errc() && p == value.data() + value.size() && d == 1.0;
}

// A burst of at most command::no_initial_burst (what readrate_initial_burst(0) passes).
bool is_no_burst(std::string_view value) {
  double d = 1;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), d);
  return ec == std::errc() && p == value.data() + value.size() && d <= command::no_initial_burst;
}

} // namespace

bool carries_gated_option(const std::vector<std::string>& argv) {
  for (const auto& a : argv)
    for (const auto& g : gated_options())
      if (option_name(a) == g.name) return true;
  return false;
}

void adapt_arguments(std::vector<std::string>& argv, const version_info& v,
                     std::vector<std::string>& notes) {
  if (v.origin == version_origin::unknown) return;
  std::vector<std::string> out;
  out.reserve(argv.size());
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const gated_option* gate = nullptr;
    for (const auto& g : gated_options())
      if (option_name(argv[i]) == g.name && !v.at_least(g.since_major, g.since_minor)) gate = &g;
    if (!gate || i + 1 >= argv.size()) {
      out.push_back(std::move(argv[i]));
      continue;
    }
    std::string value = std::move(argv[++i]);
    if (gate->name == "-fps_mode") {
      out.emplace_back("-vsync");
      out.push_back(value == "auto" ? "-1" : value);
    } else if (gate->name == "-readrate" && is_rate_one(value)) {
      out.emplace_back("-re");
    } else if (gate->name == "-readrate_initial_burst" && is_no_burst(value)) {
      continue; // no burst is what this release does anyway: nothing changes, no note
    }           // else left out, with its value
    notes.push_back(release_text(v) + " has no " + std::string(gate->name) + " (new in " +
                    std::to_string(gate->since_major) + "." + std::to_string(gate->since_minor) +
                    "): " + std::string(gate->name) + " " + value + " " +
                    std::string(gate->fallback));
  }
  argv = std::move(out);
}

} // namespace sidecar
