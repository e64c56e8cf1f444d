// stderr in one pass: bytes → lines (once) → parser → events with their line → the queue.
#include "stderr_reader.hpp"

#include <sidecar/command.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <tuple>

#include <unistd.h>

namespace sidecar::detail {

namespace {

// A stderr line as ffmpeg printed it, less the `[level] ` tag (the builder asks for it; the
// program did not), trailing blanks trimmed, bytes that are not UTF-8 replaced.
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
  return repair_utf8(text);
}

} // namespace

secret_scanner::secret_scanner(std::span<const std::string> secrets) : secrets_(secrets) {
  for (const auto& s : secrets)
    if (!s.empty() && (window_ == 0 || s.size() < window_)) window_ = s.size();
  if (window_ < 2) return; // a one-byte secret (a command keeps none): compared byte by byte
  // A pair that ends k bytes into some secret's first window_ bytes allows a shift of
  // window_ - 1 - k at most; one found nowhere there, of window_ - 1 (capped: smaller is safe).
  const auto most = static_cast<std::uint8_t>(std::min<std::size_t>(window_ - 1, 255));
  shift_ = std::make_unique<std::array<std::uint8_t, shifts>>();
  shift_->fill(most);
  for (const auto& s : secrets)
    for (std::size_t k = 1; k < window_; ++k) {
      auto& at =
          (*shift_)[slot(static_cast<unsigned char>(s[k - 1]), static_cast<unsigned char>(s[k]))];
      at = static_cast<std::uint8_t>(std::min<std::size_t>(at, window_ - 1 - k));
    }
}

bool secret_scanner::found_in(std::string_view text) const noexcept {
  if (window_ == 0 || text.size() < window_) return false;
  auto matches_at = [&](std::size_t start) {
    for (const auto& s : secrets_)
      if (!s.empty() && text.substr(start, s.size()) == s) return true;
    return false;
  };
  if (window_ < 2) {
    for (std::size_t i = 0; i < text.size(); ++i)
      if (matches_at(i)) return true;
    return false;
  }
  const auto* t = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t end = window_ - 1; end < text.size();) { // the window's last byte
    if (auto shift = (*shift_)[slot(t[end - 1], t[end])]) {
      end += shift;
      continue;
    }
    if (matches_at(end + 1 - window_)) return true;
    ++end;
  }
  return false;
}

asio::awaitable<void> stderr_reader::run(std::shared_ptr<void> keep) {
  constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  while (!done_) {
    std::error_code ec;
    if (!only_run_reads_) {
      std::tie(ec) = co_await pipe.async_wait(asio::posix::descriptor_base::wait_read, use_tuple);
      if (!ec) read_now();
    } else {
      read_pending_ = true;
      auto [read_ec, n] = co_await pipe.async_read_some(asio::buffer(first_bytes_), use_tuple);
      read_pending_ = false;
      ec = read_ec;
      if (n > 0) {
        parse(std::string_view(first_bytes_.data(), n));
        if (n == first_bytes_.size()) read_now(); // more may wait: take it now, in order
      }
      if (ec == asio::error::eof) {
        end();
        break;
      }
    }
    if (ec) {
      done_ = true; // the descriptor failed: nothing more will come
      meta_.settle();
      queue_.wake.notify();
      break;
    }
  }
  (void)keep;
}

void stderr_reader::parse(std::string_view bytes) {
  // Split into lines once, by the parser; each event's line is the parser's current one.
  parser_.feed(bytes, [this](log_event&& e) { on_event(std::move(e)); });
}

void stderr_reader::read_now() {
  if (done_ || read_pending_) return;
  std::array<char, 16384> buf;
  // At most 1 MiB per call: a stderr that never pauses cannot hold the io_context (run()
  // goes back to it for the next read, which lets other work in).
  for (int reads = 0; reads < 64; ++reads) {
    auto n = ::read(pipe.native_handle(), buf.data(), buf.size());
    if (n > 0) {
      parse(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      // stderr is a pipe (ffmpeg_child makes it), whose read returns all it holds up to the
      // size asked: a short one left it empty, so the next write (or its end) is a new edge
      // for run()'s wait, and another read now would only say EAGAIN (a syscall saved per
      // stats line).
      if (static_cast<std::size_t>(n) < buf.size()) return;
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
    // Every text an event takes from its line is a part of it (repaired as UTF-8; the display
    // text less the [level] tag, which no secret spans): a line without a secret gives none.
    line_masked_ =
        raw.empty() || raw.find("://") != std::string_view::npos || scanner_.found_in(raw);
    q.starts_line = !raw.empty();
    // A log line's text is kept only within the budget (else rebuilt from the event), and
    // not at all when the full queue will drop it: a noisy stderr costs no copies then.
    if (q.starts_line && (!std::holds_alternative<log_line>(e) || queue_.keeps_line(raw.size()))) {
      q.line = display_line(raw, parser_.last_level_tag());
      if (line_masked_) mask_secrets_in_place(q.line, secrets_);
    }
  }
  meta_.take(e);
  if (auto* p = std::get_if<progress>(&e)) {
    if (meta_.settle()) queue_.wake.notify();
    if (progress_from_pipe) return; // the pipe is the source; skip the stats line
    estimator_.fill(*p, meta_.get());
  } else if (auto* l = std::get_if<log_line>(&e)) {
    if (line_masked_) {
      mask_secrets_in_place(l->text, secrets_);
      mask_secrets_in_place(l->component, secrets_);
    }
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
