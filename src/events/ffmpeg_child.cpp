// The event stream of a running ffmpeg. stderr is read by a coroutine that never stops until
// end of stream (an undrained stderr deadlocks ffmpeg) and parsed into a bounded queue;
// stdout is read only when the program asks for the next event, straight into pooled frame
// buffers. Both run on the child's executor; a never-expiring timer is the condition
// variable between the readers and the awaiting program.
#include <sidecar/ffmpeg_child.hpp>

#include <sidecar/detail/unique_fd.hpp>
#include <sidecar/pixel_format.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <deque>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace sidecar {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

bool is_stdin_input(const std::string& v) {
  return v == "-" || v == "pipe:" || v == "pipe:0" || v == "fd:" || v == "fd:0";
}

// Parses ffmpeg's time syntax: "12.5", "90", "00:01:02.5", "1:02"; nullopt if it is not one.
std::optional<std::chrono::microseconds> parse_time(std::string_view s) {
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  double total = 0;
  std::size_t colons = static_cast<std::size_t>(std::count(s.begin(), s.end(), ':'));
  if (colons > 2 || s.empty()) return std::nullopt;
  while (true) {
    auto end = s.find(':');
    auto part = s.substr(0, end);
    double v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || p != part.data() + part.size()) return std::nullopt;
    total = total * (end == std::string_view::npos && colons == 0 ? 1 : 60) + v;
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  auto us = std::chrono::microseconds(static_cast<std::int64_t>(std::llround(total * 1e6)));
  return negative ? -us : us;
}

std::optional<std::uint64_t> parse_count(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

} // namespace

namespace detail {

class stream_state : public std::enable_shared_from_this<stream_state> {
public:
  static constexpr std::size_t max_queue = 1024;     // events waiting for the program
  static constexpr std::size_t max_tail = 32;         // lines kept for error messages
  static constexpr std::size_t chunk_size = 256 * 1024;
  static constexpr std::size_t staging_size = 64 * 1024;
  static constexpr std::size_t staging_limit = 16 * 1024 * 1024;

  stream_state(const asio::any_io_executor& ex, std::string name, std::string line)
      : ex(ex), err(ex), wake(ex, asio::steady_timer::time_point::max()), name(std::move(name)),
        command_line(std::move(line)) {}

  asio::any_io_executor ex;
  asio::posix::stream_descriptor err;
  asio::readable_pipe* out = nullptr;      // in the child's state; outlives our use of it
  asio::readable_pipe* progress_pipe = nullptr;
  asio::steady_timer wake;
  std::string name;
  std::string command_line;

  log_parser parser;
  progress_reader progress_parser;
  std::deque<event> queue;
  std::size_t dropped = 0;
  sidecar::metadata meta;
  std::deque<std::string> tail;
  std::deque<std::string> error_tail;

  // What the command line says about the total, for percent and ETA.
  std::optional<std::chrono::microseconds> limit_time;
  std::optional<std::uint64_t> limit_frames;
  std::optional<std::chrono::microseconds> seek;
  bool progress_from_pipe = false;

  bool stderr_done = false;
  bool progress_done = true;
  bool stdout_done = false;
  bool ended = false;
  std::optional<expected<exit_status>> result;

  // stdout
  enum class mode { undecided, frames, chunks } stdout_mode = mode::undecided;
  bool read_pending = false;
  struct frame_output {
    int index;
    int width, height;
    std::string_view pix_fmt;
    std::size_t size;
    std::optional<double> fps;
    std::uint64_t count = 0;
    std::shared_ptr<buffer_pool> pool;
  };
  std::vector<frame_output> frame_outputs;
  std::size_t turn = 0; // which of frame_outputs the next frame belongs to
  pooled_buffer current;
  std::size_t filled = 0;
  std::shared_ptr<buffer_pool> chunk_pool = std::make_shared<buffer_pool>(chunk_size, 4);
  int chunk_output = -1;
  std::vector<std::byte> staging;

  void notify() { wake.cancel(); }

