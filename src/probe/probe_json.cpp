// ffprobe's JSON → media_info: the pure part of the probe layer (no Asio), fuzzed alone.
#include <sidecar/media_info.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>

namespace sidecar {

namespace {

using nlohmann::json;

std::optional<double> number(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (!it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A count (bytes, frames): a whole number that fits in 64 bits, else nothing. (A double past
// 2^64 converted to an integer is undefined behaviour: "size": "3e108" reached it.)
std::optional<std::uint64_t> count(const json& j, const char* key) {
  auto v = number(j, key);
  if (!v || *v < 0 || *v >= 18446744073709551616.0) return std::nullopt;
  return static_cast<std::uint64_t>(*v);
}

int integer(const json& j, const char* key) {
  auto v = number(j, key);
  return v && *v >= 0 && *v < 1e9 ? static_cast<int>(*v) : 0;
}

std::optional<std::chrono::microseconds> seconds(const json& j, const char* key) {
  auto v = number(j, key);
  if (!v || std::abs(*v) > 1e12) return std::nullopt;
  return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(*v * 1e6)));
}

// "30000/1001" → 29.97; "0/0" → nullopt.
std::optional<double> rate(const json& j, const char* key) {
  auto s = text(j, key);
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  double n = 0, d = 0;
  auto a = std::from_chars(s.data(), s.data() + slash, n);
  auto b = std::from_chars(s.data() + slash + 1, s.data() + s.size(), d);
  if (a.ec != std::errc() || b.ec != std::errc() || d == 0 || n == 0) return std::nullopt;
  return n / d;
}

std::map<std::string, std::string> tags(const json& j) {
  std::map<std::string, std::string> out;
  auto it = j.find("tags");
  if (it == j.end() || !it->is_object()) return out;
  for (auto& [k, v] : it->items())
    out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

} // namespace

const probe_stream* media_info::first(std::string_view type) const {
  for (const auto& s : streams)
    if (s.type == type) return &s;
  return nullptr;
}

expected<media_info> parse_probe_json(std::string_view input) {
  json doc = json::parse(input.begin(), input.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail(errc::protocol, "ffprobe printed something that is not JSON");
  if (!doc.is_object()) return fail(errc::protocol, "ffprobe's JSON is not an object");
  try {
    media_info m;
    if (auto f = doc.find("format"); f != doc.end()) {
      if (!f->is_object()) return fail(errc::protocol, "ffprobe's \"format\" is not an object");
      m.format = text(*f, "format_name");
      m.format_long_name = text(*f, "format_long_name");
      m.duration = seconds(*f, "duration");
      m.start_time = seconds(*f, "start_time");
      m.bit_rate = number(*f, "bit_rate");
      m.size = count(*f, "size");
      m.tags = tags(*f);
    }
    if (auto ss = doc.find("streams"); ss != doc.end()) {
      if (!ss->is_array()) return fail(errc::protocol, "ffprobe's \"streams\" is not an array");
      for (const auto& s : *ss) {
        if (!s.is_object())
          return fail(errc::protocol, "a stream in ffprobe's JSON is not an object");
        probe_stream p;
        p.index = integer(s, "index");
        p.type = text(s, "codec_type");
        p.codec = text(s, "codec_name");
        p.codec_long_name = text(s, "codec_long_name");
        p.profile = text(s, "profile");
        p.width = integer(s, "width");
        p.height = integer(s, "height");
        p.pix_fmt = text(s, "pix_fmt");
        p.frame_rate = rate(s, "avg_frame_rate");
        if (!p.frame_rate) p.frame_rate = rate(s, "r_frame_rate");
        p.frames = count(s, "nb_frames");
        p.sample_rate = integer(s, "sample_rate");
        p.channels = integer(s, "channels");
        p.channel_layout = text(s, "channel_layout");
        p.sample_format = text(s, "sample_fmt");
        p.bit_rate = number(s, "bit_rate");
        p.duration = seconds(s, "duration");
        p.tags = tags(s);
        if (auto l = p.tags.find("language"); l != p.tags.end()) p.language = l->second;
        if (auto d = s.find("disposition"); d != s.end() && d->is_object())
          p.is_default = number(*d, "default").value_or(0) != 0;
        m.streams.push_back(std::move(p));
      }
    }
    return m;
  } catch (const json::exception& e) { // a type the accessors above did not expect
    return fail(errc::protocol, std::string("ffprobe's JSON: ") + e.what());
  }
}

} // namespace sidecar
