// What one ffmpeg binary is and which of the builder's options it takes: probed once per path.
#pragma once

#include <sidecar/error.hpp>
#include <sidecar/exit_status.hpp>
#include <sidecar/export.hpp>
#include <sidecar/log.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar {

/// An option that not every release in sidecar's range (4.x to 9.x) has, and what the builder
/// passes instead to a binary that lacks it.
struct SIDECAR_API gated_option {
  std::string_view name;     ///< "-stats_period" (matched with or without a stream specifier)
  int since_major;           ///< the first release that has it: its major number
  int since_minor;           ///< the first release that has it: its minor number
  std::string_view fallback; ///< what is passed instead, in words: for the note
};

/// The options that the builder may emit and that older releases lack.
SIDECAR_API const std::vector<gated_option>& gated_options();
/// True when argv carries one of them: only then does the binary's version matter.
SIDECAR_API bool carries_gated_option(const std::vector<std::string>& argv);

/// The version of the ffmpeg binary at `program`: its banner's release number, or for git and
/// static builds (`N-47683-g0e8eb07980-static`) the release its libavutil belongs to
/// (version.origin says which). Runs `program -hide_banner -version` synchronously with a
/// 10 s limit, once per path (and file modification time): later calls answer from a cache.
/// The run takes tens of milliseconds; a spawn that needs it (a command carrying a gated
/// option) pays it once, on the calling thread, so call this at startup to keep that off the
/// io_context. Thread-safe.
SIDECAR_API expected<version_info> describe_binary(const std::filesystem::path& program);

/// `program -hide_banner -version` judged from its exit status and stdout: the version, or an
/// error naming the program (its first line of output when it failed or printed no version).
/// describe_binary() and ffmpeg_version() both read a run through it.
SIDECAR_API expected<version_info>
version_from_output(std::string_view program, const exit_status& status, std::string_view out);

/// Rewrites argv (arguments without the program name) for a binary of version `v`: each gated
/// option the release lacks is replaced by its fallback or dropped with its value, and `notes`
/// gets one sentence for each, naming the option, the version and what happens instead. A
/// version whose release is unknown is taken as new enough (nothing is changed).
SIDECAR_API void adapt_arguments(std::vector<std::string>& argv, const version_info& v,
                                 std::vector<std::string>& notes);

} // namespace sidecar
