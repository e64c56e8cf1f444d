// The steps of child::spawn before posix_spawn (see spawn_plan.hpp).
#include "spawn_plan.hpp"

#include <sidecar/find_executable.hpp>

#include "sidecar_config.h"

#include <algorithm>
#include <cerrno>
#include <csignal>

#include <fcntl.h>
#include <unistd.h>

namespace sidecar::detail {

namespace {

struct pipe_pair {
  unique_fd read, write;
};

expected<pipe_pair> make_pipe(const char* what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) == -1)
    return fail_errno(std::string("creating the ") + what + " pipe", errno);
  return pipe_pair{unique_fd(fds[0]), unique_fd(fds[1])};
}

// stdin, stdout or stderr (`target`) as `how` says; `ours` gets our end of a pipe.
expected<void> plan_std_stream(fd_plan& plan, int target, const stdio& how, unique_fd& ours,
                               const char* name) {
  switch (how.how()) {
  case stdio::kind::inherit:
    return {};
  case stdio::kind::fd:
    if (how.fd() < 0) return fail(errc::bad_argument, std::string("spawn: bad fd for ") + name);
    plan.dups.emplace_back(target, how.fd());
    return {};
  case stdio::kind::null: {
    unique_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null) return fail_errno("opening /dev/null", errno);
    plan.dups.emplace_back(target, null.get());
    plan.child_ends.push_back(std::move(null));
    return {};
  }
  case stdio::kind::pipe: {
    auto p = make_pipe(name);
    if (!p) return tl::unexpected(p.error());
    const bool child_reads = target == 0;
    plan.dups.emplace_back(target, child_reads ? p->read.get() : p->write.get());
    ours = std::move(child_reads ? p->write : p->read);
    plan.child_ends.push_back(std::move(child_reads ? p->read : p->write));
    return {};
  }
  }
  return {};
}

} // namespace

expected<std::filesystem::path> resolve_program(const spawn_options& o) {
  if (o.program.empty()) return fail(errc::bad_argument, "spawn: no program given");
  std::filesystem::path program = o.program;
  if (program.native().find('/') == std::string::npos) {
    auto found = find_executable(program.native());
    if (!found) return tl::unexpected(found.error());
    program = *found;
  }
  std::error_code fs_ec;
  program = std::filesystem::absolute(program, fs_ec);
  if (o.cwd && !std::filesystem::is_directory(*o.cwd, fs_ec))
    return fail(std::make_error_code(std::errc::no_such_file_or_directory),
                "spawn " + program.filename().string() + ": working directory " + o.cwd->string() +
                    " is not a directory");
  return program;
}

expected<fd_plan> plan_fds(const spawn_options& o, const std::string& name) {
  fd_plan plan;
  const std::string prefix = "spawn " + name;
  if (auto r = plan_std_stream(plan, 0, o.in, plan.in, "stdin"); !r)
    return tl::unexpected(r.error().prefix(prefix));
  if (auto r = plan_std_stream(plan, 1, o.out, plan.out, "stdout"); !r)
    return tl::unexpected(r.error().prefix(prefix));
  if (auto r = plan_std_stream(plan, 2, o.err, plan.err, "stderr"); !r)
    return tl::unexpected(r.error().prefix(prefix));
  if (plan.out && o.stdout_pipe_size > 0) {
    // Best effort: an unprivileged program may be capped by /proc/sys/fs/pipe-max-size.
    ::fcntl(plan.out.get(), F_SETPIPE_SZ, static_cast<int>(o.stdout_pipe_size));
  }
  for (int fd : o.output_pipes) {
    if (fd <= 2) return fail(errc::bad_argument, "spawn: output pipe fd must be above 2");
    auto p = make_pipe("output");
    if (!p) return tl::unexpected(p.error().prefix(prefix));
    plan.dups.emplace_back(fd, p->write.get());
    plan.extra.emplace_back(fd, std::move(p->read));
    plan.child_ends.push_back(std::move(p->write));
  }
  for (auto [target, ours] : o.pass_fds) {
    if (target < 0 || ours < 0) return fail(errc::bad_argument, "spawn: bad pass_fds entry");
    plan.dups.emplace_back(target, ours);
  }
  for (auto& [target, src] : plan.dups)
    plan.max_target = std::max(plan.max_target, target);
  for (std::size_t i = 0; i < plan.dups.size(); ++i)
    for (std::size_t j = i + 1; j < plan.dups.size(); ++j)
      if (plan.dups[i].first == plan.dups[j].first)
        return fail(errc::bad_argument,
                    "spawn: fd " + std::to_string(plan.dups[i].first) + " given twice");
  return plan;
}

spawn_attr::spawn_attr() {
  ::posix_spawnattr_init(&attr);
  // Its own process group (the ladder signals the group), no blocked signal, every signal at
  // its default: the child starts as if from a shell, whatever this program changed.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setpgroup(&attr, 0);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
}

expected<void> add_file_actions(file_actions& fa, std::vector<unique_fd>& lifted,
                                const fd_plan& plan, const spawn_options& o,
                                const std::string& name) {
  if (o.cwd) ::posix_spawn_file_actions_addchdir_np(&fa.fa, o.cwd->c_str());
  for (auto& [target, src] : plan.dups) {
    unique_fd high(::fcntl(src, F_DUPFD_CLOEXEC, plan.max_target + 1));
    if (!high)
      return fail_errno("spawn " + name + ": duplicating fd " + std::to_string(src), errno);
    ::posix_spawn_file_actions_adddup2(&fa.fa, high.get(), target);
    lifted.push_back(std::move(high));
  }
  // Descriptors between 3 and the highest target that the plan leaves unused stay closed.
  for (int fd = 3; fd <= plan.max_target; ++fd)
    if (std::none_of(plan.dups.begin(), plan.dups.end(), [fd](auto& p) { return p.first == fd; }))
      ::posix_spawn_file_actions_addclose(&fa.fa, fd);
#if SIDECAR_HAS_SPAWN_CLOSEFROM
  // Every other descriptor is closed, even one another thread opened without O_CLOEXEC.
  ::posix_spawn_file_actions_addclosefrom_np(&fa.fa, plan.max_target + 1);
#endif
  return {};
}

spawn_args::spawn_args(spawn_options& o, const std::filesystem::path& program)
    : argv0(o.argv0.value_or(program.filename().string())) {
  argv.push_back(argv0.data());
  for (auto& arg : o.args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  if (o.env) {
    for (auto& e : *o.env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
  }
}

} // namespace sidecar::detail
