// Which ffmpeg a path is (its `-version` output, probed once and cached) and the rewriting of
// the builder's options that an older release lacks.
#include <sidecar/capabilities.hpp>

#include <charconv>
#include <chrono>
#include <map>
#include <mutex>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sidecar {

const std::vector<gated_option>& gated_options() {
  static const std::vector<gated_option> table = {
      {"-stats_period", 4, 4, "left out: progress comes at ffmpeg's own pace, every 0.5 s"},
      {"-readrate", 5, 0, "-re for a rate of 1, else left out: the input is read at full speed"},
      {"-fps_mode", 5, 1, "passed as -vsync (the same modes; auto as -1)"},
  };
  return table;
}

namespace {

// The output of `program args...` on stdout (at most 64 KiB), within `limit`; stdin and
// stderr are /dev/null. The child is killed and reaped when the limit passes.
expected<std::string> run_for_stdout(const std::filesystem::path& program,
                                     const std::vector<std::string>& args,
                                     std::chrono::milliseconds limit) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe for " + program.native(), errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  std::string arg0 = program.native();
  argv.push_back(arg0.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return fail_errno("running " + program.native() + " -version", rc);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue; // the deadline check above ends it
    char buf[4096];
    auto got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (out.size() < 64 * 1024) out.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return fail(errc::timed_out, program.native() + " -version did not finish within " +
                                     std::to_string(limit.count()) + " ms");
  auto st = exit_status::from_wait_status(status);
  if (!st.success())
    return tl::unexpected(error::process_failed(program.native() + " -version failed", st,
                                                {out.substr(0, out.find('\n'))}));
  return out;
}

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
  auto out = run_for_stdout(program, {"-hide_banner", "-version"}, std::chrono::seconds(10));
  if (!out) return tl::unexpected(out.error());
  auto v = parse_version_output(*out);
  if (!v)
    return fail(errc::protocol, program.native() + " -version printed no version line: '" +
                                    out->substr(0, std::min<std::size_t>(out->find('\n'), 200)) +
                                    "'");
  if (!ec) {
    std::lock_guard lock(m);
    cache[program] = cached{mtime, *v};
  }
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
    } // else left out, with its value
    notes.push_back(release_text(v) + " has no " + std::string(gate->name) + " (new in " +
                    std::to_string(gate->since_major) + "." + std::to_string(gate->since_minor) +
                    "): " + std::string(gate->name) + " " + value + " " +
                    std::string(gate->fallback));
  }
  argv = std::move(out);
}

} // namespace sidecar
