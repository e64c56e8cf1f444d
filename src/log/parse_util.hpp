// Number and time parsing shared by the stderr parser and the -progress reader, and the UTF-8
// repair the event stream uses for the lines it keeps.
#pragma once

#include <sidecar/log.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace sidecar::log_detail {

using sv = std::string_view;

// Bytes from `i` on that are ASCII, a word at a time: the index of the first that is not.
inline std::size_t skip_ascii(sv s, std::size_t i) {
  for (std::uint64_t w; i + 8 <= s.size(); i += 8) {
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ull) break;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80)
    ++i;
  return i;
}

// The length of the valid UTF-8 sequence at s[i] (no overlongs, surrogates or code points
// past U+10FFFF), 0 when it is not one.
inline std::size_t utf8_sequence(sv s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (c >= 0xF5 || len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (len == 3 && ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))) return 0;
  if (len == 4 && ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))) return 0;
  return len;
}

// Replaces bytes that are not UTF-8 by U+FFFD. ASCII, the common case, is checked a word at
// a time, and valid text is copied in runs between the replacements.
inline std::string utf8(sv s) {
  std::size_t i = skip_ascii(s, 0);
  if (i == s.size()) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t copied = 0; // s[copied, i) is valid and not yet in out
  while (i < s.size()) {
    if (auto len = utf8_sequence(s, i)) {
      i = skip_ascii(s, i + len);
      continue;
    }
    out.append(s.substr(copied, i - copied));
    out.append("\xEF\xBF\xBD");
    copied = ++i;
    i = skip_ascii(s, i);
  }
  out.append(s.substr(copied));
  return out;
}

inline constexpr sv trim(sv s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

inline bool starts_with(sv s, sv p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}
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
  // Past what microseconds in an int64 hold (about 292,000 years) it is no time.
  if (!(total * 1e6 < 9.2e18)) return std::nullopt;
  auto us = std::chrono::microseconds(static_cast<std::int64_t>(std::llround(total * 1e6)));
  return negative ? -us : us;
}

// Digits at the front of s as an int, taken off s.
inline bool parse_int(sv& s, int& out) {
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i;
  if (i == 0) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + i, out);
  if (ec != std::errc()) return false;
  s.remove_prefix(i);
  return true;
}

inline bool is_identifier(sv s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (c >= 'A' && c <= 'Z');
  });
}

// `  libavutil      57. 28.100 / 57. 28.100`: a library's compiled and runtime versions.
inline std::optional<library_version> library_line(sv s) {
  if (!starts_with(s, "lib")) return std::nullopt;
  auto space = s.find(' ');
  if (space == sv::npos) return std::nullopt;
  library_version v;
  auto name = s.substr(0, space);
  if (!is_identifier(name)) return std::nullopt;
  auto rest = trim(s.substr(space));
  auto slash = rest.find('/');
  if (slash == sv::npos) return std::nullopt;
  auto compact = [](sv x) {
    std::string out;
    for (char c : trim(x))
      if (c != ' ') out.push_back(c);
    return out;
  };
  v.compiled = compact(rest.substr(0, slash));
  v.runtime = compact(rest.substr(slash + 1));
  if (v.compiled.empty() || !(v.compiled[0] >= '0' && v.compiled[0] <= '9')) return std::nullopt;
  v.name = std::string(name);
  return v;
}

} // namespace sidecar::log_detail
