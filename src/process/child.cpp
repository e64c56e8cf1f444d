// Spawning and supervising a child: posix_spawn with an argv array, pidfd or SIGCHLD for the
// exit, the stop ladder, and the reaper service that outlives every child object.
#include <sidecar/child.hpp>

#include <sidecar/detail/unique_fd.hpp>
#include <sidecar/detail/wakeup.hpp>

#include "sidecar_config.h"
#include "spawn_plan.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/execution/context.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/query.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <set>
#include <stdexcept>

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sidecar {

namespace detail {

namespace {

using asio::experimental::as_tuple;
constexpr auto use_tuple = as_tuple(asio::use_awaitable);

// Keeps every child this execution context spawned from outliving it: adopts the running
// children whose objects were destroyed, runs their ladder, and at shutdown kills and reaps
// what is left, synchronously.
class reaper_service : public asio::execution_context::service {
public:
  static asio::execution_context::id id;

  explicit reaper_service(asio::execution_context& ctx) : service(ctx) {}

  void adopt(std::shared_ptr<child_state> s) {
    {
      std::lock_guard lock(mutex_);
      if (shut_down_) {
        s->kill_and_reap();
        return;
      }
      adopted_.insert(s);
    }
    // Outside the lock: co_spawn may run the ladder inline (we are often on the executor's
    // thread already), and a ladder that finishes at once takes the lock to erase itself.
    asio::co_spawn(
        s->ex,
        [this, s]() -> asio::awaitable<void> {
          co_await run_ladder_impl(s, /*drain=*/true);
          std::vector<std::shared_ptr<wakeup>> wake;
          {
            std::lock_guard lock(mutex_);
            adopted_.erase(s);
            if (adopted_.empty()) wake.swap(waiters_);
          }
          // On each waiter's own executor; latched, so a wait that starts after this still
          // sees it and no wake-up is lost.
          for (auto& w : wake)
            asio::post(w->get_executor(), [w] { w->notify(); });
        },
        asio::detached);
  }

  std::size_t adopted() {
    std::lock_guard lock(mutex_);
    return adopted_.size();
  }

  // Registers a waiter, notified once no child is adopted; false when none is now.
  bool add_waiter(std::shared_ptr<wakeup> w) {
    std::lock_guard lock(mutex_);
    if (adopted_.empty()) return false;
    waiters_.push_back(std::move(w));
    return true;
  }

  static asio::awaitable<ladder_result> run_ladder_impl(std::shared_ptr<child_state> s, bool drain);

private:
  void shutdown() override {
    std::set<std::shared_ptr<child_state>> left;
    {
      std::lock_guard lock(mutex_);
      shut_down_ = true;
      left.swap(adopted_);
      waiters_.clear(); // while the timers' service still exists
    }
    for (const auto& s : left)
      s->kill_and_reap();
  }

  std::mutex mutex_;
  bool shut_down_ = false;
  std::set<std::shared_ptr<child_state>> adopted_;
  std::vector<std::shared_ptr<wakeup>> waiters_;
};

asio::execution_context::id reaper_service::id;

reaper_service& reaper_for(const asio::any_io_executor& ex) {
  return asio::use_service<reaper_service>(asio::query(ex, asio::execution::context));
}

template <class Token> auto async_wait_exit(std::shared_ptr<child_state> s, Token&& token) {
  auto ex = s->ex;
  return asio::async_compose<Token, void(std::error_code, exit_status)>(
      wait_exit_op{std::move(s), /*kill_group=*/true}, token, ex);
}

// Reads and discards until end of stream, so a child blocked writing can go on to exit.
asio::awaitable<void> drain(std::shared_ptr<child_state> keep, asio::readable_pipe& pipe) {
  std::array<char, 16384> scratch;
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(scratch), use_tuple);
    if (ec) break;
  }
  (void)keep;
}

// Climbs the ladder while the child runs: a grace period per step, then the next step
// unless it has exited meanwhile. Ends at SIGKILL or once the child is reaped.
asio::awaitable<void> escalate(std::shared_ptr<child_state> s) {
  while (!s->status && s->stop_step && *s->stop_step < 2) {
    const int at = *s->stop_step;
    s->stop_timer.expires_after(at == 0 ? s->ladder.quit_grace : s->ladder.term_grace);
    auto [ec] = co_await s->stop_timer.async_wait(use_tuple);
    if (s->status) break;              // reaped: the ladder is over
    if (*s->stop_step != at) continue; // climbed meanwhile: a new grace period
    if (ec) continue;                  // woken early for nothing: wait again
    if (s->exited()) break;            // it did stop within the grace period
    s->begin_stop(at + 1);
  }
  s->escalating = false;
}

asio::awaitable<ladder_result> reaper_service::run_ladder_impl(std::shared_ptr<child_state> s,
                                                               bool drain_outputs) {
  // A cancelled caller must not stop the ladder halfway: that would leave the child behind.
  co_await asio::this_coro::reset_cancellation_state();
  std::error_code ec;
  if (s->try_reap(ec, true)) co_return ladder_result{ec, s->status.value_or(exit_status{})};
  if (drain_outputs) {
    for (auto* p : {&s->out, &s->err})
      if (p->is_open()) asio::co_spawn(s->ex, drain(s, *p), asio::detached);
    for (auto& [fd, p] : s->extra)
      if (p.is_open()) asio::co_spawn(s->ex, drain(s, p), asio::detached);
  }
  s->begin_stop(0); // climbs to SIGTERM and SIGKILL by itself
  auto [wait_ec, st] = co_await async_wait_exit(s, use_tuple);
  ec = wait_ec;
  co_return ladder_result{ec, s->status.value_or(exit_status{})};
}

// The children still running, by pid: std::exit() (atexit) kills their groups, so a program
// that exits without destroying its io_context leaves no ffmpeg behind. Removed before the
// reaping waitpid (the zombie still holds the pid), so a reused pid is never signalled.
// Allocated once and never freed: the handler runs while statics are being destroyed.
struct live_children {
  std::mutex m;
  std::set<pid_t> pids;
};
live_children& live() {
  static auto* l = new live_children;
  return *l;
}

void kill_live_children() noexcept {
  auto& l = live();
  std::lock_guard lock(l.m);
  for (pid_t p : l.pids) {
    ::kill(-p, SIGKILL);
    ::kill(p, SIGKILL);
  }
  for (pid_t p : l.pids)
    while (::waitpid(p, nullptr, 0) == -1 && errno == EINTR) {
    }
  l.pids.clear();
}

void track_until_exit(pid_t pid) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(kill_live_children); });
  auto& l = live();
  std::lock_guard lock(l.m);
  l.pids.insert(pid);
}

