// Metadata from parsed stderr events, and when it is whole.
#include "metadata_collector.hpp"

#include <sidecar/command.hpp>

#include <algorithm>
#include <charconv>

namespace sidecar {

const output_info* metadata::output(int index) const {
  for (const auto& o : outputs)
    if (o.index == index) return &o;
  return nullptr;
}

std::vector<const stream_info*> metadata::output_streams(int index) const {
  std::vector<const stream_info*> r;
  for (const auto& s : streams)
    if (s.is_output && s.file_index == index) r.push_back(&s);
  return r;
}

std::optional<std::chrono::microseconds> metadata::duration(int index) const {
  for (const auto& d : durations)
    if (d.input_index == index) return d.duration;
  return std::nullopt;
}

std::vector<const stream_info*> metadata::input_streams(int index) const {
  std::vector<const stream_info*> r;
  for (const auto& s : streams)
    if (!s.is_output && s.file_index == index) r.push_back(&s);
  return r;
}

namespace detail {

namespace {

// `… -> Stream #1:2 (…)`: the output stream a mapping line names, also for the filter-graph
// shape the parser keeps as text only (`scale:default -> Stream #0:0 (wrapped_avframe)`).
std::optional<std::pair<int, int>> mapped_output(const stream_mapping_entry& m) {
  if (m.output_file >= 0 && m.output_stream >= 0) return std::pair{m.output_file, m.output_stream};
  std::string_view t = m.text;
  auto at = t.find("-> Stream #");
  if (at == std::string_view::npos) return std::nullopt;
  t.remove_prefix(at + 11);
  int file = -1, stream = -1;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), file);
  if (ec != std::errc() || p == t.data() + t.size() || *p != ':') return std::nullopt;
  auto [q, ec2] = std::from_chars(p + 1, t.data() + t.size(), stream);
  if (ec2 != std::errc()) return std::nullopt;
  return std::pair{file, stream};
}

} // namespace

template <class T> bool metadata_collector::keep(std::vector<T>& to, const T& v) {
  if (to.size() >= max_entries) {
    ++dropped_;
    return false;
  }
  to.push_back(v);
  return true;
}

void metadata_collector::take(log_event& e) {
  std::visit(
      [&](auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, version_info>) {
          meta_.version = v;
        } else if constexpr (std::is_same_v<T, library_version>) {
          // A git or static build: its release, as metadata tells it, from libavutil.
          if (meta_.version) version_from_libraries(*meta_.version, v);
        } else if constexpr (std::is_same_v<T, input_info>) {
          mask_secrets_in_place(v.url, secrets_);
          keep(meta_.inputs, v);
        } else if constexpr (std::is_same_v<T, duration_info>) {
          keep(meta_.durations, v);
        } else if constexpr (std::is_same_v<T, output_info>) {
          mask_secrets_in_place(v.url, secrets_);
          keep(meta_.outputs, v);
        } else if constexpr (std::is_same_v<T, stream_info>) {
          if (keep(meta_.streams, v) && v.is_output)
            output_streams_.emplace(v.file_index, v.stream_index);
        } else if constexpr (std::is_same_v<T, stream_mapping_entry>) {
          mask_secrets_in_place(v.text, secrets_);
          keep(meta_.mapping, v);
        }
      },
      e);
}

bool metadata_collector::header_printed() const {
  if (meta_.mapping.empty()) return false;
  for (const auto& m : meta_.mapping) {
    auto out = mapped_output(m);
    if (out && !output_streams_.count(*out)) return false;
  }
  return true;
}

bool metadata_collector::outputs_described() const {
  // Every output stream the mapping names, not one per Output #N: ffmpeg 4 can write the
  // muxer's header to stdout between an output's first and second Stream line.
  return meta_.mapping.empty() || header_printed();
}

bool metadata_collector::settle() {
  if (settled_) return false;
  settled_ = true;
  meta_.complete = !quiet_;
  return true;
}

} // namespace detail
} // namespace sidecar