  void push(event e) {
    if (queue.size() >= max_queue &&
        (std::holds_alternative<log_line>(e) || std::holds_alternative<progress>(e))) {
      ++dropped; // bounded memory beats a complete log nobody reads
      return;
    }
    queue.push_back(std::move(e));
    notify();
  }

  void remember_line(std::string text, bool is_error) {
    text = mask_secrets(text);
    if (is_error) {
      error_tail.push_back(text);
      if (error_tail.size() > max_tail) error_tail.pop_front();
    }
    tail.push_back(std::move(text));
    if (tail.size() > max_tail) tail.pop_front();
  }

  std::optional<std::chrono::microseconds> total() const {
    std::optional<std::chrono::microseconds> t = limit_time;
    for (const auto& d : meta.durations) {
      if (!d.duration) continue;
      auto left = *d.duration - seek.value_or(std::chrono::microseconds{0});
      if (!t || left < *t) t = left;
    }
    if (t && t->count() <= 0) return std::nullopt;
    return t;
  }

  void fill_percent(progress& p) const {
    std::optional<double> share;
    if (limit_frames && p.frame && *limit_frames > 0)
      share = static_cast<double>(*p.frame) / static_cast<double>(*limit_frames);
    if (auto t = total(); t && p.time)
      share = std::max(share.value_or(0.0), static_cast<double>(p.time->count()) /
                                                static_cast<double>(t->count()));
    if (!share) return;
    double s = std::clamp(*share, 0.0, 1.0);
    if (p.final) s = 1.0;
    p.percent = s * 100.0;
    if (p.speed && *p.speed > 0 && s < 1.0) {
      // Remaining media time at the current speed; by frames when only frames are known.
      double total_s = 0;
      if (auto t = total()) total_s = static_cast<double>(t->count()) / 1e6;
      else if (p.time) total_s = static_cast<double>(p.time->count()) / 1e6 / std::max(s, 1e-9);
      double remaining = total_s * (1.0 - s) / *p.speed;
      p.eta = std::chrono::microseconds(static_cast<std::int64_t>(remaining * 1e6));
    } else if (s >= 1.0) {
      p.eta = std::chrono::microseconds{0};
    }
  }

  void on_log_event(log_event&& e) {
    std::visit(
        [&](auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, version_info>) {
            meta.version = v;
          } else if constexpr (std::is_same_v<T, input_info>) {
            meta.inputs.push_back(v);
          } else if constexpr (std::is_same_v<T, duration_info>) {
            meta.durations.push_back(v);
          } else if constexpr (std::is_same_v<T, output_info>) {
            meta.outputs.push_back(v);
          } else if constexpr (std::is_same_v<T, stream_info>) {
            meta.streams.push_back(v);
          } else if constexpr (std::is_same_v<T, stream_mapping_entry>) {
            meta.mapping.push_back(v);
          } else if constexpr (std::is_same_v<T, progress>) {
            meta_done();
            if (progress_from_pipe) return; // the pipe is the source; skip the stats line
            fill_percent(v);
          } else if constexpr (std::is_same_v<T, log_line>) {
            bool is_error = v.level == log_level::error || v.level == log_level::fatal ||
                            v.level == log_level::panic;
            remember_line(v.component.empty() ? v.text : "[" + v.component + "] " + v.text,
                          is_error);
            // "Press [q] to stop" comes after every input and mapping line.
          }
          push(event(std::in_place_type<T>, std::move(v)));
        },
        e);
  }

  void meta_done() {
    if (!meta.complete) {
      meta.complete = true;
      notify();
    }
  }

