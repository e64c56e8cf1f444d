// The total of a run, from the command's structure and the durations ffmpeg printed.
#include "progress_estimator.hpp"

#include <sidecar/log.hpp>

#include <algorithm>
#include <charconv>

namespace sidecar::detail {

namespace {

using us = std::chrono::microseconds;

std::optional<std::uint64_t> parse_count(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

void read_limits(time_limits& l, const std::vector<command_option>& options) {
  for (const auto& o : options) {
    if (!o.value) continue;
    if (o.name == "-t") l.t = parse_ffmpeg_time(*o.value);
    if (o.name == "-to") l.to = parse_ffmpeg_time(*o.value);
    if (o.name == "-ss") l.seek = parse_ffmpeg_time(*o.value);
  }
}

} // namespace

std::optional<us> time_limits::limit() const {
  if (t) return t;
  if (to) return *to - seek.value_or(us{0});
  return std::nullopt;
}

progress_estimator::progress_estimator(const command& cmd) {
  for (const auto& in : cmd.inputs()) {
    time_limits l;
    read_limits(l, in.options);
    inputs_.push_back(l);
  }
  for (const auto& out : cmd.outputs())
    read_limits(outputs_, out.options);
  read_limits(outputs_, cmd.trailing_options());
  if (auto* v = cmd.option_value({"-frames:v", "-vframes", "-frames"})) frames_ = parse_count(*v);
}

std::optional<us> progress_estimator::total(const metadata& m) const {
  std::optional<us> t = outputs_.limit();
  std::size_t inputs = inputs_.size();
  for (const auto& d : m.durations)
    inputs = std::max(inputs, static_cast<std::size_t>(std::max(d.input_index, 0)) + 1);
  for (std::size_t k = 0; k < inputs; ++k) {
    const time_limits in = k < inputs_.size() ? inputs_[k] : time_limits{};
    std::optional<us> avail = in.limit();
    for (const auto& d : m.durations) {
      if (static_cast<std::size_t>(d.input_index) != k || !d.duration) continue;
      auto left = *d.duration - in.seek.value_or(us{0});
      if (!avail || left < *avail) avail = left;
    }
    if (!avail) continue;
    auto left = *avail - outputs_.seek.value_or(us{0});
    if (!t || left < *t) t = left;
  }
  if (t && t->count() <= 0) return std::nullopt;
  return t;
}

void progress_estimator::fill(progress& p, const metadata& m) const {
  std::optional<double> share;
  if (frames_ && p.frame && *frames_ > 0)
    share = static_cast<double>(*p.frame) / static_cast<double>(*frames_);
  auto t = total(m);
  if (t && p.time)
    share = std::max(share.value_or(0.0),
                     static_cast<double>(p.time->count()) / static_cast<double>(t->count()));
  if (!share) return;
  double s = std::clamp(*share, 0.0, 1.0);
  if (p.final) s = 1.0;
  p.percent = s * 100.0;
  if (p.speed && *p.speed > 0 && s < 1.0) {
    // Remaining media time at the current speed; by frames when only frames are known.
    double total_s = 0;
    if (t)
      total_s = static_cast<double>(t->count()) / 1e6;
    else if (p.time)
      total_s = static_cast<double>(p.time->count()) / 1e6 / std::max(s, 1e-9);
    double remaining = total_s * (1.0 - s) / *p.speed;
    p.eta = us(static_cast<std::int64_t>(remaining * 1e6));
  } else if (s >= 1.0) {
    p.eta = us{0};
  }
}

} // namespace sidecar::detail
