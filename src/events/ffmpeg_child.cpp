// The event stream of a running ffmpeg. stderr is read by a coroutine that never stops until
// end of stream (an undrained stderr deadlocks ffmpeg) and parsed into a bounded queue;
// stdout is read only when the program asks for the next event, straight into pooled frame
// buffers. Both run on the child's executor; a never-expiring timer is the condition
// variable between the readers and the awaiting program.
#include <sidecar/ffmpeg_child.hpp>

#include <sidecar/detail/unique_fd.hpp>
#include <sidecar/pixel_format.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
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
#include <utility>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sidecar {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

bool is_stdin_input(const std::string& v) {
  return v == "-" || v == "pipe:" || v == "pipe:0" || v == "fd:" || v == "fd:0";
}

std::optional<std::uint64_t> parse_count(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// `… -> Stream #1:2 (…)`: the output stream a mapping line names, also for the filter-graph
// shape the parser keeps as text only (`scale:default -> Stream #0:0 (wrapped_avframe)`).
std::optional<std::pair<int, int>> mapped_output(const stream_mapping_entry& m) {
  if (m.output_file >= 0 && m.output_stream >= 0) return std::pair{m.output_file, m.output_stream};
  std::string_view t = m.text;
  auto at = t.find("-> Stream #");
  if (at == std::string_view::npos) return std::nullopt;
  t.remove_prefix(at + 11);
  int file = -1, stream = -1;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), file);
  if (ec != std::errc() || p == t.data() + t.size() || *p != ':') return std::nullopt;
  auto [q, ec2] = std::from_chars(p + 1, t.data() + t.size(), stream);
  if (ec2 != std::errc()) return std::nullopt;
  return std::pair{file, stream};
}

// A stderr line as ffmpeg printed it, less the `[level] ` tag (the builder asks for it; the
// program did not), trailing blanks trimmed, bytes that are not UTF-8 replaced, secrets masked.
// The tag's place comes from the parser, which found it parsing the line: no second parse.
std::string display_line(std::string_view raw, std::pair<std::size_t, std::size_t> tag) {
  auto trimmed = [](std::string_view t) {
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t'))
      t.remove_suffix(1);
    return t;
  };
  std::string text;
  if (tag.second > 0 && tag.first + tag.second <= raw.size()) {
    text.assign(raw.substr(0, tag.first));
    text.append(trimmed(raw.substr(tag.first + tag.second)));
  }
  if (text.empty()) text.assign(trimmed(raw));
  text = repair_utf8(text);
  if (text.find("://") != std::string::npos) text = mask_secrets(text);
  return text;
}

void mask_in_place(std::string& s) {
  if (s.find("://") != std::string::npos) s = mask_secrets(s);
}

// 0: ask to quit, 1: SIGTERM, 2: SIGKILL — what a cancellation of this type asks for.
int stop_step_for(asio::cancellation_type type) {
  if ((type & asio::cancellation_type::total) != asio::cancellation_type::none) return 0;
  if ((type & asio::cancellation_type::partial) != asio::cancellation_type::none) return 1;
  return 2;
}

} // namespace

namespace detail {

// A FIFO queue on one growing array: unlike std::deque, pushing and popping in steady state
// never allocates (a deque frees and allocates a block every few elements as it moves).
template <class T> class ring {
public:
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  T& front() noexcept { return slots_[head_]; }
  void push_back(T&& v) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) % slots_.size()] = std::move(v);
    ++count_;
  }
  void pop_front() {
    slots_[head_] = T{}; // release what the element held (frame buffers go back to the pool)
    head_ = (head_ + 1) % slots_.size();
    --count_;
  }