  // Reads whatever stderr holds right now, without blocking, and parses it in order. Only
  // ever called on the executor, so no other read can interleave.
  void drain_stderr_now() {
    if (stderr_done) return;
    std::array<char, 16384> buf;
    for (;;) {
      auto n = ::read(err.native_handle(), buf.data(), buf.size());
      if (n > 0) {
        parser.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)),
                    [this](log_event&& e) { on_log_event(std::move(e)); });
        continue;
      }
      if (n == -1 && errno == EINTR) continue;
      if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // End of stream (or an error that ends it just the same).
      parser.finish([this](log_event&& e) { on_log_event(std::move(e)); });
      stderr_done = true;
      meta_done();
      notify();
      return;
    }
  }

  // Has stderr described (Output #N and its streams) every output the mapping names? With
  // no mapping (a lowered log level) there is nothing to wait for.
  bool outputs_described() const {
    if (stderr_done || meta.mapping.empty()) return true;
    for (const auto& m : meta.mapping) {
      if (m.output_file < 0) continue;
      if (!meta.output(m.output_file) || meta.output_streams(m.output_file).empty()) return false;
    }
    return true;
  }

  // Chooses frames or chunks for stdout from what stderr said about the outputs.
  void decide_stdout() {
    drain_stderr_now(); // ffmpeg described its outputs on stderr before writing stdout
    meta_done();
    std::vector<const output_info*> to_stdout;
    for (const auto& o : meta.outputs)
      if (o.to_stdout) to_stdout.push_back(&o);
    if (to_stdout.size() == 1) chunk_output = to_stdout.front()->index;
    std::vector<frame_output> outs;
    bool all_raw = !to_stdout.empty();
    for (const auto* o : to_stdout) {
      auto streams = meta.output_streams(o->index);
      if (o->format != "rawvideo" || streams.size() != 1 ||
          streams.front()->type != stream_type::video) {
        all_raw = false;
        break;
      }
      const auto& s = *streams.front();
      const auto* fmt = find_pixel_format(s.pix_fmt);
      auto size = fmt ? frame_size(*fmt, s.width, s.height) : std::nullopt;
      if (!size || *size == 0) {
        all_raw = false;
        break;
      }
      outs.push_back(frame_output{o->index, s.width, s.height, fmt->name, *size, s.fps, 0,
                                  std::make_shared<buffer_pool>(*size, 4)});
    }
    if (all_raw && outs.size() > 1) {
      // Interleaved outputs alternate frame by frame only when their rates match.
      for (const auto& o : outs)
        if (!o.fps || !outs.front().fps || std::abs(*o.fps - *outs.front().fps) > 1e-6) {
          push(error_event{error(errc::protocol,
                                 "several rawvideo outputs on stdout at different frame rates "
                                 "cannot be told apart; reading stdout as chunks")});
          all_raw = false;
          break;
        }
    }
    if (all_raw) {
      std::sort(outs.begin(), outs.end(), [](auto& a, auto& b) { return a.index < b.index; });
      frame_outputs = std::move(outs);
      stdout_mode = mode::frames;
    } else {
      stdout_mode = mode::chunks;
    }
  }

  void emit_frame() {
    auto& o = frame_outputs[turn];
    frame f(std::move(current), o.size);
    f.width = o.width;
    f.height = o.height;
    f.pix_fmt = o.pix_fmt;
    f.output_index = o.index;
    f.number = o.count++;
    if (o.fps && *o.fps > 0)
      f.timestamp = std::chrono::microseconds(
          static_cast<std::int64_t>(static_cast<double>(f.number) * 1e6 / *o.fps));
    filled = 0;
    turn = (turn + 1) % frame_outputs.size();
    queue.push_back(std::move(f)); // frames are never dropped: they are read on demand
    notify();
  }

  // Bytes already read (the staged first read) go where reads would have put them.
  void consume(const std::byte* p, std::size_t n) {
    while (n > 0) {
      if (stdout_mode == mode::frames) {
        auto& o = frame_outputs[turn];
        if (!current) current = pooled_buffer(o.pool);
        auto take = std::min(n, o.size - filled);
        std::copy_n(p, take, current.data() + filled);
        filled += take;
        p += take;
        n -= take;
        if (filled == o.size) emit_frame();
      } else {
        pooled_buffer b(chunk_pool);
        auto take = std::min(n, chunk_pool->buffer_size());
        std::copy_n(p, take, b.data());
        chunk c(std::move(b), take);
        c.output_index = chunk_output;
        queue.push_back(std::move(c));
        p += take;
        n -= take;
        notify();
      }
    }
  }

  void on_stdout_end(const std::error_code& ec) {
    stdout_done = true;
    if (stdout_mode == mode::frames && filled > 0) {
      push(error_event{error(errc::protocol, "stdout ended inside a frame (" +
                                                 std::to_string(filled) + " of " +
                                                 std::to_string(frame_outputs[turn].size) +
                                                 " bytes)")});
      current.release();
      filled = 0;
    }
    if (ec && ec != asio::error::eof && ec != asio::error::operation_aborted)
      push(error_event{error(ec, "reading " + name + "'s stdout")});
    notify();
  }

  // Starts one read of stdout, sized for what comes next; its completion queues the result.
  void start_stdout_read() {
    if (read_pending || stdout_done) return;
    if (!out || !out->is_open()) {
      stdout_done = true;
      notify();
      return;
    }
    read_pending = true;
    auto self = shared_from_this();
    if (stdout_mode == mode::undecided) {
      // Stage the first bytes until stderr has described every output the stream mapping
      // names (an output can write its header, even frames, before the next one is
      // described), or until the staging bound: stdout keeps flowing meanwhile.
      auto have = staging.size();
      staging.resize(have + staging_size);
      out->async_read_some(
          asio::buffer(staging.data() + have, staging_size),
          [self, have](std::error_code ec, std::size_t n) {
            self->read_pending = false;
            self->staging.resize(have + n);
            self->drain_stderr_now();
            if (!self->staging.empty() &&
                (ec || self->outputs_described() || self->staging.size() >= staging_limit)) {
              self->decide_stdout();
              auto staged = std::move(self->staging);
              self->staging = {};
              self->consume(staged.data(), staged.size());
            }
            if (ec) self->on_stdout_end(ec);
            self->notify();
          });
    } else if (stdout_mode == mode::frames) {
      auto& o = frame_outputs[turn];
      if (!current) current = pooled_buffer(o.pool);
      out->async_read_some(asio::buffer(current.data() + filled, o.size - filled),
                           [self](std::error_code ec, std::size_t n) {
                             self->read_pending = false;
                             self->filled += n;
                             if (self->filled == self->frame_outputs[self->turn].size)
                               self->emit_frame();
                             if (ec) self->on_stdout_end(ec);
                             self->notify();
                           });
    } else {
      auto buf = std::make_shared<pooled_buffer>(chunk_pool);
      out->async_read_some(asio::buffer(buf->data(), chunk_pool->buffer_size()),
                           [self, buf](std::error_code ec, std::size_t n) {
                             self->read_pending = false;
                             if (n > 0) {
                               chunk c(std::move(*buf), n);
                               c.output_index = self->chunk_output;
                               self->queue.push_back(std::move(c));
                             }
                             if (ec) self->on_stdout_end(ec);
                             self->notify();
                           });
    }
  }

  // Parks the caller until a reader has news. Rethrows the caller's own cancellation.
  asio::awaitable<void> wait_for_news() {
    auto [ec] = co_await wake.async_wait(use_tuple);
    (void)ec;
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none)
      throw std::system_error(asio::error::operation_aborted);
  }
};