void untrack(pid_t pid) noexcept {
  auto& l = live();
  std::lock_guard lock(l.m);
  l.pids.erase(pid);
}

bool pidfd_supported() {
#if SIDECAR_HAS_PIDFD
  // Only a definite answer is kept: a probe that failed for want of a descriptor (EMFILE,
  // ENFILE) or memory says nothing of the kernel, and is asked again next time.
  enum : int { unknown, yes, no };
  static std::atomic<int> known{unknown};
  if (int k = known.load(std::memory_order_relaxed); k != unknown) return k == yes;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  if (fd >= 0) {
    ::close(fd);
    known.store(yes, std::memory_order_relaxed);
    return true;
  }
  if (errno != EMFILE && errno != ENFILE && errno != ENOMEM)
    known.store(no, std::memory_order_relaxed);
  return false;
#else
  return false;
#endif
}

// Writes to a child that died must fail with EPIPE, not kill the program: ignore SIGPIPE
// unless the program installed a handler of its own. Children get the default back.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO))
      std::signal(SIGPIPE, SIG_IGN);
  });
}

} // namespace

asio::awaitable<ladder_result> run_ladder(std::shared_ptr<child_state> s) {
  return reaper_service::run_ladder_impl(std::move(s), /*drain=*/false);
}

child_state::~child_state() {
  // Last line of defence: whatever path got here, no zombie is left.
  if (pid > 0 && !status) kill_and_reap();
}

