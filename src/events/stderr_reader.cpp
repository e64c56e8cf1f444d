// stderr in one pass: bytes → lines (once) → parser → events with their line → the queue.
#include "stderr_reader.hpp"

#include <sidecar/command.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <array>
#include <cerrno>

#include <unistd.h>

namespace sidecar::detail {

namespace {

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

} // namespace

asio::awaitable<void> stderr_reader::run(std::shared_ptr<void> keep) {
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  while (!done_) {
    auto [ec] = co_await pipe.async_wait(asio::posix::descriptor_base::wait_read, use_tuple);
    if (ec) {
      done_ = true; // the descriptor failed: nothing more will come
      meta_.settle();
      queue_.wake.notify();
      break;
    }
    read_now();
  }
  (void)keep;
}

void stderr_reader::read_now() {
  if (done_) return;
  std::array<char, 16384> buf;
  // At most 1 MiB per call: a stderr that never pauses cannot hold the io_context (run()
  // waits for readiness again, which lets other work in).
  for (int reads = 0; reads < 64; ++reads) {
    auto n = ::read(pipe.native_handle(), buf.data(), buf.size());
    if (n > 0) {
      // Split into lines once, by the parser; each event's line is the parser's current one.
      parser_.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)),
                   [this](log_event&& e) { on_event(std::move(e)); });
      continue;
    }
    if (n == -1 && errno == EINTR) continue;
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    end(); // end of stream, or an error that ends it just the same
    return;
  }
}

void stderr_reader::end() {
  parser_.finish([this](log_event&& e) { on_event(std::move(e)); });
  done_ = true;
  meta_.settle();
  queue_.wake.notify();
}

void stderr_reader::on_event(log_event&& e) {
  queued_event q;
  if (parser_.lines_fed() != line_taken_) { // the first event of its line carries the line
    line_taken_ = parser_.lines_fed();
    auto raw = parser_.current_line();
    q.starts_line = !raw.empty();
    // A log line's text is kept only within the budget (else rebuilt from the event), and
    // not at all when the full queue will drop it: a noisy stderr costs no copies then.
    if (q.starts_line && (!std::holds_alternative<log_line>(e) || queue_.keeps_line(raw.size())))
      q.line = display_line(raw, parser_.last_level_tag());
  }
  meta_.take(e);
  if (auto* p = std::get_if<progress>(&e)) {
    if (meta_.settle()) queue_.wake.notify();
    if (progress_from_pipe) return; // the pipe is the source; skip the stats line
    estimator_.fill(*p, meta_.get());
  } else if (auto* l = std::get_if<log_line>(&e)) {
    mask_in_place(l->text);
    mask_in_place(l->component);
    record_.note(*l);
  }
  bool is_stream = std::holds_alternative<stream_info>(e);
  std::visit(
      [&](auto& v) { q.e = event(std::in_place_type<std::decay_t<decltype(v)>>, std::move(v)); },
      e);
  queue_.push(std::move(q));
  if (is_stream && !meta_.settled() && meta_.header_printed() && meta_.settle())
    queue_.wake.notify();
}

} // namespace sidecar::detail