// Reads stderr for as long as it is open: waits for readiness, then reads what is there.
asio::awaitable<void> read_stderr(std::shared_ptr<stream_state> s) {
  while (!s->stderr_done) {
    auto [ec] = co_await s->err.async_wait(asio::posix::descriptor_base::wait_read, use_tuple);
    if (ec) {
      s->stderr_done = true;
      s->meta_done();
      s->notify();
      break;
    }
    s->drain_stderr_now();
  }
}

// Reads the `-progress pipe:N` key=value blocks into progress events.
asio::awaitable<void> read_progress(std::shared_ptr<stream_state> s) {
  std::array<char, 4096> buf;
  for (;;) {
    auto [ec, n] = co_await s->progress_pipe->async_read_some(asio::buffer(buf), use_tuple);
    s->progress_parser.feed(std::string_view(buf.data(), n), [&](progress&& p) {
      s->fill_percent(p);
      s->push(event(std::in_place_type<progress>, std::move(p)));
    });
    if (ec) break;
  }
  s->progress_done = true;
  s->notify();
}

} // namespace detail

const output_info* metadata::output(int index) const {
  for (const auto& o : outputs)
    if (o.index == index) return &o;
  return nullptr;
}

std::vector<const stream_info*> metadata::output_streams(int index) const {
  std::vector<const stream_info*> r;
  for (const auto& s : streams)
    if (s.is_output && s.file_index == index) r.push_back(&s);
  return r;
}

