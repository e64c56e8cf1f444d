// Shared by the parser fuzz targets: one input fed in several slicings (one big feed, 1 + the
// rest, sizes taken from the input, cuts around the line bound, slices longer than it), and
// an input reshaped into a line past the bound, so that slicing invariance is checked where
// it is hardest. Any difference traps.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace fuzz {

inline constexpr std::size_t whole = static_cast<std::size_t>(-1);

// Feeds bytes in slices of the sizes next() gives (whole: the rest at once).
template <class Feed, class Next>
void feed_sliced(std::string_view bytes, Feed&& feed, Next&& next) {
  while (!bytes.empty()) {
    std::size_t n = std::clamp<std::size_t>(next(), 1, bytes.size());
    feed(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
}

// The input's header: three bytes that pick how the rest is fed (and reshaped).
struct header {
  std::uint8_t step;   // bit 7: constant slices of 1 + step % 64 bytes, else sizes from the bytes
  std::uint8_t choice; // high nibble: a structural slicing; low nibble: a long line's offset
  std::uint8_t shape;  // (shape & 63) == 0: reshaped into a long line; bit 7: twice the bound
  static constexpr std::size_t size = 3;
};

// Calls run(next) for two slicings of bytes besides the one big feed (the reference the
// caller makes): one of many small slices, and one structural — 1 + the rest, the rest + 1, a
// first slice ending just before, at or just after the line bound, or slices longer than the
// bound and than 64 KiB. Two per input keep the rate up; libFuzzer's runs cover them all.
// Small slices over a long input would cost most of the time, so they are scaled up there.
template <class Run>
void for_two_slicings(std::string_view bytes, std::size_t bound, header h, Run&& run) {
  const std::size_t n = bytes.size();
  if (n < 2) return;
  const std::size_t scale = n > 8192 ? 257 : 1;
  if (h.step & 0x80)
    run([step = (1 + h.step % 64) * scale] { return step; });
  else
    run([bytes, i = std::size_t{h.step}, scale]() mutable {
      return (1 + static_cast<std::uint8_t>(bytes[i++ % bytes.size()]) % 64) * scale;
    });
  const std::size_t big = std::max<std::size_t>(bound, 64 * 1024) + 1 + h.step;
  std::size_t first = 1;
  switch ((h.choice >> 4) % 6) {
  case 1:
    first = n - 1;
    break;
  case 2:
    first = bound - 1;
    break;
  case 3:
    first = bound;
    break;
  case 4:
    first = bound + 1;
    break;
  case 5:
    if (n > big) {
      run([big] { return big; });
      return;
    }
    break;
  }
  if (first >= n) first = 1;
  run([k = 0, first]() mutable { return k++ == 0 ? first : whole; });
}

// The input reshaped into one long line: its bytes, then its bytes without line endings
// repeated, then its bytes again. The long line is the input's last partial line, the
// repeats and its first line — content from the input — and is within 8 bytes of `bound`, or
// of twice it, as the header says.
inline std::string long_line(std::string_view bytes, std::size_t bound, header h) {
  std::string body;
  for (char c : bytes)
    if (c != '\n' && c != '\r') body.push_back(c);
  if (body.empty()) body = "x";
  const std::size_t target = (h.shape & 0x80 ? 2 * bound : bound) + (h.choice & 15) - 8;
  const auto first_end = bytes.find_first_of("\r\n");
  const auto last_end = bytes.find_last_of("\r\n");
  const std::size_t head = first_end == std::string_view::npos ? bytes.size() : first_end;
  const std::size_t tail =
      last_end == std::string_view::npos ? bytes.size() : bytes.size() - last_end - 1;
  const std::size_t repeat = target > head + tail ? target - head - tail : 1;
  std::string out(bytes);
  out.reserve(2 * bytes.size() + repeat + body.size());
  while (out.size() < bytes.size() + repeat)
    out += body;
  out.resize(bytes.size() + repeat);
  out += bytes;
  return out;
}

// Runs check(bytes, h) on the input after its header, reshaped into a long line for one
// input in 64.
template <class Check>
void run_input(const std::uint8_t* data, std::size_t size, std::size_t bound, Check&& check) {
  if (size < header::size) return;
  const header h{data[0], data[1], data[2]};
  std::string_view bytes(reinterpret_cast<const char*>(data) + header::size, size - header::size);
  if ((h.shape & 63) == 0 && !bytes.empty())
    check(std::string_view(long_line(bytes, bound, h)), h);
  else
    check(bytes, h);
}

// Field-for-field equality of what fields() ties; doubles bit for bit (a NaN equals itself).
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};

template <class T> bool same(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, double>)
    return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
  else if constexpr (is_optional<T>::value)
    return a.has_value() == b.has_value() && (!a || same(*a, *b));
  else
    return a == b;
}

template <class Tuple> bool same_fields(const Tuple& a, const Tuple& b) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return (same(std::get<I>(a), std::get<I>(b)) && ...);
  }
  (std::make_index_sequence<std::tuple_size_v<Tuple>>{});
}

} // namespace fuzz
