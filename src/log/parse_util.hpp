// Number and time parsing shared by the stderr parser and the -progress reader.
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace sidecar::log_detail {

using sv = std::string_view;

inline constexpr sv trim(sv s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

inline bool starts_with(sv s, sv p) { return s.size() >= p.size() && s.compare(0, p.size(), p) == 0; }
inline bool ends_with(sv s, sv p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

template <class T> std::optional<T> number(sv s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>)
    if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// A number at the start of s (the rest is a unit); nullopt if none.
inline std::optional<double> leading_number(sv s, sv* rest = nullptr) {
  s = trim(s);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || !std::isfinite(v)) return std::nullopt;
  if (rest) *rest = s.substr(static_cast<std::size_t>(p - s.data()));
  return v;
}

// "HH:MM:SS.xx", "-00:00:00.04", "0:00:12.59", "12.5"; nullopt for N/A and garbage.
inline std::optional<std::chrono::microseconds> clock_time(sv s) {
  s = trim(s);
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double total = 0;
  int parts = 0;
  for (;;) {
    auto colon = s.find(':');
    auto part = s.substr(0, colon);
    auto v = number<double>(part);
    if (!v || *v < 0) return std::nullopt;
    total = total * 60 + *v;
    if (++parts > 3) return std::nullopt;
    if (colon == sv::npos) break;
    s.remove_prefix(colon + 1);
  }
  auto us = std::chrono::microseconds(static_cast<std::int64_t>(std::llround(total * 1e6)));
  return negative ? -us : us;
}

} // namespace sidecar::log_detail
