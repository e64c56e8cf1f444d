// ffplay as a sink: a player reading a stream on its stdin, for previews in pipelines — an
// ffmpeg_child, so the events layer's (io's relay() and tee() feed it)
// (`co_await relay(ff.take_stdout(), player->stdin_pipe())`).
#pragma once

#include <sidecar/export.hpp>
#include <sidecar/ffmpeg_child.hpp>

#include <optional>
#include <string>
#include <vector>

namespace sidecar {

/// How ffplay() runs ffplay on its stdin.
struct SIDECAR_API ffplay_options {
  /// Input format hint (`-f matroska`); empty lets ffplay probe the stream.
  std::string format{};
  /// SDL's dummy video and audio drivers (SDL_VIDEODRIVER/SDL_AUDIODRIVER=dummy): plays at
  /// real speed with no window or sound device, for servers and tests. nullopt decides by
  /// itself — headless when neither DISPLAY nor WAYLAND_DISPLAY is set.
  std::optional<bool> headless{};
  bool autoexit = true;                  ///< exit at end of stream (`-autoexit`)
  std::string window_title{};            ///< `-window_title`; empty: ffplay's default
  std::vector<std::string> extra_args{}; ///< before `-i -`
};

/// The ffplay command that plays its stdin: `ffplay -hide_banner -autoexit
/// [-window_title T] [-f FMT] ... -i -`.
SIDECAR_API command ffplay_command(const ffplay_options& options = {});

/// Spawns ffplay reading stdin. Write the stream into `stdin_pipe()` (a relay() or tee() sink)
/// and close it at the end; `wait()` then says whether ffplay played it all and exited 0. A
/// missing ffplay is errc::binary_not_found at once.
SIDECAR_API expected<ffmpeg_child> ffplay(const asio::any_io_executor& ex,
                                          const ffplay_options& options = {});

} // namespace sidecar
