// A number as an ffmpeg argument: the command layer's one formatting of doubles.
#pragma once

#include <array>
#include <charconv>
#include <string>

namespace sidecar::detail {

// Shortest round-trip form, so 30 prints as "30" and 29.97 as "29.97", like Rust's to_string.
inline std::string number_text(double v) {
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  if (ec != std::errc{}) return "0";
  return std::string(buf.data(), end);
}

} // namespace sidecar::detail
