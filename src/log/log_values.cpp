// The log layer's names and values: level and stream-type names, -loglevel values, ffmpeg's
// time syntax, UTF-8 repair, and the version of a binary (banner line, libavutil's release).
#include <sidecar/log.hpp>

#include "parse_util.hpp"

#include <charconv>

namespace sidecar {

using namespace log_detail;

std::string_view to_string(log_level level) noexcept {
  switch (level) {
  case log_level::panic:
    return "panic";
  case log_level::fatal:
    return "fatal";
  case log_level::error:
    return "error";
  case log_level::warning:
    return "warning";
  case log_level::info:
    return "info";
  case log_level::verbose:
    return "verbose";
  case log_level::debug:
    return "debug";
  case log_level::trace:
    return "trace";
  case log_level::unknown:
    break;
  }
  return "unknown";
}

log_level parse_log_level(std::string_view name) noexcept {
  switch (name.size()) {
  case 4:
    return name == "info" ? log_level::info : log_level::unknown;
  case 5:
    return name == "panic"   ? log_level::panic
           : name == "fatal" ? log_level::fatal
           : name == "error" ? log_level::error
           : name == "debug" ? log_level::debug
           : name == "trace" ? log_level::trace
                             : log_level::unknown;
  case 7:
    return name == "warning"   ? log_level::warning
           : name == "verbose" ? log_level::verbose
                               : log_level::unknown;
  default:
    return log_level::unknown;
  }
}

std::string_view to_string(stream_type type) noexcept {
  switch (type) {
  case stream_type::video:
    return "video";
  case stream_type::audio:
    return "audio";
  case stream_type::subtitle:
    return "subtitle";
  case stream_type::data:
    return "data";
  case stream_type::attachment:
    return "attachment";
  case stream_type::unknown:
    break;
  }
  return "unknown";
}

std::optional<version_info> parse_version_line(std::string_view line) {
  auto s = trim(line);
  sv head;
  for (sv h : {sv("ffmpeg version "), sv("ffprobe version "), sv("ffplay version ")})
    if (starts_with(s, h)) head = h;
  if (head.empty()) return std::nullopt;
  s.remove_prefix(head.size());
  version_info v;
  auto space = s.find(' ');
  v.version = utf8(s.substr(0, space));
  if (space != sv::npos) v.copyright = utf8(trim(s.substr(space)));
  sv num = v.version;
  if (!num.empty() && num.front() == 'n') num.remove_prefix(1);
  int* fields[] = {&v.major, &v.minor, &v.micro};
  for (int i = 0; i < 3; ++i) {
    int x = 0;
    if (!parse_int(num, x)) break;
    *fields[i] = x;
    if (num.empty() || num.front() != '.') break;
    num.remove_prefix(1);
  }
  v.origin = v.major >= 0 && v.minor >= 0 ? version_origin::banner : version_origin::unknown;
  if (v.origin == version_origin::unknown) v.major = v.minor = v.micro = -1;
  return v;
}

std::optional<int> parse_loglevel_value(std::string_view v) {
  auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  for (;;) {
    sv t = v;
    if (t.size() > 1 && (t[0] == '+' || t[0] == '-') && is_alpha(t[1])) t.remove_prefix(1);
    if (t.substr(0, 6) == "repeat")
      v = t.substr(6);
    else if (t.substr(0, 5) == "level")
      v = t.substr(5);
    else
      break;
  }
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (v.empty()) return std::nullopt;
  if (v == "quiet") return -8;
  static constexpr std::pair<log_level, int> numbers[] = {
      {log_level::panic, 0},    {log_level::fatal, 8}, {log_level::error, 16},
      {log_level::warning, 24}, {log_level::info, 32}, {log_level::verbose, 40},
      {log_level::debug, 48},   {log_level::trace, 56}};
  if (auto named = parse_log_level(v); named != log_level::unknown)
    for (auto [level, n] : numbers)
      if (level == named) return n;
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

std::optional<std::chrono::microseconds> parse_ffmpeg_time(std::string_view text) {
  return clock_time(text);
}

std::string repair_utf8(std::string_view bytes) {
  return utf8(bytes);
}

std::string_view to_string(version_origin o) noexcept {
  switch (o) {
  case version_origin::banner:
    return "banner";
  case version_origin::libraries:
    return "libraries";
  case version_origin::unknown:
    return "unknown";
  }
  return "unknown";
}

std::optional<std::pair<int, int>> release_for_libavutil(std::string_view version) {
  // libavutil's version in each release's first tag (n<release>), from FFmpeg's
  // libavutil/version.h; a point release keeps its minor.
  struct row {
    int avutil_major, avutil_minor, major, minor;
  };
  static constexpr row releases[] = {{55, 17, 3, 0}, {55, 34, 3, 1}, {55, 34, 3, 2}, {55, 58, 3, 3},
                                     {55, 78, 3, 4}, {56, 14, 4, 0}, {56, 22, 4, 1}, {56, 31, 4, 2},
                                     {56, 51, 4, 3}, {56, 70, 4, 4}, {57, 17, 5, 0}, {57, 28, 5, 1},
                                     {58, 2, 6, 0},  {58, 29, 6, 1}, {59, 8, 7, 0},  {59, 39, 7, 1},
                                     {60, 8, 8, 0},  {61, 1, 9, 0}};
  sv s = trim(version);
  int major = 0, minor = 0;
  if (!parse_int(s, major) || s.empty() || s.front() != '.') return std::nullopt;
  s.remove_prefix(1);
  if (!parse_int(s, minor)) return std::nullopt;
  std::optional<std::pair<int, int>> found;
  for (const auto& r : releases)
    if (major > r.avutil_major || (major == r.avutil_major && minor >= r.avutil_minor))
      found = std::pair{r.major, r.minor};
  return found;
}

void version_from_libraries(version_info& v, const library_version& libavutil) {
  if (v.origin == version_origin::banner || libavutil.name != "libavutil") return;
  auto r =
      release_for_libavutil(libavutil.runtime.empty() ? libavutil.compiled : libavutil.runtime);
  if (!r) return;
  v.major = r->first;
  v.minor = r->second;
  v.micro = -1;
  v.origin = version_origin::libraries;
}

std::optional<version_info> parse_version_output(std::string_view text) {
  std::optional<version_info> v;
  while (!text.empty()) {
    auto end = text.find_first_of("\r\n");
    auto line = text.substr(0, end);
    text.remove_prefix(end == sv::npos ? text.size() : end + 1);
    auto t = trim(line);
    if (t.size() > 1 && t.front() == '[') { // a `[level]` tag, as on stderr
      auto close = t.find(']');
      if (close != sv::npos) t = trim(t.substr(close + 1));
    }
    if (!v) {
      v = parse_version_line(t);
    } else if (auto lib = library_line(t)) {
      version_from_libraries(*v, *lib);
      if (lib->name == "libavutil") break;
    }
  }
  return v;
}

} // namespace sidecar