private:
  void grow() {
    std::vector<T> bigger(std::max<std::size_t>(16, slots_.size() * 2));
    for (std::size_t i = 0; i < count_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;
  std::size_t head_ = 0, count_ = 0;
};

// One queued event and, when it is the first event of a stderr line, that line's text.
struct queued_event {
  queued_event() = default;
  explicit queued_event(event ev) : e(std::move(ev)) {}

  event e;
  bool starts_line = false;
  std::string line; // empty for a log_line past the text budget: rebuilt from the event then
};

// What one input's or the outputs' options say about where reading or writing stops.
struct time_limits {
  std::optional<std::chrono::microseconds> seek; // -ss
  std::optional<std::chrono::microseconds> to;   // -to
  std::optional<std::chrono::microseconds> t;    // -t
  // ffmpeg's recording time: -t wins over -to; -to counts from -ss.
  std::optional<std::chrono::microseconds> limit() const {
    if (t) return t;
    if (to) return *to - seek.value_or(std::chrono::microseconds{0});
    return std::nullopt;
  }
};

class stream_state : public std::enable_shared_from_this<stream_state> {
public:
  static constexpr std::size_t max_queue = 1024; // events waiting for the program
  static constexpr std::size_t max_tail = 32;    // lines kept for error messages
  static constexpr std::size_t chunk_size = 256 * 1024;
  static constexpr std::size_t staging_size = 64 * 1024;
  static constexpr std::size_t staging_limit = 16 * 1024 * 1024;
  // Line text kept for stderr_lines() beside queued log_line events; past it, their lines are
  // rebuilt from the events (indentation and the component's address lost), so memory stays
  // bounded by the queue.
  static constexpr std::size_t line_text_budget = 1024 * 1024;

  stream_state(const asio::any_io_executor& ex, std::string name, std::string line)
      : ex(ex), err(ex), wake(ex, asio::steady_timer::time_point::max()),
        stop_timer(ex, asio::steady_timer::time_point::max()), name(std::move(name)),
        command_line(std::move(line)) {}

  asio::any_io_executor ex;
  asio::posix::stream_descriptor err;
  asio::readable_pipe* out = nullptr; // in the child's state; outlives our use of it
  asio::readable_pipe* progress_pipe = nullptr;
  asio::steady_timer wake;
  asio::steady_timer stop_timer; // the stop ladder's grace periods
  std::string name;
  std::string command_line;

  log_parser parser;
  progress_reader progress_parser;
  ring<queued_event> queue;
  std::size_t dropped = 0;
  std::size_t line_text_bytes = 0; // of log_line entries' `line`
  sidecar::metadata meta;
  bool meta_settled = false; // metadata() may return
  bool quiet_log = false;    // -loglevel below info: no metadata will be printed
  std::deque<std::string> tail;
  std::deque<std::string> error_tail;
  // The first fatal- or panic-level line: a run that printed one failed, whatever its exit
  // status (7.x and later exit 0 after "[fatal] File '…' already exists. Exiting.").
  std::optional<std::string> fatal_line;
  std::string context_line;  // the last line, when it came from a component below error level
  std::string error_context; // that line, when an error-level line followed it first

  // stderr split into lines here (as the parser would), so each event knows its line.
  std::string line_partial;
  bool line_skip_lf = false;
  std::string_view current_line;
  bool current_line_taken = true;

  // What the command line says about the total, for percent and ETA.
  std::vector<time_limits> input_limits; // per -i, in order
  time_limits output_limits;             // the options after the last -i
  std::optional<std::uint64_t> limit_frames;
  bool progress_from_pipe = false;

  // The stop ladder a cancelled wait() or next_event() started: 0 asked to quit, 1 SIGTERM,
  // 2 SIGKILL. `owner` is the ffmpeg_child's child while that object lives (kept current on
  // move, cleared on destruction: the reaper runs its own ladder then).
  child* owner = nullptr;
  std::optional<int> stop_step;
  std::string stop_reason;
  bool escalating = false;

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

  void push(event e) { push(queued_event(std::move(e))); }

  void push(queued_event q) {
    if (queue.size() >= max_queue &&
        (std::holds_alternative<log_line>(q.e) || std::holds_alternative<progress>(q.e))) {
      ++dropped; // bounded memory beats a complete log nobody reads
      return;
    }
    if (std::holds_alternative<log_line>(q.e)) {
      if (line_text_bytes + q.line.size() > line_text_budget) q.line = {};
      line_text_bytes += q.line.size();
    }
    queue.push_back(std::move(q));
    notify();
  }

  std::optional<queued_event> pop() {
    if (queue.empty()) return std::nullopt;
    std::optional<queued_event> q(std::move(queue.front()));
    queue.pop_front();
    if (std::holds_alternative<log_line>(q->e)) line_text_bytes -= q->line.size();
    return q;
  }

  // Splits stderr bytes into lines the way the parser does ('\n', '\r', "\r\n", cut at
  // max_line) and hands the parser one line at a time, so each event knows its line.
  void feed_stderr(std::string_view bytes) {
    const char* p = bytes.data();
    const char* end = p + bytes.size();
    constexpr std::size_t max_line = log_parser::max_line;
    while (p < end) {
      if (line_skip_lf) {
        line_skip_lf = false;
        if (*p == '\n') {
          ++p;
          continue;
        }
      }
      const char* q = p;
      while (q < end && *q != '\n' && *q != '\r')
        ++q;
      auto n = static_cast<std::size_t>(q - p);
      if (q == end) { // a partial line: keep it, within the bound
        while (n > 0) {
          auto take = std::min(n, max_line - line_partial.size());
          line_partial.append(p, take);
          p += take;
          n -= take;
          if (line_partial.size() >= max_line) {
            stderr_line(line_partial);
            line_partial.clear();
          }
        }
        return;
      }
      if (!line_partial.empty()) {
        auto take = std::min(n, max_line - line_partial.size());
        line_partial.append(p, take);
        p += take;
        n -= take;
        stderr_line(line_partial);
        line_partial.clear();
      }
      while (n > 0) {
        auto take = std::min(n, max_line);
        stderr_line(std::string_view(p, take));
        p += take;
        n -= take;
      }
      line_skip_lf = *q == '\r';
      p = q + 1;
    }
  }

  void finish_stderr() {
    if (!line_partial.empty()) {
      stderr_line(line_partial);
      line_partial.clear();
    }
    parser.finish([this](log_event&& e) { on_log_event(std::move(e)); });
  }

  // One line, split here once: the parser takes it as it is (no second split, no copy).
  void stderr_line(std::string_view raw) {
    current_line = raw;
    current_line_taken = false;
    parser.feed_line(raw, [this](log_event&& e) { on_log_event(std::move(e)); });
    current_line_taken = true;
  }

  // The lines that explain a failure: error-level lines seen last, else the last few lines.
  std::vector<std::string> error_lines() const {
    if (!error_tail.empty()) {
      std::vector<std::string> out;
      if (!error_context.empty() && error_context != error_tail.front())
        out.push_back(error_context);
      out.insert(out.end(), error_tail.begin(), error_tail.end());
      return out;
    }
    auto n = std::min<std::size_t>(tail.size(), 5);
    return {tail.end() - static_cast<std::ptrdiff_t>(n), tail.end()};
  }

  void remember_line(std::string text, bool is_error) {
    mask_in_place(text); // masked already as an event; cheap when there is no URL
    if (is_error) {
      error_tail.push_back(text);
      if (error_tail.size() > max_tail) error_tail.pop_front();
    }
    tail.push_back(std::move(text));
    if (tail.size() > max_tail) tail.pop_front();
  }

  std::optional<std::chrono::microseconds> total() const {
    using us = std::chrono::microseconds;
    std::optional<us> t = output_limits.limit();
    std::size_t inputs = input_limits.size();
    for (const auto& d : meta.durations)
      inputs = std::max(inputs, static_cast<std::size_t>(std::max(d.input_index, 0)) + 1);
    for (std::size_t k = 0; k < inputs; ++k) {
      const time_limits in = k < input_limits.size() ? input_limits[k] : time_limits{};
      std::optional<us> avail = in.limit();
      for (const auto& d : meta.durations) {
        if (static_cast<std::size_t>(d.input_index) != k || !d.duration) continue;
        auto left = *d.duration - in.seek.value_or(us{0});
        if (!avail || left < *avail) avail = left;
      }
      if (!avail) continue;
      auto left = *avail - output_limits.seek.value_or(us{0});
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
      share = std::max(share.value_or(0.0),
                       static_cast<double>(p.time->count()) / static_cast<double>(t->count()));
    if (!share) return;
    double s = std::clamp(*share, 0.0, 1.0);
    if (p.final) s = 1.0;
    p.percent = s * 100.0;
    if (p.speed && *p.speed > 0 && s < 1.0) {
      // Remaining media time at the current speed; by frames when only frames are known.
      double total_s = 0;
      if (auto t = total())
        total_s = static_cast<double>(t->count()) / 1e6;
      else if (p.time)
        total_s = static_cast<double>(p.time->count()) / 1e6 / std::max(s, 1e-9);
      double remaining = total_s * (1.0 - s) / *p.speed;
      p.eta = std::chrono::microseconds(static_cast<std::int64_t>(remaining * 1e6));
    } else if (s >= 1.0) {
      p.eta = std::chrono::microseconds{0};
    }
  }

  void on_log_event(log_event&& e) {
    queued_event q;
    if (!current_line_taken) { // the first event of its line carries the line
      current_line_taken = true;
      q.starts_line = true;
      // A log line's text is kept only within the budget (else rebuilt from the event), and
      // not at all when the full queue will drop it: a noisy stderr costs no copies then.
      bool keep =
          !std::holds_alternative<log_line>(e) ||
          (queue.size() < max_queue && line_text_bytes + current_line.size() <= line_text_budget);
      if (keep) q.line = display_line(current_line, parser.last_level_tag());
    }
    std::visit(
        [&](auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, version_info>) {
            meta.version = v;
          } else if constexpr (std::is_same_v<T, library_version>) {
            // A git or static build: its release, as metadata tells it, from libavutil.
            if (meta.version) version_from_libraries(*meta.version, v);
          } else if constexpr (std::is_same_v<T, input_info>) {
            mask_in_place(v.url);
            meta.inputs.push_back(v);
          } else if constexpr (std::is_same_v<T, duration_info>) {
            meta.durations.push_back(v);
          } else if constexpr (std::is_same_v<T, output_info>) {
            mask_in_place(v.url);
            meta.outputs.push_back(v);
          } else if constexpr (std::is_same_v<T, stream_info>) {
            meta.streams.push_back(v);
          } else if constexpr (std::is_same_v<T, stream_mapping_entry>) {
            mask_in_place(v.text);
            meta.mapping.push_back(v);
          } else if constexpr (std::is_same_v<T, progress>) {
            meta_done();
            if (progress_from_pipe) return; // the pipe is the source; skip the stats line
            fill_percent(v);
          } else if constexpr (std::is_same_v<T, log_line>) {
            mask_in_place(v.text);
            mask_in_place(v.component);
            bool is_fatal = v.level == log_level::fatal || v.level == log_level::panic;
            bool is_error = is_fatal || v.level == log_level::error;
            auto text = v.component.empty() ? v.text : "[" + v.component + "] " + v.text;
            if (is_fatal && !fatal_line) fatal_line = text;
            // What a component said just before the first error often names the file
            // (4.x: "[hls @ …] Opening '…/segment000.ts' for writing", then only "Not a
            // directory"): keep it with the error lines.
            if (is_error && error_tail.empty() && !context_line.empty())
              error_context = context_line;
            if (!is_error && !v.component.empty())
              context_line.assign(text); // reuses its buffer: no allocation per line
            else
              context_line.clear();
            remember_line(std::move(text), is_error);
          }
          q.e = event(std::in_place_type<T>, std::move(v));
          push(std::move(q));
          if constexpr (std::is_same_v<T, stream_info>)
            if (!meta_settled && header_printed()) meta_done();
        },
        e);
  }

  // Has ffmpeg printed its whole header: a stream mapping, and every output stream it names
  // described under its Output #N? (Outputs come after the mapping and "Press [q] to stop";
  // with -nostats and an endless input nothing else may follow for a long time.)
  bool header_printed() const {
    if (meta.mapping.empty()) return false;
    for (const auto& m : meta.mapping) {
      auto out = mapped_output(m);
      if (!out) continue;
      bool described = std::any_of(meta.streams.begin(), meta.streams.end(), [&](auto& st) {
        return st.is_output && st.file_index == out->first && st.stream_index == out->second;
      });
      if (!described) return false;
    }
    return true;
  }

  // metadata() may return now. `complete` says whether ffmpeg printed it at its usual level.
  void meta_done() {
    if (!meta_settled) {
      meta_settled = true;
      meta.complete = !quiet_log;
      notify();
    }
  }

  void act(int step) {
    if (!owner || !owner->running()) return; // gone, moved from, or reaped: nothing to stop
    if (step == 0)
      owner->request_exit();
    else if (step == 1)
      owner->terminate();
    else
      owner->kill();
  }

  // True when the child has exited (reaped or not): too late to stop it.
  bool exited() const {
    if (!owner || !owner->running()) return true;
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(owner->id()), &info, WEXITED | WNOHANG | WNOWAIT) ==
               0 &&
           info.si_pid != 0;
  }

  // Starts (or escalates) the stop ladder; a coroutine of its own escalates when a grace
  // period passes, whoever drains the stream meanwhile.
  void begin_stop(int step, std::string_view why);

  // Reads whatever stderr holds right now, without blocking, and parses it in order. Only
  // ever called on the executor, so no other read can interleave.
  void drain_stderr_now() {
    if (stderr_done) return;
    std::array<char, 16384> buf;
    for (;;) {
      auto n = ::read(err.native_handle(), buf.data(), buf.size());
      if (n > 0) {
        feed_stderr(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        continue;
      }
      if (n == -1 && errno == EINTR) continue;
      if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // End of stream (or an error that ends it just the same).
      finish_stderr();
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
    queue.push_back(queued_event(event(std::move(f)))); // frames are read on demand, never dropped
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
        queue.push_back(queued_event(event(std::move(c))));
        p += take;
        n -= take;
        notify();
      }
    }
  }

  void on_stdout_end(const std::error_code& ec) {
    stdout_done = true;
    if (stdout_mode == mode::frames && filled > 0) {
      push(error_event{
          error(errc::protocol, "stdout ended inside a frame (" + std::to_string(filled) + " of " +
                                    std::to_string(frame_outputs[turn].size) + " bytes)")});
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
                             if (self->filled == self->frame_outputs[self->turn].size) {
                               self->emit_frame();
                             } else if (!ec) {
                               // The frame asked for is not whole yet: read on at once,
                               // without waking the consumer for a partial frame.
                               self->start_stdout_read();
                               return;
                             }
                             if (ec) self->on_stdout_end(ec);
                             self->notify();
                           });
    } else {
      if (!current) current = pooled_buffer(chunk_pool);
      out->async_read_some(asio::buffer(current.data(), chunk_pool->buffer_size()),
                           [self](std::error_code ec, std::size_t n) {
                             self->read_pending = false;
                             if (n > 0) {
                               chunk c(std::move(self->current), n);
                               c.output_index = self->chunk_output;
                               self->queue.push_back(queued_event(event(std::move(c))));
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

// Climbs the stop ladder while the child runs: a grace period per step (the child's own
// stop_ladder), then the next step unless it has exited. Ends at SIGKILL, at the end of the
// stream, or when the ffmpeg_child is destroyed (its reaper then runs the ladder). It only
// looks at the child (waitid WNOWAIT) and never reaps: whoever drains the stream does.
asio::awaitable<void> escalate(std::shared_ptr<stream_state> s) {
  while (!s->ended && s->owner && s->owner->running() && s->stop_step && *s->stop_step < 2) {
    const int at = *s->stop_step;
    auto ladder = s->owner->ladder();
    s->stop_timer.expires_after(at == 0 ? ladder.quit_grace : ladder.term_grace);
    auto [ec] = co_await s->stop_timer.async_wait(use_tuple);
    if (s->ended || !s->owner) break;  // reaped, or handed to the reaper
    if (*s->stop_step != at) continue; // escalated meanwhile: a new grace period
    if (ec) continue;                  // woken early for nothing: wait again
    if (s->exited()) break;            // it did stop within the grace period
    s->stop_step = at + 1;
    s->act(at + 1);
  }
  s->escalating = false;
}

void stream_state::begin_stop(int step, std::string_view why) {
  if (ended || exited()) return;
  if (stop_step && *stop_step >= step) return;
  if (!stop_step) stop_reason = std::string(why);
  stop_step = step;
  act(step);
  if (escalating) {
    stop_timer.cancel(); // a new step: a new grace period
    return;
  }
  escalating = true;
  asio::co_spawn(ex, escalate(shared_from_this()), asio::detached);
}

// What a stopped run gives wait(): errc::cancelled with how it was stopped and why.
expected<exit_status> stopped_result(const stream_state& s, int step, std::string_view why,
                                     std::vector<std::string> lines) {
  auto status = s.result && *s.result ? **s.result
                : s.result            ? s.result->error().status().value_or(exit_status{})
                                      : exit_status{};
  const char* how = step == 0 ? "asked to quit" : step == 1 ? "sent SIGTERM" : "sent SIGKILL";
  return tl::unexpected(error::stopped(errc::cancelled,
                                       s.name + " " + how + " (" + std::string(why) + ")", status,
                                       std::move(lines)));
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
  // What was changed for this binary's release comes first in the stream, as sidecar's own.
  for (auto& note : resolved->notes)
    state->push(event(log_line{log_level::warning, "sidecar", std::move(note)}));

  bool stdin_input = false, nostdin = false;
  int progress_fd = -1;
  std::optional<int> log_level;
  detail::time_limits pending; // -ss/-to/-t seen since the last -i: that input's, or the outputs'
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "-nostdin") nostdin = true;
    if (!has_value) continue;
    const auto& v = args[i + 1];
    if (a == "-i") {
      if (is_stdin_input(v)) stdin_input = true;
      state->input_limits.push_back(pending);
      pending = {};
    }
    if (a == "-t") pending.t = parse_ffmpeg_time(v);
    if (a == "-to") pending.to = parse_ffmpeg_time(v);
    if (a == "-ss") pending.seek = parse_ffmpeg_time(v);
    if (a == "-loglevel" || a == "-v") log_level = parse_loglevel_value(v);
    if (a == "-frames:v" || a == "-vframes" || a == "-frames") state->limit_frames = parse_count(v);
    if (a == "-progress" && v.rfind("pipe:", 0) == 0) {
      auto fd = parse_count(std::string_view(v).substr(5));
      if (fd && *fd >= 3 && *fd < 1024) progress_fd = static_cast<int>(*fd);
    }
  }
  state->output_limits = pending;
  // Below info ffmpeg prints no Input/Output/Stream lines: metadata() has nothing to wait for.
  state->quiet_log = log_level && *log_level < 32;
  if (state->quiet_log) state->meta_done();
  if (stdin_input)
    base.exit_how = exit_request::close_stdin;
  else if (nostdin)
    base.exit_how = exit_request::sigterm;
  else
    base.exit_how = exit_request::quit_key;
  if (progress_fd >= 0 && std::find(base.output_pipes.begin(), base.output_pipes.end(),
                                    progress_fd) == base.output_pipes.end())
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
    : process_(std::move(c)), state_(std::move(s)) {
  state_->owner = &process_;
}

ffmpeg_child::ffmpeg_child(ffmpeg_child&& other) noexcept
    : process_(std::move(other.process_)), state_(std::move(other.state_)) {
  if (state_) state_->owner = &process_;
}

ffmpeg_child& ffmpeg_child::operator=(ffmpeg_child&& other) noexcept {
  if (this != &other) {
    detach();
    process_ = std::move(other.process_);
    state_ = std::move(other.state_);
    if (state_) state_->owner = &process_;
  }
  return *this;
}

ffmpeg_child::~ffmpeg_child() {
  detach();
}

void ffmpeg_child::detach() noexcept {
  if (!state_) return;
  state_->owner = nullptr;
  try {
    state_->stop_timer.cancel(); // the escalation coroutine ends; the reaper takes over
  } catch (const std::system_error&) {
  }
}

asio::readable_pipe& ffmpeg_child::take_stdout() {
  auto& s = *state_;
  if (s.read_pending || s.stdout_mode != detail::stream_state::mode::undecided)
    throw std::logic_error("take_stdout() after the event stream started reading stdout");
  s.stdout_done = true;
  s.notify();
  return process_.stdout_pipe();
}

const std::string& ffmpeg_child::command_line() const noexcept {
  return state_->command_line;
}

std::optional<std::chrono::microseconds> ffmpeg_child::total_duration() const {
  return state_->total();
}

namespace {

// Records how the run ended once the child is reaped; an error_event when it failed.
std::optional<detail::queued_event> settle(detail::stream_state& s, std::error_code ec,
                                           const exit_status& st) {
  s.ended = true;
  if (s.escalating) {
    try {
      s.stop_timer.cancel(); // the ladder is over: let the context run out of work
    } catch (const std::system_error&) {
    }
  }
  if (ec) {
    s.result = fail(ec, "waiting for " + s.name);
  } else if (!st.success()) {
    s.result = tl::unexpected(error::process_failed(s.name + " failed", st, s.error_lines()));
  } else if (s.fatal_line && !s.stop_step) {
    auto lines = s.error_lines();
    if (std::find(lines.begin(), lines.end(), *s.fatal_line) == lines.end())
      lines.insert(lines.begin(), *s.fatal_line); // scrolled out of the ring: it says why
    s.result = tl::unexpected(error::process_failed(
        s.name + " failed: it printed a fatal error, though it exited 0", st, std::move(lines)));
  } else {
    s.result = st;
  }
  if (!*s.result) return detail::queued_event(event(error_event{s.result->error()}));
  return std::nullopt;
}

// The next queued event with its stderr line; nullopt at the end, once the child is reaped.
// Cancellation throws operation_aborted and leaves the child alone: callers decide.
asio::awaitable<std::optional<detail::queued_event>>
pull(child& process, std::shared_ptr<detail::stream_state> keep) {
  auto& s = *keep;
  for (;;) {
    if (auto q = s.pop()) co_return q;
    if (s.ended) co_return std::nullopt;
    if (s.stdout_done && s.stderr_done && s.progress_done) {
      auto [ec, st] = co_await process.async_wait(use_tuple);
      auto cs = co_await asio::this_coro::cancellation_state;
      if (ec == asio::error::operation_aborted && cs.cancelled() != asio::cancellation_type::none)
        throw std::system_error(ec); // cancelled while reaping: not the end yet
      co_return settle(s, ec, st);
    }
    s.start_stdout_read();
    if (s.queue.empty()) co_await s.wait_for_news();
  }
}

// next_event(), next_frame(), next_progress(): the next event that `pick` keeps, as ONE
// coroutine frame (no nested awaitables), so that Asio's per-thread recycling of frames serves
// every call and a frame loop allocates nothing in steady state. A cancellation starts the
// stop ladder its type asks for, as a cancelled wait() does, and rethrows.
template <class T, std::optional<T> (*pick)(event&&)>
asio::awaitable<std::optional<T>>
pull_one(child& process, std::shared_ptr<detail::stream_state> keep, const char* what) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  auto& s = *keep;
  for (;;) {
    if (auto q = s.pop()) {
      if (auto r = pick(std::move(q->e))) co_return r;
      continue;
    }
    if (s.ended) co_return std::nullopt;
    asio::cancellation_type cancelled = asio::cancellation_type::none;
    if (s.stdout_done && s.stderr_done && s.progress_done) {
      auto [ec, st] = co_await process.async_wait(use_tuple);
      asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
      cancelled = cs.cancelled();
      if (ec != asio::error::operation_aborted || cancelled == asio::cancellation_type::none) {
        auto last = settle(s, ec, st);
        if (last)
          if (auto r = pick(std::move(last->e))) co_return r;
        co_return std::nullopt;
      }
    } else {
      s.start_stdout_read();
      if (!s.queue.empty()) continue;
      auto [ec] = co_await s.wake.async_wait(use_tuple); // a reader's news, or cancellation
      (void)ec;
      asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
      cancelled = cs.cancelled();
    }
    if (cancelled != asio::cancellation_type::none) {
      s.begin_stop(stop_step_for(cancelled), what);
      throw std::system_error(asio::error::operation_aborted);
    }
  }
}

std::optional<event> pick_any(event&& e) {
  return std::move(e);
}
std::optional<frame> pick_frame(event&& e) {
  if (auto* f = std::get_if<frame>(&e)) return std::move(*f);
  return std::nullopt;
}
std::optional<progress> pick_progress(event&& e) {
  if (auto* p = std::get_if<progress>(&e)) return std::move(*p);
  return std::nullopt;
}

// Runs op; when it is cancelled, starts the stop ladder the cancellation type asks for (as a
// cancelled wait() does) and rethrows. Lets every cancellation type through, to tell them apart.
template <class T>
asio::awaitable<T> stopping_when_cancelled(std::shared_ptr<detail::stream_state> s,
                                           asio::awaitable<T> op, const char* what) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  std::optional<T> r;
  bool aborted = false;
  try {
    r.emplace(co_await std::move(op));
  } catch (const std::system_error& x) {
    if (x.code() != asio::error::operation_aborted) throw;
    aborted = true; // no co_await inside a handler
  }
  if (aborted) {
    auto cs = co_await asio::this_coro::cancellation_state;
    auto type = cs.cancelled();
    if (type != asio::cancellation_type::none) s->begin_stop(stop_step_for(type), what);
    throw std::system_error(asio::error::operation_aborted);
  }
  co_return std::move(*r);
}

} // namespace

asio::awaitable<std::optional<event>> ffmpeg_child::next_event() {
  return pull_one<event, pick_any>(process_, state_, "next_event cancelled");
}

asio::awaitable<std::optional<frame>> ffmpeg_child::next_frame() {
  return pull_one<frame, pick_frame>(process_, state_, "next_frame cancelled");
}

asio::awaitable<std::optional<progress>> ffmpeg_child::next_progress() {
  return pull_one<progress, pick_progress>(process_, state_, "next_progress cancelled");
}

namespace {

asio::awaitable<metadata> metadata_of(std::shared_ptr<detail::stream_state> keep) {
  auto& s = *keep;
  while (!s.meta_settled) {
    // The first stdout bytes settle it: ffmpeg has described its outputs by then. They are
    // staged, not lost.
    if (s.stdout_mode == detail::stream_state::mode::undecided) s.start_stdout_read();
    if (s.stdout_done && s.stderr_done) break;
    co_await s.wait_for_news();
  }
  co_return s.meta;
}

} // namespace

asio::awaitable<metadata> ffmpeg_child::metadata() {
  return stopping_when_cancelled(state_, metadata_of(state_), "metadata cancelled");
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

namespace {

asio::awaitable<std::vector<std::string>> stderr_lines_of(child& process,
                                                          std::shared_ptr<detail::stream_state> s) {
  std::vector<std::string> out;
  for (;;) {
    auto q = co_await pull(process, s);
    if (!q) break;
    if (!q->starts_line) continue;
    if (!q->line.empty()) {
      out.push_back(std::move(q->line));
    } else if (auto* l = std::get_if<log_line>(&q->e)) { // past the text budget
      out.push_back(l->component.empty() ? std::move(l->text)
                                         : "[" + l->component + "] " + l->text);
    }
  }
  co_return out;
}

} // namespace

asio::awaitable<std::vector<std::string>> ffmpeg_child::stderr_lines() {
  return stopping_when_cancelled(state_, stderr_lines_of(process_, state_),
                                 "stderr_lines cancelled");
}

asio::awaitable<expected<exit_status>> ffmpeg_child::wait() {
  // Let every kind of cancellation through, to tell them apart below.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  std::optional<asio::cancellation_type> cancelled;
  for (;;) {
    // Not `while (co_await pull()) {}`: g++ 12 miscompiles a co_await condition with an
    // empty loop body (the frame is resumed uninitialised).
    std::optional<detail::queued_event> e;
    bool aborted = false;
    try {
      e = co_await pull(process_, state_);
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
  auto& s = *state_;
  if (cancelled) {
    // End the child the way the cancellation asks — total: ffmpeg's own quit (`q`, end of
    // stdin or SIGINT), so it finishes its files; partial: SIGTERM; terminal: SIGKILL — and
    // keep draining its output (it cannot finish while a pipe is full) while the ladder
    // escalates when a grace period passes; then reap it.
    co_await asio::this_coro::reset_cancellation_state();
    int step = stop_step_for(*cancelled);
    s.begin_stop(step, "wait cancelled");
    for (;;) {
      auto e = co_await pull(process_, state_);
      if (!e) break;
    }
    co_return detail::stopped_result(s, std::max(step, s.stop_step.value_or(step)),
                                     s.stop_reason.empty() ? "wait cancelled" : s.stop_reason,
                                     error_lines());
  }
  if (!s.result) co_return fail(errc::protocol, "the event stream ended without an exit");
  // A cancelled next_event() (or metadata(), ...) stopped it: say so, as a cancelled wait().
  if (s.stop_step) co_return detail::stopped_result(s, *s.stop_step, s.stop_reason, error_lines());
  co_return *s.result;
}

asio::awaitable<expected<void>> ffmpeg_child::write(std::span<const std::byte> bytes) {
  auto& in = process_.stdin_pipe();
  if (!in.is_open())
    co_return fail(std::make_error_code(std::errc::bad_file_descriptor),
                   state_->name + "'s stdin is closed");
  auto [ec, n] =
      co_await asio::async_write(in, asio::buffer(bytes.data(), bytes.size()), use_tuple);
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
  return state_->error_lines();
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
