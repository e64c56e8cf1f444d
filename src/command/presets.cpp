// Streaming presets: RTMP push and listen, HLS output, as argument lists on a command.
#include <sidecar/presets.hpp>

#include "number_text.hpp"

#include <array>
#include <charconv>

namespace sidecar {

using detail::number_text;

namespace {

void option(command& cmd, std::string_view name, std::string_view value) {
  if (!value.empty()) cmd.args({name, value});
}

bool is_copy(std::string_view codec) {
  return codec == "copy";
}

// -re is a per-input option: it goes in front of each -i that has no rate limit already
// (-re or -readrate among the options since the previous input).
void realtime_inputs(command& cmd) {
  const auto& old = cmd.args();
  command rebuilt(cmd.which());
  bool limited = false;
  for (std::size_t i = 0; i < old.size(); ++i) {
    const std::string& a = old[i];
    if (a == "-re" || a == "-readrate") limited = true;
    if (a == "-i" && i + 1 < old.size()) {
      if (!limited) rebuilt.arg("-re");
      rebuilt.args({std::string_view(a), std::string_view(old[i + 1])});
      ++i;
      limited = false;
      continue;
    }
    rebuilt.arg(a);
  }
  for (const auto& s : cmd.secrets())
    rebuilt.secret(s); // what secret() was given, too
  cmd = std::move(rebuilt);
}

} // namespace

command& rtmp_push(command& cmd, std::string_view url, rtmp_push_options o) {
  if (o.realtime) realtime_inputs(cmd);
  option(cmd, "-c:v", o.video_codec);
  if (!is_copy(o.video_codec)) {
    option(cmd, "-preset", o.preset);
    option(cmd, "-tune", o.tune);
    option(cmd, "-b:v", o.video_bitrate);
    if (o.gop) option(cmd, "-g", std::to_string(*o.gop));
    option(cmd, "-pix_fmt", o.pix_fmt);
  }
  option(cmd, "-c:a", o.audio_codec);
  if (!is_copy(o.audio_codec)) option(cmd, "-b:a", o.audio_bitrate);
  if (o.no_duration_filesize) cmd.args({"-flvflags", "no_duration_filesize"});
  return cmd.format("flv").output(url);
}

command& rtmp_listen(command& cmd, std::string_view url, rtmp_listen_options o) {
  cmd.args({"-listen", "1"});
  if (o.timeout) {
    // Whole seconds, rounded up so a short limit does not become "0" (which ffmpeg takes
    // as "do not wait at all").
    auto s = std::chrono::ceil<std::chrono::seconds>(*o.timeout).count();
    if (s < 1) s = 1;
    cmd.args({"-timeout", std::to_string(s)});
  }
  return cmd.input(url);
}

command& hls_output(command& cmd, const std::filesystem::path& dir, hls_options o) {
  const std::string seconds = number_text(o.segment_seconds);
  option(cmd, "-c:v", o.video_codec);
  if (!is_copy(o.video_codec)) {
    option(cmd, "-pix_fmt", o.pix_fmt);
    if (o.gop) option(cmd, "-g", std::to_string(*o.gop));
    if (o.keyframes_at_segments)
      option(cmd, "-force_key_frames", "expr:gte(t,n_forced*" + seconds + ")");
  }
  option(cmd, "-c:a", o.audio_codec);
  cmd.format("hls");
  option(cmd, "-hls_time", seconds);
  option(cmd, "-hls_list_size", std::to_string(o.list_size));
  option(cmd, "-hls_playlist_type", o.playlist_type);
  option(cmd, "-hls_segment_filename", (dir / o.segment_pattern).string());
  return cmd.output((dir / o.playlist).string());
}

command& command::rtmp_push(std::string_view url) {
  return sidecar::rtmp_push(*this, url);
}
command& command::rtmp_push(std::string_view url, const rtmp_push_options& options) {
  return sidecar::rtmp_push(*this, url, options);
}
command& command::rtmp_listen(std::string_view url) {
  return sidecar::rtmp_listen(*this, url);
}
command& command::rtmp_listen(std::string_view url, const rtmp_listen_options& options) {
  return sidecar::rtmp_listen(*this, url, options);
}
command& command::hls_output(const std::filesystem::path& dir) {
  return sidecar::hls_output(*this, dir);
}
command& command::hls_output(const std::filesystem::path& dir, const hls_options& options) {
  return sidecar::hls_output(*this, dir, options);
}

} // namespace sidecar
