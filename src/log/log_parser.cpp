// The stderr parser: splits bytes into lines, strips `[component @ 0x…]` and `[level]`
// prefixes, and recognizes what ffmpeg 4.x–7.x print. Hot path: plain byte scans and
// from_chars, no regex, no streams; nothing is allocated for a line until its event is built.
#include <sidecar/log.hpp>

#include "parse_util.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sidecar {

namespace {

using namespace log_detail;

// The first '\n' or '\r' in [p, end), or end: 16 bytes a step with SSE2, else two memchr.
const char* line_end(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const int hits = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, cr)));
    if (hits) return p + __builtin_ctz(static_cast<unsigned>(hits));
  }
  while (p < end && *p != '\n' && *p != '\r')
    ++p;
  return p;
#else
  auto* n = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
  const char* stop = n ? n : end;
  auto* r = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(stop - p)));
  return r ? r : stop;
#endif
}

// Splits at commas outside (), [] and {}. A table says which bytes matter, so the common
// byte costs one load and one branch.
template <std::size_t N> std::size_t split_top(sv s, std::array<sv, N>& parts) {
  static constexpr auto kind = [] {
    std::array<std::uint8_t, 256> k{};
    k['('] = k['['] = k['{'] = 1;
    k[')'] = k[']'] = k['}'] = 2;
    k[','] = 3;
    return k;
  }();
  std::size_t n = 0;
  int depth = 0;
  std::size_t start = 0;
  const std::size_t size = s.size();
  for (std::size_t i = 0; i < size && n < N; ++i) {
    switch (kind[static_cast<unsigned char>(s[i])]) {
    case 0:
      break;
    case 1:
      ++depth;
      break;
    case 2:
      if (depth > 0) --depth;
      break;
    default:
      if (depth == 0) {
        parts[n++] = trim(s.substr(start, i - start));
        start = i + 1;
      }
    }
  }
  if (n < N) parts[n++] = trim(s.substr(start));
  return n;
}

// "320x240" at the start of s.
bool dimensions(sv s, int& w, int& h) {
  int a = 0, b = 0;
  if (!parse_int(s, a) || s.empty() || s.front() != 'x') return false;
  s.remove_prefix(1);
  if (!parse_int(s, b) || !(s.empty() || s.front() == ' ' || s.front() == ',')) return false;
  w = a;
  h = b;
  return true;
}

