// Ready-made argument sets for streaming: a low-latency RTMP push, an RTMP listener, and an
// HLS output, each as the usual ffmpeg streaming guide writes it, with its knobs in a struct.
#pragma once

#include <sidecar/command.hpp>
#include <sidecar/export.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sidecar {

// Every preset appends to the command, in the order ffmpeg needs, and returns it for chaining.
// A string option left empty emits nothing, so ffmpeg's own default applies. When a codec is
// "copy", the options that only an encoder understands (-preset, -tune, -b, -g, -pix_fmt,
// -force_key_frames) are left out, because there is no encoder to take them.

/// The settings of rtmp_push(); the defaults are the streaming guide's.
struct SIDECAR_API rtmp_push_options {
  /// -re in front of every input given so far that has no -re or -readrate of its own: read
  /// at the native rate, as a live source would. Call rtmp_push after the inputs for this.
  bool realtime = true;
  std::string video_codec = "libx264"; ///< -c:v CODEC ("copy": send the input's video as is)
  std::string preset = "veryfast";     ///< -preset NAME: encoder speed against compression
  std::string tune = "zerolatency";    ///< -tune NAME: no lookahead, no B-frame delay
  std::string video_bitrate = "3M";    ///< -b:v RATE
  /// -g N: at most N frames between keyframes; a player joining the stream waits for one.
  /// 50 is 2 s at 25 fps, what streaming services ask for; use twice your frame rate.
  std::optional<unsigned> gop = 50;
  std::string pix_fmt = "yuv420p";    ///< -pix_fmt FMT: FLV players decode 4:2:0 only
  std::string audio_codec = "aac";    ///< -c:a CODEC
  std::string audio_bitrate = "128k"; ///< -b:a RATE
  /// -flvflags no_duration_filesize: a live RTMP stream cannot be seeked back to patch the
  /// FLV header at the end; without this ffmpeg warns that it failed to.
  bool no_duration_filesize = true;
};

/// Sends what the command's inputs produce to an RTMP server as a live FLV stream:
///   [-re before each input] -c:v libx264 -preset veryfast -tune zerolatency -b:v 3M -g 50
///   -pix_fmt yuv420p -c:a aac -b:a 128k -flvflags no_duration_filesize -f flv URL
/// Stream keys in the URL are masked when the command is printed (command::to_string).
SIDECAR_API command& rtmp_push(command& cmd, std::string_view url, rtmp_push_options options = {});

/// The settings of rtmp_listen().
struct SIDECAR_API rtmp_listen_options {
  /// -timeout S: give up (ffmpeg exits with an error) when no publisher has connected in
  /// time; nullopt waits for ever. ffmpeg takes whole seconds; a part second rounds up.
  std::optional<std::chrono::milliseconds> timeout{};
};

/// Makes ffmpeg itself the RTMP server for one publisher, as an input:
///   -listen 1 [-timeout S] -i rtmp://HOST:PORT/APP/STREAM
/// ffmpeg binds HOST:PORT (1935 when absent) and takes the first publisher that connects;
/// the stream ends when the publisher disconnects. Follow it with outputs as for any input.
SIDECAR_API command& rtmp_listen(command& cmd, std::string_view url,
                                 rtmp_listen_options options = {});

/// The settings of hls_output(); the defaults are the streaming guide's.
struct SIDECAR_API hls_options {
  /// -hls_time S: the target length of a segment. Segments are cut at keyframes, so they
  /// are this long only when keyframes fall there (see keyframes_at_segments).
  double segment_seconds = 4;
  /// -hls_list_size N: segments kept in the playlist; 0 keeps all of them (a complete
  /// recording rather than a sliding live window).
  unsigned list_size = 0;
  /// -hls_segment_filename DIR/PATTERN. The muxer puts the segment number in place of the
  /// first %d / %03d it finds, and has no escape for a literal '%': DIR must not contain
  /// one of those forms (a plain '%', as in "100% live", is fine).
  std::string segment_pattern = "segment%03d.ts";
  std::string playlist = "playlist.m3u8"; ///< the output: DIR/PLAYLIST
  std::string video_codec = "libx264";    ///< -c:v CODEC ("copy": cut at the input's keyframes)
  std::string pix_fmt = "yuv420p";        ///< -pix_fmt FMT: what HLS players decode
  std::optional<unsigned> gop{};          ///< -g N: at most N frames between keyframes
  /// -force_key_frames expr:gte(t,n_forced*S): a keyframe wherever a segment should start,
  /// whatever the frame rate, so every segment is segment_seconds long (the last may be less).
  bool keyframes_at_segments = true;
  std::string audio_codec = "aac"; ///< -c:a CODEC
  std::string playlist_type{};     ///< -hls_playlist_type vod|event; empty: none
};

/// Writes an HLS playlist and its MPEG-TS segments into `dir` (which must exist):
///   -c:v libx264 -pix_fmt yuv420p -force_key_frames expr:gte(t,n_forced*4) -c:a aac
///   -f hls -hls_time 4 -hls_list_size 0 -hls_segment_filename DIR/segment%03d.ts
///   DIR/playlist.m3u8
SIDECAR_API command& hls_output(command& cmd, const std::filesystem::path& dir,
                                hls_options options = {});

} // namespace sidecar
