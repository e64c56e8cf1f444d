// check_hls(): the playlist and its segments, as a player would find them.
#include <sidecar/hls.hpp>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include <sys/statvfs.h>

namespace sidecar {

namespace {

std::string full_hint(const std::filesystem::path& dir) {
  struct statvfs st {};
  // A full ext4 still reports a few free blocks (reserved for its own metadata), so "full"
  // is less room than one segment could ever take.
  if (::statvfs(dir.c_str(), &st) == 0 && st.f_bavail * st.f_frsize < 256 * 1024)
    return " (the file system is full: No space left on device, " +
           std::to_string(st.f_bavail * st.f_frsize / 1024) + " KiB free)";
  return {};
}

} // namespace

expected<hls_playlist> check_hls(const std::filesystem::path& playlist) {
  auto dir = playlist.parent_path();
  std::ifstream in(playlist);
  if (!in)
    return fail(errc::protocol,
                "HLS playlist " + playlist.string() + " is missing" + full_hint(dir));
  std::string line;
  if (!std::getline(in, line) || line.rfind("#EXTM3U", 0) != 0)
    return fail(errc::protocol,
                "HLS playlist " + playlist.string() + " is empty or not HLS" + full_hint(dir));
  hls_playlist p;
  double pending = 0; // seconds of the next segment, from #EXTINF
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#EXTINF:", 0) == 0) {
      double d = 0;
      auto s = line.substr(8);
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      pending = ec == std::errc() ? d : 0;
    } else if (line == "#EXT-X-ENDLIST") {
      p.ended = true;
    } else if (!line.empty() && line[0] != '#') {
      hls_segment seg;
      seg.uri = line;
      seg.duration = std::chrono::microseconds(std::llround(pending * 1e6));
      pending = 0;
      std::error_code ec;
      auto path =
          std::filesystem::path(line).is_absolute() ? std::filesystem::path(line) : dir / line;
      seg.size = std::filesystem::file_size(path, ec);
      if (ec || seg.size == 0)
        return fail(errc::protocol, "HLS segment " + path.string() +
                                        (ec ? " is missing" : " is empty") + full_hint(dir));
      p.total += seg.duration;
      p.segments.push_back(std::move(seg));
    }
  }
  if (p.segments.empty())
    return fail(errc::protocol,
                "HLS playlist " + playlist.string() + " lists no segment" + full_hint(dir));
  return p;
}

} // namespace sidecar
