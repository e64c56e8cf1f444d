// What ffprobe says of a file, as plain values, and the mapping of its JSON to them. No Asio:
// the probe layer's pure part (fuzzed alone); probe.hpp runs ffprobe.
#pragma once

#include <sidecar/error.hpp>

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

} // namespace sidecar
