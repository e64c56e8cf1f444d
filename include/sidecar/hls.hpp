// Checking an HLS output after the run. ffmpeg 5.1's HLS muxer exits 0 even when its writes
// failed (a full file system leaves an empty playlist and truncated segments), so a program
// that needs the files should check them: check_hls() reads the playlist and every segment.
#pragma once

#include <sidecar/error.hpp>
#include <sidecar/export.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sidecar {

/// One segment of an HLS playlist, as check_hls() found it.
struct SIDECAR_API hls_segment {
  std::string uri;                    ///< as the playlist names it
  std::chrono::microseconds duration; ///< from its `EXTINF` tag
  std::uintmax_t size = 0;            ///< bytes on disk
};

/// An HLS playlist as check_hls() read and checked it.
struct SIDECAR_API hls_playlist {
  std::vector<hls_segment> segments;  ///< in playlist order, each present and non-empty
  std::chrono::microseconds total{0}; ///< the sum of the segments' durations
  bool ended = false;                 ///< `EXT-X-ENDLIST` present: the stream is complete
};

/// Reads `playlist` (an .m3u8 written by ffmpeg) and checks every segment it lists exists and
/// is not empty. errc::protocol when the playlist is missing, empty or not HLS, or a segment
/// is missing or empty — with "the file system is full" when it is.
SIDECAR_API expected<hls_playlist> check_hls(const std::filesystem::path& playlist);

} // namespace sidecar