bool child_state::try_reap(std::error_code& ec, bool kill_group) {
  ec.clear();
  if (status) return true;
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1) {
    if (errno == EINTR) return false;
    ec = std::error_code(errno, std::system_category());
    return false;
  }
  if (info.si_pid == 0) return false; // still running
  untrack(pid);
  if (kill_group) ::kill(-pid, SIGKILL);
  int raw = 0;
  pid_t r;
  do
    r = ::waitpid(pid, &raw, 0);
  while (r == -1 && errno == EINTR);
  if (r != pid) {
    ec = std::error_code(errno, std::system_category());
    return false;
  }
  status = exit_status::from_wait_status(raw);
  std::error_code ignored;
  pidfd.close(ignored);
  if (sigchld) sigchld->cancel(ignored);
  if (escalating) cancel_stop_timer(); // the ladder is over
  return true;
}

void child_state::cancel_stop_timer() noexcept {
  try {
    stop_timer.cancel();
  } catch (const std::system_error&) { // epoll's timers do not fail to cancel
  }
}

bool child_state::exited() const {
  if (status) return true;
  if (pid <= 0) return true;
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1)
    return errno == ECHILD; // reaped by someone else: gone, and its pid may be reused
  return info.si_pid != 0;
}

void child_state::begin_stop(int step) {
  // Not `exited()`: a leader that has exited, unreaped, still holds the group id, and the
  // group may hold our pipes (a grandchild of a wrapper script): signals still reach it.
  if (status || pid <= 0) return;
  if (stop_step && *stop_step >= step) return;
  stop_step = step;
  if (step == 0)
    request_exit();
  else
    signal_group(step == 1 ? SIGTERM : SIGKILL);
  if (step >= 2) {
    if (escalating) cancel_stop_timer(); // the top of the ladder: no grace period to wait out
    return;
  }
  if (escalating) {
    cancel_stop_timer(); // a new step: a new grace period
    return;
  }
  escalating = true;
  asio::co_spawn(ex, escalate(shared_from_this()), asio::detached);
}

std::error_code child_state::signal_group(int sig) {
  if (status || pid <= 0) return std::make_error_code(std::errc::no_such_process);
  if (::kill(-pid, sig) == 0) return {};
  // The child may have left its group; it is still ours until reaped.
  if (errno == ESRCH && ::kill(pid, sig) == 0) return {};
  return std::error_code(errno, std::system_category());
}

std::error_code child_state::request_exit() {
  if (status) return std::make_error_code(std::errc::no_such_process);
  std::error_code ignored;
  switch (exit_how) {
  case exit_request::quit_key:
    if (in.is_open()) {
      ::fcntl(in.native_handle(), F_SETFL, ::fcntl(in.native_handle(), F_GETFL) | O_NONBLOCK);
      [[maybe_unused]] auto n = ::write(in.native_handle(), "q", 1); // EAGAIN, EPIPE: fine
      in.close(ignored);
      return {};
    }
    return signal_group(SIGINT); // ffmpeg finishes its outputs on SIGINT too
  case exit_request::close_stdin:
    if (in.is_open()) {
      in.close(ignored);
      return {};
    }
    return signal_group(SIGTERM);
  case exit_request::sigterm:
    return signal_group(SIGTERM);
  }
  return {};
}

void child_state::kill_and_reap() noexcept {
  if (status || pid <= 0) return;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  untrack(pid);
  int raw = 0;
  pid_t r;
  do
    r = ::waitpid(pid, &raw, 0);
  while (r == -1 && errno == EINTR);
  status = r == pid ? exit_status::from_wait_status(raw) : exit_status::killed_by(SIGKILL);
  cancel_stop_timer();
}

void child_state::ensure_sigchld() {
  if (!sigchld) sigchld.emplace(ex, SIGCHLD);
}

