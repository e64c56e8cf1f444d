// The lines kept to explain a failure.
#include <sidecar/detail/error_record.hpp>

#include <string>
#include <utility>
#include <vector>

namespace sidecar::detail {

namespace {

void keep_last(std::vector<std::string>& lines, std::string text, std::size_t bound) {
  if (lines.size() == bound) lines.erase(lines.begin());
  lines.push_back(std::move(text));
}

} // namespace

void error_record::note(const log_line& l) {
  bool is_fatal = l.level == log_level::fatal || l.level == log_level::panic;
  bool is_error = is_fatal || l.level == log_level::error;
  auto text = l.component.empty() ? l.text : "[" + l.component + "] " + l.text;
  if (is_fatal && !fatal_line_) fatal_line_ = text;
  // What a component said just before the first error often names the file (4.x:
  // "[hls @ …] Opening '…/segment000.ts' for writing", then only "Not a directory"): keep
  // it with the error lines.
  if (is_error && error_tail_.empty() && !context_line_.empty()) error_context_ = context_line_;
  if (!is_error && !l.component.empty())
    context_line_.assign(text); // reuses its buffer: no allocation per line
  else
    context_line_.clear();
  if (is_error) keep_last(error_tail_, text, max_lines);
  keep_last(tail_, std::move(text), recent_lines);
}

std::vector<std::string> error_record::lines() const {
  if (!error_tail_.empty()) {
    std::vector<std::string> out;
    if (!error_context_.empty() && error_context_ != error_tail_.front())
      out.push_back(error_context_);
    out.insert(out.end(), error_tail_.begin(), error_tail_.end());
    return out;
  }
  return tail_;
}

} // namespace sidecar::detail

#ifdef ASIO_VERSION
#error "the log layer includes no Asio (DESIGN: log is pure, testable and fuzzable alone)"
#endif