// `#0:1[0x2](eng): Video: …` after "Stream ".
std::optional<stream_info> stream_line(sv s) {
  if (!starts_with(s, "Stream #")) return std::nullopt;
  s.remove_prefix(8);
  stream_info info;
  if (!parse_int(s, info.file_index) || s.empty() || s.front() != ':') return std::nullopt;
  s.remove_prefix(1);
  if (!parse_int(s, info.stream_index)) return std::nullopt;
  while (!s.empty() && (s.front() == '[' || s.front() == '(')) {
    char close = s.front() == '[' ? ']' : ')';
    auto end = s.find(close);
    if (end == sv::npos) return std::nullopt;
    (s.front() == '[' ? info.id : info.language) = std::string(s.substr(1, end - 1));
    s.remove_prefix(end + 1);
  }
  if (!s.empty() && s.front() == ',') { // debug level: `#0:0, 1, 1/25: Video: …`
    auto c = s.find(": ");
    if (c == sv::npos) return std::nullopt;
    s.remove_prefix(c);
  }
  if (!starts_with(s, ": ")) return std::nullopt;
  s.remove_prefix(2);
  auto colon = s.find(':');
  if (colon == sv::npos) return std::nullopt;
  auto type = s.substr(0, colon);
  if (type == "Video")
    info.type = stream_type::video;
  else if (type == "Audio")
    info.type = stream_type::audio;
  else if (type == "Subtitle")
    info.type = stream_type::subtitle;
  else if (type == "Data")
    info.type = stream_type::data;
  else if (type == "Attachment")
    info.type = stream_type::attachment;
  else if (type.find(' ') != sv::npos || type.empty())
    return std::nullopt;
  auto details = trim(s.substr(colon + 1));
  info.details = utf8(details);
  std::array<sv, 24> parts{};
  auto n = split_top(details, parts);
  if (n == 0) return info;
  auto codec = parts[0];
  info.codec = std::string(codec.substr(0, codec.find(' ')));
  if (info.type == stream_type::video) {
    for (std::size_t i = 1; i < n; ++i) {
      auto p = parts[i];
      if (info.width == 0 && dimensions(p, info.width, info.height)) continue;
      if (info.pix_fmt.empty() && info.width == 0) {
        auto name = p.substr(0, p.find('('));
        if (is_identifier(name) && !(name[0] >= '0' && name[0] <= '9')) {
          info.pix_fmt = std::string(name);
          continue;
        }
      }
      sv unit;
      if (ends_with(p, " fps")) {
        if (auto v = leading_number(p, &unit)) info.fps = *v * (trim(unit) == "k fps" ? 1000 : 1);
      } else if (ends_with(p, " tbr") && !info.fps) {
        if (auto v = leading_number(p, &unit)) info.fps = *v * (starts_with(unit, "k") ? 1000 : 1);
      }
    }
  } else if (info.type == stream_type::audio) {
    for (std::size_t i = 1; i < n; ++i) {
      if (!ends_with(parts[i], " Hz")) continue;
      // A rate past int ("1e50 Hz" from a hostile stderr) is no rate: no float→int UB.
      if (auto v = leading_number(parts[i]); v && *v >= 0 && *v <= 1e9)
        info.sample_rate = static_cast<int>(*v);
      if (i + 1 < n) info.channel_layout = std::string(parts[i + 1]);
      if (i + 2 < n) {
        auto f = parts[i + 2];
        f = f.substr(0, f.find(' '));
        if (is_identifier(f) && !ends_with(parts[i + 2], "kb/s"))
          info.sample_format = std::string(f);
      }
      break;
    }
  }
  return info;
}

// `Stream #0:0 -> #0:0 (h264 (native) -> rawvideo (native))`
std::optional<stream_mapping_entry> mapping_line(sv s) {
  if (!starts_with(s, "Stream #")) return std::nullopt;
  stream_mapping_entry e;
  e.text = utf8(s);
  s.remove_prefix(8);
  if (!parse_int(s, e.input_file) || s.empty() || s.front() != ':') return e;
  s.remove_prefix(1);
  if (!parse_int(s, e.input_stream)) return e;
  auto arrow = s.find("-> #");
  if (arrow == sv::npos) return e;
  s.remove_prefix(arrow + 4);
  if (!parse_int(s, e.output_file) || s.empty() || s.front() != ':') return e;
  s.remove_prefix(1);
  parse_int(s, e.output_stream);
  e.copy = s.find("(copy)") != sv::npos;
  return e;
}

// `Input #0, lavfi, from 'x':` / `Output #0, mp4, to 'y':`
template <class T> std::optional<T> file_line(sv s, sv head, sv join) {
  if (!starts_with(s, head)) return std::nullopt;
  s.remove_prefix(head.size());
  T info;
  if (!parse_int(s, info.index) || !starts_with(s, ", ")) return std::nullopt;
  s.remove_prefix(2);
  auto at = s.find(join);
  if (at == sv::npos) return std::nullopt;
  info.format = std::string(s.substr(0, at));
  s.remove_prefix(at + join.size());
  if (ends_with(s, "':"))
    s.remove_suffix(2);
  else if (ends_with(s, "'"))
    s.remove_suffix(1);
  info.url = utf8(s);
  return info;
}

std::optional<duration_info> duration_line(sv s) {
  if (!starts_with(s, "Duration: ")) return std::nullopt;
  duration_info d;
  std::array<sv, 8> parts{};
  auto n = split_top(s, parts);
  for (std::size_t i = 0; i < n; ++i) {
    auto p = parts[i];
    auto colon = p.find(": ");
    if (colon == sv::npos) continue;
    auto key = p.substr(0, colon), value = trim(p.substr(colon + 2));
    if (key == "Duration")
      d.duration = clock_time(value);
    else if (key == "start")
      d.start = clock_time(value);
    else if (key == "bitrate") {
      sv unit;
      if (auto v = leading_number(value, &unit))
        d.bitrate_kbps = trim(unit) == "mb/s" ? *v * 1000 : *v;
    }
  }
  return d;
}