std::vector<const stream_info*> metadata::input_streams(int index) const {
  std::vector<const stream_info*> r;
  for (const auto& s : streams)
    if (!s.is_output && s.file_index == index) r.push_back(&s);
  return r;
}

expected<ffmpeg_child> ffmpeg_child::spawn(const executor_type& ex, const command& cmd,
                                           spawn_options base) {
  auto resolved = cmd.resolve();
  if (!resolved) return tl::unexpected(resolved.error());
  base.program = resolved->program;
  base.args.assign(resolved->argv.begin() + 1, resolved->argv.end());
  const auto& args = base.args;
  std::string name(tool_name(cmd.which()));
  auto state = std::make_shared<detail::stream_state>(ex, name, cmd.to_string());

  bool stdin_input = false, nostdin = false;
  int progress_fd = -1;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "-nostdin") nostdin = true;
    if (!has_value) continue;
    const auto& v = args[i + 1];
    if (a == "-i" && is_stdin_input(v)) stdin_input = true;
    if (a == "-t") {
      if (auto t = parse_time(v); t && (!state->limit_time || *t < *state->limit_time))
        state->limit_time = t;
    }
    if (a == "-to") {
      if (auto t = parse_time(v); t && (!state->limit_time || *t < *state->limit_time))
        state->limit_time = t;
    }
    if (a == "-ss") state->seek = parse_time(v);
    if (a == "-frames:v" || a == "-vframes" || a == "-frames") state->limit_frames = parse_count(v);
    if (a == "-progress" && v.rfind("pipe:", 0) == 0) {
      auto fd = parse_count(std::string_view(v).substr(5));
      if (fd && *fd >= 3 && *fd < 1024) progress_fd = static_cast<int>(*fd);
    }
  }
  if (stdin_input) base.exit_how = exit_request::close_stdin;
  else if (nostdin) base.exit_how = exit_request::sigterm;
  else base.exit_how = exit_request::quit_key;
  if (progress_fd >= 0 &&
      std::find(base.output_pipes.begin(), base.output_pipes.end(), progress_fd) ==
          base.output_pipes.end())
    base.output_pipes.push_back(progress_fd);

  // stderr is a pipe of our own, read through a descriptor that can wait for readiness.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) == -1) return fail_errno("creating the stderr pipe", errno);
  detail::unique_fd err_read(fds[0]), err_write(fds[1]);
  base.err = stdio::from_fd(err_write.get());
  auto c = child::spawn(ex, std::move(base));
  err_write.reset();
  if (!c) return tl::unexpected(c.error().prefix("starting " + name));
  ::fcntl(err_read.get(), F_SETFL, ::fcntl(err_read.get(), F_GETFL) | O_NONBLOCK);
  state->err.assign(err_read.release());
  state->out = &c->stdout_pipe();
  if (!state->out->is_open()) state->stdout_done = true;
  if (progress_fd >= 0) {
    state->progress_pipe = &c->output_pipe(progress_fd);
    state->progress_from_pipe = true;
    state->progress_done = false;
    asio::co_spawn(ex, detail::read_progress(state), asio::detached);
  }
  asio::co_spawn(ex, detail::read_stderr(state), asio::detached);
  return ffmpeg_child(std::move(*c), std::move(state));
}

