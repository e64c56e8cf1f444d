// The `-progress` reader: key=value lines, one progress event per block ending at
// `progress=continue` or `progress=end`. The keys are stable across ffmpeg 4.x–7.x.
#include <sidecar/log.hpp>

#include "parse_util.hpp"

#include <charconv>
#include <cmath>

namespace sidecar {

using namespace log_detail;

void progress_reader::feed_impl(std::string_view bytes, void (*call)(void*, progress&&),
                                void* obj) {
  // A line longer than max_line is garbage, dropped whole whatever the slicing: up to its
  // '\n', and never parsed from the middle.
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    const auto piece = bytes.substr(0, nl == sv::npos ? bytes.size() : nl);
    if (!discarding_) {
      if (partial_.size() + piece.size() > max_line) {
        partial_.clear();
        discarding_ = true;
      } else if (nl != sv::npos && partial_.empty()) {
        key_value(piece, call, obj); // the common case: a whole line, not copied
      } else {
        partial_.append(piece);
        if (nl != sv::npos) key_value(partial_, call, obj);
      }
    }
    if (nl == sv::npos) return;
    partial_.clear();
    discarding_ = false;
    bytes.remove_prefix(nl + 1);
  }
}

void progress_reader::key_value(std::string_view line, void (*call)(void*, progress&&), void* obj) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto eq = line.find('=');
  if (eq == sv::npos) return;
  auto key = line.substr(0, eq), value = line.substr(eq + 1);
  while (!value.empty() && value.front() == ' ')
    value.remove_prefix(1);
  bool na = value == "N/A";
  auto& p = current_;
  if (key == "frame")
    p.frame = number<std::uint64_t>(value);
  else if (key == "fps")
    p.fps = number<double>(value);
  else if (key.starts_with("stream_") && key.ends_with("_q")) {
    if (!p.q) p.q = number<double>(value);
  } else if (key == "bitrate") {
    if (!na && value.ends_with("kbits/s"))
      p.bitrate_kbps = number<double>(value.substr(0, value.size() - 7));
  } else if (key == "total_size") {
    if (!na) p.size_bytes = number<std::uint64_t>(value);
  } else if (key == "out_time_us" || key == "out_time_ms") {
    // Both are microseconds (out_time_ms is misnamed in ffmpeg).
    if (auto v = na ? std::nullopt : number<std::int64_t>(value))
      p.time = std::chrono::microseconds(*v);
  } else if (key == "out_time") {
    if (!p.time && !na) p.time = clock_time(value);
  } else if (key == "dup_frames")
    p.dup = number<std::uint64_t>(value);
  else if (key == "drop_frames")
    p.drop = number<std::uint64_t>(value);
  else if (key == "speed") {
    if (!na && value.ends_with("x")) p.speed = number<double>(value.substr(0, value.size() - 1));
  } else if (key == "progress") {
    p.final = value == "end";
    progress done = std::move(current_);
    current_ = progress{};
    call(obj, std::move(done));
  }
}

} // namespace sidecar

#ifdef ASIO_VERSION
#error "the log layer includes no Asio (DESIGN: log is pure, testable and fuzzable alone)"
#endif