// `configuration: --prefix=/usr --enable-gpl …`: the flags, one each.
configuration_info configuration_line(sv t) {
  configuration_info c;
  auto flags = trim(t.substr(14));
  while (!flags.empty()) {
    auto sp = flags.find(' ');
    auto f = flags.substr(0, sp);
    if (!f.empty()) c.flags.push_back(utf8(f));
    if (sp == sv::npos) break;
    flags.remove_prefix(sp + 1);
  }
  return c;
}

bool is_progress_start(sv s) {
  return (starts_with(s, "frame=") || starts_with(s, "size=") || starts_with(s, "Lsize=")) &&
         s.find("time=") != sv::npos;
}

} // namespace

std::optional<progress> parse_progress_line(std::string_view line) {
  auto s = trim(line);
  if (!is_progress_start(s)) return std::nullopt;
  progress p;
  bool any = false;
  while (!s.empty()) {
    auto eq = s.find('=');
    if (eq == sv::npos) break;
    auto key = trim(s.substr(0, eq));
    s.remove_prefix(eq + 1);
    while (!s.empty() && s.front() == ' ')
      s.remove_prefix(1);
    auto end = s.find(' ');
    auto value = s.substr(0, end);
    s.remove_prefix(end == sv::npos ? s.size() : end);
    while (!s.empty() && s.front() == ' ')
      s.remove_prefix(1);
    bool na = value == "N/A";
    if (key == "Lq") {
      p.final = true;
      continue;
    }
    if (key == "frame") {
      if (!na) p.frame = number<std::uint64_t>(value);
    } else if (key == "fps") {
      if (!na) p.fps = number<double>(value);
    } else if (key == "q") {
      if (!na && !p.q) p.q = number<double>(value);
    } else if (key == "size" || key == "Lsize") {
      if (key == "Lsize") p.final = true;
      sv unit;
      if (auto v = na ? std::nullopt : leading_number(value, &unit)) {
        double mult = unit == "kB" || unit == "KiB"   ? 1024.0
                      : unit == "mB" || unit == "MiB" ? 1024.0 * 1024
                      : unit == "B" || unit.empty()   ? 1.0
                                                      : 1024.0;
        // Negative or past 2^63 bytes is no size (and no float→int UB).
        if (double bytes = *v * mult; bytes >= 0 && bytes < 9.2e18)
          p.size_bytes = static_cast<std::uint64_t>(std::llround(bytes));
      }
    } else if (key == "time") {
      if (!na) p.time = clock_time(value);
    } else if (key == "bitrate") {
      sv unit;
      if (auto v = na ? std::nullopt : leading_number(value, &unit))
        p.bitrate_kbps = starts_with(unit, "mbits") ? *v * 1000 : *v;
    } else if (key == "speed") {
      if (!na && ends_with(value, "x")) p.speed = number<double>(value.substr(0, value.size() - 1));
    } else if (key == "dup") {
      p.dup = number<std::uint64_t>(value);
    } else if (key == "drop") {
      p.drop = number<std::uint64_t>(value);
    } else if (key == "elapsed") {
      p.elapsed = clock_time(value);
    } else {
      continue;
    }
    any = true;
  }
  if (!any) return std::nullopt;
  return p;
}

log_event parse_line(std::string_view line) {
  log_parser parser;
  std::optional<log_event> out;
  auto sink = [&](log_event&& e) {
    if (!out) out = std::move(e);
  };
  parser.feed(line, sink);
  parser.finish(sink);
  if (!out) return log_line{};
  return std::move(*out);
}

