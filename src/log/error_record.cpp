// The lines kept to explain a failure.
#include <sidecar/detail/error_record.hpp>

#include <algorithm>

namespace sidecar::detail {

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
  if (is_error) {
    error_tail_.push_back(text);
    if (error_tail_.size() > max_lines) error_tail_.pop_front();
  }
  tail_.push_back(std::move(text));
  if (tail_.size() > max_lines) tail_.pop_front();
}

std::vector<std::string> error_record::lines() const {
  if (!error_tail_.empty()) {
    std::vector<std::string> out;
    if (!error_context_.empty() && error_context_ != error_tail_.front())
      out.push_back(error_context_);
    out.insert(out.end(), error_tail_.begin(), error_tail_.end());
    return out;
  }
  auto n = std::min<std::size_t>(tail_.size(), 5);
  return {tail_.end() - static_cast<std::ptrdiff_t>(n), tail_.end()};
}

} // namespace sidecar::detail

#ifdef ASIO_VERSION
#error "the log layer includes no Asio (DESIGN: log is pure, testable and fuzzable alone)"
#endif
