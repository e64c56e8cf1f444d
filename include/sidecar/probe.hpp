// ffprobe as an awaitable: `co_await sidecar::probe("in.mp4")` → typed media info, from
// `ffprobe -print_format json -show_format -show_streams`.
#pragma once

#include <sidecar/error.hpp>

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar {

struct probe_stream {
  int index = 0;
  std::string type;            // codec_type: "video", "audio", "subtitle", "data", "attachment"
  std::string codec;           // codec_name: "h264"
  std::string codec_long_name;
  std::string profile;
  // video
  int width = 0;
  int height = 0;
  std::string pix_fmt;
  std::optional<double> frame_rate;      // avg_frame_rate, else r_frame_rate ("30000/1001")
  std::optional<std::uint64_t> frames;   // nb_frames, where the container says
  // audio
  int sample_rate = 0;
  int channels = 0;
  std::string channel_layout;
  std::string sample_format;
  // both
  std::optional<double> bit_rate;        // bits/s
  std::optional<std::chrono::microseconds> duration;
  std::string language;                  // tags.language
  bool is_default = false;               // disposition.default
  std::map<std::string, std::string> tags;
};

struct media_info {
  std::string format;          // format_name: "mov,mp4,m4a,3gp,3g2,mj2"
  std::string format_long_name;
  std::optional<std::chrono::microseconds> duration;
  std::optional<std::chrono::microseconds> start_time;
  std::optional<double> bit_rate;        // bits/s
  std::optional<std::uint64_t> size;     // bytes
  std::map<std::string, std::string> tags;
  std::vector<probe_stream> streams;

  // The first stream of a type ("video", "audio"), nullptr if none.
  const probe_stream* first(std::string_view type) const;
};

// Maps ffprobe's JSON (numbers arrive as strings: "duration": "2.000000") to media_info.
// Missing fields stay empty; malformed JSON or wrong types are errc::protocol. Pure: never
// throws, fuzzed.
expected<media_info> parse_probe_json(std::string_view json);

struct probe_options {
  std::vector<std::string> extra_args{}; // before the input, e.g. {"-f", "lavfi"}
  // The whole run; past it ffprobe is killed and the result is errc::timed_out.
  std::chrono::milliseconds timeout{30000};
};

// Runs ffprobe on a path or URL on the calling coroutine's executor. A missing file or one
// that is not media is errc::process_failed carrying ffprobe's exit status and its message
// ("No such file or directory", "Invalid data found when processing input"); a missing
// ffprobe is errc::binary_not_found.
asio::awaitable<expected<media_info>> probe(std::string input, probe_options options = {});

} // namespace sidecar
