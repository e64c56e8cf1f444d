// ffmpeg_child: spawning from a command, draining stderr into a bounded tail, and wait().
#include <sidecar/ffmpeg_child.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>

namespace sidecar {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// ffmpeg reads its input from stdin: `q` would land in the data, so end the input instead.
bool reads_stdin(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "-i" && (args[i + 1] == "-" || args[i + 1] == "pipe:" ||
                            args[i + 1] == "pipe:0" || args[i + 1] == "fd:" ||
                            args[i + 1] == "fd:0"))
      return true;
  return false;
}

bool has_arg(const std::vector<std::string>& args, std::string_view a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

bool is_error_line(std::string_view line) {
  for (std::string_view tag : {"[error] ", "[fatal] ", "[panic] "})
    if (line.find(tag) != std::string_view::npos) return true;
  return false;
}

} // namespace

expected<ffmpeg_child> ffmpeg_child::spawn(const executor_type& ex, const command& cmd,
                                           spawn_options base) {
  auto resolved = cmd.resolve();
  if (!resolved) return tl::unexpected(resolved.error());
  base.program = resolved->program;
  base.args.assign(resolved->argv.begin() + 1, resolved->argv.end());
  base.err = stdio::pipe();
  if (reads_stdin(base.args)) base.exit_how = exit_request::close_stdin;
  else if (has_arg(base.args, "-nostdin")) base.exit_how = exit_request::sigterm;
  else base.exit_how = exit_request::quit_key;
  std::string name(tool_name(cmd.which()));
  auto c = child::spawn(ex, std::move(base));
  if (!c) return tl::unexpected(c.error().prefix("starting " + name));
  return ffmpeg_child(std::move(*c), cmd.to_string(), std::move(name));
}

void ffmpeg_child::take_stderr(std::string_view bytes) {
  while (!bytes.empty()) {
    auto end = bytes.find_first_of("\r\n");
    auto piece = bytes.substr(0, end);
    if (!cut_) {
      auto room = max_line_bytes - partial_.size();
      if (piece.size() > room) {
        partial_.append(piece.substr(0, room));
        cut_ = true; // the rest of an overlong line is dropped, memory stays bounded
      } else {
        partial_.append(piece);
      }
    }
    if (end == std::string_view::npos) return;
    end_line();
    bytes.remove_prefix(end + 1);
  }
}

void ffmpeg_child::end_line() {
  if (!partial_.empty()) {
    tail_.push_back(mask_secrets(partial_));
    if (tail_.size() > max_tail_lines) tail_.pop_front();
  }
  partial_.clear();
  cut_ = false;
}

std::vector<std::string> ffmpeg_child::error_lines() const {
  std::vector<std::string> out;
  for (const auto& l : tail_)
    if (is_error_line(l)) out.push_back(l);
  if (out.empty()) {
    auto n = std::min<std::size_t>(tail_.size(), 5);
    out.assign(tail_.end() - static_cast<std::ptrdiff_t>(n), tail_.end());
  }
  return out;
}

asio::awaitable<void> ffmpeg_child::drain_stderr() {
  std::array<char, 8192> buf;
  auto& err = process_.stderr_pipe();
  while (err.is_open()) {
    auto [ec, n] = co_await err.async_read_some(asio::buffer(buf), use_tuple);
    take_stderr(std::string_view(buf.data(), n));
    if (ec) break;
  }
  end_line();
}

asio::awaitable<void> ffmpeg_child::drain_stdout() {
  std::array<char, 16384> buf;
  auto& out = process_.stdout_pipe();
  while (out.is_open()) {
    auto [ec, n] = co_await out.async_read_some(asio::buffer(buf), use_tuple);
    if (ec) break;
  }
}

asio::awaitable<expected<exit_status>> ffmpeg_child::wait() {
  using namespace asio::experimental::awaitable_operators;
  co_await (drain_stderr() && drain_stdout());
  auto [ec, st] = co_await process_.async_wait(use_tuple);
  if (ec) co_return fail(ec, "waiting for " + name_);
  if (!st.success())
    co_return tl::unexpected(error::process_failed(name_ + " failed", st, error_lines()));
  co_return st;
}

} // namespace sidecar