ffmpeg_child::ffmpeg_child(child c, std::shared_ptr<detail::stream_state> s)
    : process_(std::move(c)), state_(std::move(s)) {}
ffmpeg_child::ffmpeg_child(ffmpeg_child&&) noexcept = default;
ffmpeg_child& ffmpeg_child::operator=(ffmpeg_child&&) noexcept = default;
ffmpeg_child::~ffmpeg_child() = default;

asio::readable_pipe& ffmpeg_child::take_stdout() {
  auto& s = *state_;
  if (s.read_pending || s.stdout_mode != detail::stream_state::mode::undecided)
    throw std::logic_error("take_stdout() after the event stream started reading stdout");
  s.stdout_done = true;
  s.notify();
  return process_.stdout_pipe();
}

const std::string& ffmpeg_child::command_line() const noexcept { return state_->command_line; }

std::optional<std::chrono::microseconds> ffmpeg_child::total_duration() const {
  return state_->total();
}

asio::awaitable<std::optional<event>> ffmpeg_child::next_event() {
  auto& s = *state_;
  auto keep = state_;
  for (;;) {
    if (!s.queue.empty()) {
      std::optional<event> e(std::move(s.queue.front()));
      s.queue.pop_front();
      co_return e;
    }
    if (s.ended) co_return std::nullopt;
    if (s.stdout_done && s.stderr_done && s.progress_done) {
      auto [ec, st] = co_await process_.async_wait(use_tuple);
      s.ended = true;
      if (ec) {
        s.result = fail(ec, "waiting for " + s.name);
      } else if (!st.success()) {
        s.result =
            tl::unexpected(error::process_failed(s.name + " failed", st, error_lines()));
      } else {
        s.result = st;
      }
      if (!*s.result) co_return event(error_event{s.result->error()});
      co_return std::nullopt;
    }
    s.start_stdout_read();
    if (s.queue.empty()) co_await s.wait_for_news();
  }
}

asio::awaitable<std::optional<frame>> ffmpeg_child::next_frame() {
  while (auto e = co_await next_event())
    if (auto* f = std::get_if<frame>(&*e)) co_return std::move(*f);
  co_return std::nullopt;
}

asio::awaitable<std::optional<progress>> ffmpeg_child::next_progress() {
  while (auto e = co_await next_event())
    if (auto* p = std::get_if<progress>(&*e)) co_return std::move(*p);
  co_return std::nullopt;
}

asio::awaitable<metadata> ffmpeg_child::metadata() {
  auto& s = *state_;
  auto keep = state_;
  while (!s.meta.complete) {
    // The first stdout bytes settle it: ffmpeg has described its outputs by then. They are
    // staged, not lost.
    if (s.stdout_mode == detail::stream_state::mode::undecided) s.start_stdout_read();
    if (s.stdout_done && s.stderr_done) break;
    co_await s.wait_for_news();
  }
  co_return s.meta;
}

asio::awaitable<std::vector<log_line>> ffmpeg_child::errors() {
  std::vector<log_line> out;
  while (auto e = co_await next_event())
    if (auto* l = std::get_if<log_line>(&*e))
      if (l->level == log_level::error || l->level == log_level::fatal ||
          l->level == log_level::panic)
        out.push_back(std::move(*l));
  co_return out;
}

asio::awaitable<std::vector<std::string>> ffmpeg_child::stderr_lines() {
  std::vector<std::string> out;
  while (auto e = co_await next_event())
    if (auto* l = std::get_if<log_line>(&*e)) out.push_back(l->text);
  co_return out;
}

