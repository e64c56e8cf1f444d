// Helpers of the log suite: recorded fixtures, whole-stream parsing, and a serialisation of
// events in which equal strings mean equal event streams.
#pragma once

#include <sidecar/log.hpp>

#include "catch.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace log_support {

using namespace sidecar;

inline std::filesystem::path fixtures() {
  const char* root = std::getenv("SIDECAR_SOURCE_ROOT");
  return std::filesystem::path(root ? root : ".") / "tests/log/fixtures";
}

// A fixture's bytes without its leading `#` comment lines (where documented ones cite their
// sources).
inline std::string fixture(const std::string& name) {
  std::ifstream in(fixtures() / name, std::ios::binary);
  REQUIRE(in);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t at = 0;
  while (at < all.size() && all[at] == '#')
    at = all.find('\n', at) + 1;
  return all.substr(at);
}

// The releases with recorded fixtures: the folders of fixtures/versions ("4.1", "5.1", …).
inline std::vector<std::string> version_tags() {
  std::vector<std::string> tags;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures() / "versions"))
    if (entry.is_directory()) tags.push_back(entry.path().filename().string());
  std::sort(tags.begin(), tags.end());
  return tags;
}

inline std::string show(const std::optional<std::chrono::microseconds>& t) {
  return t ? std::to_string(t->count()) : "-";
}
template <class T> std::string show(const std::optional<T>& v) {
  if (!v) return "-";
  std::ostringstream o;
  o << *v;
  return o.str();
}

// One line per event, every field: equal strings mean equal event streams.
inline std::string serialize(const log_event& e) {
  std::ostringstream o;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, version_info>)
          o << "version " << v.version << ' ' << v.major << '.' << v.minor << '.' << v.micro;
        else if constexpr (std::is_same_v<T, configuration_info>)
          o << "configuration " << v.flags.size();
        else if constexpr (std::is_same_v<T, library_version>)
          o << "library " << v.name << ' ' << v.compiled << ' ' << v.runtime;
        else if constexpr (std::is_same_v<T, input_info>)
          o << "input " << v.index << ' ' << v.format << ' ' << v.url;
        else if constexpr (std::is_same_v<T, duration_info>)
          o << "duration " << v.input_index << ' ' << show(v.duration) << ' ' << show(v.start)
            << ' ' << show(v.bitrate_kbps);
        else if constexpr (std::is_same_v<T, stream_info>)
          o << "stream " << v.is_output << ' ' << v.file_index << ':' << v.stream_index << ' '
            << v.id << ' ' << v.language << ' ' << to_string(v.type) << ' ' << v.codec << ' '
            << v.pix_fmt << ' ' << v.width << 'x' << v.height << ' ' << show(v.fps) << ' '
            << v.sample_rate << ' ' << v.channel_layout << ' ' << v.sample_format;
        else if constexpr (std::is_same_v<T, stream_mapping_entry>)
          o << "mapping " << v.input_file << ':' << v.input_stream << ' ' << v.output_file << ':'
            << v.output_stream << ' ' << v.copy << ' ' << v.text;
        else if constexpr (std::is_same_v<T, output_info>)
          o << "output " << v.index << ' ' << v.format << ' ' << v.url << ' ' << v.to_stdout;
        else if constexpr (std::is_same_v<T, progress>)
          o << "progress " << show(v.frame) << ' ' << show(v.fps) << ' ' << show(v.q) << ' '
            << show(v.size_bytes) << ' ' << show(v.time) << ' ' << show(v.bitrate_kbps) << ' '
            << show(v.speed) << ' ' << show(v.dup) << ' ' << show(v.drop) << ' ' << show(v.elapsed)
            << ' ' << v.final;
        else if constexpr (std::is_same_v<T, log_line>)
          o << "log " << to_string(v.level) << " [" << v.component << "] " << v.text;
      },
      e);
  return o.str();
}

inline std::vector<log_event> parse_all(std::string_view bytes) {
  log_parser p;
  std::vector<log_event> out;
  auto sink = [&](log_event&& e) { out.push_back(std::move(e)); };
  p.feed(bytes, sink);
  p.finish(sink);
  return out;
}

inline std::vector<std::string> serialize_all(const std::vector<log_event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(serialize(e));
  return out;
}

template <class T> std::vector<T> all_of(const std::vector<log_event>& events) {
  std::vector<T> out;
  for (const auto& e : events)
    if (auto* v = std::get_if<T>(&e)) out.push_back(*v);
  return out;
}

} // namespace log_support