void log_parser::feed_impl(std::string_view bytes, sink_ref s) {
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  while (p < end) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (*p == '\n') {
        ++p;
        continue;
      }
    }
    const char* q = line_end(p, end);
    std::size_t n = static_cast<std::size_t>(q - p);
    if (q == end) { // a partial line: keep it, within the bound
      while (n > 0) {
        auto room = max_line - partial_.size();
        auto take = std::min(n, room);
        partial_.append(p, take);
        p += take;
        n -= take;
        if (partial_.size() >= max_line) {
          ++cut_;
          line(partial_, s);
          partial_.clear();
        }
      }
      return;
    }
    if (partial_.empty()) {
      if (n > max_line) { // cut a line that came whole but too long
        for (std::size_t off = 0; off < n; off += max_line) {
          if (off + max_line < n) ++cut_;
          line(sv(p + off, std::min(max_line, n - off)), s);
        }
      } else {
        line(sv(p, n), s);
      }
    } else {
      auto room = max_line - partial_.size();
      if (n > room) {
        partial_.append(p, room);
        ++cut_;
        line(partial_, s);
        partial_.clear();
        for (std::size_t off = room; off < n; off += max_line) { // all of the rest, cut too
          if (off + max_line < n) ++cut_;
          line(sv(p + off, std::min(max_line, n - off)), s);
        }
      } else {
        partial_.append(p, n);
        line(partial_, s);
        partial_.clear();
      }
    }
    skip_lf_ = *q == '\r';
    p = q + 1;
  }
}

void log_parser::finish_impl(sink_ref s) {
  if (!partial_.empty()) {
    line(partial_, s);
    partial_.clear();
  }
  skip_lf_ = false;
  current_ = {}; // what is flushed now belongs to no line being parsed
  ++fed_;
  flush_pending_final(s);
}

void log_parser::flush_pending_final(sink_ref s) {
  if (!pending_final_) return;
  auto p = std::move(*pending_final_);
  pending_final_.reset();
  final_next_ = false;
  p.final = true;
  s(std::move(p));
}

void log_parser::summary_line(sink_ref s) {
  if (release_major_ >= 7) { // the final stats line follows
    final_next_ = true;
    last_progress_.reset();
  } else if (release_major_ >= 0) { // it came already: repeat it as final
    if (!last_progress_) return;
    auto p = std::move(*last_progress_);
    last_progress_.reset();
    p.final = true;
    s(std::move(p));
  } else { // unknown release: hold it until the next line tells
    final_next_ = true;
    if (!pending_final_) pending_final_ = std::move(last_progress_);
    last_progress_.reset();
  }
}

std::string_view log_parser::strip_prefixes(sv raw, log_level& level, sv& component) {
  // `[component @ 0x…] ` (one or two) then `[level] `.
  tag_ = {0, 0};
  sv text = raw;
  while (text.size() > 2 && text.front() == '[') {
    auto close = text.find(']');
    if (close == sv::npos) break;
    auto inside = text.substr(1, close - 1);
    auto lv = parse_log_level(inside);
    auto at = static_cast<std::size_t>(text.data() - raw.data());
    if (lv != log_level::unknown)
      level = lv;
    else if (inside.find(" @ ") != sv::npos)
      component = inside;
    else
      break;
    text.remove_prefix(close + 1);
    if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (lv != log_level::unknown)
      tag_ = {at, static_cast<std::size_t>(text.data() - raw.data()) - at};
  }
  return text;
}

bool log_parser::stats_line(sv t, sink_ref s) {
  const char first = t.front();
  if (!((first == 'f' || first == 's' || first == 'L') && is_progress_start(t))) return false;
  auto p = parse_progress_line(t);
  if (!p) return false;
  if (final_next_) p->final = true; // 7.x: the summary came first
  final_next_ = false;
  pending_final_.reset();
  last_progress_ = p->final ? std::nullopt : std::optional<progress>(*p);
  s(std::move(*p));
  return true;
}

bool log_parser::mapping_entry(sv t, bool indented, sink_ref s) {
  if (section_ != section::mapping || !indented || t.find(" -> ") == sv::npos) return false;
  if (auto m = mapping_line(t)) {
    s(std::move(*m));
  } else { // a filter graph end: `paletteuse -> Stream #0:0 (gif)`
    stream_mapping_entry e;
    e.text = utf8(t);
    s(std::move(e));
  }
  return true;
}