asio::awaitable<expected<exit_status>> ffmpeg_child::wait() {
  using namespace asio::experimental::awaitable_operators;
  // Let every kind of cancellation through, to tell them apart below.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  std::optional<asio::cancellation_type> cancelled;
  for (;;) {
    // Not `while (co_await next_event()) {}`: g++ 12 miscompiles a co_await condition with
    // an empty loop body (the frame is resumed uninitialised).
    std::optional<event> e;
    bool aborted = false;
    try {
      e = co_await next_event();
    } catch (const std::system_error& x) {
      if (x.code() != asio::error::operation_aborted) throw;
      aborted = true; // no co_await inside a handler
    }
    if (aborted) {
      cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
      break;
    }
    if (!e) break;
  }
  if (!cancelled) {
    if (!state_->result) co_return fail(errc::protocol, "the event stream ended without an exit");
    co_return *state_->result;
  }

  // Cancelled: end the child the way the cancellation asks — total: ffmpeg's own quit (`q`,
  // end of stdin or SIGINT), so it finishes its files; partial: SIGTERM; terminal: SIGKILL —
  // then keep draining its output (it cannot finish while a pipe is full), escalating along
  // the ladder when a grace period passes, and reap it.
  co_await asio::this_coro::reset_cancellation_state();
  auto type = *cancelled;
  int step = (type & asio::cancellation_type::total) != asio::cancellation_type::none     ? 0
             : (type & asio::cancellation_type::partial) != asio::cancellation_type::none ? 1
                                                                                           : 2;
  auto ladder = process_.ladder();
  auto act = [&] {
    if (step == 0) quit();
    else if (step == 1) terminate();
    else kill();
  };
  act();
  asio::steady_timer timer(get_executor());
  timer.expires_after(step == 0 ? ladder.quit_grace : ladder.term_grace);
  for (;;) {
    auto r = co_await (next_event() || timer.async_wait(use_tuple));
    if (r.index() == 1) {
      if (step < 2) ++step;
      act();
      timer.expires_after(step == 1 ? ladder.term_grace : std::chrono::hours(24));
      continue;
    }
    if (!std::get<0>(r)) break;
  }
  auto status = state_->result && *state_->result ? **state_->result
                : state_->result ? state_->result->error().status().value_or(exit_status{})
                                 : exit_status{};
  const char* how = step == 0 ? "asked to quit" : step == 1 ? "sent SIGTERM" : "sent SIGKILL";
  co_return tl::unexpected(error::stopped(errc::cancelled,
                                          state_->name + " " + how + " (wait cancelled)",
                                          status, error_lines()));
}

asio::awaitable<expected<void>> ffmpeg_child::write(std::span<const std::byte> bytes) {
  auto& in = process_.stdin_pipe();
  if (!in.is_open())
    co_return fail(std::make_error_code(std::errc::bad_file_descriptor),
                   state_->name + "'s stdin is closed");
  auto [ec, n] = co_await asio::async_write(in, asio::buffer(bytes.data(), bytes.size()),
                                            use_tuple);
  if (ec) {
    if (ec == asio::error::broken_pipe)
      co_return fail(ec, state_->name + " stopped reading its stdin (it has exited?)");
    co_return fail(ec, "writing to " + state_->name + "'s stdin");
  }
  co_return expected<void>{};
}

asio::awaitable<expected<void>> ffmpeg_child::write(std::string_view text) {
  return write(std::as_bytes(std::span(text.data(), text.size())));
}

void ffmpeg_child::close_stdin() {
  std::error_code ignored;
  process_.stdin_pipe().close(ignored);
}

std::vector<std::string> ffmpeg_child::error_lines() const {
  const auto& s = *state_;
  if (!s.error_tail.empty()) return {s.error_tail.begin(), s.error_tail.end()};
  auto n = std::min<std::size_t>(s.tail.size(), 5);
  return {s.tail.end() - static_cast<std::ptrdiff_t>(n), s.tail.end()};
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
    co_return tl::unexpected(error::process_failed(name + " -version failed", st,
                                                   {std::string(first)}));
  auto v = parse_version_line(first);
  if (!v) co_return fail(errc::protocol, name + " -version printed no version line: '" +
                                             std::string(first.substr(0, 200)) + "'");
  co_return *v;
}

} // namespace sidecar