std::error_code child_state::try_ensure_sigchld() noexcept {
  try {
    ensure_sigchld();
    return {};
  } catch (const std::system_error& e) {
    return e.code();
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

asio::awaitable<expected<void>> wait_reaped(asio::any_io_executor ex) {
  auto& reaper = reaper_for(ex);
  for (;;) {
    auto w = std::make_shared<wakeup>(ex);
    if (!reaper.add_waiter(w)) co_return expected<void>{};
    if (!w->take()) {
      auto [ec] = co_await w->async_wait(use_tuple);
      (void)ec; // woken when the last adopted child was reaped; look again
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none)
      co_return fail(asio::error::operation_aborted, "async_wait_reaped cancelled");
  }
}

std::size_t adopted_children(asio::execution_context& ctx) {
  return asio::use_service<reaper_service>(ctx).adopted();
}

} // namespace detail

expected<child> child::spawn(const executor_type& ex, spawn_options o) {
  detail::ignore_sigpipe_once();
  // Made now so that it shuts down before the scheduler destroys coroutine frames that may
  // still own children.
  detail::reaper_for(ex);

  auto program = detail::resolve_program(o);
  if (!program) return tl::unexpected(program.error());
  const std::string name = program->filename().string();
  std::shared_ptr<detail::child_state> state;
  try {
    // The first descriptor object of an io_context makes its reactor (epoll, eventfd): at
    // EMFILE Asio throws, and that is an error to return.
    state = std::make_shared<detail::child_state>(ex);
  } catch (const std::system_error& e) {
    return fail(e.code(), "spawn " + name + ": " + e.what());
  }
  state->ladder = o.ladder;
  state->exit_how = o.exit_how;

  auto plan = detail::plan_fds(o, name);
  if (!plan) return tl::unexpected(plan.error());
  std::vector<detail::unique_fd> lifted;
  detail::file_actions fa;
  if (auto r = detail::add_file_actions(fa, lifted, *plan, o, name); !r)
    return tl::unexpected(r.error());
  detail::spawn_attr attr;
  detail::spawn_args args(o, *program);

  bool use_pidfd = o.watch != exit_watch::sigchld && detail::pidfd_supported();
  if (o.watch == exit_watch::pidfd && !use_pidfd)
    return fail(std::make_error_code(std::errc::function_not_supported),
                "spawn: pidfd_open is not available on this kernel");
  // The SIGCHLD fallback listens before the child exists, so its exit cannot be missed.
  // Asio's signal service needs a pipe of its own the first time: at EMFILE that is an error
  // to return, not an exception.
  if (!use_pidfd) {
    if (auto e = state->try_ensure_sigchld())
      return fail(e, "spawn " + program->string() + ": no descriptor left to watch its exit");
  }

  pid_t pid = -1;
  // glibc's posix_spawn runs the child on a vfork-style clone and hands the exec error back
  // before returning: a missing or non-executable program fails here, synchronously.
  int rc = ::posix_spawn(&pid, program->c_str(), &fa.fa, &attr.attr, args.argv.data(),
                         o.env ? args.envp.data() : environ);
  if (rc != 0) {
    std::string why = "cannot run " + program->string();
    if (rc == ENOENT || rc == EACCES || rc == ENOEXEC)
      return tl::unexpected(error(std::error_code(rc, std::system_category()), why));
    return fail_errno(why, rc);
  }
  state->pid = pid;
  if (o.kill_on_exit) detail::track_until_exit(pid);
  plan->child_ends.clear();
  lifted.clear();

  std::error_code ec;
  if (plan->in) state->in.assign(plan->in.release(), ec);
  if (plan->out) state->out.assign(plan->out.release(), ec);
  if (plan->err) state->err.assign(plan->err.release(), ec);
  for (auto& [fd, ours] : plan->extra) {
    state->extra.emplace_back(fd, asio::readable_pipe(ex));
    state->extra.back().second.assign(ours.release(), ec);
  }
#if SIDECAR_HAS_PIDFD
  if (use_pidfd) {
    int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pfd >= 0) {
      state->pidfd.assign(pfd, ec);
    } else if (auto e = state->try_ensure_sigchld()) {
      // No way to learn of its exit (EMFILE): end it now rather than leave it unwatched.
      state->kill_and_reap();
      return fail(e, "spawn " + program->string() + ": no descriptor left to watch its exit");
    } // else SIGCHLD: a signal may be missed, so try_reap polls before each wait
  }
#endif
  return child(std::move(state));
}

child& child::operator=(child&& other) noexcept {
  if (this != &other) {
    child old(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

child::~child() {
  if (state_ && !state_->status && state_->pid > 0) {
    try {
      detail::reaper_for(state_->ex).adopt(std::move(state_));
    } catch (...) {
      state_->kill_and_reap(); // no reaper to be had: end it here
    }
  }
}

asio::readable_pipe& child::output_pipe(int child_fd) {
  for (auto& [fd, pipe] : state_->extra)
    if (fd == child_fd) return pipe;
  throw std::out_of_range("child::output_pipe: fd " + std::to_string(child_fd) +
                          " was not in spawn_options::output_pipes");
}

} // namespace sidecar
