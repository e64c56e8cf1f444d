// What ffprobe says of a file, as plain values, and the mapping of its JSON to them. No Asio:
// the probe layer's pure part (fuzzed alone); probe.hpp runs ffprobe.
#pragma once

#include <sidecar/error.hpp>
#include <sidecar/export.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar {

/// One stream as ffprobe's `-show_streams` describes it (fields ffprobe left out stay empty).
struct SIDECAR_API probe_stream {
  int index = 0;               ///< index: the stream's number in the file
  std::string type;            ///< codec_type: "video", "audio", "subtitle", "data", "attachment"
  std::string codec;           ///< codec_name: "h264"
  std::string codec_long_name; ///< codec_long_name: "H.264 / AVC / MPEG-4 AVC / ..."
  std::string profile;         ///< profile: "High", "LC"
  int width = 0;               ///< video: width in pixels
  int height = 0;              ///< video: height in pixels
  std::string pix_fmt;         ///< video: "yuv420p"
  std::optional<double> frame_rate;    ///< video: avg_frame_rate, else r_frame_rate ("30000/1001")
  std::optional<std::uint64_t> frames; ///< video: nb_frames, where the container says
  int sample_rate = 0;                 ///< audio: 44100
  int channels = 0;                    ///< audio: 2
  std::string channel_layout;          ///< audio: "stereo"
  std::string sample_format;           ///< audio: sample_fmt, "fltp"
  std::optional<double> bit_rate;      ///< bits/s
  std::optional<std::chrono::microseconds> duration; ///< the stream's own duration
  std::string language;                              ///< tags.language
  bool is_default = false;                           ///< disposition.default
  std::map<std::string, std::string> tags;           ///< every tag, as printed
};

/// What probe() learns of a file: its container (`-show_format`) and its streams.
struct SIDECAR_API media_info {
  std::string format;                                  ///< format_name: "mov,mp4,m4a,3gp,3g2,mj2"
  std::string format_long_name;                        ///< format_long_name: "QuickTime / MOV"
  std::optional<std::chrono::microseconds> duration;   ///< the container's duration
  std::optional<std::chrono::microseconds> start_time; ///< the container's start time
  std::optional<double> bit_rate;                      ///< bits/s
  std::optional<std::uint64_t> size;                   ///< bytes
  std::map<std::string, std::string> tags; ///< the container's tags (title, encoder, ...)
  std::vector<probe_stream> streams;       ///< in the file's order

  /// The first stream of a type ("video", "audio"), nullptr if none.
  const probe_stream* first(std::string_view type) const;
};

/// Maps ffprobe's JSON (numbers arrive as strings: "duration": "2.000000") to media_info.
/// Missing fields stay empty; malformed JSON or wrong types are errc::protocol. Pure: never
/// throws, fuzzed.
SIDECAR_API expected<media_info> parse_probe_json(std::string_view json);

} // namespace sidecar