// `Input #0, lavfi, from '…':`, `Output #0, mp4, to '…':`, `Stream #0:0…`.
bool log_parser::file_header(sv t, sink_ref s) {
  const char first = t.front();
  if (first == 'S') {
    auto st = stream_line(t);
    if (!st) return false;
    st->is_output = section_ == section::output;
    if (section_ == section::output && current_output_ >= 0) st->file_index = current_output_;
    if (section_ == section::input && current_input_ >= 0) st->file_index = current_input_;
    s(std::move(*st));
    return true;
  }
  if (first == 'I') {
    auto in = file_line<input_info>(t, "Input #", ", from '");
    if (!in) return false;
    section_ = section::input;
    current_input_ = in->index;
    s(std::move(*in));
    return true;
  }
  auto out = file_line<output_info>(t, "Output #", ", to '");
  if (!out) return false;
  section_ = section::output;
  current_output_ = out->index;
  sv u = out->url;
  out->to_stdout = u == "pipe" || u == "pipe:" || u == "pipe:1" || u == "-" || u == "/dev/stdout" ||
                   u == "fd:" || u == "fd:1";
  s(std::move(*out));
  return true;
}

bool log_parser::header_line(sv t, bool indented, sink_ref s) {
  const char first = t.front();
  if ((first == 'S' && starts_with(t, "Stream ") && t != "Stream mapping:") ||
      (first == 'I' && starts_with(t, "Input #")) || (first == 'O' && starts_with(t, "Output #")))
    return file_header(t, s);
  if (first == 'D' && indented && starts_with(t, "Duration: ")) {
    auto d = duration_line(t);
    if (!d) return false;
    d->input_index = current_input_ < 0 ? 0 : current_input_;
    s(std::move(*d));
    return true;
  }
  if (first == 'f' || first == 'p') {
    auto v = parse_version_line(t);
    if (!v) return false;
    section_ = section::none;
    release_major_ = v->major;
    s(std::move(*v));
    return true;
  }
  if (first == 'c' && starts_with(t, "configuration:")) {
    s(configuration_line(t));
    return true;
  }
  if (first == 'l' && indented && starts_with(t, "lib")) {
    auto lib = library_line(t);
    if (!lib) return false;
    if (release_major_ < 0 && lib->name == "libavutil")
      if (auto r = release_for_libavutil(lib->runtime)) release_major_ = r->first;
    s(std::move(*lib));
    return true;
  }
  return false;
}

void log_parser::line(std::string_view raw, sink_ref s) {
  bytes_ += raw.size();
  ++fed_;
  current_ = raw;
  log_level level = log_level::unknown;
  sv component;
  sv text = strip_prefixes(raw, level, component);
  // ffmpeg tags a message once: an untagged line in a tagged stream continues the one before.
  if (tag_.second != 0)
    tagged_ = true;
  else if (level == log_level::unknown && tagged_)
    level = line_level_;
  line_level_ = level;
  auto t = trim(text);
  if (t.empty()) return;
  ++lines_;
  // Stats lines come most often: test for them first.
  if (stats_line(t, s)) return;
  const bool is_summary =
      t.front() == 'v' && starts_with(t, "video:") && t.find(" audio:") != sv::npos;
  if (pending_final_ && !is_summary) flush_pending_final(s); // up to 6.x after all
  const bool indented = !text.empty() && text.front() == ' ';
  if (mapping_entry(t, indented, s)) return;
  if (t == "Stream mapping:") {
    section_ = section::mapping;
  } else {
    if (header_line(t, indented, s)) return;
    if (section_ == section::mapping && !indented) section_ = section::none;
    if (is_summary) summary_line(s);
  }
  log_line l;
  l.level = level;
  if (!component.empty()) l.component = utf8(component);
  l.text = utf8(t);
  s(std::move(l));
}

} // namespace sidecar

#ifdef ASIO_VERSION
#error "the log layer includes no Asio (DESIGN: log is pure, testable and fuzzable alone)"
#endif
