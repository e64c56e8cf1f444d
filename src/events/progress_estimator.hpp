// Percent and ETA for progress events: the total the run is measured against comes from the
// command's inputs and outputs (their -ss/-to/-t, -frames:v) and the durations ffmpeg prints.
#pragma once

#include <sidecar/command.hpp>
#include <sidecar/events.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace sidecar::detail {

// What one input's or the outputs' options say about where reading or writing stops.
struct time_limits {
  std::optional<std::chrono::microseconds> seek; // -ss
  std::optional<std::chrono::microseconds> to;   // -to
  std::optional<std::chrono::microseconds> t;    // -t
  // ffmpeg's recording time: -t wins over -to; -to counts from -ss.
  std::optional<std::chrono::microseconds> limit() const;
};

class progress_estimator {
public:
  progress_estimator() = default;
  explicit progress_estimator(const command& cmd);

  // Per input, its -t, else -to less its -ss, and its duration less its -ss; less the
  // outputs' -ss; at most the outputs' -t, else -to less their -ss. Once known.
  std::optional<std::chrono::microseconds> total(const metadata& m) const;
  // Fills p.percent and p.eta from the total (or the frame limit), when either is known.
  void fill(progress& p, const metadata& m) const;

private:
  std::vector<time_limits> inputs_; // per -i, in order
  time_limits outputs_;             // the options of the outputs, the last given winning
  std::optional<std::uint64_t> frames_;
};

} // namespace sidecar::detail
