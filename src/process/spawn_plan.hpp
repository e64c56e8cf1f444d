// The steps of child::spawn before posix_spawn runs: which program, what each of the child's
// descriptors becomes, the file actions and attributes that make it so, and argv/envp. Each
// step's failure is an error value (EMFILE included), never an exception.
#pragma once

#include <sidecar/child.hpp>
#include <sidecar/detail/unique_fd.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <spawn.h>

namespace sidecar::detail {

// The program's absolute path (searched in PATH when it has no '/'), after checking the
// working directory spawn_options asks for.
expected<std::filesystem::path> resolve_program(const spawn_options& o);

// What each descriptor of the child becomes: {child fd, our fd for it}, with the ends the
// child gets (closed here once it has them) and ours.
struct fd_plan {
  std::vector<std::pair<int, int>> dups;
  std::vector<unique_fd> child_ends;
  unique_fd in, out, err;                       // our ends of stdio pipes
  std::vector<std::pair<int, unique_fd>> extra; // our read ends of output_pipes, by child fd
  int max_target = 2;
};
// Makes the pipes and /dev/null opens spawn_options asks for; checks the fds given.
expected<fd_plan> plan_fds(const spawn_options& o, const std::string& name);

// A posix_spawn_file_actions_t / posix_spawnattr_t that destroy themselves.
struct file_actions {
  posix_spawn_file_actions_t fa;
  file_actions() { ::posix_spawn_file_actions_init(&fa); }
  ~file_actions() { ::posix_spawn_file_actions_destroy(&fa); }
  file_actions(const file_actions&) = delete;
  file_actions& operator=(const file_actions&) = delete;
};
struct spawn_attr {
  posix_spawnattr_t attr;
  spawn_attr();
  ~spawn_attr() { ::posix_spawnattr_destroy(&attr); }
  spawn_attr(const spawn_attr&) = delete;
  spawn_attr& operator=(const spawn_attr&) = delete;
};

// The plan as file actions: our fds are first moved above every target (`lifted`, to be kept
// open until posix_spawn returns), so no dup2 can clobber a source still to be used; the
// unused fds up to the highest target, and (where glibc has it) every fd above, are closed.
expected<void> add_file_actions(file_actions& fa, std::vector<unique_fd>& lifted,
                                const fd_plan& plan, const spawn_options& o,
                                const std::string& name);

// argv (argv0, then the arguments) and envp as posix_spawn takes them. They point into `o`
// and into argv0, so the object stays where it was made (not movable) and `o` outlives it.
struct spawn_args {
  spawn_args(spawn_options& o, const std::filesystem::path& program);
  spawn_args(const spawn_args&) = delete;
  spawn_args& operator=(const spawn_args&) = delete;

  std::string argv0;
  std::vector<char*> argv;
  std::vector<char*> envp; // empty: the program's environment
};

} // namespace sidecar::detail
